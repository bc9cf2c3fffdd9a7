// Row quantization with ggml's own quantizers (ggml_quantize_chunk), off the JS thread.
#pragma once

#include <napi.h>

namespace whisper_napi {

// quantize(src: TypedArray, srcType: 0 (f32) | 1 (f16), dstType: ggml type id, nPerRow: number)
//   -> Promise<Buffer>
// `src` holds whole rows of little-endian f32 or f16 values; it is copied before the call
// returns, so the caller may reuse it at once. dstType is one of q4_0, q4_1, q5_0, q5_1, q8_0
// or f16. Bad arguments throw a JS error; nothing here can reach a GGML_ASSERT.
Napi::Value Quantize(const Napi::CallbackInfo& info);

}  // namespace whisper_napi
