#include "audio_decoder.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "arguments.h"
#include "errors.h"
#include "promise_worker.h"
#include "vorbis_guard.h"

// The decoders are compiled as whisper-cli compiles them (examples/common-whisper.cpp): decoding
// only. stb_vorbis's declarations come before miniaudio so that miniaudio enables its Vorbis
// backend; stb_vorbis's implementation is included at the end of this file, as there.
// stb_vorbis's default, set here because its implementation (at the end) defines it too late for
// the header check (vorbis_guard.h), which must know it.
#define STB_VORBIS_MAX_CHANNELS 16
#define STB_VORBIS_HEADER_ONLY
#include "stb_vorbis.c"

#define MA_NO_DEVICE_IO
#define MA_NO_THREADING
#define MA_NO_ENCODING
#define MA_NO_GENERATION
#define MA_NO_RESOURCE_MANAGER
#define MA_NO_NODE_GRAPH
#define MINIAUDIO_IMPLEMENTATION
#include "miniaudio.h"

namespace whisper_napi {

namespace {

constexpr ma_uint32 kOutputSampleRate = 16000;
// read(maxFrames): up to a minute at a time, as lib/native/native-api.ts documents.
constexpr int64_t kMaxReadFrames = 16000 * 60;
// Frames decoded at once when one channel is picked out of many (bounds the scratch buffer
// whatever the channel count).
constexpr ma_uint64 kPickChunkFrames = 4096;
// JS numbers hold integers exactly up to 2^53; a stated length beyond that is no length.
constexpr ma_uint64 kMaxExactJsInteger = 9007199254740992ULL;

struct AudioFormat {
  const char* id;    // as lib/ names it
  const char* name;  // as messages name it
  ma_encoding_format encoding;
};

constexpr AudioFormat kFormats[] = {
    {"wav", "WAV", ma_encoding_format_wav},
    {"flac", "FLAC", ma_encoding_format_flac},
    {"mp3", "MP3", ma_encoding_format_mp3},
    {"vorbis", "Ogg Vorbis", ma_encoding_format_vorbis},
};

// One open miniaudio decoder and the bytes it decodes from (ma_decoder_init_memory does not
// copy them). Shared by the JS object and each read in flight; the last owner uninitialises it.
struct DecoderHandle {
  DecoderHandle() = default;
  ~DecoderHandle() {
    if (initialized) ma_decoder_uninit(&decoder);
  }
  DecoderHandle(const DecoderHandle&) = delete;
  DecoderHandle& operator=(const DecoderHandle&) = delete;

  // Reads run one at a time already (see DecoderSession); this keeps the decoder single-owner
  // even if that ever changes.
  std::mutex mutex;
  ma_decoder decoder{};
  bool initialized = false;
  std::vector<uint8_t> bytes;
  const AudioFormat* format = nullptr;
  // -1: miniaudio's mix to one channel; n: channel n of `output_channels` is copied out.
  int channel = -1;
  ma_uint32 output_channels = 1;
  // 16 kHz frames handed out so far, for the position in a "damaged at" message.
  ma_uint64 frames_read = 0;
  bool ended = false;
  // A read error is kept: every later read reports it again rather than decoding past it.
  WorkerFailure damaged;
};

struct DecoderInfo {
  const AudioFormat* format = nullptr;
  ma_uint32 source_sample_rate = 0;
  ma_uint32 source_channels = 0;
  int64_t stated_frames = -1;
};

struct OpenRequest {
  const AudioFormat* format = nullptr;
  int channel = -1;
  bool from_path = false;
  std::string path;
  std::vector<uint8_t> bytes;
};

std::string ChannelCount(ma_uint32 channels) {
  return std::to_string(channels) + (channels == 1 ? " channel" : " channels");
}

std::string SystemMessage(int error) { return std::error_code(error, std::generic_category()).message(); }

// ma_decoder_init_file reports any file it cannot open as "no backend", so the path is checked
// here first: a missing file and a directory get lib/'s codes and words (lib/errors/file-errors.ts),
// and a FIFO is refused before opening it could block this thread until a writer appears.
WorkerFailure CheckAudioPath(const std::string& path, uintmax_t& size) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(fs::u8path(path), error);
  if (status.type() == fs::file_type::not_found) return {"AUDIO_NOT_FOUND", "audio: audio file not found: " + path};
  if (error) return {"FILE_UNREADABLE", "audio: cannot open " + path + " (" + error.message() + ")"};
  if (status.type() != fs::file_type::regular) {
    const char* kind = status.type() == fs::file_type::directory ? "a directory"
                       : status.type() == fs::file_type::fifo    ? "a FIFO"
                       : status.type() == fs::file_type::socket  ? "a socket"
                       : status.type() == fs::file_type::block || status.type() == fs::file_type::character
                           ? "a device"
                           : "something that is not a regular file";
    return {"INVALID_ARGUMENT", "audio: expected a file (audio file), got " + std::string(kind) + ": " + path};
  }
  size = fs::file_size(fs::u8path(path), error);
  if (error) return {"FILE_UNREADABLE", "audio: cannot open " + path + " (" + error.message() + ")"};
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return {"FILE_UNREADABLE", "audio: cannot open " + path + " (" + SystemMessage(errno) + ")"};
  std::fclose(file);
  return {};
}

// What miniaudio's init failure means: with an encoding format given it reports every refusal
// of that format's decoder as MA_NO_BACKEND, whose own description ("No backend") misleads.
std::string InitFailure(const AudioFormat& format, ma_result result) {
  const std::string why = result == MA_NO_BACKEND ? std::string("its ") + format.name + " decoder could not read it"
                                                  : ma_result_description(result);
  return std::string("audio: not a valid ") + format.name + " stream (miniaudio: " + why + ")";
}

// The length the container states, at 16 kHz. dr_mp3 knows it only from a Xing/Info or VBRI
// header; without one, ma_decoder_get_length_in_pcm_frames reads the whole file frame by frame
// (every frame header, not the audio) and seeks back, a full pass over a long file before the
// first read. That is skipped: such an MP3 states no length.
int64_t StatedFrames(DecoderHandle& handle) {
  if (handle.format->encoding == ma_encoding_format_mp3) {
    const auto* mp3 = static_cast<const ma_mp3*>(handle.decoder.pBackend);
    if (mp3 == nullptr || mp3->dr.totalPCMFrameCount == MA_UINT64_MAX) return -1;
  }
  ma_uint64 frames = 0;
  if (ma_decoder_get_length_in_pcm_frames(&handle.decoder, &frames) != MA_SUCCESS) return -1;
  if (frames == 0 || frames > kMaxExactJsInteger) return -1;
  return static_cast<int64_t>(frames);
}

// dr_wav opens a WAV of any encoding, then reads no frame of one it cannot decode: that is
// said at open, naming the encoding, rather than as audio that holds no samples.
WorkerFailure CheckWavEncoding(const DecoderHandle& handle) {
  if (handle.format->encoding != ma_encoding_format_wav) return {};
  const auto* wav = static_cast<const ma_wav*>(handle.decoder.pBackend);
  if (wav == nullptr) return {};
  const unsigned tag = wav->dr.translatedFormatTag;
  const unsigned bits = wav->dr.bitsPerSample;
  bool decodable = false;
  switch (tag) {
    case MA_DR_WAVE_FORMAT_PCM:
    case MA_DR_WAVE_FORMAT_ADPCM:
    case MA_DR_WAVE_FORMAT_DVI_ADPCM: decodable = true; break;
    // dr_wav reads other float widths and G.711 sizes as silence.
    case MA_DR_WAVE_FORMAT_IEEE_FLOAT: decodable = bits == 32 || bits == 64; break;
    case MA_DR_WAVE_FORMAT_ALAW:
    case MA_DR_WAVE_FORMAT_MULAW: decodable = bits == 8; break;
    default: break;
  }
  if (decodable) return {};
  char what[64];
  std::snprintf(what, sizeof what, "format tag 0x%04x, %u bits", tag, bits);
  return {"UNSUPPORTED_AUDIO", std::string("audio: a WAV in an encoding miniaudio does not decode (") + what +
                                   "; it decodes PCM, 32- and 64-bit float, 8-bit A-law and mu-law, MS and IMA ADPCM)"};
}

class OpenWorker : public PromiseWorker {
 public:
  OpenWorker(Napi::Env env, OpenRequest request)
      : PromiseWorker(env, "whisper-napi:openAudioDecoder", "opening audio"), request_(std::move(request)) {}

  // An open can complete while its environment is torn down (a worker_thread ending), when
  // settling the promise throws (see ReadWorker::OnOK); escaping here, that would end the process.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    try {
      PromiseWorker::OnWorkComplete(env, status);
    } catch (const Napi::Error&) {
      Destroy();
    }
  }

 private:
  void Run() override {
    auto handle = std::make_shared<DecoderHandle>();
    handle->format = request_.format;
    handle->channel = request_.channel;
    uintmax_t size = request_.bytes.size();
    if (request_.from_path) {
      failure_ = CheckAudioPath(request_.path, size);
      if (failure_.failed()) return;
    }
    if (size == 0) {
      failure_ = {"INVALID_AUDIO", "audio: empty"};
      return;
    }
    // stb_vorbis 1.22 ends the process on some malformed headers (see vorbis_guard.h).
    if (request_.format->encoding == ma_encoding_format_vorbis) {
      failure_ = request_.from_path
                     ? CheckVorbisHeadersInFile(request_.path, STB_VORBIS_MAX_CHANNELS)
                     : CheckVorbisHeaders(request_.bytes.data(), request_.bytes.size(), STB_VORBIS_MAX_CHANNELS);
      if (failure_.failed()) return;
    }
    // whisper-cli's configuration (ma_decoder_config_init(ma_format_f32, 1, 16000)): miniaudio's
    // default linear resampler and channel mix. 0 channels keeps the stream's own, to pick one.
    ma_decoder_config config = ma_decoder_config_init(ma_format_f32, request_.channel < 0 ? 1 : 0, kOutputSampleRate);
    // lib/ decided the format from the content; miniaudio must not guess another one.
    config.encodingFormat = request_.format->encoding;
    ma_result result;
    if (request_.from_path) {
      result = ma_decoder_init_file(request_.path.c_str(), &config, &handle->decoder);
    } else {
      handle->bytes = std::move(request_.bytes);
      result = ma_decoder_init_memory(handle->bytes.data(), handle->bytes.size(), &config, &handle->decoder);
    }
    if (result != MA_SUCCESS) {
      failure_ = {"INVALID_AUDIO", InitFailure(*request_.format, result)};
      return;
    }
    handle->initialized = true;
    failure_ = CheckWavEncoding(*handle);
    if (failure_.failed()) return;
    handle->output_channels = handle->decoder.outputChannels;
    if (ma_data_source_get_data_format(handle->decoder.pBackend, nullptr, &info_.source_channels,
                                       &info_.source_sample_rate, nullptr, 0) != MA_SUCCESS) {
      failure_ = {"INVALID_AUDIO", InitFailure(*request_.format, MA_INVALID_DATA)};
      return;
    }
    if (request_.channel >= 0 && static_cast<ma_uint32>(request_.channel) >= handle->output_channels) {
      failure_ = {"INVALID_ARGUMENT", "options.audio.channel: expected a channel index below " +
                                          std::to_string(handle->output_channels) + " (the audio has " +
                                          ChannelCount(handle->output_channels) + "), got " +
                                          std::to_string(request_.channel)};
      return;
    }
    info_.format = request_.format;
    info_.stated_frames = StatedFrames(*handle);
    handle_ = std::move(handle);
  }

  Napi::Value Result(Napi::Env env) override;

  OpenRequest request_;
  DecoderInfo info_;
  std::shared_ptr<DecoderHandle> handle_;
};

struct PendingRead {
  Napi::Promise::Deferred deferred;
  // Taken when read() was called, so a close() after it still lets it finish.
  std::shared_ptr<DecoderHandle> handle;
  ma_uint64 max_frames;
};

// What the JS object's methods share; used on the JS thread only. Reads are started one at a
// time, in call order, so concurrent reads get consecutive pieces in the order they were asked
// for, and no libuv thread ever waits on another's read.
struct DecoderSession {
  std::shared_ptr<DecoderHandle> handle;  // null once closed
  DecoderInfo info;
  std::deque<PendingRead> queued;
  bool reading = false;
};

void StartNextRead(Napi::Env env, const std::shared_ptr<DecoderSession>& session);

// Decodes up to `max_frames` 16 kHz frames (one channel out) from where the last read stopped.
// Empty at the end. Runs with the handle's mutex held.
std::vector<float> DecodeSome(DecoderHandle& handle, ma_uint64 max_frames, WorkerFailure& failure) {
  std::vector<float> out;
  if (handle.damaged.failed()) {
    failure = handle.damaged;
    return out;
  }
  if (handle.ended) return out;
  out.resize(static_cast<size_t>(max_frames));
  ma_uint64 total = 0;
  ma_result result = MA_SUCCESS;
  if (handle.channel < 0) {
    result = ma_decoder_read_pcm_frames(&handle.decoder, out.data(), max_frames, &total);
  } else {
    std::vector<float> frames(static_cast<size_t>(kPickChunkFrames * handle.output_channels));
    while (total < max_frames) {
      const ma_uint64 wanted = std::min(kPickChunkFrames, max_frames - total);
      ma_uint64 got = 0;
      result = ma_decoder_read_pcm_frames(&handle.decoder, frames.data(), wanted, &got);
      for (ma_uint64 i = 0; i < got; ++i) out[total + i] = frames[i * handle.output_channels + handle.channel];
      total += got;
      if (result != MA_SUCCESS || got == 0) break;
    }
  }
  if (result != MA_SUCCESS && result != MA_AT_END) {
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%.1f",
                  static_cast<double>(handle.frames_read + total) / static_cast<double>(kOutputSampleRate));
    handle.damaged = {"INVALID_AUDIO", std::string("audio: the ") + handle.format->name + " stream is damaged at ~" +
                                           seconds + " s (miniaudio: " + ma_result_description(result) + ")"};
    failure = handle.damaged;
    out.clear();
    return out;
  }
  // Nothing more means the end, whatever miniaudio returned with it: reading on could repeat
  // an empty success forever.
  if (total == 0) handle.ended = true;
  handle.frames_read += total;
  out.resize(static_cast<size_t>(total));
  return out;
}

class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, std::shared_ptr<DecoderSession> session, PendingRead read)
      : Napi::AsyncWorker(env, "whisper-napi:audioDecoder.read"),
        session_(std::move(session)),
        read_(std::move(read)) {}

 private:
  void Execute() override {
    // An exception escaping a libuv worker thread would terminate the host process.
    try {
      std::lock_guard<std::mutex> lock(read_.handle->mutex);
      samples_ = DecodeSome(*read_.handle, read_.max_frames, failure_);
    } catch (const std::bad_alloc&) {
      failure_ = {"NATIVE_ERROR", "reading audio: out of memory"};
    } catch (const std::exception& error) {
      failure_ = {"NATIVE_ERROR", std::string("reading audio: ") + error.what()};
    } catch (...) {
      failure_ = {"NATIVE_ERROR", "reading audio: an unknown exception was thrown"};
    }
  }

  // A read can complete while its environment is being torn down (a worker_thread ending), when
  // nothing can reach JS any more: settling the promise then throws, and an exception escaping
  // this callback would end the process. So a failure to settle is caught; if even rejecting
  // fails, the environment is gone and no further read is started.
  void OnOK() override {
    Napi::Env env = Env();
    try {
      if (failure_.failed()) {
        read_.deferred.Reject(MakeError(env, failure_.code.c_str(), failure_.message).Value());
      } else {
        Napi::Float32Array samples = Napi::Float32Array::New(env, samples_.size());
        if (!samples_.empty()) std::memcpy(samples.Data(), samples_.data(), samples_.size() * sizeof(float));
        read_.deferred.Resolve(samples);
      }
    } catch (const Napi::Error& error) {
      if (!RejectQuietly(error)) return;
    }
    StartNext(env);
  }

  void OnError(const Napi::Error& error) override {
    if (RejectQuietly(error)) StartNext(Env());
  }

  bool RejectQuietly(const Napi::Error& error) {
    try {
      read_.deferred.Reject(error.Value());
      return true;
    } catch (const Napi::Error&) {
      return false;
    }
  }

  void StartNext(Napi::Env env) {
    session_->reading = false;
    try {
      StartNextRead(env, session_);
    } catch (const Napi::Error&) {
      // Only when the environment is going away: the reads still queued go with it.
    }
  }

  std::shared_ptr<DecoderSession> session_;
  PendingRead read_;
  std::vector<float> samples_;
  WorkerFailure failure_;
};

void StartNextRead(Napi::Env env, const std::shared_ptr<DecoderSession>& session) {
  if (session->reading || session->queued.empty()) return;
  PendingRead next = std::move(session->queued.front());
  session->queued.pop_front();
  session->reading = true;
  (new ReadWorker(env, session, std::move(next)))->Queue();
}

Napi::Value Info(const Napi::CallbackInfo& info, const DecoderSession& session) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("format", Napi::String::New(env, session.info.format->id));
  out.Set("sourceSampleRate", Napi::Number::New(env, session.info.source_sample_rate));
  out.Set("sourceChannels", Napi::Number::New(env, session.info.source_channels));
  out.Set("statedFrames", Napi::Number::New(env, static_cast<double>(session.info.stated_frames)));
  return out;
}

Napi::Value Read(const Napi::CallbackInfo& info, const std::shared_ptr<DecoderSession>& session) {
  Napi::Env env = info.Env();
  const Napi::Value given = info.Length() > 0 ? info[0] : env.Undefined();
  const auto max_frames = static_cast<ma_uint64>(ReadInteger(given, "decoder.read.maxFrames", 1, kMaxReadFrames));
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  if (!session->handle) {
    deferred.Reject(MakeError(env, "INVALID_ARGUMENT", "decoder: closed").Value());
    return deferred.Promise();
  }
  session->queued.push_back({deferred, session->handle, max_frames});
  StartNextRead(env, session);
  return deferred.Promise();
}

Napi::Object NewDecoderObject(Napi::Env env, std::shared_ptr<DecoderSession> session) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("info", Napi::Function::New(
                         env, [session](const Napi::CallbackInfo& info) { return Info(info, *session); }, "info"));
  object.Set("read", Napi::Function::New(
                         env, [session](const Napi::CallbackInfo& info) { return Read(info, session); }, "read"));
  // Reads already asked for hold their own reference and finish; the decoder is freed after them.
  object.Set("close", Napi::Function::New(
                          env, [session](const Napi::CallbackInfo&) { session->handle.reset(); }, "close"));
  return object;
}

Napi::Value OpenWorker::Result(Napi::Env env) {
  auto session = std::make_shared<DecoderSession>();
  session->handle = std::move(handle_);
  session->info = info_;
  return NewDecoderObject(env, std::move(session));
}

const AudioFormat* ReadFormat(const Napi::Value& value) {
  const std::string parameter = "openAudioDecoder.options.format";
  const std::string expected = "one of 'wav', 'flac', 'mp3', 'vorbis'";
  if (!value.IsString()) throw InvalidArgument(value.Env(), parameter, expected, value);
  const std::string id = value.As<Napi::String>().Utf8Value();
  for (const AudioFormat& format : kFormats) {
    if (id == format.id) return &format;
  }
  throw InvalidArgument(value.Env(), parameter, expected, value);
}

}  // namespace

Napi::Value OpenAudioDecoder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpenRequest request;
  const Napi::Value source = info.Length() > 0 ? info[0] : env.Undefined();
  if (source.IsString()) {
    request.from_path = true;
    request.path = source.As<Napi::String>().Utf8Value();
    if (request.path.empty() || request.path.find('\0') != std::string::npos) {
      throw InvalidArgument(env, "openAudioDecoder.source", "a file path or a Uint8Array", source);
    }
  } else if (source.IsTypedArray() && source.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    // Copied now: the caller may reuse its buffer as soon as this returns.
    Napi::Uint8Array bytes = source.As<Napi::Uint8Array>();
    if (bytes.ElementLength() > 0 && bytes.Data() == nullptr) {
      throw InvalidArgument(env, "openAudioDecoder.source", "a Uint8Array with accessible memory", source);
    }
    request.bytes.assign(bytes.Data(), bytes.Data() + bytes.ElementLength());
  } else {
    throw InvalidArgument(env, "openAudioDecoder.source", "a file path or a Uint8Array", source);
  }
  const Napi::Value options = info.Length() > 1 ? info[1] : env.Undefined();
  if (!options.IsObject() || options.IsArray() || options.IsFunction()) {
    throw InvalidArgument(env, "openAudioDecoder.options", "an object such as { format: 'flac', channel: -1 }",
                          options);
  }
  Napi::Object object = options.As<Napi::Object>();
  request.format = ReadFormat(object.Get("format"));
  request.channel =
      static_cast<int>(ReadInteger(object.Get("channel"), "openAudioDecoder.options.channel", -1, MA_MAX_CHANNELS - 1));
  auto* worker = new OpenWorker(env, std::move(request));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace whisper_napi

#undef STB_VORBIS_HEADER_ONLY
#include "stb_vorbis.c"
