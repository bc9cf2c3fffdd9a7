// Plain copies of whisper.cpp results, made on the worker thread while it owns the state,
// and converted to JS objects on the JS thread.
#pragma once

#include <napi.h>
#include <whisper.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vad.h"

namespace whisper_napi {

struct TokenResult {
  int id = 0;
  std::string text;
  float p = 0;
  float plog = 0;
  float pt = 0;
  float ptsum = 0;
  int64_t t0_ms = -1;  // -1 unless token timestamps were computed
  int64_t t1_ms = -1;
  int64_t dtw_ms = -1;  // -1 unless the model was loaded with DTW alignment heads
  bool special = false;
};

struct SegmentResult {
  int index = 0;
  int64_t t0_ms = 0;
  int64_t t1_ms = 0;
  std::string text;
  float no_speech_prob = 0;
  bool speaker_turn_next = false;
  // Set by the worker, which tracks whisper_full's windows and decoding attempts.
  float temperature = 0;
  int64_t window_start_ms = 0;
  std::vector<TokenResult> tokens;
};

struct TranscriptResult {
  std::vector<SegmentResult> segments;
  std::string language;
  float language_probability = -1;  // -1: the language was given, not detected
  double total_ms = 0;
  double language_detection_ms = 0;
  int encoder_runs = 0;
};

// Reads segment i of the last whisper_full on `state`; call only from the thread running it.
// With a VAD time map, segment times are mapped back to the input audio. `dtw`: the model was
// loaded with alignment heads, so t_dtw holds a time (whisper.cpp leaves it uninitialised otherwise).
SegmentResult ReadSegment(whisper_context* ctx, whisper_state* state, int i, const VadTimeMap& vad_map, bool dtw);

Napi::Object SegmentToJs(Napi::Env env, const SegmentResult& segment);
Napi::Object TranscriptToJs(Napi::Env env, const TranscriptResult& result);

}  // namespace whisper_napi
