#include "model.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

#include "addon_data.h"
#include "arguments.h"
#include "errors.h"
#include "log_bridge.h"
#include "memory.h"
#include "promise_worker.h"
#include "state.h"

namespace whisper_napi {

namespace {

// whisper.cpp reports a missing file only as a failed load; name it as lib/ does.
WorkerFailure CheckModelPath(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(fs::u8path(path), error);
  if (status.type() == fs::file_type::not_found) {
    return {"MODEL_NOT_FOUND", "loadModel.path: model file not found: " + path};
  }
  if (fs::is_directory(status)) {
    return {"INVALID_ARGUMENT", "loadModel.path: expected a file (model file), got a directory: " + path};
  }
  return {};
}

struct LoadOptions {
  std::string path;
  bool use_gpu = true;
  int gpu_device = 0;
  bool flash_attn = true;
  // WHISPER_AHEADS_NONE: no DTW.
  whisper_alignment_heads_preset aheads = WHISPER_AHEADS_NONE;
  int dtw_n_top = 0;
  size_t dtw_mem_size = 0;
};

struct AlignmentHeadsName {
  const char* name;
  whisper_alignment_heads_preset preset;
};

// lib/'s names for whisper.cpp's presets (ALIGNMENT_HEADS_PRESETS), and 'top-most' for the
// heads of the last alignmentTopLayers text layers.
constexpr AlignmentHeadsName kAlignmentHeads[] = {
    {"tiny.en", WHISPER_AHEADS_TINY_EN},     {"tiny", WHISPER_AHEADS_TINY},
    {"base.en", WHISPER_AHEADS_BASE_EN},     {"base", WHISPER_AHEADS_BASE},
    {"small.en", WHISPER_AHEADS_SMALL_EN},   {"small", WHISPER_AHEADS_SMALL},
    {"medium.en", WHISPER_AHEADS_MEDIUM_EN}, {"medium", WHISPER_AHEADS_MEDIUM},
    {"large.v1", WHISPER_AHEADS_LARGE_V1},   {"large.v2", WHISPER_AHEADS_LARGE_V2},
    {"large.v3", WHISPER_AHEADS_LARGE_V3},   {"large.v3.turbo", WHISPER_AHEADS_LARGE_V3_TURBO},
    {"top-most", WHISPER_AHEADS_N_TOP_MOST},
};

// whisper.cpp's DTW context must hold at least a few tensors and its graph; below this it cannot run at all.
constexpr int64_t kMinDtwMemory = 1 << 20;
// Twice a large-v3 worst case (see lib/model/planner.ts dtwMemoryBytes): a larger request is a mistake.
constexpr int64_t kMaxDtwMemory = int64_t{1} << 34;

class LoadModelWorker : public PromiseWorker {
 public:
  LoadModelWorker(Napi::Env env, LoadOptions options)
      : PromiseWorker(env, "whisper-napi:loadModel", "loading a model"), options_(std::move(options)) {}

 private:
  void Run() override {
    failure_ = CheckModelPath(options_.path);
    if (failure_.failed()) return;
    ResetThreadDiagnostics();
    whisper_context_params params = whisper_context_default_params();
    params.use_gpu = options_.use_gpu;
    params.gpu_device = options_.gpu_device;
    params.flash_attn = options_.flash_attn;
    if (options_.aheads != WHISPER_AHEADS_NONE) {
      params.dtw_token_timestamps = true;
      params.dtw_aheads_preset = options_.aheads;
      params.dtw_n_top = options_.dtw_n_top;
      params.dtw_mem_size = options_.dtw_mem_size;
    }
    whisper_context* ctx = nullptr;
    ThreadLogCapture capture;
    try {
      ctx = whisper_init_from_file_with_params_no_state(options_.path.c_str(), params);
    } catch (const std::exception& error) {
      failure_ = {"MODEL_LOAD_FAILED", "whisper.cpp threw while loading '" + options_.path + "': " + error.what()};
      return;
    }
    if (ctx == nullptr) {
      std::string why = ThreadDiagnostics();
      failure_ = {"MODEL_LOAD_FAILED",
                  "whisper.cpp could not load the model '" + options_.path + "'" + (why.empty() ? "" : ": " + why)};
      return;
    }
    handle_ = std::make_shared<ModelHandle>(ctx);
    handle_->dtw = params.dtw_token_timestamps;
    handle_->dtw_mem_size = params.dtw_token_timestamps ? params.dtw_mem_size : 0;
    handle_->weights = ParseModelLoadLog(capture.lines);
  }

  Napi::Value Result(Napi::Env env) override {
    auto* boxed = new std::shared_ptr<ModelHandle>(std::move(handle_));
    Napi::External<std::shared_ptr<ModelHandle>> external = Napi::External<std::shared_ptr<ModelHandle>>::New(
        env, boxed, [](Napi::Env, std::shared_ptr<ModelHandle>* p) { delete p; });
    return AddonData::Of(env)->model_constructor.New({external});
  }

  LoadOptions options_;
  std::shared_ptr<ModelHandle> handle_;
};

class CreateStateWorker : public PromiseWorker {
 public:
  CreateStateWorker(Napi::Env env, Napi::Object model, std::shared_ptr<ModelHandle> handle)
      : PromiseWorker(env, "whisper-napi:createState", "creating a state"), model_(std::move(handle)) {
    model_ref_ = Napi::Persistent(model);
  }

 private:
  void Run() override {
    ResetThreadDiagnostics();
    whisper_state* state = nullptr;
    ThreadLogCapture capture;
    try {
      state = whisper_init_state(model_->ctx);
    } catch (const std::exception& error) {
      failure_ = {"STATE_INIT_FAILED", std::string("whisper.cpp threw while creating a state: ") + error.what()};
      return;
    }
    if (state == nullptr) {
      std::string why = ThreadDiagnostics();
      failure_ = {"STATE_INIT_FAILED",
                  "whisper.cpp could not create a decoding state" + (why.empty() ? "" : ": " + why)};
      return;
    }
    state_ = std::make_shared<StateHandle>(model_, state);
    state_->memory = ParseStateInitLog(capture.lines);
    if (model_->dtw && state_->memory.alignment_masks > 0) {
      whisper_context* ctx = model_->ctx;
      // Each head's mask row holds n_text_head floats.
      const int64_t heads = state_->memory.alignment_masks / (4 * int64_t{whisper_model_n_text_head(ctx)});
      const int64_t attention_copy =
          int64_t{whisper_model_n_text_ctx(ctx) / 2} * whisper_model_n_audio_ctx(ctx) * heads * 4;
      state_->memory.dtw = state_->memory.alignment_masks + attention_copy + static_cast<int64_t>(model_->dtw_mem_size);
    }
  }

  Napi::Value Result(Napi::Env env) override { return State::NewInstance(env, std::move(state_)); }

  std::shared_ptr<ModelHandle> model_;
  Napi::ObjectReference model_ref_;
  std::shared_ptr<StateHandle> state_;
};

// An absent option keeps its default; a present one must have the right type.
bool OptionalBool(const Napi::Object& options, const char* key, bool fallback) {
  Napi::Value value = options.Get(key);
  return value.IsUndefined() ? fallback : ReadBool(value, std::string("loadModel.options.") + key);
}

}  // namespace

Napi::Function Model::DefineClass(Napi::Env env) {
  return ObjectWrap<Model>::DefineClass(env, "NativeModel",
                                        {
                                            InstanceMethod<&Model::Info>("info"),
                                            InstanceMethod<&Model::CreateState>("createState"),
                                            InstanceMethod<&Model::Memory>("memory"),
                                            InstanceMethod<&Model::Dispose>("dispose"),
                                            InstanceAccessor<&Model::IsDisposed>("disposed"),
                                        });
}

Model::Model(const Napi::CallbackInfo& info) : ObjectWrap<Model>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw InvalidArgument(info.Env(), "NativeModel", "to be created by loadModel(), not by new",
                          info.Length() > 0 ? info[0] : info.Env().Undefined());
  }
  handle_ = *info[0].As<Napi::External<std::shared_ptr<ModelHandle>>>().Data();
}

Napi::Value Model::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoadOptions options;
  const Napi::Value path = info.Length() > 0 ? info[0] : env.Undefined();
  options.path = ReadString(path, "loadModel.path");
  if (options.path.empty()) throw InvalidArgument(env, "loadModel.path", "a non-empty string", path);
  const Napi::Value given = info.Length() > 1 ? info[1] : env.Undefined();
  if (!given.IsUndefined()) {
    if (!given.IsObject() || given.IsArray() || given.IsFunction()) {
      throw InvalidArgument(env, "loadModel.options", "an object", given);
    }
    Napi::Object object = given.As<Napi::Object>();
    options.use_gpu = OptionalBool(object, "useGpu", options.use_gpu);
    options.flash_attn = OptionalBool(object, "flashAttn", options.flash_attn);
    Napi::Value device = object.Get("gpuDevice");
    if (!device.IsUndefined()) {
      options.gpu_device = static_cast<int>(ReadInteger(device, "loadModel.options.gpuDevice", 0, INT32_MAX));
    }
    Napi::Value heads = object.Get("alignmentHeads");
    const std::string heads_name = heads.IsUndefined() ? "" : ReadString(heads, "loadModel.options.alignmentHeads");
    if (!heads_name.empty()) {
      bool known = false;
      for (const AlignmentHeadsName& entry : kAlignmentHeads) {
        if (heads_name == entry.name) {
          options.aheads = entry.preset;
          known = true;
        }
      }
      if (!known) {
        throw InvalidArgument(env, "loadModel.options.alignmentHeads", "'', 'top-most' or a whisper.cpp preset name",
                              heads);
      }
      if (options.flash_attn) {
        // whisper.cpp would silently drop DTW.
        throw InvalidArgument(env, "loadModel.options.flashAttn", "false with alignment heads",
                              object.Get("flashAttn"));
      }
      if (options.aheads == WHISPER_AHEADS_N_TOP_MOST) {
        // whisper_init_state checks the upper bound against the model's text layers.
        options.dtw_n_top = static_cast<int>(
            ReadInteger(object.Get("alignmentTopLayers"), "loadModel.options.alignmentTopLayers", 1, 1024));
      }
      options.dtw_mem_size = static_cast<size_t>(
          ReadInteger(object.Get("dtwMemoryBytes"), "loadModel.options.dtwMemoryBytes", kMinDtwMemory, kMaxDtwMemory));
    }
  }
  auto* worker = new LoadModelWorker(env, std::move(options));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value Model::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!handle_) throw MakeError(env, "DISPOSED", "the model has been disposed");
  whisper_context* ctx = handle_->ctx;
  Napi::Object out = Napi::Object::New(env);
  out.Set("multilingual", Napi::Boolean::New(env, whisper_is_multilingual(ctx) != 0));
  out.Set("nVocab", whisper_model_n_vocab(ctx));
  out.Set("nAudioCtx", whisper_model_n_audio_ctx(ctx));
  out.Set("nAudioState", whisper_model_n_audio_state(ctx));
  out.Set("nAudioHead", whisper_model_n_audio_head(ctx));
  out.Set("nAudioLayer", whisper_model_n_audio_layer(ctx));
  out.Set("nTextCtx", whisper_model_n_text_ctx(ctx));
  out.Set("nTextState", whisper_model_n_text_state(ctx));
  out.Set("nTextHead", whisper_model_n_text_head(ctx));
  out.Set("nTextLayer", whisper_model_n_text_layer(ctx));
  out.Set("nMels", whisper_model_n_mels(ctx));
  return out;
}

Napi::Value Model::CreateState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!handle_) throw MakeError(env, "DISPOSED", "the model has been disposed");
  auto* worker = new CreateStateWorker(env, info.This().As<Napi::Object>(), handle_);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value Model::Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!handle_) throw MakeError(env, "DISPOSED", "the model has been disposed");
  return WeightsMemoryToJs(env, handle_->weights);
}

void Model::Dispose(const Napi::CallbackInfo&) {
  // States and running jobs hold their own references; the context is freed after the last.
  handle_.reset();
}

Napi::Value Model::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !handle_); }

}  // namespace whisper_napi
