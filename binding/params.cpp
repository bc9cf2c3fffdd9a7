// libstdc++ refuses a std::regex whose automaton grows past this many states (error_space).
// Its default, 100000, lets a 12-byte pattern such as (?:){49000} compile for 17 s: the pass that
// drops empty states walks every chain of them, quadratic in the states. 2048 states compile in
// under 10 ms whatever the pattern, and hold every pattern of kMaxSuppressRegexBytes with modest
// counts (a list of words, [0-9]{1,300}). It must be set before <regex> is first included, and
// only this file's own traits type (SuppressRegexTraits) sees it: whisper.cpp's std::regex
// instantiations stay distinct and keep the default.
#define _GLIBCXX_REGEX_STATE_LIMIT 2048

#include "params.h"

#include <cfloat>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <regex>
#include <system_error>
#include <unordered_map>
#include <utility>

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <process.h>
#include <windows.h>
#else
#include <pthread.h>
#endif

#include "arguments.h"
#include "errors.h"

#if defined(__GLIBCXX__) && _GLIBCXX_REGEX_STATE_LIMIT != 2048
#error "<regex> was included before params.cpp set _GLIBCXX_REGEX_STATE_LIMIT"
#endif

namespace whisper_napi {

namespace {

// initialPrompt: whisper.cpp keeps only the last min(n_max_text_ctx, n_text_ctx / 2) - 1 tokens
// of a prompt (223 for every Whisper model), but tokenizes all of it first, on the job's thread,
// with a std::regex that recurses once per character of a word (30,000 letters overflowed an
// 8 MiB stack) and a longest-match loop cubic in a word's bytes. Measured (whisper.cpp's
// tokenize() on base's vocabulary, CPU time on a loaded 2-core machine): 223 tokens of natural text
// span 630 (Finnish) to 1,000 (English), 1,210 (Chinese) and 1,330 (Russian) bytes, so 2048 bytes
// keep every such prompt's 223 tokens whole; the 2048-byte worst cases (one "word" of spaces,
// emoji or random code points) tokenize in about 0.3 s (1024 bytes: 0.1 s, 4096 bytes: 1.4 s), and
// the regex recursion stays far inside any thread's stack.
constexpr size_t kMaxPromptBytes = 2048;

// suppressRegex: whisper.cpp compiles the pattern and matches it against every token at every
// decoding step. Patterns that suppress tokens are short (a character class, a few words):
// 256 bytes hold a list of some 40 words. The bound keeps the compile on the JS thread cheap
// (bracket expressions cost tens of microseconds each: 200 of them took 10-20 ms) and its
// recursion shallow.
constexpr size_t kMaxSuppressRegexBytes = 256;
// The CPU time matching the pattern against the whole vocabulary may take, once per job: about
// 10 ms for [0-9]+ and 250 ms for 40 alternatives on base's 51,865 tokens.
constexpr double kSuppressRegexBudgetSeconds = 2.0;
// Reserved for each LargeStackThread. libstdc++'s executors recurse over chains of states that
// consume nothing, up to the state limit deep, and its compiler over nesting; whisper.cpp's
// tokenizer once per character of a word.
constexpr size_t kLargeStackBytes = size_t{64} << 20;

// Its own traits type, so that this file's std::regex instantiations (which see the lowered
// state limit) are not the ones whisper.cpp uses.
struct SuppressRegexTraits : std::regex_traits<char> {};
using SuppressRegex = std::basic_regex<char, SuppressRegexTraits>;

// ECMAScript, as whisper.cpp compiles it. libstdc++'s __polynomial runs the breadth-first
// executor, linear in the input for each state, instead of the backtracking one, exponential on
// patterns like (a|a)*b; it refuses back-references (error_complexity), which need backtracking.
// Other standard libraries have no such mode: there the size bound and the time budget remain.
constexpr std::regex_constants::syntax_option_type kSuppressRegexSyntax = std::regex_constants::ECMAScript
#if defined(__GLIBCXX__)
                                                                          | std::regex_constants::__polynomial
#endif
    ;

const char* const kSuppressRegexExpected =
    "a valid regular expression std::regex (ECMAScript) accepts, of at most 256 bytes, without back-references";

// Whitespace as whisper.cpp's tokenizer regex (\s, the "C" locale) sees it.
bool IsTokenizerSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// Compiles `pattern` on a LargeStackThread. Empty on success; else why it was refused.
std::string CompileSuppressRegex(const std::string& pattern, SuppressRegex* out) {
  if (pattern.size() > kMaxSuppressRegexBytes) return "it has " + std::to_string(pattern.size()) + " bytes";
  std::string problem;
  auto compile = [&] {
    try {
      SuppressRegex regex(pattern, kSuppressRegexSyntax);
      if (out != nullptr) *out = std::move(regex);
    } catch (const std::regex_error& error) {
      if (error.code() == std::regex_constants::error_space) {
        problem =
            "too complex: its automaton would have more than " + std::to_string(_GLIBCXX_REGEX_STATE_LIMIT) + " states";
      } else if (error.code() == std::regex_constants::error_complexity) {
        problem = "too complex: back-references are not supported";
      } else {
        problem = error.what();
      }
    } catch (const std::exception& error) {
      problem = std::string("could not compile it: ") + error.what();
    }
  };
  LargeStackThread thread;
  try {
    thread.Start(compile);
  } catch (const std::system_error& error) {
    return std::string("could not start a thread to compile it: ") + error.what();
  }
  thread.Join();
  return problem;
}

// How a pattern is named in an error raised off the JS thread, as DescribeValue would.
std::string DescribePattern(const std::string& pattern) {
  if (pattern.size() > 60) return "a string of " + std::to_string(pattern.size()) + " bytes";
  return "\"" + pattern + "\"";
}

// Seconds of CPU time this thread has used (wall time where the platform cannot say), so that a
// busy machine does not make a pattern "too complex".
double ThreadSeconds() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
  timespec now{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) == 0) return static_cast<double>(now.tv_sec) + now.tv_nsec * 1e-9;
#endif
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// 16000 * ms must fit in an int: whisper_vad_segments_from_probs computes samples that way.
constexpr int64_t kMaxVadMilliseconds = INT32_MAX / WHISPER_SAMPLE_RATE;
// whisper_full_with_state lists every temperature of the fallback ladder up front; an increment
// too small to move a float past 0.5 would make that list endless.
constexpr int kMaxTemperatureSteps = 1000;
// Smaller encoder contexts break the conv and attention graph shapes (GGML_ASSERT).
constexpr int kMinAudioContext = 64;

// Reads fields of the native params object, naming each in errors as lib/ names the option.
class FieldReader {
 public:
  explicit FieldReader(const Napi::Object& object) : object_(object) {}

  bool Bool(const char* key, const char* option) { return ReadBool(object_.Get(key), option); }
  std::string String(const char* key, const char* option) { return ReadString(object_.Get(key), option); }
  int Int(const char* key, const char* option, int64_t min, int64_t max) {
    return static_cast<int>(ReadInteger(object_.Get(key), option, min, max));
  }
  float Float(const char* key, const char* option, double min, double max) {
    return static_cast<float>(ReadNumber(object_.Get(key), option, min, max));
  }
  Napi::Value Raw(const char* key) { return object_.Get(key); }

 private:
  const Napi::Object& object_;
};

int TemperatureSteps(float temperature, float increment) {
  if (increment <= 0.0f) return 1;
  int steps = 0;
  // The same float loop as whisper_full_with_state's.
  for (float t = temperature; t < 1.0f + 1e-6f && steps <= kMaxTemperatureSteps; t += increment) ++steps;
  return steps;
}

bool KnownLanguage(const std::string& code) {
  for (int id = 0; id <= whisper_lang_max_id(); ++id) {
    if (code == whisper_lang_str(id)) return true;
  }
  return false;
}

}  // namespace

TranscribeParams ReadTranscribeParams(const Napi::Object& object, const ModelLimits& limits) {
  Napi::Env env = object.Env();
  FieldReader r(object);
  TranscribeParams p;
  const std::string strategy = r.String("strategy", "options.strategy");
  if (strategy != "greedy" && strategy != "beam") {
    throw InvalidArgument(env, "options.strategy", "'greedy' or 'beam'", r.Raw("strategy"));
  }
  p.beam_search = strategy == "beam";
  p.best_of = r.Int("bestOf", "options.bestOf", 1, kMaxDecoders);
  p.beam_size = r.Int("beamSize", "options.beamSize", 1, kMaxDecoders);
  // ggml's thread pool asserts on 0 threads; 256 is lib/'s limit, well under GGML_MAX_N_THREADS.
  p.n_threads = r.Int("threads", "options.threads", 1, 256);
  p.n_max_text_ctx = r.Int("maxTextContext", "options.maxTextContext", 0, INT32_MAX);
  // A negative offset makes the encoder read the spectrogram before its start.
  p.offset_ms = r.Int("offsetMs", "options.offsetMs", 0, INT32_MAX);
  p.duration_ms = r.Int("durationMs", "options.durationMs", 0, INT32_MAX);
  p.translate = r.Bool("translate", "options.translate");
  p.no_context = r.Bool("noContext", "options.noContext");
  p.no_timestamps = r.Bool("noTimestamps", "options.noTimestamps");
  p.single_segment = r.Bool("singleSegment", "options.singleSegment");
  p.token_timestamps = r.Bool("tokenTimestamps", "options.tokenTimestamps");
  p.thold_pt = r.Float("tokenTimestampThreshold", "options.tokenTimestampThreshold", 0, 1);
  p.thold_ptsum = r.Float("tokenTimestampSumThreshold", "options.tokenTimestampSumThreshold", 0, 1);
  p.max_len = r.Int("maxSegmentLength", "options.maxSegmentLength", 0, INT32_MAX);
  p.split_on_word = r.Bool("splitOnWord", "options.splitOnWord");
  p.max_tokens = r.Int("maxTokensPerSegment", "options.maxTokensPerSegment", 0, INT32_MAX);
  p.audio_ctx = r.Int("audioContext", "options.audioContext", 0, limits.n_audio_ctx);
  if (p.audio_ctx != 0 && p.audio_ctx < kMinAudioContext) {
    throw InvalidArgument(env, "options.audioContext",
                          "0 (the model's " + std::to_string(limits.n_audio_ctx) + ") or from " +
                              std::to_string(kMinAudioContext) + " to " + std::to_string(limits.n_audio_ctx),
                          r.Raw("audioContext"));
  }
  if (limits.dtw && p.audio_ctx != 0 && p.audio_ctx != limits.n_audio_ctx) {
    // DTW asserts (and aborts the process) when a window has more frames than twice the encoder context.
    throw InvalidArgument(env, "options.audioContext",
                          "0 (the model's " + std::to_string(limits.n_audio_ctx) +
                              ") for a model loaded with wordTimestamps (whisper.cpp's DTW needs the full context)",
                          r.Raw("audioContext"));
  }
  p.tdrz_enable = r.Bool("tinydiarize", "options.tinydiarize");
  p.suppress_regex = r.String("suppressRegex", "options.suppressRegex");
  if (!p.suppress_regex.empty()) CheckSuppressRegex(env, p.suppress_regex, r.Raw("suppressRegex"));
  p.initial_prompt = PromptTail(r.String("initialPrompt", "options.initialPrompt"));
  p.carry_initial_prompt = r.Bool("carryInitialPrompt", "options.carryInitialPrompt");
  if (p.carry_initial_prompt && !p.initial_prompt.empty() && p.n_max_text_ctx == 1) {
    // A budget of one token leaves the carried prompt -1 tokens of room: whisper_full then
    // inserts a reversed iterator range into the prompt.
    throw InvalidArgument(env, "options.maxTextContext", "0 or at least 2 with options.carryInitialPrompt",
                          r.Raw("maxTextContext"));
  }
  p.language = r.String("language", "options.language");
  if (p.language != "auto" && !KnownLanguage(p.language)) {
    throw InvalidArgument(env, "options.language", "'auto' or a language code whisper knows (e.g. 'en', 'de', 'ja')",
                          r.Raw("language"));
  }
  p.detect_language = r.Bool("detectLanguage", "options.detectLanguage");
  p.suppress_blank = r.Bool("suppressBlank", "options.suppressBlank");
  p.suppress_nst = r.Bool("suppressNonSpeechTokens", "options.suppressNonSpeechTokens");
  // A start temperature above 1 leaves the fallback ladder empty, and whisper_full then reads
  // results of a decoder that never ran.
  p.temperature = r.Float("temperature", "options.temperature", 0, 1);
  p.max_initial_ts = r.Float("maxInitialTimestamp", "options.maxInitialTimestamp", 0, 30);
  p.length_penalty = r.Float("lengthPenalty", "options.lengthPenalty", -1, 1);
  p.temperature_inc = r.Float("temperatureIncrement", "options.temperatureIncrement", 0, 1);
  if (TemperatureSteps(p.temperature, p.temperature_inc) > kMaxTemperatureSteps) {
    throw InvalidArgument(env, "options.temperatureIncrement",
                          "0 or a step that reaches 1 from options.temperature in at most " +
                              std::to_string(kMaxTemperatureSteps) + " steps",
                          r.Raw("temperatureIncrement"));
  }
  p.entropy_thold = r.Float("entropyThreshold", "options.entropyThreshold", 0, 100);
  p.logprob_thold = r.Float("logprobThreshold", "options.logprobThreshold", -100, 0);
  p.no_speech_thold = r.Float("noSpeechThreshold", "options.noSpeechThreshold", 0, 1);
  p.vad = r.Bool("vad", "options.vad");
  p.vad_model_path = r.String("vadModelPath", "options.vad.modelPath");
  if (p.vad && p.vad_model_path.empty()) {
    throw InvalidArgument(env, "options.vad.modelPath", "a path to a Silero VAD ggml model", r.Raw("vadModelPath"));
  }
  p.vad_params.threshold = r.Float("vadThreshold", "options.vad.threshold", 0, 1);
  p.vad_params.min_speech_duration_ms =
      r.Int("vadMinSpeechDurationMs", "options.vad.minSpeechDurationMs", 0, kMaxVadMilliseconds);
  p.vad_params.min_silence_duration_ms =
      r.Int("vadMinSilenceDurationMs", "options.vad.minSilenceDurationMs", 0, kMaxVadMilliseconds);
  p.vad_params.max_speech_duration_s = r.Float("vadMaxSpeechDurationS", "options.vad.maxSpeechDurationS", 0.1, FLT_MAX);
  p.vad_params.speech_pad_ms = r.Int("vadSpeechPadMs", "options.vad.speechPadMs", 0, kMaxVadMilliseconds);
  p.vad_params.samples_overlap = r.Float("vadSamplesOverlap", "options.vad.samplesOverlap", 0, 10);
  return p;
}

std::string PromptTail(const std::string& prompt) {
  if (prompt.size() <= kMaxPromptBytes) return prompt;
  size_t start = prompt.size() - kMaxPromptBytes;
  while (start < prompt.size() && (static_cast<unsigned char>(prompt[start]) & 0xC0) == 0x80) ++start;
  // The tokenizer's words start at a single whitespace character before a non-space one (" word"),
  // whatever came before it: cut there, and the tail's tokens are the whole prompt's last ones.
  for (size_t i = start; i + 1 < prompt.size(); ++i) {
    if (IsTokenizerSpace(prompt[i]) && !IsTokenizerSpace(prompt[i + 1])) return prompt.substr(i);
  }
  return prompt.substr(start);
}

void CheckSuppressRegex(Napi::Env env, const std::string& pattern, const Napi::Value& given) {
  const std::string problem = CompileSuppressRegex(pattern, nullptr);
  if (!problem.empty()) {
    throw InvalidArgument(env, "options.suppressRegex", std::string(kSuppressRegexExpected) + " (" + problem + ")",
                          given);
  }
}

bool SuppressedTokens(whisper_context* ctx, const std::string& pattern, const std::atomic<bool>& abort,
                      std::vector<whisper_token>& ids, WorkerFailure& failure) {
  const double start = ThreadSeconds();
  SuppressRegex regex;
  const std::string problem = CompileSuppressRegex(pattern, &regex);
  if (!problem.empty()) {
    failure = {"INVALID_ARGUMENT", "options.suppressRegex: expected " + std::string(kSuppressRegexExpected) + " (" +
                                       problem + "), got " + DescribePattern(pattern)};
    return false;
  }
  // whisper.cpp walks vocab.token_to_id, a map from text to id: of ids sharing a text, only the
  // last one loaded is in it.
  const int n_vocab = whisper_n_vocab(ctx);
  std::unordered_map<std::string, whisper_token> last_id;
  last_id.reserve(static_cast<size_t>(n_vocab));
  for (whisper_token id = 0; id < n_vocab; ++id) last_id[whisper_token_to_str(ctx, id)] = id;
  ids.clear();
  for (whisper_token id = 0; id < n_vocab; ++id) {
    if (abort.load()) {
      failure = {"ABORTED", "the transcription was aborted"};
      return false;
    }
    if (ThreadSeconds() - start > kSuppressRegexBudgetSeconds) {
      failure = {"INVALID_ARGUMENT", "options.suppressRegex: expected " + std::string(kSuppressRegexExpected) +
                                         " (too complex: matching it against the model's " + std::to_string(n_vocab) +
                                         " tokens took over 2 s), got " + DescribePattern(pattern)};
      return false;
    }
    const std::string text = whisper_token_to_str(ctx, id);
    if (last_id[text] == id && std::regex_match(text, regex)) ids.push_back(id);
  }
  return true;
}

struct LargeStackThread::Native {
  std::function<void()> body;
  bool started = false;
#if defined(_WIN32)
  HANDLE handle = nullptr;
#else
  pthread_t thread{};
#endif
};

namespace {

void RunBody(void* body) {
  // An exception escaping a thread would terminate the process.
  try {
    (*static_cast<std::function<void()>*>(body))();
  } catch (...) {
  }
}

#if defined(_WIN32)
unsigned __stdcall WindowsThreadMain(void* body) {
  RunBody(body);
  return 0;
}
#else
void* PosixThreadMain(void* body) {
  RunBody(body);
  return nullptr;
}
#endif

}  // namespace

LargeStackThread::LargeStackThread() : native_(std::make_unique<Native>()) {}

LargeStackThread::~LargeStackThread() { Join(); }

bool LargeStackThread::Joinable() const { return native_->started; }

void LargeStackThread::Start(std::function<void()> body) {
  if (native_->started) throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur));
  native_->body = std::move(body);
#if defined(_WIN32)
  const uintptr_t handle = _beginthreadex(nullptr, static_cast<unsigned>(kLargeStackBytes), WindowsThreadMain,
                                          &native_->body, STACK_SIZE_PARAM_IS_A_RESERVATION, nullptr);
  if (handle == 0) throw std::system_error(errno, std::generic_category(), "_beginthreadex");
  native_->handle = reinterpret_cast<HANDLE>(handle);
#else
  pthread_attr_t attr;
  int rc = pthread_attr_init(&attr);
  if (rc == 0) {
    rc = pthread_attr_setstacksize(&attr, kLargeStackBytes);
    if (rc == 0) rc = pthread_create(&native_->thread, &attr, PosixThreadMain, &native_->body);
    pthread_attr_destroy(&attr);
  }
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_create");
#endif
  native_->started = true;
}

void LargeStackThread::Join() {
  if (!native_->started) return;
  native_->started = false;
#if defined(_WIN32)
  WaitForSingleObject(native_->handle, INFINITE);
  CloseHandle(native_->handle);
  native_->handle = nullptr;
#else
  pthread_join(native_->thread, nullptr);
#endif
}

std::vector<float> TemperatureLadder(float temperature, float increment) {
  std::vector<float> ladder;
  if (increment > 0.0f) {
    for (float t = temperature; t < 1.0f + 1e-6f; t += increment) ladder.push_back(t);
  } else {
    ladder.push_back(temperature);
  }
  return ladder;
}

whisper_full_params ToWhisperParams(const TranscribeParams& p) {
  whisper_full_params w =
      whisper_full_default_params(p.beam_search ? WHISPER_SAMPLING_BEAM_SEARCH : WHISPER_SAMPLING_GREEDY);
  // Nothing may print from inside a host's process.
  w.print_special = false;
  w.print_progress = false;
  w.print_realtime = false;
  w.print_timestamps = false;
  w.n_threads = p.n_threads;
  w.n_max_text_ctx = p.n_max_text_ctx;
  w.offset_ms = p.offset_ms;
  w.duration_ms = p.duration_ms;
  w.translate = p.translate;
  w.no_context = p.no_context;
  w.no_timestamps = p.no_timestamps;
  w.single_segment = p.single_segment;
  w.token_timestamps = p.token_timestamps;
  w.thold_pt = p.thold_pt;
  w.thold_ptsum = p.thold_ptsum;
  w.max_len = p.max_len;
  w.split_on_word = p.split_on_word;
  w.max_tokens = p.max_tokens;
  w.audio_ctx = p.audio_ctx;
  w.tdrz_enable = p.tdrz_enable;
  // Never whisper.cpp's own: it recompiles the pattern at every decoding step and matches it with the
  // backtracking executor. The job applies the same suppression from a mask (SuppressedTokens).
  w.suppress_regex = nullptr;
  w.initial_prompt = p.initial_prompt.empty() ? nullptr : p.initial_prompt.c_str();
  w.carry_initial_prompt = p.carry_initial_prompt;
  w.language = p.language.c_str();
  w.detect_language = p.detect_language;
  w.suppress_blank = p.suppress_blank;
  w.suppress_nst = p.suppress_nst;
  w.temperature = p.temperature;
  w.max_initial_ts = p.max_initial_ts;
  w.length_penalty = p.length_penalty;
  w.temperature_inc = p.temperature_inc;
  w.entropy_thold = p.entropy_thold;
  w.logprob_thold = p.logprob_thold;
  w.no_speech_thold = p.no_speech_thold;
  w.greedy.best_of = p.best_of;
  w.beam_search.beam_size = p.beam_size;
  w.vad = p.vad;
  w.vad_model_path = p.vad ? p.vad_model_path.c_str() : nullptr;
  w.vad_params = p.vad_params;
  return w;
}

}  // namespace whisper_napi
