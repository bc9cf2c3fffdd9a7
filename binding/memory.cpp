#include "memory.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace whisper_napi {

namespace {

// The number in "... = %7.2f MB", in bytes (whisper.cpp divides by 1e6); -1 if absent.
int64_t MegabytesAfter(const std::string& line, size_t from) {
  size_t equals = line.find('=', from);
  if (equals == std::string::npos) return -1;
  const char* start = line.c_str() + equals + 1;
  char* end = nullptr;
  double megabytes = std::strtod(start, &end);
  if (end == start || line.find("MB", end - line.c_str()) == std::string::npos) return -1;
  return static_cast<int64_t>(std::llround(megabytes * 1e6));
}

std::string Trim(const std::string& text) {
  size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  size_t last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

bool Contains(const std::string& line, const char* needle, size_t* at) {
  *at = line.find(needle);
  return *at != std::string::npos;
}

}  // namespace

WeightsMemory ParseModelLoadLog(const std::vector<std::string>& lines) {
  WeightsMemory memory;
  static const char kPrefix[] = "whisper_model_load:";
  static const char kBuffer[] = " total size =";
  static const char kModel[] = "whisper_model_load: model size";
  for (const std::string& line : lines) {
    size_t at;
    // The VAD loader logs the same lines under whisper_vad_init_*; only the model's count here.
    if (line.rfind(kModel, 0) == 0) {
      memory.tensor_bytes = MegabytesAfter(line, sizeof(kModel) - 1);
    } else if (line.rfind(kPrefix, 0) == 0 && Contains(line, kBuffer, &at)) {
      int64_t bytes = MegabytesAfter(line, at);
      if (bytes < 0) continue;
      memory.buffers.push_back({Trim(line.substr(sizeof(kPrefix) - 1, at - (sizeof(kPrefix) - 1))), bytes});
    }
  }
  return memory;
}

StateMemory ParseStateInitLog(const std::vector<std::string>& lines) {
  StateMemory memory;
  struct Field {
    const char* label;
    int64_t* target;
  };
  const Field fields[] = {
      {"kv self size", &memory.kv_self},
      {"kv cross size", &memory.kv_cross},
      {"kv pad  size", &memory.kv_pad},
      {"compute buffer (conv)", &memory.conv},
      {"compute buffer (encode)", &memory.encode},
      {"compute buffer (cross)", &memory.cross},
      {"compute buffer (decode)", &memory.decode},
  };
  static const char kMasks[] = "alignment heads masks size =";
  for (const std::string& line : lines) {
    if (line.rfind("whisper_init_state:", 0) != 0) continue;
    size_t masks_at;
    if (Contains(line, kMasks, &masks_at)) {
      const char* start = line.c_str() + masks_at + sizeof(kMasks) - 1;
      char* end = nullptr;
      const long long bytes = std::strtoll(start, &end, 10);
      if (end != start) memory.alignment_masks = bytes;
      continue;
    }
    for (const Field& field : fields) {
      size_t at;
      if (Contains(line, field.label, &at)) {
        *field.target = MegabytesAfter(line, at);
        break;
      }
    }
  }
  return memory;
}

int MaxDecodersFor(const TranscribeParams& params) {
  // whisper_full runs best_of decoders at any temperature above zero, beam_size (beam search)
  // or one (greedy) at zero; temperatures above zero occur when the start temperature is, or
  // when a positive increment lets it fall back.
  const bool warm_pass = params.temperature > 0.0f ||
                         (params.temperature_inc > 0.0f && params.temperature + params.temperature_inc < 1.0f + 1e-6f);
  const bool cold_pass = params.temperature <= 0.0f;
  int decoders = 1;
  if (cold_pass && params.beam_search) decoders = std::max(decoders, params.beam_size);
  if (warm_pass) decoders = std::max(decoders, params.best_of);
  return std::max(1, decoders);
}

Napi::Object WeightsMemoryToJs(Napi::Env env, const WeightsMemory& memory) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Array buffers = Napi::Array::New(env, memory.buffers.size());
  for (size_t i = 0; i < memory.buffers.size(); ++i) {
    Napi::Object buffer = Napi::Object::New(env);
    buffer.Set("buffer", memory.buffers[i].name);
    buffer.Set("bytes", static_cast<double>(memory.buffers[i].bytes));
    buffers.Set(static_cast<uint32_t>(i), buffer);
  }
  out.Set("buffers", buffers);
  out.Set("tensorBytes", static_cast<double>(memory.tensor_bytes));
  return out;
}

Napi::Object StateMemoryToJs(Napi::Env env, const StateMemory& memory) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("kvSelf", static_cast<double>(memory.kv_self));
  out.Set("kvCross", static_cast<double>(memory.kv_cross));
  out.Set("kvPad", static_cast<double>(memory.kv_pad));
  out.Set("conv", static_cast<double>(memory.conv));
  out.Set("encode", static_cast<double>(memory.encode));
  out.Set("cross", static_cast<double>(memory.cross));
  out.Set("decode", static_cast<double>(memory.decode));
  out.Set("maxDecoders", memory.max_decoders);
  out.Set("dtw", static_cast<double>(memory.dtw));
  return out;
}

}  // namespace whisper_napi
