// Process and device queries: backend devices with memory, system info, versions, languages.
#pragma once

#include <napi.h>

namespace whisper_napi {

Napi::Value GetDevices(const Napi::CallbackInfo& info);
Napi::Value GetSystemInfo(const Napi::CallbackInfo& info);
Napi::Value GetLanguages(const Napi::CallbackInfo& info);

}  // namespace whisper_napi
