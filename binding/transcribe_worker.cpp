#include "transcribe_worker.h"

#include <chrono>
#include <string>

#include "log_bridge.h"

namespace whisper_napi {

namespace {

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
    : Napi::AsyncProgressQueueWorker<TranscribeEvent>(env, "whisper-napi:transcribe"),
      deferred_(env),
      state_(std::move(state)),
      pcm_(std::move(pcm)),
      params_(std::move(params)) {
  state_ref_ = Napi::Persistent(state_object);
  if (on_event.IsFunction()) on_event_ = Napi::Persistent(on_event.As<Napi::Function>());
}

TranscribeWorker::~TranscribeWorker() { state_->busy.store(false); }

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
  if (whisper_pcm_to_mel_with_state(ctx, state_->state, pcm_.data(), static_cast<int>(pcm_.size()), params_.n_threads) != 0) {
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

void TranscribeWorker::Execute(const ExecutionProgress& progress) {
  // An exception escaping a libuv worker thread would terminate the host process.
  try {
    Run(progress);
  } catch (const std::exception& error) {
    failure_ = {"TRANSCRIPTION_FAILED", std::string("whisper.cpp threw: ") + error.what()};
  } catch (...) {
    failure_ = {"TRANSCRIPTION_FAILED", "whisper.cpp threw an unknown exception"};
  }
}

void TranscribeWorker::Run(const ExecutionProgress& progress) {
  ResetThreadDiagnostics();
  progress_ = &progress;
  const auto start = std::chrono::steady_clock::now();
  whisper_context* ctx = state_->model->ctx;
  whisper_full_params wparams = ToWhisperParams(params_);

  wparams.abort_callback = [](void* user_data) {
    return static_cast<StateHandle*>(user_data)->abort_requested.load();
  };
  wparams.abort_callback_user_data = state_.get();
  wparams.encoder_begin_callback = [](whisper_context*, whisper_state*, void* user_data) {
    auto* self = static_cast<TranscribeWorker*>(user_data);
    self->result_.encoder_runs++;
    return !self->state_->abort_requested.load();
  };
  wparams.encoder_begin_callback_user_data = this;
  if (params_.want_progress) {
    wparams.progress_callback = [](whisper_context*, whisper_state*, int percent, void* user_data) {
      TranscribeEvent event;
      event.kind = TranscribeEvent::Kind::Progress;
      event.progress = percent;
      static_cast<TranscribeWorker*>(user_data)->progress_->Send(&event, 1);
    };
    wparams.progress_callback_user_data = this;
  }
  if (params_.want_segments) {
    wparams.new_segment_callback = [](whisper_context* c, whisper_state* s, int n_new, void* user_data) {
      auto* self = static_cast<TranscribeWorker*>(user_data);
      const int n = whisper_full_n_segments_from_state(s);
      for (int i = n - n_new; i < n; ++i) {
        TranscribeEvent event;
        event.kind = TranscribeEvent::Kind::Segment;
        event.segment = ReadSegment(c, s, i, self->vad_map_);
        self->progress_->Send(&event, 1);
      }
    };
    wparams.new_segment_callback_user_data = this;
  }

  if (params_.vad) {
    // whisper_full_with_state ignores params.vad (only whisper_full applies it).
    wparams.vad = false;
    std::string error;
    if (!state_->vad.Ensure(params_.vad_model_path, params_.n_threads, error) ||
        !KeepSpeech(state_->vad.get(), params_.vad_params, pcm_, vad_map_, error)) {
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

  if (!DetectLanguage(wparams)) return;
  if (state_->abort_requested.load()) {
    failure_ = {"ABORTED", "the transcription was aborted"};
    return;
  }
  if (params_.detect_language) {
    result_.total_ms = MsSince(start);
    return;
  }

  const int rc = whisper_full_with_state(ctx, state_->state, wparams, pcm_.data(), static_cast<int>(pcm_.size()));
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
  const int n_segments = whisper_full_n_segments_from_state(state_->state);
  result_.segments.reserve(n_segments);
  for (int i = 0; i < n_segments; ++i) result_.segments.push_back(ReadSegment(ctx, state_->state, i, vad_map_));
}

void TranscribeWorker::OnProgress(const TranscribeEvent* events, size_t count) {
  if (on_event_.IsEmpty()) return;
  Napi::Env env = Env();
  for (size_t i = 0; i < count; ++i) {
    const TranscribeEvent& event = events[i];
    try {
      if (event.kind == TranscribeEvent::Kind::Progress) {
        on_event_.Call({Napi::String::New(env, "progress"), Napi::Number::New(env, event.progress)});
      } else {
        on_event_.Call({Napi::String::New(env, "segment"), SegmentToJs(env, event.segment)});
      }
    } catch (const Napi::Error&) {
      // The TS layer catches listener errors itself; never let one escape into the worker machinery.
    }
  }
}

void TranscribeWorker::OnOK() {
  Napi::Env env = Env();
  // Free the state for the next job before the promise continuations run.
  state_->busy.store(false);
  if (failure_.failed()) {
    deferred_.Reject(MakeError(env, failure_.code.c_str(), failure_.message).Value());
    return;
  }
  deferred_.Resolve(TranscriptToJs(env, result_));
}

void TranscribeWorker::OnError(const Napi::Error& error) {
  state_->busy.store(false);
  deferred_.Reject(error.Value());
}

}  // namespace whisper_napi
