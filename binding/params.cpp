#include "params.h"

#include <regex>

#include "errors.h"

namespace whisper_napi {

namespace {

class FieldReader {
 public:
  explicit FieldReader(const Napi::Object& object) : object_(object) {}

  bool Bool(const char* key) {
    Napi::Value v = object_.Get(key);
    if (!v.IsBoolean()) throw Fail(key, "a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  int Int(const char* key) {
    Napi::Value v = object_.Get(key);
    if (!v.IsNumber()) throw Fail(key, "a number");
    return v.As<Napi::Number>().Int32Value();
  }
  float Float(const char* key) {
    Napi::Value v = object_.Get(key);
    if (!v.IsNumber()) throw Fail(key, "a number");
    return v.As<Napi::Number>().FloatValue();
  }
  std::string String(const char* key) {
    Napi::Value v = object_.Get(key);
    if (!v.IsString()) throw Fail(key, "a string");
    return v.As<Napi::String>().Utf8Value();
  }

 private:
  Napi::TypeError Fail(const char* key, const char* expected) {
    return Napi::TypeError::New(object_.Env(), std::string("native transcribe params: ") + key + " must be " + expected);
  }
  const Napi::Object& object_;
};

}  // namespace

TranscribeParams ReadTranscribeParams(const Napi::Object& object) {
  FieldReader r(object);
  TranscribeParams p;
  p.beam_search = r.String("strategy") == "beam";
  p.best_of = r.Int("bestOf");
  p.beam_size = r.Int("beamSize");
  p.n_threads = r.Int("threads");
  p.n_max_text_ctx = r.Int("maxTextContext");
  p.offset_ms = r.Int("offsetMs");
  p.duration_ms = r.Int("durationMs");
  p.translate = r.Bool("translate");
  p.no_context = r.Bool("noContext");
  p.no_timestamps = r.Bool("noTimestamps");
  p.single_segment = r.Bool("singleSegment");
  p.token_timestamps = r.Bool("tokenTimestamps");
  p.thold_pt = r.Float("tokenTimestampThreshold");
  p.thold_ptsum = r.Float("tokenTimestampSumThreshold");
  p.max_len = r.Int("maxSegmentLength");
  p.split_on_word = r.Bool("splitOnWord");
  p.max_tokens = r.Int("maxTokensPerSegment");
  p.audio_ctx = r.Int("audioContext");
  p.tdrz_enable = r.Bool("tinydiarize");
  p.suppress_regex = r.String("suppressRegex");
  if (!p.suppress_regex.empty()) {
    // whisper.cpp compiles this with std::regex on the worker thread, where a
    // std::regex_error would terminate the process. JS and std::regex disagree on some
    // syntax (lookbehind, named groups), so check it with the real thing here.
    try {
      std::regex check(p.suppress_regex);
    } catch (const std::regex_error& error) {
      throw MakeError(object.Env(), "INVALID_ARGUMENT",
                      "options.suppressRegex: expected a regular expression std::regex (ECMAScript) accepts, got \"" +
                          p.suppress_regex + "\" (" + error.what() + ")");
    }
  }
  p.initial_prompt = r.String("initialPrompt");
  p.carry_initial_prompt = r.Bool("carryInitialPrompt");
  p.language = r.String("language");
  p.detect_language = r.Bool("detectLanguage");
  p.suppress_blank = r.Bool("suppressBlank");
  p.suppress_nst = r.Bool("suppressNonSpeechTokens");
  p.temperature = r.Float("temperature");
  p.max_initial_ts = r.Float("maxInitialTimestamp");
  p.length_penalty = r.Float("lengthPenalty");
  p.temperature_inc = r.Float("temperatureIncrement");
  p.entropy_thold = r.Float("entropyThreshold");
  p.logprob_thold = r.Float("logprobThreshold");
  p.no_speech_thold = r.Float("noSpeechThreshold");
  p.vad = r.Bool("vad");
  p.vad_model_path = r.String("vadModelPath");
  p.vad_params.threshold = r.Float("vadThreshold");
  p.vad_params.min_speech_duration_ms = r.Int("vadMinSpeechDurationMs");
  p.vad_params.min_silence_duration_ms = r.Int("vadMinSilenceDurationMs");
  p.vad_params.max_speech_duration_s = r.Float("vadMaxSpeechDurationS");
  p.vad_params.speech_pad_ms = r.Int("vadSpeechPadMs");
  p.vad_params.samples_overlap = r.Float("vadSamplesOverlap");
  return p;
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
