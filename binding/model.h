// WhisperModel: a loaded whisper_context (weights only, no state), shared by many states.
#pragma once

#include <napi.h>

#include <memory>

#include "handles.h"

namespace whisper_napi {

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // loadModel(path, { useGpu, gpuDevice, flashAttn }) -> Promise<Model>
  static Napi::Value Load(const Napi::CallbackInfo& info);

  explicit Model(const Napi::CallbackInfo& info);

  // Null once disposed.
  std::shared_ptr<ModelHandle> handle() const { return handle_; }

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value CreateState(const Napi::CallbackInfo& info);
  // memory() -> { buffers: [{ buffer, bytes }], tensorBytes }: the weights as whisper.cpp allocated them.
  Napi::Value Memory(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelHandle> handle_;
};

}  // namespace whisper_napi
