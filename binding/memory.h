// Memory figures for a model's weights and a state's buffers, as whisper.cpp allocates them.
//
// whisper_context and whisper_state are opaque in whisper.h, and whisper.cpp reports its buffer
// sizes only in the log lines it writes while loading a model and creating a state. We collect
// those lines on the thread that does the work (ThreadLogCapture in log_bridge.h) and read the
// numbers back here, so the figures are whisper.cpp's own, at the 0.01 MB (10 kB) resolution of
// its "%7.2f MB" format.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "params.h"

namespace whisper_napi {

struct WeightBuffer {
  std::string name;  // ggml_backend_buffer_name: "CPU", "CUDA0", ...
  int64_t bytes = 0;
};

struct WeightsMemory {
  std::vector<WeightBuffer> buffers;
  // Sum of the loaded tensors' ggml_nbytes ("model size" line); -1 when not logged.
  int64_t tensor_bytes = -1;
};

// -1 marks a figure whisper.cpp did not log (e.g. no encoder graph with an external encoder).
struct StateMemory {
  int64_t kv_self = -1;
  int64_t kv_cross = -1;
  int64_t kv_pad = -1;
  int64_t conv = -1;
  int64_t encode = -1;
  int64_t cross = -1;
  int64_t decode = -1;
  // "alignment heads masks size = %ld B", logged only for a model loaded with DTW (-1 otherwise).
  int64_t alignment_masks = -1;
  // What DTW uses beyond the logged buffers (0 without DTW): the masks, the copy of the heads'
  // attention whisper_state keeps (aheads_cross_QKs_data, at most n_text_ctx/2 x n_audio_ctx x
  // heads floats), and the dtw_mem_size context each window's alignment allocates.
  int64_t dtw = 0;
  // The most decoders a job on this state may have run; whisper_full grows the self-attention
  // KV cache when it needs more than the one it was created with, without logging it.
  int max_decoders = 1;
};

WeightsMemory ParseModelLoadLog(const std::vector<std::string>& lines);
StateMemory ParseStateInitLog(const std::vector<std::string>& lines);

// Mirrors whisper_full_with_state's choice of n_decoders_cur over its temperature ladder: the
// largest number of decoders that these parameters can make it run at once.
int MaxDecodersFor(const TranscribeParams& params);

Napi::Object WeightsMemoryToJs(Napi::Env env, const WeightsMemory& memory);
Napi::Object StateMemoryToJs(Napi::Env env, const StateMemory& memory);

}  // namespace whisper_napi
