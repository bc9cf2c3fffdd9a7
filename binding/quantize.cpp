#include "quantize.h"

#include <ggml.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "arguments.h"
#include "errors.h"
#include "promise_worker.h"

namespace whisper_napi {

namespace {

// The block types whisper.cpp's quantize tool produces for Whisper models, plus f16 (used to
// store f32 conv kernels the way a quantized model needs them). K-quants and i-quants are not
// offered: whisper.cpp's loader would take them, but its quantize tool's rules never make them.
bool IsSupportedTarget(int type) {
  switch (type) {
    case GGML_TYPE_F16:
    case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q4_1:
    case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q5_1:
    case GGML_TYPE_Q8_0: return true;
    default: return false;
  }
}

struct QuantizeJob {
  ggml_type src_type = GGML_TYPE_F32;
  ggml_type dst_type = GGML_TYPE_Q8_0;
  int64_t n_per_row = 0;
  int64_t n_rows = 0;
  // Exactly one of these holds the input, copied on the JS thread.
  std::vector<float> f32;
  std::vector<ggml_fp16_t> f16;
};

class QuantizeWorker : public PromiseWorker {
 public:
  QuantizeWorker(Napi::Env env, QuantizeJob job)
      : PromiseWorker(env, "whisper-napi:quantize", "quantize"), job_(std::move(job)) {}

 private:
  Napi::Value Result(Napi::Env env) override {
    if (out_.empty()) return Napi::Buffer<uint8_t>::New(env, 0);
    // The vector moves to the heap and is freed with the Buffer (or copied where external
    // buffers are not allowed, e.g. in a V8 memory cage).
    auto* owned = new std::vector<uint8_t>(std::move(out_));
    return Napi::Buffer<uint8_t>::NewOrCopy(
        env, owned->data(), owned->size(), [](Napi::Env, uint8_t*, std::vector<uint8_t>* data) { delete data; }, owned);
  }

  void Run() override {
    const int64_t n = job_.n_rows * job_.n_per_row;
    const size_t row_size = ggml_row_size(job_.dst_type, job_.n_per_row);
    out_.resize(row_size * static_cast<size_t>(job_.n_rows));
    if (n == 0) return;
    const float* src = job_.f32.data();
    if (job_.src_type == GGML_TYPE_F16) {
      // The same conversion whisper.cpp's quantize tool applies to f16 sources (exact).
      job_.f32.resize(static_cast<size_t>(n));
      ggml_fp16_to_fp32_row(job_.f16.data(), job_.f32.data(), n);
      std::vector<ggml_fp16_t>().swap(job_.f16);
      src = job_.f32.data();
    }
    ggml_quantize_init(job_.dst_type);
    const size_t written =
        ggml_quantize_chunk(job_.dst_type, src, out_.data(), 0, job_.n_rows, job_.n_per_row, nullptr);
    if (written != out_.size()) {
      failure_ = {"NATIVE_ERROR", "quantize: ggml wrote " + std::to_string(written) + " bytes, expected " +
                                      std::to_string(out_.size())};
    }
  }

  QuantizeJob job_;
  std::vector<uint8_t> out_;
};

// A non-negative integer that fits in int64 without loss, or -1.
int64_t ReadCount(const Napi::Value& value) {
  if (!value.IsNumber()) return -1;
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > 9007199254740991.0) return -1;
  return static_cast<int64_t>(d);
}

}  // namespace

Napi::Value Quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto argument = [&](size_t i) {
    return info.Length() > i ? info[i] : env.Undefined();
  };
  if (!argument(0).IsTypedArray()) {
    throw InvalidArgument(env, "quantize.src", "a TypedArray (e.g. a Buffer or Float32Array)", argument(0));
  }
  Napi::TypedArray src = argument(0).As<Napi::TypedArray>();

  const int64_t src_type = ReadCount(argument(1));
  if (src_type != GGML_TYPE_F32 && src_type != GGML_TYPE_F16) {
    throw InvalidArgument(env, "quantize.srcType", "0 (f32) or 1 (f16)", argument(1));
  }
  const int64_t dst_type = ReadCount(argument(2));
  if (dst_type < 0 || dst_type >= GGML_TYPE_COUNT || !IsSupportedTarget(static_cast<int>(dst_type))) {
    throw InvalidArgument(env, "quantize.dstType", "the ggml type id of q4_0, q4_1, q5_0, q5_1, q8_0 or f16",
                          argument(2));
  }
  const ggml_type dst = static_cast<ggml_type>(dst_type);
  if (ggml_quantize_requires_imatrix(dst)) {
    throw InvalidArgument(env, "quantize.dstType", "a type that needs no importance matrix", argument(2));
  }
  const int64_t n_per_row = ReadCount(argument(3));
  const int64_t block = ggml_blck_size(dst);
  if (n_per_row <= 0 || n_per_row > INT32_MAX || n_per_row % block != 0) {
    throw InvalidArgument(env, "quantize.nPerRow",
                          "a positive multiple of " + std::to_string(block) + " (the " + ggml_type_name(dst) +
                              " block size) up to 2^31-1",
                          argument(3));
  }

  const size_t elem = src_type == GGML_TYPE_F16 ? sizeof(ggml_fp16_t) : sizeof(float);
  const size_t byte_length = src.ByteLength();
  if (byte_length % elem != 0) {
    throw InvalidArgument(env, "quantize.src",
                          std::string("a whole number of ") + (src_type == GGML_TYPE_F16 ? "f16" : "f32") + " values",
                          std::to_string(byte_length) + " bytes");
  }
  const size_t count = byte_length / elem;
  if (count % static_cast<size_t>(n_per_row) != 0) {
    throw InvalidArgument(env, "quantize.src", "a whole number of rows of " + std::to_string(n_per_row) + " values",
                          std::to_string(count) + " values");
  }
  // The data pointer as napi reports it (already offset into the buffer; also right for a
  // SharedArrayBuffer). A detached buffer reports no data.
  void* data = nullptr;
  napi_status status = napi_get_typedarray_info(env, src, nullptr, nullptr, &data, nullptr, nullptr);
  if (status != napi_ok || (byte_length > 0 && data == nullptr)) {
    throw InvalidArgument(env, "quantize.src", "a TypedArray with accessible memory (not a detached buffer)",
                          argument(0));
  }
  const uint8_t* bytes = static_cast<const uint8_t*>(data);

  QuantizeJob job;
  job.src_type = static_cast<ggml_type>(src_type);
  job.dst_type = dst;
  job.n_per_row = n_per_row;
  job.n_rows = static_cast<int64_t>(count / static_cast<size_t>(n_per_row));
  try {
    if (job.src_type == GGML_TYPE_F16) {
      job.f16.resize(count);
      if (count > 0) std::memcpy(job.f16.data(), bytes, byte_length);
    } else {
      job.f32.resize(count);
      if (count > 0) std::memcpy(job.f32.data(), bytes, byte_length);
    }
  } catch (const std::bad_alloc&) {
    throw MakeError(env, "NATIVE_ERROR", "quantize: out of memory copying " + std::to_string(byte_length) + " bytes");
  }

  auto* worker = new QuantizeWorker(env, std::move(job));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace whisper_napi
