#include "vad.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <new>

#include "arguments.h"
#include "errors.h"
#include "promise_worker.h"
#include "vad_file.h"

namespace whisper_napi {

namespace {

constexpr int kSampleRate = WHISPER_SAMPLE_RATE;

// The same roundings as whisper.cpp's cs_to_samples / samples_to_cs.
int CsToSamples(int64_t cs) { return static_cast<int>((cs / 100.0) * kSampleRate + 0.5); }
int64_t SamplesToCs(int samples) {
  return static_cast<int64_t>((samples / static_cast<double>(kSampleRate)) * 100.0 + 0.5);
}

struct SegmentsDeleter {
  void operator()(whisper_vad_segments* segments) const { whisper_vad_free_segments(segments); }
};

}  // namespace

VadModel::~VadModel() {
  if (ctx_ != nullptr) whisper_vad_free(ctx_);
}

bool VadModel::Ensure(const std::string& path, const std::string& parameter, int n_threads, WorkerFailure& failure) {
  if (ctx_ != nullptr && path == path_ && n_threads == n_threads_) return true;
  if (ctx_ != nullptr) {
    whisper_vad_free(ctx_);
    ctx_ = nullptr;
  }
  // whisper_full uses the default VAD context parameters (CPU, 4 threads). We use the job's
  // thread count instead: 4 spinning ggml threads on fewer cores (or beside other jobs)
  // slow everything down badly, and the thread count does not change the VAD's results.
  ctx_ = LoadVadModel(path, parameter, n_threads, failure);
  if (ctx_ == nullptr) return false;
  path_ = path;
  n_threads_ = n_threads;
  return true;
}

void VadTimeMap::Finish() {
  std::sort(points_.begin(), points_.end(), [](const Point& a, const Point& b) { return a.processed < b.processed; });
  points_.erase(std::unique(points_.begin(), points_.end(),
                            [](const Point& a, const Point& b) { return a.processed == b.processed; }),
                points_.end());
}

int64_t VadTimeMap::ToOriginal(int64_t processed) const {
  if (points_.empty()) return processed;
  if (processed <= points_.front().processed) return points_.front().original;
  if (processed >= points_.back().processed) return points_.back().original;
  auto upper = std::lower_bound(points_.begin(), points_.end(), processed,
                                [](const Point& p, int64_t t) { return p.processed < t; });
  if (upper->processed == processed) return upper->original;
  auto lower = upper - 1;
  const int64_t processed_span = upper->processed - lower->processed;
  if (processed_span == 0) return lower->original;
  return lower->original + ((processed - lower->processed) * (upper->original - lower->original)) / processed_span;
}

int64_t VadTimeMap::SegmentEndToOriginal(int64_t processed_t0, int64_t processed_t1) const {
  const int64_t t0 = ToOriginal(processed_t0);
  const int64_t t1 = ToOriginal(processed_t1);
  constexpr int64_t kMinDuration = 10;
  return t1 - t0 < kMinDuration ? t0 + kMinDuration : t1;
}

bool KeepSpeech(whisper_vad_context* vad, const whisper_vad_params& params, std::vector<float>& samples,
                VadTimeMap& map, std::string& error) {
  const int n_samples = static_cast<int>(samples.size());
  std::unique_ptr<whisper_vad_segments, SegmentsDeleter> found(
      whisper_vad_segments_from_samples(vad, params, samples.data(), n_samples));
  if (!found) {
    error = "voice activity detection failed";
    return false;
  }
  const int n_segments = whisper_vad_segments_n_segments(found.get());
  if (n_segments == 0) {
    samples.clear();
    return true;
  }
  // Segment times are whole centiseconds stored as float: the cast back is exact.
  std::vector<int64_t> starts(n_segments), ends(n_segments);
  for (int i = 0; i < n_segments; ++i) {
    starts[i] = static_cast<int64_t>(whisper_vad_segments_get_segment_t0(found.get(), i));
    ends[i] = static_cast<int64_t>(whisper_vad_segments_get_segment_t1(found.get(), i));
  }

  const int overlap_samples = static_cast<int>(params.samples_overlap * kSampleRate);
  const int silence_samples = static_cast<int>(0.1 * kSampleRate);
  int speech_samples = 0;
  for (int i = 0; i < n_segments; ++i) {
    int end = CsToSamples(ends[i]);
    if (i < n_segments - 1) end += overlap_samples;
    end = std::min(end, n_samples - 1);
    speech_samples += end - CsToSamples(starts[i]);
  }
  // whisper_full sizes its buffer this way and passes all of it on, trailing zeros included.
  std::vector<float> kept(static_cast<size_t>(speech_samples + (n_segments - 1) * silence_samples), 0.0f);

  int offset = 0;
  for (int i = 0; i < n_segments; ++i) {
    const int start = std::min(CsToSamples(starts[i]), n_samples - 1);
    int end = std::min(CsToSamples(ends[i]), n_samples - 1);
    const int speech_length = end - start;
    if (i < n_segments - 1) end = std::min(end + overlap_samples, n_samples - 1);
    const int length = end - start;
    if (length <= 0) continue;
    // whisper_full's size estimate leaves no room for rounding surprises; never write past it.
    const size_t needed = static_cast<size_t>(offset + length + (i < n_segments - 1 ? silence_samples : 0));
    if (needed > kept.size()) kept.resize(needed, 0.0f);
    map.Add(SamplesToCs(offset), starts[i]);
    map.Add(SamplesToCs(offset + speech_length), ends[i]);
    std::memcpy(kept.data() + offset, samples.data() + start, static_cast<size_t>(length) * sizeof(float));
    offset += length;
    if (i < n_segments - 1) {
      map.Add(SamplesToCs(offset), ends[i]);
      map.Add(SamplesToCs(offset + silence_samples), starts[i + 1]);
      offset += silence_samples;  // already zero
    }
  }
  map.Finish();
  samples = std::move(kept);
  return true;
}

}  // namespace whisper_napi

namespace whisper_napi {

namespace {

class VadProbabilitiesWorker : public PromiseWorker {
 public:
  VadProbabilitiesWorker(Napi::Env env, std::string path, std::vector<float> pcm, int n_threads)
      : PromiseWorker(env, "whisper-napi:vad-probabilities", "voice activity detection"),
        path_(std::move(path)),
        pcm_(std::move(pcm)),
        n_threads_(n_threads) {}

 private:
  Napi::Value Result(Napi::Env env) override {
    Napi::Float32Array out = Napi::Float32Array::New(env, probs_.size());
    if (!probs_.empty()) std::memcpy(out.Data(), probs_.data(), probs_.size() * sizeof(float));
    return out;
  }

  void Run() override {
    VadModel model;
    if (!model.Ensure(path_, "vadSpeechProbabilities.modelPath", n_threads_, failure_)) return;
    if (pcm_.empty()) return;
    if (!whisper_vad_detect_speech(model.get(), pcm_.data(), static_cast<int>(pcm_.size()))) {
      failure_ = {"NATIVE_ERROR", "voice activity detection failed"};
      return;
    }
    const int n = whisper_vad_n_probs(model.get());
    const float* probs = whisper_vad_probs(model.get());
    if (n > 0 && probs != nullptr) probs_.assign(probs, probs + n);
  }

  std::string path_;
  std::vector<float> pcm_;
  int n_threads_;
  std::vector<float> probs_;
};

}  // namespace

Napi::Value VadSpeechProbabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value path_value = info.Length() > 0 ? info[0] : env.Undefined();
  const Napi::Value pcm_value = info.Length() > 1 ? info[1] : env.Undefined();
  const Napi::Value threads_value = info.Length() > 2 ? info[2] : env.Undefined();
  const std::string path = ReadString(path_value, "vadSpeechProbabilities.modelPath");
  if (path.empty()) throw InvalidArgument(env, "vadSpeechProbabilities.modelPath", "a non-empty string", path_value);
  if (!pcm_value.IsTypedArray() || pcm_value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw InvalidArgument(env, "vadSpeechProbabilities.pcm", "a Float32Array", pcm_value);
  }
  const int n_threads = static_cast<int>(ReadInteger(threads_value, "vadSpeechProbabilities.threads", 1, 64));
  Napi::Float32Array pcm = pcm_value.As<Napi::Float32Array>();
  // whisper_vad_detect_speech takes an int sample count.
  if (pcm.ElementLength() > static_cast<size_t>(INT32_MAX)) {
    throw InvalidArgument(env, "vadSpeechProbabilities.pcm", "at most 2^31-1 samples", pcm_value);
  }
  if (pcm.ElementLength() > 0 && pcm.Data() == nullptr) {
    throw InvalidArgument(env, "vadSpeechProbabilities.pcm",
                          "a Float32Array with accessible memory (not a detached buffer)", pcm_value);
  }
  std::vector<float> copy(pcm.Data(), pcm.Data() + pcm.ElementLength());
  auto* worker = new VadProbabilitiesWorker(env, path, std::move(copy), n_threads);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace whisper_napi
