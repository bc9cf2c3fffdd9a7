#include "vad_file.h"

#include <ggml.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <system_error>
#include <vector>

namespace whisper_napi {

namespace {

constexpr uint32_t kGgmlMagic = 0x67676d6c;
constexpr int32_t kMaxTypeName = 64;
constexpr int32_t kMaxTensorName = 256;
// Silero is under 1 MB; anything far larger is not one, and is not read into memory.
constexpr uintmax_t kMaxFileBytes = 64u << 20;

// The one architecture whisper.cpp's VAD graph is written for (whisper_vad_build_graph
// hard-codes its channel counts): Silero v5 and v6.
constexpr int32_t kWindow = 512;
constexpr int32_t kContext = 64;
constexpr int32_t kEncoderLayers = 4;
constexpr int32_t kEncoder[kEncoderLayers][3] = {{129, 128, 3}, {128, 64, 3}, {64, 64, 3}, {64, 128, 3}};
constexpr int32_t kLstmInput = 128;
constexpr int32_t kLstmHidden = 128;
constexpr int32_t kFinalConvIn = 128;
constexpr int32_t kFinalConvOut = 1;

struct ExpectedTensor {
  ggml_type type;
  int64_t ne[3];
};

// The tensors whisper_vad_init_with_params creates, by the names it looks them up with.
const std::map<std::string, ExpectedTensor>& ExpectedTensors() {
  static const std::map<std::string, ExpectedTensor> tensors = [] {
    std::map<std::string, ExpectedTensor> t;
    t["_model.stft.forward_basis_buffer"] = {GGML_TYPE_F16, {256, 1, 258}};
    for (int i = 0; i < kEncoderLayers; ++i) {
      const std::string prefix = "_model.encoder." + std::to_string(i) + ".reparam_conv.";
      t[prefix + "weight"] = {GGML_TYPE_F16, {kEncoder[i][2], kEncoder[i][0], kEncoder[i][1]}};
      t[prefix + "bias"] = {GGML_TYPE_F32, {kEncoder[i][1], 1, 1}};
    }
    t["_model.decoder.rnn.weight_ih"] = {GGML_TYPE_F32, {kLstmHidden, 4 * kLstmHidden, 1}};
    t["_model.decoder.rnn.weight_hh"] = {GGML_TYPE_F32, {kLstmHidden, 4 * kLstmHidden, 1}};
    t["_model.decoder.rnn.bias_ih"] = {GGML_TYPE_F32, {4 * kLstmHidden, 1, 1}};
    t["_model.decoder.rnn.bias_hh"] = {GGML_TYPE_F32, {4 * kLstmHidden, 1, 1}};
    t["_model.decoder.decoder.2.weight"] = {GGML_TYPE_F16, {kFinalConvIn, 1, 1}};
    t["_model.decoder.decoder.2.bias"] = {GGML_TYPE_F32, {kFinalConvOut, 1, 1}};
    return t;
  }();
  return tensors;
}

std::string Shape(const int64_t* ne, int n) {
  std::string text = "[";
  for (int i = 0; i < n; ++i) text += (i ? ", " : "") + std::to_string(ne[i]);
  return text + "]";
}

// Walks the file's bytes; every read past the end is reported as truncation, never performed.
class Cursor {
 public:
  explicit Cursor(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }
  bool Has(size_t n) const { return n <= remaining(); }
  int32_t I32() {
    int32_t value;
    std::memcpy(&value, bytes_.data() + offset_, sizeof value);
    offset_ += sizeof value;
    return value;
  }
  std::string Text(size_t n) {
    std::string text(reinterpret_cast<const char*>(bytes_.data() + offset_), n);
    offset_ += n;
    return text;
  }
  void Skip(size_t n) { offset_ += n; }

 private:
  const std::vector<uint8_t>& bytes_;
  size_t offset_ = 0;
};

class VadFileCheck {
 public:
  VadFileCheck(const std::vector<uint8_t>& bytes, const std::string& parameter, const std::string& path)
      : bytes_(bytes), cursor_(bytes), prefix_(parameter + ": " + path) {}

  // Empty when the file is a complete Silero model; otherwise why it is not.
  std::string Run() {
    std::string why;
    if (!Header(why) || !Tensors(why)) return why;
    return "";
  }

 private:
  bool Need(size_t n, const std::string& what, std::string& why) {
    if (cursor_.Has(n)) return true;
    why = prefix_ + " is truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
          std::to_string(cursor_.offset()) + ", the file has " + std::to_string(bytes_.size());
    return false;
  }

  bool NotSilero(std::string& why) {
    why = prefix_ + " is not a Silero VAD model in whisper.cpp's ggml format (such as ggml-silero-v6.2.0.bin)";
    return false;
  }

  bool Expect(const char* name, int32_t got, int32_t expected, std::string& why) {
    if (got == expected) return true;
    why = prefix_ + " is not a Silero VAD model whisper.cpp can run: " + name + " is " + std::to_string(got) +
          ", whisper.cpp's VAD is built for " + std::to_string(expected);
    return false;
  }

  bool Header(std::string& why) {
    if (bytes_.size() < 8) return bytes_.empty() ? Empty(why) : NotSilero(why);
    if (static_cast<uint32_t>(cursor_.I32()) != kGgmlMagic) return NotSilero(why);
    const int32_t type_length = cursor_.I32();
    if (type_length <= 0 || type_length > kMaxTypeName) return NotSilero(why);
    if (!Need(static_cast<size_t>(type_length), "the model type", why)) return false;
    if (cursor_.Text(static_cast<size_t>(type_length)).rfind("silero", 0) != 0) return NotSilero(why);
    if (!Need(5 * 4, "the version and window sizes", why)) return false;
    cursor_.Skip(3 * 4);  // version: any
    if (!Expect("n_window", cursor_.I32(), kWindow, why) || !Expect("n_context", cursor_.I32(), kContext, why)) {
      return false;
    }
    if (!Need(4, "the encoder layer count", why)) return false;
    if (!Expect("n_encoder_layers", cursor_.I32(), kEncoderLayers, why)) return false;
    if (!Need(kEncoderLayers * 3 * 4 + 4 * 4, "the encoder and LSTM sizes", why)) return false;
    for (int i = 0; i < kEncoderLayers; ++i) {
      const std::string layer = "encoder layer " + std::to_string(i);
      if (!Expect((layer + " input channels").c_str(), cursor_.I32(), kEncoder[i][0], why) ||
          !Expect((layer + " output channels").c_str(), cursor_.I32(), kEncoder[i][1], why) ||
          !Expect((layer + " kernel size").c_str(), cursor_.I32(), kEncoder[i][2], why)) {
        return false;
      }
    }
    return Expect("lstm_input_size", cursor_.I32(), kLstmInput, why) &&
           Expect("lstm_hidden_size", cursor_.I32(), kLstmHidden, why) &&
           Expect("final_conv_in", cursor_.I32(), kFinalConvIn, why) &&
           Expect("final_conv_out", cursor_.I32(), kFinalConvOut, why);
  }

  bool Empty(std::string& why) {
    why = prefix_ + " is empty, not a Silero VAD model";
    return false;
  }

  bool Tensors(std::string& why) {
    const auto& expected = ExpectedTensors();
    std::set<std::string> seen;
    while (cursor_.remaining() > 0) {
      const std::string what = "tensor " + std::to_string(seen.size());
      if (!Need(3 * 4, what + "'s header", why)) return false;
      const int32_t n_dims = cursor_.I32();
      const int32_t name_length = cursor_.I32();
      const int32_t type = cursor_.I32();
      if (n_dims < 0 || n_dims > 3 || name_length <= 0 || name_length > kMaxTensorName) {
        return Invalid(what + " has a malformed header (n_dims " + std::to_string(n_dims) + ", name length " +
                           std::to_string(name_length) + ")",
                       why);
      }
      if (!Need(static_cast<size_t>(n_dims) * 4 + static_cast<size_t>(name_length), what + "'s shape and name", why)) {
        return false;
      }
      int64_t ne[3] = {1, 1, 1};
      for (int i = 0; i < n_dims; ++i) ne[i] = cursor_.I32();
      const std::string name = cursor_.Text(static_cast<size_t>(name_length));
      auto found = expected.find(name);
      if (found == expected.end()) return Invalid("it has an unknown tensor '" + name + "'", why);
      if (!seen.insert(name).second) return Invalid("tensor '" + name + "' appears twice", why);
      const ExpectedTensor& want = found->second;
      if (type != want.type) {
        return Invalid(
            "tensor '" + name + "' has type " + std::to_string(type) + ", expected " + ggml_type_name(want.type), why);
      }
      if (ne[0] != want.ne[0] || ne[1] != want.ne[1] || ne[2] != want.ne[2]) {
        return Invalid("tensor '" + name + "' has shape " + Shape(ne, 3) + ", expected " + Shape(want.ne, 3), why);
      }
      const size_t data_bytes = static_cast<size_t>(ne[0] * ne[1] * ne[2]) * ggml_type_size(want.type);
      if (!Need(data_bytes, "tensor '" + name + "'", why)) return false;
      cursor_.Skip(data_bytes);
    }
    if (seen.size() != expected.size()) {
      for (const auto& entry : expected) {
        if (seen.count(entry.first) == 0) {
          why = prefix_ + " is truncated: it ends after " + std::to_string(seen.size()) + " of " +
                std::to_string(expected.size()) + " tensors ('" + entry.first + "' is missing)";
          return false;
        }
      }
    }
    return true;
  }

  bool Invalid(const std::string& detail, std::string& why) {
    why = prefix_ + " is not a valid Silero VAD model: " + detail;
    return false;
  }

  const std::vector<uint8_t>& bytes_;
  Cursor cursor_;
  std::string prefix_;
};

// A whisper_model_loader over bytes in memory.
struct MemoryReader {
  const std::vector<uint8_t>* bytes;
  size_t offset = 0;
  bool past_end = false;

  static size_t Read(void* context, void* output, size_t size) {
    auto* self = static_cast<MemoryReader*>(context);
    const size_t available = self->bytes->size() - self->offset;
    const size_t n = size < available ? size : available;
    std::memcpy(output, self->bytes->data() + self->offset, n);
    if (n < size) {
      std::memset(static_cast<uint8_t*>(output) + n, 0, size - n);
      self->past_end = true;
    }
    self->offset += n;
    return size;
  }
  static bool Eof(void* context) { return static_cast<MemoryReader*>(context)->past_end; }
  static void Close(void*) {}
};

bool ReadWholeFile(const std::string& path, const std::string& parameter, std::vector<uint8_t>& bytes,
                   WorkerFailure& failure) {
  namespace fs = std::filesystem;
  const fs::path file = fs::u8path(path);
  std::error_code error;
  const fs::file_status status = fs::status(file, error);
  if (error || !fs::exists(status)) {
    if (!error || error == std::errc::no_such_file_or_directory || error == std::errc::not_a_directory ||
        error == std::errc::filename_too_long || error == std::errc::too_many_symbolic_link_levels) {
      failure = {"MODEL_NOT_FOUND", parameter + ": VAD model not found: " + path};
    } else {
      failure = {"FILE_UNREADABLE", parameter + ": cannot read VAD model " + path + ": " + error.message()};
    }
    return false;
  }
  if (fs::is_directory(status)) {
    failure = {"INVALID_ARGUMENT", parameter + ": expected a file (VAD model), got a directory: " + path};
    return false;
  }
  if (!fs::is_regular_file(status)) {
    failure = {"INVALID_ARGUMENT", parameter + ": expected a file (VAD model), got a special file: " + path};
    return false;
  }
  const uintmax_t size = fs::file_size(file, error);
  if (!error && size > kMaxFileBytes) {
    failure = {"INVALID_MODEL", parameter + ": " + path + " is " + std::to_string(size) +
                                    " bytes, far more than a Silero VAD model; it is not one"};
    return false;
  }
  errno = 0;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int cause = errno;
    if (cause == EACCES || cause == EPERM) {
      failure = {"FILE_UNREADABLE", parameter + ": permission denied reading VAD model " + path};
    } else {
      failure = {"FILE_UNREADABLE", parameter + ": cannot read VAD model " + path +
                                        (cause != 0 ? std::string(": ") + std::strerror(cause) : "")};
    }
    return false;
  }
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    failure = {"FILE_UNREADABLE", parameter + ": cannot read VAD model " + path + ": read error"};
    return false;
  }
  return true;
}

}  // namespace

whisper_vad_context* LoadVadModel(const std::string& path, const std::string& parameter, int n_threads,
                                  WorkerFailure& failure) {
  std::vector<uint8_t> bytes;
  if (!ReadWholeFile(path, parameter, bytes, failure)) return nullptr;
  const std::string why = VadFileCheck(bytes, parameter, path).Run();
  if (!why.empty()) {
    failure = {"INVALID_MODEL", why};
    return nullptr;
  }
  whisper_vad_context_params params = whisper_vad_default_context_params();
  params.n_threads = n_threads;
  MemoryReader reader{&bytes};
  whisper_model_loader loader{&reader, &MemoryReader::Read, &MemoryReader::Eof, &MemoryReader::Close};
  whisper_vad_context* ctx = whisper_vad_init_with_params(&loader, params);
  if (ctx == nullptr) failure = {"INVALID_MODEL", parameter + ": whisper.cpp could not load the VAD model " + path};
  return ctx;
}

}  // namespace whisper_napi
