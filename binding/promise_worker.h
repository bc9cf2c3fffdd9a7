// The shape every promise-returning AsyncWorker here shares: Run() works on a libuv thread
// and records a WorkerFailure or a result; Result() builds the JS value on the JS thread.
#pragma once

#include <napi.h>

#include <new>
#include <stdexcept>
#include <string>

#include "errors.h"

namespace whisper_napi {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  // `what` prefixes the message of an exception caught around Run(), e.g. "quantize".
  PromiseWorker(Napi::Env env, const char* resource_name, std::string what)
      : Napi::AsyncWorker(env, resource_name), deferred_(env), what_(std::move(what)) {}

  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

  WorkerFailure failure_;

 private:
  void Execute() final {
    // An exception escaping a libuv worker thread would terminate the host process.
    try {
      Run();
    } catch (const std::bad_alloc&) {
      failure_ = {"NATIVE_ERROR", what_ + ": out of memory"};
    } catch (const std::exception& error) {
      failure_ = {"NATIVE_ERROR", what_ + ": " + error.what()};
    } catch (...) {
      failure_ = {"NATIVE_ERROR", what_ + ": an unknown exception was thrown"};
    }
  }

  void OnOK() final {
    Napi::Env env = Env();
    if (failure_.failed()) {
      deferred_.Reject(MakeError(env, failure_.code.c_str(), failure_.message).Value());
      return;
    }
    deferred_.Resolve(Result(env));
  }

  void OnError(const Napi::Error& error) final { deferred_.Reject(error.Value()); }

  Napi::Promise::Deferred deferred_;
  std::string what_;
};

}  // namespace whisper_napi
