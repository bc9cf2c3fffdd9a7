#include "state.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "addon_data.h"
#include "arguments.h"
#include "errors.h"
#include "memory.h"
#include "params.h"
#include "transcribe_worker.h"

namespace whisper_napi {

Napi::Function State::DefineClass(Napi::Env env) {
  return ObjectWrap<State>::DefineClass(env, "NativeState",
                                        {
                                            InstanceMethod<&State::Transcribe>("transcribe"),
                                            InstanceMethod<&State::Abort>("abort"),
                                            InstanceMethod<&State::Memory>("memory"),
                                            InstanceMethod<&State::Dispose>("dispose"),
                                            InstanceAccessor<&State::IsBusy>("busy"),
                                            InstanceAccessor<&State::IsDisposed>("disposed"),
                                        });
}

Napi::Object State::NewInstance(Napi::Env env, std::shared_ptr<StateHandle> handle) {
  auto* boxed = new std::shared_ptr<StateHandle>(std::move(handle));
  auto external = Napi::External<std::shared_ptr<StateHandle>>::New(
      env, boxed, [](Napi::Env, std::shared_ptr<StateHandle>* p) { delete p; });
  return AddonData::Of(env)->state_constructor.New({external});
}

State::State(const Napi::CallbackInfo& info) : ObjectWrap<State>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw InvalidArgument(info.Env(), "NativeState", "to be created by model.createState(), not by new",
                          info.Length() > 0 ? info[0] : info.Env().Undefined());
  }
  handle_ = *info[0].As<Napi::External<std::shared_ptr<StateHandle>>>().Data();
}

Napi::Value State::Transcribe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!handle_ || handle_->state == nullptr) throw MakeError(env, "DISPOSED", "the state has been disposed");
  const Napi::Value pcm_value = info.Length() > 0 ? info[0] : env.Undefined();
  if (!pcm_value.IsTypedArray() || pcm_value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw InvalidArgument(env, "transcribe.pcm", "a Float32Array", pcm_value);
  }
  const Napi::Value params_value = info.Length() > 1 ? info[1] : env.Undefined();
  if (!params_value.IsObject() || params_value.IsArray() || params_value.IsFunction()) {
    throw InvalidArgument(env, "transcribe.params", "an object", params_value);
  }
  Napi::Value on_event = info.Length() > 2 ? info[2] : env.Undefined();
  if (!on_event.IsUndefined() && !on_event.IsFunction()) {
    throw InvalidArgument(env, "transcribe.onEvent", "a function or undefined", on_event);
  }
  Napi::Float32Array samples = pcm_value.As<Napi::Float32Array>();
  if (samples.ElementLength() == 0 || samples.ElementLength() > static_cast<size_t>(INT32_MAX)) {
    throw MakeError(env, "INVALID_AUDIO", "pcm must hold between 1 and 2^31-1 samples");
  }
  if (samples.Data() == nullptr) {
    throw InvalidArgument(env, "transcribe.pcm", "a Float32Array with accessible memory (not a detached buffer)",
                          pcm_value);
  }
  ModelLimits limits;
  limits.n_audio_ctx = whisper_model_n_audio_ctx(handle_->model->ctx);
  limits.dtw = handle_->model->dtw;
  TranscribeParams params = ReadTranscribeParams(params_value.As<Napi::Object>(), limits);
  params.want_progress = params.want_segments = on_event.IsFunction();

  bool expected = false;
  if (!handle_->busy.compare_exchange_strong(expected, true)) {
    throw MakeError(env, "STATE_BUSY", "the state is already running a transcription; a state runs one at a time");
  }
  handle_->abort_requested.store(false);
  handle_->memory.max_decoders = std::max(handle_->memory.max_decoders, MaxDecodersFor(params));
  // The caller may reuse or detach its buffer as soon as this returns.
  std::vector<float> pcm(samples.Data(), samples.Data() + samples.ElementLength());
  auto* worker =
      new TranscribeWorker(env, info.This().As<Napi::Object>(), handle_, std::move(pcm), std::move(params), on_event);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

void State::Abort(const Napi::CallbackInfo&) {
  if (handle_ && handle_->busy.load()) handle_->abort_requested.store(true);
}

Napi::Value State::Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!handle_ || (!handle_->busy.load() && handle_->state == nullptr)) {
    throw MakeError(env, "DISPOSED", "the state has been disposed");
  }
  return StateMemoryToJs(env, handle_->memory);
}

void State::Dispose(const Napi::CallbackInfo&) {
  if (!handle_) return;
  // A running job sees the abort and then drops the last reference to the state.
  if (handle_->busy.load()) handle_->abort_requested.store(true);
  handle_.reset();
}

Napi::Value State::IsBusy(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), handle_ && handle_->busy.load());
}

Napi::Value State::IsDisposed(const Napi::CallbackInfo& info) {
  // Read on the JS thread only after the job settled, when no worker writes `state`.
  return Napi::Boolean::New(info.Env(), !handle_ || (!handle_->busy.load() && handle_->state == nullptr));
}

}  // namespace whisper_napi
