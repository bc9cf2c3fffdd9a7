#include "log_bridge.h"

#include <ggml.h>
#include <whisper.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <vector>

namespace whisper_napi {

namespace {

// whisper_log_set() is process-wide, so the list of sinks that share it must be too.
// It holds only pointers to per-instance sinks, added and removed under the mutex.
std::mutex g_sinks_mutex;
std::vector<LogSink*> g_sinks;

// ggml levels: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5.
int ToSinkLevel(ggml_log_level level) {
  switch (level) {
    case GGML_LOG_LEVEL_DEBUG: return 0;
    case GGML_LOG_LEVEL_INFO: return 1;
    case GGML_LOG_LEVEL_WARN: return 2;
    case GGML_LOG_LEVEL_ERROR: return 3;
    default: return 1;
  }
}

const char* LevelName(int level) {
  static const char* const names[] = {"debug", "info", "warn", "error"};
  return names[std::clamp(level, 0, 3)];
}

// whisper.cpp logs a line in several calls ("loading model ... ", "done\n"); join them
// per thread so a logger receives whole lines.
struct PendingLine {
  std::string text;
  int level = 1;
};
thread_local PendingLine t_pending;
thread_local std::deque<std::string> t_diagnostics;
constexpr size_t kMaxDiagnostics = 8;
thread_local std::vector<std::string>* t_capture = nullptr;

void Dispatch(int level, std::string line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.empty()) return;
  if (t_capture != nullptr) t_capture->push_back(line);
  if (level >= 2) {
    t_diagnostics.push_back(line);
    if (t_diagnostics.size() > kMaxDiagnostics) t_diagnostics.pop_front();
  }
  std::lock_guard<std::mutex> lock(g_sinks_mutex);
  for (LogSink* sink : g_sinks) sink->Emit(level, line);
}

void OnLog(ggml_log_level level, const char* text, void*) {
  if (text == nullptr) return;
  if (level != GGML_LOG_LEVEL_CONT) {
    if (!t_pending.text.empty()) Dispatch(t_pending.level, std::move(t_pending.text));
    t_pending.text.clear();
    t_pending.level = ToSinkLevel(level);
  }
  t_pending.text += text;
  size_t newline;
  while ((newline = t_pending.text.find('\n')) != std::string::npos) {
    Dispatch(t_pending.level, t_pending.text.substr(0, newline));
    t_pending.text.erase(0, newline + 1);
  }
}

struct LogMessage {
  int level;
  std::string text;
};

}  // namespace

void InstallLogCallback() {
  static std::once_flag once;
  std::call_once(once, [] { whisper_log_set(OnLog, nullptr); });
}

void ResetThreadDiagnostics() { t_diagnostics.clear(); }

std::string ThreadDiagnostics() {
  std::string joined;
  for (const auto& line : t_diagnostics) {
    if (!joined.empty()) joined += "; ";
    joined += line;
  }
  return joined;
}

ThreadLogCapture::ThreadLogCapture() : previous_(t_capture) { t_capture = &lines; }

ThreadLogCapture::~ThreadLogCapture() { t_capture = previous_; }

LogSink::LogSink(Napi::Env) {
  std::lock_guard<std::mutex> lock(g_sinks_mutex);
  g_sinks.push_back(this);
}

LogSink::~LogSink() {
  {
    std::lock_guard<std::mutex> lock(g_sinks_mutex);
    g_sinks.erase(std::remove(g_sinks.begin(), g_sinks.end(), this), g_sinks.end());
  }
  std::lock_guard<std::mutex> lock(*mutex_);
  ReleaseLocked();
}

void LogSink::ReleaseLocked() {
  if (active_ && !tsfn_lifetime_->finalized) tsfn_.Release();
  active_ = false;
  tsfn_lifetime_.reset();
}

void LogSink::SetLogger(Napi::Env env, Napi::Value logger, int minLevel) {
  std::lock_guard<std::mutex> lock(*mutex_);
  ReleaseLocked();
  min_level_ = minLevel;
  if (!logger.IsFunction()) return;
  tsfn_lifetime_ = std::make_shared<Lifetime>();
  // Node runs the finalizer from its event loop, never inside Release() or a call made under
  // the mutex, so taking the mutex there cannot deadlock.
  tsfn_ = Napi::ThreadSafeFunction::New(
      env, logger.As<Napi::Function>(), "whisper-napi:log", 0, 1,
      [](Napi::Env, FinalizerData* data) {
        {
          std::lock_guard<std::mutex> finalizing(*data->mutex);
          data->lifetime->finalized = true;
        }
        delete data;
      },
      new FinalizerData{mutex_, tsfn_lifetime_});
  // A logger must not keep the host process alive.
  tsfn_.Unref(env);
  active_ = true;
}

void LogSink::Emit(int level, const std::string& line) {
  std::lock_guard<std::mutex> lock(*mutex_);
  if (!active_ || level < min_level_ || tsfn_lifetime_->finalized) return;
  auto* message = new LogMessage{level, line};
  napi_status status = tsfn_.NonBlockingCall(message, [](Napi::Env env, Napi::Function fn, LogMessage* msg) {
    if (env != nullptr && fn != nullptr) {
      // A throwing logger must not take whisper down with it.
      try {
        fn.Call({Napi::String::New(env, LevelName(msg->level)), Napi::String::New(env, msg->text)});
      } catch (const Napi::Error&) {
      }
    }
    delete msg;
  });
  if (status != napi_ok) delete message;
}

}  // namespace whisper_napi
