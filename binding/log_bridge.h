// Routes whisper.cpp and ggml log output to JavaScript loggers instead of stderr.
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace whisper_napi {

// One per addon instance (main thread or worker_thread). Lines reach the instance's
// JS logger through a thread-safe function; with no logger set, nothing is printed.
class LogSink {
 public:
  explicit LogSink(Napi::Env env);
  ~LogSink();
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  // logger(level: string, message: string) or null to silence. minLevel: 0 debug .. 4 error.
  void SetLogger(Napi::Env env, Napi::Value logger, int minLevel);

  // Called from any thread with a complete line.
  void Emit(int level, const std::string& line);

 private:
  void ReleaseLocked();

  // Node frees a thread-safe function at environment teardown even while threads still hold
  // it, and may do so before or after this sink is destroyed. Its finalizer marks it finalized
  // under the sink's mutex (shared with the finalizer, so it outlives the sink), the same
  // mutex Emit holds from the check to the call: a line logged on another thread never reaches
  // a freed function, and a finalized one is never released.
  struct Lifetime {
    bool finalized = false;  // guarded by the sink's mutex
  };
  struct FinalizerData {
    std::shared_ptr<std::mutex> mutex;
    std::shared_ptr<Lifetime> lifetime;
  };

  const std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<Lifetime> tsfn_lifetime_;
  bool active_ = false;
  int min_level_ = 0;
};

// Installs the process-wide whisper/ggml log callback once.
void InstallLogCallback();

// Error and warning lines logged on the calling thread since the last reset; workers
// attach them to failures so a JS error says why whisper.cpp gave up.
void ResetThreadDiagnostics();
std::string ThreadDiagnostics();

// Collects every complete line (any level) logged on the constructing thread while it lives;
// whisper.cpp reports its buffer sizes only in such lines. Nests: an inner capture hides its
// lines from the outer one.
class ThreadLogCapture {
 public:
  ThreadLogCapture();
  ~ThreadLogCapture();
  ThreadLogCapture(const ThreadLogCapture&) = delete;
  ThreadLogCapture& operator=(const ThreadLogCapture&) = delete;

  std::vector<std::string> lines;

 private:
  std::vector<std::string>* previous_;
};

}  // namespace whisper_napi
