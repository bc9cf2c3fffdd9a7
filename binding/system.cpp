#include "system.h"

#include <ggml-backend.h>
#include <whisper.h>

#include <mutex>
#include <string>

namespace whisper_napi {

namespace {
const char* DeviceTypeName(enum ggml_backend_dev_type type) {
  switch (type) {
    case GGML_BACKEND_DEVICE_TYPE_CPU: return "cpu";
    case GGML_BACKEND_DEVICE_TYPE_GPU: return "gpu";
    case GGML_BACKEND_DEVICE_TYPE_IGPU: return "igpu";
    case GGML_BACKEND_DEVICE_TYPE_ACCEL: return "accel";
    default: return "other";
  }
}
}  // namespace

Napi::Value GetDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t count = ggml_backend_dev_count();
  Napi::Array devices = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; ++i) {
    ggml_backend_dev_t device = ggml_backend_dev_get(i);
    size_t free_bytes = 0, total_bytes = 0;
    ggml_backend_dev_memory(device, &free_bytes, &total_bytes);
    Napi::Object out = Napi::Object::New(env);
    out.Set("index", static_cast<double>(i));
    out.Set("name", ggml_backend_dev_name(device));
    out.Set("description", ggml_backend_dev_description(device));
    out.Set("type", DeviceTypeName(ggml_backend_dev_type(device)));
    out.Set("backend", ggml_backend_reg_name(ggml_backend_dev_backend_reg(device)));
    out.Set("freeBytes", static_cast<double>(free_bytes));
    out.Set("totalBytes", static_cast<double>(total_bytes));
    devices.Set(static_cast<uint32_t>(i), out);
  }
  return devices;
}

Napi::Value GetSystemInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // whisper_print_system_info() fills a static buffer; worker_threads may call it at once.
  static std::mutex system_info_mutex;
  std::string system_info;
  {
    std::lock_guard<std::mutex> lock(system_info_mutex);
    system_info = whisper_print_system_info();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("whisperVersion", whisper_version());
  out.Set("systemInfo", system_info);
  // Built with CUDA is not enough: with run-time backends the CUDA module may have failed
  // to load (no driver, no runtime), and then whisper.cpp runs on the CPU.
  ggml_backend_reg_t cuda = ggml_backend_reg_by_name("CUDA");
  out.Set("cudaBuild", Napi::Boolean::New(env, WHISPER_NAPI_CUDA != 0));
  out.Set("cuda", Napi::Boolean::New(env, cuda != nullptr && ggml_backend_reg_dev_count(cuda) > 0));
  return out;
}

Napi::Value GetLanguages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int max_id = whisper_lang_max_id();
  Napi::Array languages = Napi::Array::New(env, max_id + 1);
  for (int id = 0; id <= max_id; ++id) {
    Napi::Object language = Napi::Object::New(env);
    language.Set("id", id);
    language.Set("code", whisper_lang_str(id));
    language.Set("name", whisper_lang_str_full(id));
    languages.Set(static_cast<uint32_t>(id), language);
  }
  return languages;
}

}  // namespace whisper_napi
