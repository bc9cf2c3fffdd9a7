// Runs whisper_full_with_state on a libuv worker thread and streams progress and new
// segments back to JS as copies.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "errors.h"
#include "handles.h"
#include "params.h"
#include "transcript.h"

namespace whisper_napi {

struct TranscribeEvent {
  enum class Kind { Progress, Segment } kind = Kind::Progress;
  int progress = 0;
  SegmentResult segment;
};

class TranscribeWorker : public Napi::AsyncProgressQueueWorker<TranscribeEvent> {
 public:
  // `on_event` may be undefined. The caller has already marked `state` busy.
  TranscribeWorker(Napi::Env env, Napi::Object state_object, std::shared_ptr<StateHandle> state,
                   std::vector<float> pcm, TranscribeParams params, Napi::Value on_event);
  ~TranscribeWorker() override;

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override;
  void OnProgress(const TranscribeEvent* events, size_t count) override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  void Run(const ExecutionProgress& progress);
  bool DetectLanguage(whisper_full_params& wparams);

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference state_ref_;
  Napi::FunctionReference on_event_;
  std::shared_ptr<StateHandle> state_;
  std::vector<float> pcm_;
  TranscribeParams params_;
  TranscriptResult result_;
  VadTimeMap vad_map_;
  WorkerFailure failure_;
  const ExecutionProgress* progress_ = nullptr;
};

}  // namespace whisper_napi
