// Errors thrown or rejected to JS carry a stable `code`, which lib/native/addon.ts maps onto
// WhisperError.
#pragma once

#include <napi.h>

#include <string>

namespace whisper_napi {

inline Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

// A failure found on a worker thread, turned into a JS error later on the JS thread.
struct WorkerFailure {
  std::string code;
  std::string message;
  bool failed() const { return !code.empty(); }
};

}  // namespace whisper_napi
