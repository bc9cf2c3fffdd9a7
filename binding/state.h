// WhisperState: one whisper_state (KV caches and compute buffers) on a model; one job at a time.
#pragma once

#include <napi.h>

#include <memory>

#include "handles.h"

namespace whisper_napi {

class State : public Napi::ObjectWrap<State> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<StateHandle> handle);

  explicit State(const Napi::CallbackInfo& info);

 private:
  // transcribe(pcm: Float32Array, params: object, onEvent?: function) -> Promise<result>
  Napi::Value Transcribe(const Napi::CallbackInfo& info);
  void Abort(const Napi::CallbackInfo& info);
  // memory() -> { kvSelf, kvCross, kvPad, conv, encode, cross, decode, maxDecoders }: bytes
  // whisper_init_state reported, -1 where it reported nothing.
  Napi::Value Memory(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsBusy(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  std::shared_ptr<StateHandle> handle_;
};

}  // namespace whisper_napi
