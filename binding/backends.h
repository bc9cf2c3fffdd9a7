// Which ggml backends this process uses, and where they came from. In a build with
// run-time CPU variants (GGML_BACKEND_DL) the backends are modules next to the addon, and
// ggml loads the best CPU variant for this machine; otherwise they are linked in.
#pragma once

#include <napi.h>

namespace whisper_napi {

// Loads the backend modules that sit next to the addon, once per process (ggml's registry
// is process-wide); called by the module's Init in every environment, later calls return at once.
void EnsureBackendsLoaded();

Napi::Value GetBackendInfo(const Napi::CallbackInfo& info);

}  // namespace whisper_napi
