#include "transcribe_worker.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <system_error>

#include "log_bridge.h"

namespace whisper_napi {

namespace {

// log_mel_spectrogram's reflective padding: WHISPER_N_FFT / 2 samples after the first.
constexpr size_t kReflectedSamples = WHISPER_N_FFT / 2;

// whisper.cpp's DTW median filter (width 7) asserts, and aborts the process, unless a window it
// aligns has more than 7 audio positions, i.e. at least 16 mel frames (160 ms): both the window's
// remaining audio and the decoded seek_delta must reach that.
constexpr int kMinDtwFrames = 16;
// Audio shorter than this is padded for DTW: 10 frames more than kMinDtwFrames, since a window with
// less than seek_delta + 10 frames left ends at its first timestamp.
constexpr int kMinDtwSpanFrames = kMinDtwFrames + 10 + 4;
// whisper.cpp's mel frame count for n samples: 1 + (n + WHISPER_N_FFT / 2 - WHISPER_N_FFT) / WHISPER_HOP_LENGTH.
int MelFrames(size_t samples) {
  return samples < WHISPER_N_FFT / 2 ? 0 : 1 + static_cast<int>((samples - WHISPER_N_FFT / 2) / WHISPER_HOP_LENGTH);
}

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string DescribeFailure(int code) {
  switch (code) {
    case -2: return "could not compute the log-mel spectrogram";
    case -3: return "language detection failed";
    case -4: return "too many decoders requested";
    case -5: return "audioContext is larger than the model's audio context";
    case -6: return "the encoder failed";
    case -7: return "could not allocate the self-attention KV cache";
    case -8:
    case -9: return "the decoder failed";
    default: return "whisper_full returned " + std::to_string(code);
  }
}

}  // namespace

TranscribeWorker::TranscribeWorker(Napi::Env env, Napi::Object state_object, std::shared_ptr<StateHandle> state,
                                   std::vector<float> pcm, TranscribeParams params, Napi::Value on_event)
    : env_(env), deferred_(env), state_(std::move(state)), pcm_(std::move(pcm)), params_(std::move(params)) {
  state_ref_ = Napi::Persistent(state_object);
  if (on_event.IsFunction()) on_event_ = Napi::Persistent(on_event.As<Napi::Function>());
}

TranscribeWorker::~TranscribeWorker() {
  // No busy reset here: this runs after Settle, when the next job may already own the state.
  if (thread_.Joinable()) thread_.Join();
}

void TranscribeWorker::Queue() {
  try {
    // Unbounded queue (0): the job's thread never blocks on a slow JS thread.
    channel_ = Channel::New(env_, "whisper-napi:transcribe", 0, 1, this, &TranscribeWorker::Finalize,
                            static_cast<void*>(nullptr));
  } catch (const Napi::Error& error) {
    failure_ = {"NATIVE_ERROR", std::string("could not create a thread-safe function: ") + error.Message()};
    Settle(env_);
    delete this;
    return;
  }
  channel_open_ = true;
  try {
    thread_.Start([this] { ThreadMain(); });
  } catch (const std::system_error& error) {
    failure_ = {"TRANSCRIPTION_FAILED", std::string("could not start a transcription thread: ") + error.what()};
    Settle(env_);
    // Releasing the last hold runs Finalize, which deletes this worker.
    channel_open_ = false;
    channel_.Release();
  }
}

void TranscribeWorker::ThreadMain() {
  // An exception escaping a thread would terminate the host process.
  try {
    Run();
  } catch (const std::exception& error) {
    failure_ = {"TRANSCRIPTION_FAILED", std::string("whisper.cpp threw: ") + error.what()};
  } catch (...) {
    failure_ = {"TRANSCRIPTION_FAILED", "whisper.cpp threw an unknown exception"};
  }
  TranscribeEvent done;
  done.kind = TranscribeEvent::Kind::Done;
  std::lock_guard<std::mutex> lock(channel_mutex_);
  if (!channel_open_) return;
  auto* event = new TranscribeEvent(std::move(done));
  if (channel_.NonBlockingCall(event) != napi_ok) delete event;
  channel_open_ = false;
  channel_.Release();
}

void TranscribeWorker::Send(TranscribeEvent event) {
  std::lock_guard<std::mutex> lock(channel_mutex_);
  if (!channel_open_) return;
  auto* copy = new TranscribeEvent(std::move(event));
  if (channel_.NonBlockingCall(copy) != napi_ok) delete copy;
}

void TranscribeWorker::CallJs(Napi::Env env, Napi::Function, TranscribeWorker* self, TranscribeEvent* event) {
  std::unique_ptr<TranscribeEvent> owned(event);
  // A null env: the environment is being torn down and the queue is emptied without JS.
  if (env == nullptr || self == nullptr || !owned) return;
  Napi::HandleScope scope(env);
  if (owned->kind == TranscribeEvent::Kind::Done) {
    self->Settle(env);
  } else {
    self->Deliver(env, *owned);
  }
}

void TranscribeWorker::Finalize(Napi::Env, void*, TranscribeWorker* self) {
  {
    std::lock_guard<std::mutex> lock(self->channel_mutex_);
    self->channel_open_ = false;
  }
  // At teardown the job may still run: stop it at whisper's next abort check.
  if (!self->settled_) self->state_->abort_requested.store(true);
  delete self;
}

bool TranscribeWorker::DetectLanguage(whisper_full_params& wparams) {
  whisper_context* ctx = state_->model->ctx;
  const bool wants_detection = params_.language == "auto" || params_.language.empty() || params_.detect_language;
  if (!wants_detection) {
    result_.language = params_.language;
    return true;
  }
  if (!whisper_is_multilingual(ctx)) {
    // English-only models have nothing to choose from.
    result_.language = "en";
    result_.language_probability = 1.0f;
    wparams.language = "en";
    wparams.detect_language = false;
    return true;
  }
  const auto start = std::chrono::steady_clock::now();
  if (whisper_pcm_to_mel_with_state(ctx, state_->state, pcm_.data(), n_samples_, params_.n_threads) != 0) {
    failure_ = {"TRANSCRIPTION_FAILED", "could not compute the log-mel spectrogram"};
    return false;
  }
  std::vector<float> probs(whisper_lang_max_id() + 1, 0.0f);
  const int lang_id =
      whisper_lang_auto_detect_with_state(ctx, state_->state, params_.offset_ms, params_.n_threads, probs.data());
  result_.language_detection_ms = MsSince(start);
  if (lang_id < 0) {
    std::string why = ThreadDiagnostics();
    failure_ = {"TRANSCRIPTION_FAILED", "language detection failed" + (why.empty() ? "" : ": " + why)};
    return false;
  }
  result_.language = whisper_lang_str(lang_id);
  result_.language_probability = probs[lang_id];
  // Decode in the detected language instead of letting whisper_full detect it again.
  wparams.language = whisper_lang_str(lang_id);
  wparams.detect_language = false;
  return true;
}

void TranscribeWorker::Run() {
  ResetThreadDiagnostics();
  const auto start = std::chrono::steady_clock::now();
  whisper_context* ctx = state_->model->ctx;
  whisper_full_params wparams = ToWhisperParams(params_);

  wparams.abort_callback = [](void* user_data) {
    return static_cast<StateHandle*>(user_data)->abort_requested.load();
  };
  wparams.abort_callback_user_data = state_.get();
  temperature_ladder_ = TemperatureLadder(params_.temperature, params_.temperature_inc);
  wparams.encoder_begin_callback = [](whisper_context*, whisper_state* s, void* user_data) {
    auto* self = static_cast<TranscribeWorker*>(user_data);
    self->result_.encoder_runs++;
    // The previous window's segments are final now (DTW included): deliver them before this one runs.
    if (self->params_.want_segments) self->SendNewSegments();
    DecodedWindow window;
    window.first_segment = whisper_full_n_segments_from_state(s);
    self->windows_.push_back(window);
    if (self->state_->model->dtw && !self->DtwWindowIsSafe(s)) {
      // Ends whisper_full as if the audio ended here (it returns 0): at most 150 ms are left.
      self->windows_.pop_back();
      return false;
    }
    return !self->state_->abort_requested.load();
  };
  wparams.encoder_begin_callback_user_data = this;
  wparams.logits_filter_callback = [](whisper_context* c, whisper_state*, const whisper_token_data* tokens,
                                      int n_tokens, float* logits, void* user_data) {
    auto* self = static_cast<TranscribeWorker*>(user_data);
    // Where whisper.cpp would apply suppress_regex: right after this callback, at every step.
    for (const whisper_token id : self->suppressed_) logits[id] = -INFINITY;
    // Only the first step of an attempt has no tokens, and it runs on whisper_full's own thread;
    // later steps may run on its sampling threads, where only this decoder's logits are touched.
    if (n_tokens == 0) {
      if (!self->windows_.empty()) self->windows_.back().attempts++;
      return;
    }
    if (!self->state_->model->dtw) return;
    // A window whose decoding ends on a timestamp under 160 ms, after text, has a seek_delta DTW
    // cannot align. Only the steps that could end it so are touched, so that every other step keeps
    // whisper.cpp's probabilities exactly: right after such a timestamp the text may not end, and
    // at the last step maxTokensPerSegment allows, such a timestamp may not be chosen.
    const whisper_token eot = whisper_token_eot(c);
    const whisper_token beg = whisper_token_beg(c);
    bool text = false;
    for (int i = 0; i < n_tokens && !text; ++i) text = tokens[i].id < eot;
    if (!text) return;
    const whisper_token early_end = beg + kMinDtwFrames / 2;
    const whisper_token last = tokens[n_tokens - 1].id;
    if (last > beg && last < early_end) logits[eot] = -INFINITY;
    const int max_tokens = self->params_.max_tokens;
    if (max_tokens > 0 && n_tokens >= max_tokens && early_end <= whisper_n_vocab(c)) {
      for (whisper_token ts = beg + 1; ts < early_end; ++ts) logits[ts] = -INFINITY;
    }
  };
  wparams.logits_filter_callback_user_data = this;
  // Always on: the DTW guard reads where whisper_full is from the percentage.
  wparams.progress_callback = [](whisper_context*, whisper_state*, int percent, void* user_data) {
    auto* self = static_cast<TranscribeWorker*>(user_data);
    self->progress_ = percent;
    if (!self->params_.want_progress) return;
    TranscribeEvent event;
    event.kind = TranscribeEvent::Kind::Progress;
    event.progress = percent;
    self->Send(std::move(event));
  };
  wparams.progress_callback_user_data = this;
  if (params_.want_segments) {
    // n_new is not trusted: with DTW, whisper_full calls this only from a loop with wrong bounds
    // (most windows after the first call it not at all). Every call sends what is new instead.
    wparams.new_segment_callback = [](whisper_context*, whisper_state*, int, void* user_data) {
      static_cast<TranscribeWorker*>(user_data)->SendNewSegments();
    };
    wparams.new_segment_callback_user_data = this;
  }

  if (!params_.suppress_regex.empty() && !params_.detect_language &&
      !SuppressedTokens(ctx, params_.suppress_regex, state_->abort_requested, suppressed_, failure_)) {
    return;
  }

  if (params_.vad) {
    // whisper_full_with_state ignores params.vad (only whisper_full applies it).
    wparams.vad = false;
    if (!state_->vad.Ensure(params_.vad_model_path, "options.vad.modelPath", params_.n_threads, failure_)) return;
    std::string error;
    if (!KeepSpeech(state_->vad.get(), params_.vad_params, pcm_, vad_map_, error)) {
      std::string why = ThreadDiagnostics();
      failure_ = {"TRANSCRIPTION_FAILED", error + (why.empty() ? "" : " (" + why + ")")};
      return;
    }
    if (pcm_.empty()) {
      // No speech: an empty transcript, as whisper_full gives.
      result_.language = params_.language == "auto" ? "" : params_.language;
      result_.total_ms = MsSince(start);
      return;
    }
  }

  if (state_->model->dtw) PadForDtw();
  n_samples_ = static_cast<int>(pcm_.size());
  // whisper.cpp's log-mel spectrogram reflects the first 200 samples of the input, whatever
  // its length: give shorter input zeros to read instead of the memory after it.
  if (pcm_.size() < kReflectedSamples + 1) pcm_.resize(kReflectedSamples + 1, 0.0f);

  if (!DetectLanguage(wparams)) return;
  if (state_->abort_requested.load()) {
    failure_ = {"ABORTED", "the transcription was aborted"};
    return;
  }
  if (params_.detect_language) {
    result_.total_ms = MsSince(start);
    return;
  }

  const int rc = whisper_full_with_state(ctx, state_->state, wparams, pcm_.data(), n_samples_);
  result_.total_ms = MsSince(start);
  if (state_->abort_requested.load()) {
    failure_ = {"ABORTED", "the transcription was aborted"};
    return;
  }
  if (rc == -7) {
    // whisper_full_with_state has already called whisper_free_state on this state.
    state_->state = nullptr;
  }
  if (rc != 0) {
    std::string why = ThreadDiagnostics();
    failure_ = {"TRANSCRIPTION_FAILED", DescribeFailure(rc) + (why.empty() ? "" : " (" + why + ")")};
    return;
  }
  if (params_.want_segments) SendNewSegments();
  const int n_segments = whisper_full_n_segments_from_state(state_->state);
  result_.segments.reserve(n_segments);
  for (int i = 0; i < n_segments; ++i) result_.segments.push_back(ReadJobSegment(i));
}

SegmentResult TranscribeWorker::ReadJobSegment(int i) const {
  whisper_state* state = state_->state;
  SegmentResult segment = ReadSegment(state_->model->ctx, state, i, vad_map_, state_->model->dtw);
  // The window whose segments include i: the last one marked with no more segments before it.
  const DecodedWindow* window = nullptr;
  for (const DecodedWindow& w : windows_) {
    if (w.first_segment <= i) window = &w;
  }
  const int attempt = window == nullptr ? 1 : std::max(1, window->attempts);
  segment.temperature = temperature_ladder_[std::min<size_t>(attempt, temperature_ladder_.size()) - 1];
  // whisper_full's seek is not public: a window starts, at the latest, where its first segment does.
  const int first = window == nullptr ? i : window->first_segment;
  const int64_t t0 = whisper_full_get_segment_t0_from_state(state, first);
  segment.window_start_ms = (vad_map_.empty() ? t0 : vad_map_.ToOriginal(t0)) * 10;
  return segment;
}

void TranscribeWorker::PadForDtw() {
  const int64_t seek_start = params_.offset_ms / 10;
  if (params_.duration_ms > 0) {
    if (params_.duration_ms >= kMinDtwSpanFrames * 10) return;
    params_.duration_ms = kMinDtwSpanFrames * 10;
  } else if (MelFrames(pcm_.size()) - seek_start >= kMinDtwSpanFrames) {
    return;
  }
  // Enough samples for seek_start + kMinDtwSpanFrames mel frames; whisper pads with zeros itself past the end.
  const size_t needed =
      static_cast<size_t>(seek_start + kMinDtwSpanFrames - 1) * WHISPER_HOP_LENGTH + WHISPER_N_FFT / 2;
  if (pcm_.size() < needed) pcm_.resize(needed, 0.0f);
}

bool TranscribeWorker::DtwWindowIsSafe(whisper_state* state) const {
  // whisper_full's seek is not public. It lies in [low, high]: the progress percentage bounds it on
  // both sides, and no window starts before the end of the last segment already decoded.
  const int64_t seek_start = params_.offset_ms / 10;
  const int64_t seek_end =
      params_.duration_ms == 0 ? whisper_n_len_from_state(state) : seek_start + params_.duration_ms / 10;
  const int64_t span = seek_end - seek_start;
  if (span <= 0) return true;
  int64_t low = seek_start + (progress_ * span + 99) / 100;
  const int64_t high = seek_start + ((progress_ + 1) * span - 1) / 100;
  const int n = whisper_full_n_segments_from_state(state);
  if (n > 0) low = std::max<int64_t>(low, whisper_full_get_segment_t1_from_state(state, n - 1));
  // A window with under seek_delta + 10 frames left ends at its first timestamp, so it needs
  // kMinDtwFrames + 10 for any seek_delta to be safe.
  const int64_t needed = kMinDtwFrames + 10;
  if (seek_end - high >= needed) return true;  // long enough wherever it starts
  // Too short, or maybe: stop unless that could cost more than a second of audio.
  return seek_end - low > 100;
}

void TranscribeWorker::SendNewSegments() {
  const int n = whisper_full_n_segments_from_state(state_->state);
  for (; delivered_segments_ < n; ++delivered_segments_) {
    TranscribeEvent event;
    event.kind = TranscribeEvent::Kind::Segment;
    event.segment = ReadJobSegment(delivered_segments_);
    Send(std::move(event));
  }
}

void TranscribeWorker::Deliver(Napi::Env env, const TranscribeEvent& event) {
  if (on_event_.IsEmpty() || settled_) return;
  try {
    if (event.kind == TranscribeEvent::Kind::Progress) {
      on_event_.Call({Napi::String::New(env, "progress"), Napi::Number::New(env, event.progress)});
    } else {
      on_event_.Call({Napi::String::New(env, "segment"), SegmentToJs(env, event.segment)});
    }
  } catch (const Napi::Error&) {
    // The TS layer catches listener errors itself; never let one escape into the thread machinery.
  }
}

void TranscribeWorker::Settle(Napi::Env env) {
  if (settled_) return;
  settled_ = true;
  // Free the state for the next job before the promise continuations run.
  state_->busy.store(false);
  try {
    if (failure_.failed()) {
      deferred_.Reject(MakeError(env, failure_.code.c_str(), failure_.message).Value());
    } else {
      deferred_.Resolve(TranscriptToJs(env, result_));
    }
  } catch (const Napi::Error& error) {
    deferred_.Reject(error.Value());
  }
}

}  // namespace whisper_napi
