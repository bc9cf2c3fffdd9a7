#include "params.h"

#include <cfloat>
#include <cstdint>
#include <regex>

#include "arguments.h"
#include "errors.h"

namespace whisper_napi {

namespace {

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
  if (!p.suppress_regex.empty()) {
    // whisper.cpp compiles this with std::regex on the worker thread, where a
    // std::regex_error would terminate the process. JS and std::regex disagree on some
    // syntax (lookbehind, named groups), so check it with the real thing here.
    try {
      std::regex check(p.suppress_regex);
    } catch (const std::regex_error& error) {
      throw InvalidArgument(env, "options.suppressRegex",
                            std::string("a regular expression std::regex (ECMAScript) accepts (") + error.what() + ")",
                            r.Raw("suppressRegex"));
    }
  }
  p.initial_prompt = r.String("initialPrompt", "options.initialPrompt");
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
  w.suppress_regex = p.suppress_regex.empty() ? nullptr : p.suppress_regex.c_str();
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
