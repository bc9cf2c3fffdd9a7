// Voice activity detection in front of whisper_full_with_state.
//
// whisper.cpp 1.9.1 applies params.vad only in whisper_full() (the context's own state),
// not in whisper_full_with_state(), which a model shared between states must use. This
// does the same work with the public VAD API: keep the speech, join it with short
// silences, and map timestamps of the shortened audio back to the input. It follows
// whisper_full's steps exactly, so results match whisper-cli --vad.
#pragma once

#include <napi.h>
#include <whisper.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "errors.h"

namespace whisper_napi {

// Owns a loaded Silero model; one per state, loaded on first use, reloaded when the path changes.
class VadModel {
 public:
  ~VadModel();
  // Loads `path` for `n_threads` unless that is already loaded. False with `failure` set (see
  // LoadVadModel in vad_file.h; `parameter` names the option that gave the path).
  bool Ensure(const std::string& path, const std::string& parameter, int n_threads, WorkerFailure& failure);
  whisper_vad_context* get() const { return ctx_; }

 private:
  whisper_vad_context* ctx_ = nullptr;
  std::string path_;
  int n_threads_ = 0;
};

// Pairs of (time in the speech-only audio, time in the input), in centiseconds.
class VadTimeMap {
 public:
  bool empty() const { return points_.empty(); }
  void Add(int64_t processed, int64_t original) { points_.push_back({processed, original}); }
  // Sorts and drops duplicate processed times, as the lookups need.
  void Finish();
  int64_t ToOriginal(int64_t processed) const;
  // Segment end times are kept at least 10 cs after their start.
  int64_t SegmentEndToOriginal(int64_t processed_t0, int64_t processed_t1) const;

 private:
  struct Point {
    int64_t processed;
    int64_t original;
  };
  std::vector<Point> points_;
};

// Replaces `samples` by the speech it contains. No speech leaves `samples` empty.
bool KeepSpeech(whisper_vad_context* vad, const whisper_vad_params& params, std::vector<float>& samples,
                VadTimeMap& map, std::string& error);

// vadSpeechProbabilities(modelPath: string, pcm: Float32Array, threads: number) -> Promise<Float32Array>
// Silero's speech probability for each 512-sample frame of `pcm` (16 kHz), the last frame
// zero-padded. The streaming transcriber picks its cut points from these. The model is loaded
// for the call and freed after it: it is small, and a per-call context needs no locking.
// `pcm` is copied before the call returns. lib/ validates the path and arguments first; the addon
// checks them again (INVALID_ARGUMENT), and the file as LoadVadModel does.
Napi::Value VadSpeechProbabilities(const Napi::CallbackInfo& info);

}  // namespace whisper_napi
