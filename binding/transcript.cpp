#include "transcript.h"

namespace whisper_napi {

namespace {
// whisper.cpp timestamps are in units of 10 ms.
int64_t ToMs(int64_t centiseconds) { return centiseconds * 10; }
// Token times are -1 when they were not computed; keep that marker as is.
int64_t TokenMs(int64_t centiseconds) { return centiseconds < 0 ? -1 : centiseconds * 10; }
}  // namespace

SegmentResult ReadSegment(whisper_context* ctx, whisper_state* state, int i, const VadTimeMap& vad_map, bool dtw) {
  SegmentResult segment;
  segment.index = i;
  const int64_t t0 = whisper_full_get_segment_t0_from_state(state, i);
  const int64_t t1 = whisper_full_get_segment_t1_from_state(state, i);
  segment.t0_ms = ToMs(vad_map.empty() ? t0 : vad_map.ToOriginal(t0));
  segment.t1_ms = ToMs(vad_map.empty() ? t1 : vad_map.SegmentEndToOriginal(t0, t1));
  const char* text = whisper_full_get_segment_text_from_state(state, i);
  segment.text = text ? text : "";
  segment.no_speech_prob = whisper_full_get_segment_no_speech_prob_from_state(state, i);
  segment.speaker_turn_next = whisper_full_get_segment_speaker_turn_next_from_state(state, i);
  const int n_tokens = whisper_full_n_tokens_from_state(state, i);
  const whisper_token eot = whisper_token_eot(ctx);
  segment.tokens.reserve(n_tokens);
  for (int j = 0; j < n_tokens; ++j) {
    const whisper_token_data data = whisper_full_get_token_data_from_state(state, i, j);
    TokenResult token;
    token.id = data.id;
    const char* token_text = whisper_full_get_token_text_from_state(ctx, state, i, j);
    token.text = token_text ? token_text : "";
    token.p = data.p;
    token.plog = data.plog;
    token.pt = data.pt;
    token.ptsum = data.ptsum;
    token.t0_ms = TokenMs(data.t0);
    token.t1_ms = TokenMs(data.t1);
    if (dtw && data.t_dtw >= 0) token.dtw_ms = ToMs(vad_map.empty() ? data.t_dtw : vad_map.ToOriginal(data.t_dtw));
    token.special = data.id >= eot;
    segment.tokens.push_back(std::move(token));
  }
  return segment;
}

Napi::Object SegmentToJs(Napi::Env env, const SegmentResult& segment) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("index", segment.index);
  out.Set("startMs", static_cast<double>(segment.t0_ms));
  out.Set("endMs", static_cast<double>(segment.t1_ms));
  out.Set("text", segment.text);
  out.Set("noSpeechProbability", segment.no_speech_prob);
  out.Set("speakerTurnNext", segment.speaker_turn_next);
  out.Set("temperature", segment.temperature);
  out.Set("windowStartMs", static_cast<double>(segment.window_start_ms));
  Napi::Array tokens = Napi::Array::New(env, segment.tokens.size());
  for (size_t j = 0; j < segment.tokens.size(); ++j) {
    const TokenResult& t = segment.tokens[j];
    Napi::Object token = Napi::Object::New(env);
    token.Set("id", t.id);
    token.Set("text", t.text);
    token.Set("probability", t.p);
    token.Set("logProbability", t.plog);
    token.Set("timestampProbability", t.pt);
    token.Set("timestampProbabilitySum", t.ptsum);
    token.Set("startMs", static_cast<double>(t.t0_ms));
    token.Set("endMs", static_cast<double>(t.t1_ms));
    token.Set("dtwMs", static_cast<double>(t.dtw_ms));
    token.Set("special", t.special);
    tokens.Set(static_cast<uint32_t>(j), token);
  }
  out.Set("tokens", tokens);
  return out;
}

Napi::Object TranscriptToJs(Napi::Env env, const TranscriptResult& result) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Array segments = Napi::Array::New(env, result.segments.size());
  for (size_t i = 0; i < result.segments.size(); ++i) {
    segments.Set(static_cast<uint32_t>(i), SegmentToJs(env, result.segments[i]));
  }
  out.Set("segments", segments);
  out.Set("language", result.language);
  out.Set("languageProbability", result.language_probability);
  Napi::Object timings = Napi::Object::New(env);
  timings.Set("totalMs", result.total_ms);
  timings.Set("languageDetectionMs", result.language_detection_ms);
  timings.Set("encoderRuns", result.encoder_runs);
  out.Set("timings", timings);
  return out;
}

}  // namespace whisper_napi
