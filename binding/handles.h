// Owning handles for whisper.cpp objects.
//
// JS objects and in-flight workers share these through shared_ptr, so whichever lets go
// last frees the native memory: disposing a model or state while a job still runs can
// never free memory under that job.
#pragma once

#include <whisper.h>

#include <atomic>
#include <memory>

#include "memory.h"
#include "vad.h"

namespace whisper_napi {

struct ModelHandle {
  explicit ModelHandle(whisper_context* context) : ctx(context) {}
  ~ModelHandle() { whisper_free(ctx); }
  ModelHandle(const ModelHandle&) = delete;
  ModelHandle& operator=(const ModelHandle&) = delete;

  whisper_context* const ctx;
  // Written by the loading thread before the handle is shared; read-only afterwards.
  WeightsMemory weights;
  // Loaded with DTW alignment heads: whisper_full then times every token (t_dtw).
  bool dtw = false;
  // whisper_context_params.dtw_mem_size when dtw.
  size_t dtw_mem_size = 0;
};

struct StateHandle {
  StateHandle(std::shared_ptr<ModelHandle> owner, whisper_state* s) : model(std::move(owner)), state(s) {}
  ~StateHandle() {
    if (state != nullptr) whisper_free_state(state);
  }
  StateHandle(const StateHandle&) = delete;
  StateHandle& operator=(const StateHandle&) = delete;

  const std::shared_ptr<ModelHandle> model;
  // Null after whisper_full_with_state freed it itself (it does so when it cannot
  // reallocate the KV cache); such a state is unusable.
  whisper_state* state;
  // A whisper_state runs one whisper_full at a time.
  std::atomic<bool> busy{false};
  // Set by abort() and by dispose(); read by whisper.cpp's abort callback.
  std::atomic<bool> abort_requested{false};
  // Used only by the job running on this state.
  VadModel vad;
  // Written at creation, then on the JS thread only (max_decoders, when a job starts).
  StateMemory memory;
};

}  // namespace whisper_napi
