// Module entry: registers the native classes and functions for one Node environment.
#include <napi.h>

#include "addon_data.h"
#include "arguments.h"
#include "audio_decoder.h"
#include "backends.h"
#include "log_bridge.h"
#include "model.h"
#include "params.h"
#include "quantize.h"
#include "state.h"
#include "system.h"
#include "vad.h"

namespace whisper_napi {

namespace {

// setLogger(logger: function | null, minLevel?: 0 debug .. 3 error)
void SetLogger(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value logger = info.Length() > 0 ? info[0] : env.Undefined();
  if (!logger.IsFunction() && !logger.IsNull() && !logger.IsUndefined()) {
    throw InvalidArgument(env, "setLogger.logger", "a function or null", logger);
  }
  const Napi::Value level = info.Length() > 1 ? info[1] : env.Undefined();
  const int min_level = level.IsUndefined() ? 1 : static_cast<int>(ReadInteger(level, "setLogger.minLevel", 0, 3));
  AddonData::Of(env)->log_sink->SetLogger(env, logger, min_level);
}

// checkSuppressRegex(pattern: string): throws INVALID_ARGUMENT unless transcribe would accept it
// as options.suppressRegex. lib/ asks this while it resolves options, before a job is queued.
void CheckSuppressRegexArgument(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value pattern = info.Length() > 0 ? info[0] : env.Undefined();
  CheckSuppressRegex(env, ReadString(pattern, "options.suppressRegex"), pattern);
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLogCallback();
  EnsureBackendsLoaded();
  auto* data = new AddonData();
  data->log_sink = std::make_unique<LogSink>(env);
  Napi::Function model = Model::DefineClass(env);
  Napi::Function state = State::DefineClass(env);
  data->model_constructor = Napi::Persistent(model);
  data->state_constructor = Napi::Persistent(state);
  // Freed with the environment: the sink unregisters itself from the log callback.
  env.SetInstanceData<AddonData>(data);

  exports.Set("loadModel", Napi::Function::New<Model::Load>(env, "loadModel"));
  exports.Set("getDevices", Napi::Function::New<GetDevices>(env, "getDevices"));
  exports.Set("getBackendInfo", Napi::Function::New<GetBackendInfo>(env, "getBackendInfo"));
  exports.Set("getSystemInfo", Napi::Function::New<GetSystemInfo>(env, "getSystemInfo"));
  exports.Set("getLanguages", Napi::Function::New<GetLanguages>(env, "getLanguages"));
  exports.Set("quantize", Napi::Function::New<Quantize>(env, "quantize"));
  exports.Set("checkSuppressRegex", Napi::Function::New<CheckSuppressRegexArgument>(env, "checkSuppressRegex"));
  exports.Set("setLogger", Napi::Function::New<SetLogger>(env, "setLogger"));
  exports.Set("openAudioDecoder", Napi::Function::New<OpenAudioDecoder>(env, "openAudioDecoder"));
  exports.Set("vadSpeechProbabilities", Napi::Function::New<VadSpeechProbabilities>(env, "vadSpeechProbabilities"));
  exports.Set("NativeModel", model);
  exports.Set("NativeState", state);
  return exports;
}

}  // namespace whisper_napi

static Napi::Object InitWhisperNapi(Napi::Env env, Napi::Object exports) { return whisper_napi::Init(env, exports); }

NODE_API_MODULE(whisper_napi, InitWhisperNapi)
