// Runs whisper_full_with_state on a thread of its own (a LargeStackThread: whisper.cpp's
// tokenizer and the suppressRegex matching recurse with std::regex) and streams progress and new
// segments back to JS as copies.
//
// Not on libuv's threadpool: that pool has 4 threads by default, shared with fs, dns,
// crypto and zlib, so a model running more than 4 jobs would silently queue them there, and
// long transcriptions would starve the application's file I/O. A model never runs more
// jobs than its concurrency, so one thread per running job is bounded by the TS pool.
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>
#include <vector>

#include "errors.h"
#include "handles.h"
#include "params.h"
#include "transcript.h"

namespace whisper_napi {

struct TranscribeEvent {
  enum class Kind { Progress, Segment, Done } kind = Kind::Progress;
  int progress = 0;
  SegmentResult segment;
};

class TranscribeWorker {
 public:
  // `on_event` may be undefined. The caller has already marked `state` busy.
  TranscribeWorker(Napi::Env env, Napi::Object state_object, std::shared_ptr<StateHandle> state, std::vector<float> pcm,
                   TranscribeParams params, Napi::Value on_event);
  ~TranscribeWorker();
  TranscribeWorker(const TranscribeWorker&) = delete;
  TranscribeWorker& operator=(const TranscribeWorker&) = delete;

  Napi::Promise Promise() const { return deferred_.Promise(); }

  // Starts the job on its own thread. From here on the worker owns itself: it is deleted on
  // the JS thread once the thread has finished and the promise has settled, or when the
  // environment is torn down (then the job is aborted and its thread joined first).
  void Queue();

 private:
  static void CallJs(Napi::Env env, Napi::Function unused, TranscribeWorker* self, TranscribeEvent* event);
  static void Finalize(Napi::Env env, void* unused, TranscribeWorker* self);
  using Channel = Napi::TypedThreadSafeFunction<TranscribeWorker, TranscribeEvent, &TranscribeWorker::CallJs>;

  void ThreadMain();
  void Run();
  bool DetectLanguage(whisper_full_params& wparams);
  // From the job's thread; dropped once the environment is going away.
  void Send(TranscribeEvent event);
  void Settle(Napi::Env env);
  void Deliver(Napi::Env env, const TranscribeEvent& event);
  // Segment i of the running job, with the temperature and start of the window it came from.
  SegmentResult ReadJobSegment(int i) const;
  // Sends the segments whisper_full has finished since the last call, in order.
  void SendNewSegments();
  // With DTW: false when the window about to start may hold fewer frames than DTW can align.
  bool DtwWindowIsSafe(whisper_state* state) const;
  // With DTW: extends audio shorter than DTW can align with the zeros whisper would read anyway.
  void PadForDtw();

  // One 30 s window of whisper_full: marked when its encoder starts (encoder_begin_callback).
  struct DecodedWindow {
    // Segments whisper_full had before this window; the window's own follow.
    int first_segment = 0;
    // Decoding attempts so far: the first step of each (decoders[0] with no tokens yet) passes
    // through the logits filter. The last attempt is the one whisper_full kept.
    int attempts = 0;
  };

  Napi::Env env_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference state_ref_;
  Napi::FunctionReference on_event_;
  std::shared_ptr<StateHandle> state_;
  std::vector<float> pcm_;
  // The samples of pcm_ whisper.cpp transcribes; pcm_ may hold zeros after them.
  int n_samples_ = 0;
  TranscribeParams params_;
  TranscriptResult result_;
  VadTimeMap vad_map_;
  WorkerFailure failure_;
  // On the job's thread only (whisper_full's callbacks run there, and the logits filter's
  // first step of an attempt does too).
  std::vector<float> temperature_ladder_;
  std::vector<DecodedWindow> windows_;
  // The ids options.suppressRegex suppresses, set before whisper_full starts; read by the logits filter.
  std::vector<whisper_token> suppressed_;
  int delivered_segments_ = 0;
  // whisper_full's last progress percent: (seek - seek_start) * 100 / (seek_end - seek_start), rounded down.
  int progress_ = 0;

  // Node frees a thread-safe function at environment teardown even while threads still
  // hold it; the finalizer closes this gate first, so the job's thread never touches a
  // freed one.
  std::mutex channel_mutex_;
  bool channel_open_ = false;
  Channel channel_;
  LargeStackThread thread_;
  bool settled_ = false;
};

}  // namespace whisper_napi
