// Per-addon-instance data: each Node environment (main thread, every worker_thread) gets
// its own constructors and log sink; nothing here is shared between environments.
#pragma once

#include <napi.h>

#include <memory>

#include "log_bridge.h"

namespace whisper_napi {

struct AddonData {
  Napi::FunctionReference model_constructor;
  Napi::FunctionReference state_constructor;
  std::unique_ptr<LogSink> log_sink;

  static AddonData* Of(Napi::Env env) { return env.GetInstanceData<AddonData>(); }
};

}  // namespace whisper_napi
