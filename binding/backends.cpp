#include "backends.h"

#include <ggml-backend.h>

#include <mutex>
#include <string>

#if defined(_WIN32)
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace whisper_napi {

namespace {

// The file that holds `address` (the addon, or a backend module), or "" if unknown.
std::string FileContaining(const void* address) {
#if defined(_WIN32)
  HMODULE module = nullptr;
  if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                          static_cast<LPCWSTR>(address), &module)) {
    return "";
  }
  wchar_t wide[32768];
  const DWORD length = GetModuleFileNameW(module, wide, 32768);
  if (length == 0) return "";
  const int bytes = WideCharToMultiByte(CP_UTF8, 0, wide, static_cast<int>(length), nullptr, 0, nullptr, nullptr);
  std::string path(static_cast<size_t>(bytes), '\0');
  WideCharToMultiByte(CP_UTF8, 0, wide, static_cast<int>(length), path.data(), bytes, nullptr, nullptr);
  return path;
#else
  Dl_info info{};
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
#endif
}

#if defined(GGML_BACKEND_DL)
std::string DirectoryOf(const std::string& file) {
  const size_t slash = file.find_last_of("/\\");
  return slash == std::string::npos ? std::string(".") : file.substr(0, slash);
}
#endif

}  // namespace

void EnsureBackendsLoaded() {
  static std::once_flag loaded;
  std::call_once(loaded, [] {
#if defined(GGML_BACKEND_DL)
    // Only our own folder: ggml's default search (the node executable's folder and the
    // working directory) could pick up an unrelated ggml build.
    const std::string directory = DirectoryOf(FileContaining(reinterpret_cast<const void*>(&EnsureBackendsLoaded)));
    ggml_backend_load_all_from_path(directory.c_str());
#endif
  });
}

Napi::Value GetBackendInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
#if defined(GGML_BACKEND_DL)
  out.Set("dynamicBackends", true);
#else
  out.Set("dynamicBackends", false);
#endif
  out.Set("addonPath", FileContaining(reinterpret_cast<const void*>(&EnsureBackendsLoaded)));
  const size_t count = ggml_backend_reg_count();
  Napi::Array backends = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; ++i) {
    ggml_backend_reg_t reg = ggml_backend_reg_get(i);
    Napi::Object backend = Napi::Object::New(env);
    backend.Set("name", ggml_backend_reg_name(reg));
    // The registry object lives in the backend's own library, so its address names the
    // module ggml chose (e.g. libggml-cpu-haswell.so).
    backend.Set("path", FileContaining(reg));
    backend.Set("devices", static_cast<double>(ggml_backend_reg_dev_count(reg)));
    Napi::Object features = Napi::Object::New(env);
    auto get_features = reinterpret_cast<ggml_backend_get_features_t>(
        ggml_backend_reg_get_proc_address(reg, "ggml_backend_get_features"));
    if (get_features != nullptr) {
      for (const ggml_backend_feature* feature = get_features(reg); feature != nullptr && feature->name != nullptr;
           ++feature) {
        features.Set(feature->name, feature->value != nullptr ? feature->value : "");
      }
    }
    backend.Set("features", features);
    backends.Set(static_cast<uint32_t>(i), backend);
  }
  out.Set("backends", backends);
  return out;
}

}  // namespace whisper_napi
