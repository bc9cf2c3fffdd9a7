// Transcription parameters, copied out of a JS object into plain C++ before the work
// leaves the JS thread. lib/transcription/options.ts validates and fills every field; this side
// checks them again, types and ranges, because whisper.cpp asserts, aborts or reads out of
// bounds on some values, and the addon can be called without lib/ in front of it.
#pragma once

#include <napi.h>
#include <whisper.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "errors.h"

namespace whisper_napi {

struct TranscribeParams {
  bool beam_search = false;
  int best_of = 1;
  int beam_size = 1;
  int n_threads = 1;
  int n_max_text_ctx = 16384;
  int offset_ms = 0;
  int duration_ms = 0;
  bool translate = false;
  bool no_context = true;
  bool no_timestamps = false;
  bool single_segment = false;
  bool token_timestamps = false;
  float thold_pt = 0.01f;
  float thold_ptsum = 0.01f;
  int max_len = 0;
  bool split_on_word = false;
  int max_tokens = 0;
  int audio_ctx = 0;
  bool tdrz_enable = false;
  std::string suppress_regex;
  std::string initial_prompt;
  bool carry_initial_prompt = false;
  std::string language;  // "auto" detects
  bool detect_language = false;
  bool suppress_blank = true;
  bool suppress_nst = false;
  float temperature = 0.0f;
  float max_initial_ts = 1.0f;
  float length_penalty = -1.0f;
  float temperature_inc = 0.2f;
  float entropy_thold = 2.4f;
  float logprob_thold = -1.0f;
  float no_speech_thold = 0.6f;
  bool vad = false;
  std::string vad_model_path;
  whisper_vad_params vad_params = whisper_vad_default_params();
  bool want_progress = false;
  bool want_segments = false;
};

// What the checks need to know about the model the job runs on.
struct ModelLimits {
  int n_audio_ctx = 0;
  // Loaded with DTW alignment heads.
  bool dtw = false;
};

// whisper.cpp's WHISPER_MAX_DECODERS (private to whisper.cpp): the most decoders whisper_full runs.
constexpr int kMaxDecoders = 8;

// Throws an INVALID_ARGUMENT error naming the option (as lib/ names it: options.bestOf,
// options.vad.threshold) when a field is missing, of the wrong type or out of range.
TranscribeParams ReadTranscribeParams(const Napi::Object& object, const ModelLimits& limits);

// The returned struct points into `params`' strings: keep `params` alive while it is used.
whisper_full_params ToWhisperParams(const TranscribeParams& params);

// The tail of `prompt` whisper.cpp's tokenizer is given: at most kMaxPromptBytes (params.cpp says
// why), cut on a UTF-8 boundary and, where there is one, at the whitespace before a word, so the
// tail tokenizes into the last tokens of the whole prompt.
std::string PromptTail(const std::string& prompt);

// Throws INVALID_ARGUMENT naming options.suppressRegex unless std::regex compiles `pattern` within
// the addon's bounds (size, automaton states, no back-references). Cheap: at most a few
// milliseconds on the calling thread, which waits for a large-stack thread to compile it.
void CheckSuppressRegex(Napi::Env env, const std::string& pattern, const Napi::Value& given);

// The ids whisper.cpp's suppress_regex would set to -INFINITY at every decoding step (those of
// its vocab.token_to_id whose text the pattern matches whole), found once. Runs on the calling
// thread, which must have a large stack (a LargeStackThread). On failure returns false with
// `failure` set: INVALID_ARGUMENT when the pattern is refused or takes too long, ABORTED when
// `abort` is set meanwhile.
bool SuppressedTokens(whisper_context* ctx, const std::string& pattern, const std::atomic<bool>& abort,
                      std::vector<whisper_token>& ids, WorkerFailure& failure);

// A thread with a stack large enough for std::regex, whose compiler and executors recurse (over
// nesting, and over chains of states that consume nothing): whisper.cpp's tokenizer and the
// suppressRegex matching run on one. The stack is reserved address space, committed as used.
class LargeStackThread {
 public:
  LargeStackThread();
  ~LargeStackThread();  // joins
  LargeStackThread(const LargeStackThread&) = delete;
  LargeStackThread& operator=(const LargeStackThread&) = delete;

  // Throws std::system_error when no thread can be started. Exceptions escaping `body` are dropped.
  void Start(std::function<void()> body);
  bool Joinable() const;
  void Join();

 private:
  struct Native;
  std::unique_ptr<Native> native_;
};

// whisper_full_with_state's temperature ladder, built with its own float loop: the temperature
// of each decoding attempt of a window, in order.
std::vector<float> TemperatureLadder(float temperature, float increment);

}  // namespace whisper_napi
