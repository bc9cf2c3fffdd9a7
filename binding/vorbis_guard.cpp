#include "vorbis_guard.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

namespace whisper_napi {

namespace {

// A comment or setup packet larger than this is refused rather than gathered (a 100 KB cover
// image in a comment is large; 64 MiB is not a header).
constexpr size_t kMaxHeaderPacketBytes = size_t{64} << 20;
constexpr size_t kMaxHeaderPacketMiB = kMaxHeaderPacketBytes >> 20;
// What stb_vorbis would allocate for the headers, at most: a few-byte codebook can ask for
// 2^24 entries, 80 MB each, times 256 codebooks, enough to have the process killed for memory.
// Real encoders' headers need well under a megabyte.
constexpr uint64_t kMaxHeaderAllocationBytes = uint64_t{256} << 20;
constexpr uint64_t kMaxHeaderAllocationMiB = kMaxHeaderAllocationBytes >> 20;
// stb_vorbis 1.22's own limits: setup_malloc(int sz) rounds sz up to a multiple of 8 in an int
// (CVE-2023-45676), and a mapping's submap_floor/submap_residue hold 15 entries where the
// format allows 16 (CVE-2023-45678).
constexpr uint64_t kStbMaxAllocation = 0x7fffffff - 7;
constexpr uint32_t kStbMaxSubmaps = 15;
// malloc's bookkeeping per allocation, for the estimate above.
constexpr uint64_t kAllocationOverhead = 16;

constexpr uint32_t kCodebookSync = 0x564342;  // "BCV", read least significant bit first

struct Refusal {
  std::string why;
};

struct ReadFailure {
  std::string message;
};

[[noreturn]] void Refuse(std::string why) { throw Refusal{std::move(why)}; }

std::string Num(uint64_t value) { return std::to_string(value); }

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `count` bytes; fewer only at the end of the input.
  virtual size_t Read(uint8_t* out, size_t count) = 0;
};

class MemorySource : public ByteSource {
 public:
  MemorySource(const uint8_t* bytes, size_t size) : bytes_(bytes), size_(size) {}
  size_t Read(uint8_t* out, size_t count) override {
    const size_t taken = std::min(count, size_ - at_);
    if (taken > 0) std::memcpy(out, bytes_ + at_, taken);
    at_ += taken;
    return taken;
  }

 private:
  const uint8_t* bytes_;
  size_t size_;
  size_t at_ = 0;
};

class FileSource : public ByteSource {
 public:
  FileSource(std::FILE* file, const std::string& path) : file_(file), path_(path) {}
  size_t Read(uint8_t* out, size_t count) override {
    const size_t got = count == 0 ? 0 : std::fread(out, 1, count, file_);
    if (got < count && std::ferror(file_)) {
      throw ReadFailure{"audio: cannot read " + path_ + " (" +
                        std::error_code(errno, std::generic_category()).message() + ")"};
    }
    return got;
  }

 private:
  std::FILE* file_;
  const std::string& path_;
};

uint32_t Le32(const uint8_t* at) {
  return static_cast<uint32_t>(at[0]) | static_cast<uint32_t>(at[1]) << 8 | static_cast<uint32_t>(at[2]) << 16 |
         static_cast<uint32_t>(at[3]) << 24;
}

// The header packets, rebuilt from the pages in the order stb_vorbis reads them. stb_vorbis
// looks at no serial number and takes every page as the next one of its stream, so a page of
// another logical stream among the headers is refused rather than skipped: skipping it would
// check other bytes than the ones stb_vorbis parses. (lib/ sends multiplexed Ogg to ffmpeg.)
class OggHeaderPackets {
 public:
  explicit OggHeaderPackets(ByteSource& source) : source_(source) {}

  // stb_vorbis requires the identification header alone on the first page, in one 30-byte
  // segment, as the specification lays it out.
  std::vector<uint8_t> First() {
    ReadPage("identification header");
    if ((flags_ & kBeginsStream) == 0) Refuse("the first page does not begin a stream");
    if ((flags_ & (kContinues | kEndsStream)) != 0) Refuse("the first page is marked as continued or last");
    if (segment_count_ != 1 || lacing_[0] != 30) {
      Refuse("the first page must hold the 30-byte identification header alone");
    }
    next_segment_ = 1;
    return body_;
  }

  // The next packet, whole, across as many pages as its lacing says.
  std::vector<uint8_t> Next(const char* what) {
    std::vector<uint8_t> packet;
    bool continuing = false;
    for (;;) {
      if (next_segment_ >= segment_count_) {
        ReadPage(what);
        const bool continued = (flags_ & kContinues) != 0;
        if (continuing && !continued) {
          Refuse("page " + Num(pages_) + " does not continue the " + what + " that the page before left unfinished");
        }
        if (!continuing && continued)
          Refuse("page " + Num(pages_) + " continues a packet where the " + what + " begins");
      }
      const uint8_t length = lacing_[next_segment_++];
      packet.insert(packet.end(), body_.begin() + static_cast<std::ptrdiff_t>(body_at_),
                    body_.begin() + static_cast<std::ptrdiff_t>(body_at_ + length));
      body_at_ += length;
      if (packet.size() > kMaxHeaderPacketBytes) {
        Refuse(std::string("the ") + what + " is over " + Num(kMaxHeaderPacketMiB) + " MiB");
      }
      if (length < 255) return packet;
      continuing = true;
    }
  }

 private:
  static constexpr uint8_t kContinues = 1;
  static constexpr uint8_t kBeginsStream = 2;
  static constexpr uint8_t kEndsStream = 4;

  void ReadPage(const char* what) {
    uint8_t header[27];
    const size_t got = source_.Read(header, sizeof(header));
    const std::string page = "page " + Num(pages_ + 1);
    if (got == 0) Refuse(std::string("the stream ends before its ") + what);
    if (got < sizeof(header)) Refuse("the stream ends inside the header of " + page);
    if (std::memcmp(header, "OggS", 4) != 0) Refuse(page + " does not start with the capture pattern OggS");
    if (header[4] != 0) Refuse(page + " has stream structure version " + Num(header[4]) + ", expected 0");
    flags_ = header[5];
    const uint32_t serial = Le32(header + 14);
    if (pages_ == 0) {
      serial_ = serial;
    } else if (serial != serial_) {
      Refuse(page + " belongs to another logical stream (serial " + Num(serial) + ", not " + Num(serial_) +
             ") before the headers end");
    } else if ((flags_ & kBeginsStream) != 0) {
      Refuse(page + " begins the stream a second time");
    }
    segment_count_ = header[26];
    // stb_vorbis would take a stale segment length from the page before for a page without any.
    if (segment_count_ == 0) Refuse(page + " has no segments");
    if (source_.Read(lacing_, segment_count_) < static_cast<size_t>(segment_count_)) {
      Refuse("the stream ends inside the segment table of " + page);
    }
    size_t body_size = 0;
    for (int i = 0; i < segment_count_; ++i) body_size += lacing_[i];
    body_.resize(body_size);
    if (source_.Read(body_.data(), body_size) < body_size) Refuse("the stream ends inside " + page);
    body_at_ = 0;
    next_segment_ = 0;
    ++pages_;
  }

  ByteSource& source_;
  uint32_t serial_ = 0;
  uint64_t pages_ = 0;
  uint8_t flags_ = 0;
  uint8_t lacing_[255] = {};
  int segment_count_ = 0;
  int next_segment_ = 0;
  std::vector<uint8_t> body_;
  size_t body_at_ = 0;
};

bool IsVorbisHeader(const std::vector<uint8_t>& packet, uint8_t type) {
  return packet.size() >= 7 && packet[0] == type && std::memcmp(packet.data() + 1, "vorbis", 6) == 0;
}

// Returns the channel count.
int CheckIdentification(const std::vector<uint8_t>& packet, int max_channels) {
  if (!IsVorbisHeader(packet, 1)) Refuse("the first packet is not a Vorbis identification header");
  const uint32_t version = Le32(packet.data() + 7);
  if (version != 0) Refuse("Vorbis version " + Num(version) + ", expected 0");
  const int channels = packet[11];
  if (channels == 0) Refuse("0 channels");
  if (channels > max_channels) {
    Refuse(Num(channels) + " channels: stb_vorbis decodes at most " + Num(max_channels) + "; convert it with ffmpeg");
  }
  if (Le32(packet.data() + 12) == 0) Refuse("sample rate 0");
  const int short_exponent = packet[28] & 15;
  const int long_exponent = packet[28] >> 4;
  if (short_exponent < 6 || long_exponent > 13 || short_exponent > long_exponent) {
    Refuse("block sizes 2^" + Num(short_exponent) + " and 2^" + Num(long_exponent) +
           ": expected 2^6..2^13, the first no larger than the second");
  }
  if ((packet[29] & 1) == 0) Refuse("the identification header's framing bit is not set");
  return channels;
}

uint64_t RoundedAllocation(uint64_t bytes) { return ((bytes + 7) & ~uint64_t{7}) + kAllocationOverhead; }

// Every length and count must fit in the bytes the packet has left: stb_vorbis allocates what it
// is told and reads on past the end (CVE-2023-45675, -45676, -45677, -45679, -45680, -45681).
void CheckComment(const std::vector<uint8_t>& packet, uint64_t& allocation) {
  if (!IsVorbisHeader(packet, 3)) Refuse("the second packet is not a Vorbis comment header");
  size_t at = 7;
  const auto left = [&]() {
    return static_cast<uint64_t>(packet.size() - at);
  };
  const auto read_length = [&](const std::string& what) {
    if (left() < 4) Refuse("the comment header ends inside the length of " + what);
    const uint32_t length = Le32(packet.data() + at);
    at += 4;
    return length;
  };
  const uint32_t vendor = read_length("its vendor string");
  if (vendor > left()) {
    Refuse("the comment header's vendor string (" + Num(vendor) + " bytes) runs past the end of its packet (" +
           Num(left()) + " bytes left)");
  }
  at += vendor;
  allocation += RoundedAllocation(uint64_t{vendor} + 1);
  const uint32_t count = read_length("its comment count");
  if (uint64_t{count} * 4 > left()) {
    Refuse("the comment header claims " + Num(count) + " comments, but only " + Num(left()) + " bytes follow");
  }
  allocation += RoundedAllocation(uint64_t{count} * sizeof(char*));
  for (uint32_t i = 0; i < count; ++i) {
    const std::string comment = "comment " + Num(i + 1) + " of " + Num(count);
    const uint32_t length = read_length(comment);
    if (length > left()) {
      Refuse(comment + " (" + Num(length) + " bytes) runs past the end of the comment header (" + Num(left()) +
             " bytes left)");
    }
    at += length;
    allocation += RoundedAllocation(uint64_t{length} + 1);
  }
  if (left() < 1 || (packet[at] & 1) == 0) Refuse("the comment header's framing bit is not set");
}

// Vorbis packs the setup header least significant bit first.
class BitReader {
 public:
  explicit BitReader(const std::vector<uint8_t>& packet) : packet_(packet) {}

  uint32_t Bits(int count, const std::string& where) {
    if (count > static_cast<int64_t>(Left())) Refuse("the setup header ends inside " + where);
    uint32_t value = 0;
    for (int i = 0; i < count; ++i, ++position_) {
      value |= static_cast<uint32_t>((packet_[position_ >> 3] >> (position_ & 7)) & 1) << i;
    }
    return value;
  }

  void Skip(uint64_t count, const std::string& where) {
    if (count > Left()) Refuse("the setup header ends inside " + where);
    position_ += count;
  }

  void SkipTo(uint64_t position) { position_ = position; }

 private:
  uint64_t Left() const { return uint64_t{packet_.size()} * 8 - position_; }

  const std::vector<uint8_t>& packet_;
  uint64_t position_ = 0;
};

// stb_vorbis's ilog: the number of bits needed for n (0 for 0).
int BitsFor(uint32_t n) {
  int bits = 0;
  while (n != 0) {
    ++bits;
    n >>= 1;
  }
  return bits;
}

// Whether base^exponent <= limit, without overflowing.
bool PowerAtMost(uint64_t base, uint32_t exponent, uint64_t limit) {
  uint64_t power = 1;
  for (uint32_t i = 0; i < exponent; ++i) {
    if (base != 0 && power > limit / base) return false;
    power *= base;
  }
  return power <= limit;
}

// The largest r with r^dimensions <= entries: stb_vorbis's lookup1_values when it succeeds (it
// computes the same in floating point and gives up when that is off, which refuses the file).
uint64_t Lookup1Values(uint32_t entries, uint32_t dimensions) {
  auto r = static_cast<uint64_t>(std::floor(std::pow(static_cast<double>(entries), 1.0 / dimensions)));
  while (PowerAtMost(r + 1, dimensions, entries)) ++r;
  while (r > 0 && !PowerAtMost(r, dimensions, entries)) --r;
  return r;
}

struct Codebook {
  uint32_t entries = 0;
  uint32_t dimensions = 0;
  // Sparse with no entry in use: stb_vorbis allocates no sorted tables for it, and decoding
  // anything with it reads sorted_values[-1] through a null pointer (CVE-2023-45682).
  bool empty = false;
};

void CheckSetup(const std::vector<uint8_t>& packet, int channels, uint64_t& allocation) {
  if (!IsVorbisHeader(packet, 5)) Refuse("the third packet is not a Vorbis setup header");
  BitReader bits(packet);
  bits.SkipTo(7 * 8);

  std::vector<Codebook> books(bits.Bits(8, "the codebook count") + 1);
  for (size_t i = 0; i < books.size(); ++i) {
    const std::string where = "codebook " + Num(i);
    Codebook& book = books[i];
    if (bits.Bits(24, where) != kCodebookSync) Refuse(where + " does not start with the sync pattern BCV");
    book.dimensions = bits.Bits(16, where);
    book.entries = bits.Bits(24, where);
    // stb_vorbis refuses both too: no entries fails its allocation, and the first is invalid.
    if (book.entries == 0) Refuse(where + " has no entries");
    if (book.dimensions == 0) Refuse(where + " has entries but 0 dimensions");
    const bool ordered = bits.Bits(1, where) != 0;
    const bool sparse = !ordered && bits.Bits(1, where) != 0;
    uint64_t used = 0;
    if (ordered) {
      uint32_t length = bits.Bits(5, where) + 1;
      for (uint32_t entry = 0; entry < book.entries; ++length) {
        const uint32_t run = bits.Bits(BitsFor(book.entries - entry), where);
        if (length >= 32) Refuse(where + " has codewords longer than 31 bits");
        if (run > book.entries - entry) Refuse(where + " gives more codeword lengths than it has entries");
        entry += run;
      }
      used = book.entries;
    } else if (!sparse) {
      bits.Skip(uint64_t{book.entries} * 5, where);
      used = book.entries;
    } else {
      for (uint32_t entry = 0; entry < book.entries; ++entry) {
        if (bits.Bits(1, where) != 0) {
          bits.Bits(5, where);
          ++used;
        }
      }
    }
    // stb_vorbis keeps a codebook sparse only while under a quarter of its entries are used.
    const bool stays_sparse = sparse && used < (book.entries >> 2);
    book.empty = stays_sparse && used == 0;
    // Code lengths, codewords, the sorted codewords and values (an upper bound).
    allocation += RoundedAllocation(book.entries) + RoundedAllocation(uint64_t{book.entries} * 4) +
                  2 * RoundedAllocation((uint64_t{book.entries} + 1) * 4);

    const uint32_t lookup_type = bits.Bits(4, where);
    if (lookup_type > 2) Refuse(where + " has lookup type " + Num(lookup_type) + ", expected 0, 1 or 2");
    if (lookup_type == 0) continue;
    bits.Skip(64, where);  // minimum and delta
    const uint32_t value_bits = bits.Bits(4, where) + 1;
    bits.Bits(1, where);  // sequence_p
    // The multiplicand table stb_vorbis builds: lookup type 1 expanded to one value per used
    // entry and dimension, type 2 as stated. Its size and the index entry * dimensions into it
    // are ints in stb_vorbis (CVE-2023-45676; upstream issues #1947 and #1949).
    const uint64_t rows = lookup_type == 1 && stays_sparse ? used : book.entries;
    const uint64_t multiplicands = rows * book.dimensions;
    if (multiplicands * 4 > kStbMaxAllocation || uint64_t{book.entries} * book.dimensions > 0x7fffffff) {
      Refuse(where + "'s " + Num(book.entries) + " entries of " + Num(book.dimensions) +
             " dimensions overflow stb_vorbis's int sizes");
    }
    const uint64_t values = lookup_type == 1 ? Lookup1Values(book.entries, book.dimensions) : multiplicands;
    bits.Skip(values * value_bits, where);
    allocation += RoundedAllocation(values * 2) + RoundedAllocation(multiplicands * 4);
  }

  const uint32_t transforms = bits.Bits(6, "the time domain transforms") + 1;
  for (uint32_t i = 0; i < transforms; ++i) {
    if (bits.Bits(16, "the time domain transforms") != 0) Refuse("a time domain transform is not of type 0");
  }

  std::vector<uint32_t> used_books;
  const auto use_book = [&](uint32_t book, const std::string& where) {
    if (book >= books.size()) Refuse(where + " uses codebook " + Num(book) + " of " + Num(books.size()));
    used_books.push_back(book);
  };

  const uint32_t floors = bits.Bits(6, "the floor count") + 1;
  for (uint32_t i = 0; i < floors; ++i) {
    const std::string where = "floor " + Num(i);
    const uint32_t type = bits.Bits(16, where);
    if (type == 0) Refuse(where + " is of type 0, which stb_vorbis does not decode; convert it with ffmpeg");
    if (type != 1) Refuse(where + " is of type " + Num(type) + ", expected 0 or 1");
    const uint32_t partitions = bits.Bits(5, where);
    std::vector<uint32_t> partition_classes(partitions);
    int max_class = -1;
    for (uint32_t& partition_class : partition_classes) {
      partition_class = bits.Bits(4, where);
      max_class = std::max(max_class, static_cast<int>(partition_class));
    }
    std::vector<uint32_t> class_dimensions(static_cast<size_t>(max_class + 1));
    for (uint32_t& dimensions : class_dimensions) {
      dimensions = bits.Bits(3, where) + 1;
      const uint32_t subclasses = bits.Bits(2, where);
      if (subclasses != 0) use_book(bits.Bits(8, where), where);
      for (uint32_t k = 0; k < (1u << subclasses); ++k) {
        const uint32_t book = bits.Bits(8, where);
        if (book != 0) use_book(book - 1, where);
      }
    }
    bits.Bits(2, where);  // multiplier
    const uint32_t range_bits = bits.Bits(4, where);
    for (uint32_t partition_class : partition_classes) {
      bits.Skip(uint64_t{class_dimensions[partition_class]} * range_bits, where);
    }
  }

  const uint32_t residues = bits.Bits(6, "the residue count") + 1;
  for (uint32_t i = 0; i < residues; ++i) {
    const std::string where = "residue " + Num(i);
    const uint32_t type = bits.Bits(16, where);
    if (type > 2) Refuse(where + " is of type " + Num(type) + ", expected 0, 1 or 2");
    bits.Skip(24 + 24 + 24, where);  // begin, end, partition size
    const uint32_t classifications = bits.Bits(6, where) + 1;
    const uint32_t classbook = bits.Bits(8, where);
    use_book(classbook, where);
    std::vector<uint32_t> cascades(classifications);
    for (uint32_t& cascade : cascades) {
      cascade = bits.Bits(3, where);
      if (bits.Bits(1, where) != 0) cascade |= bits.Bits(5, where) << 3;
    }
    for (uint32_t cascade : cascades) {
      for (int pass = 0; pass < 8; ++pass) {
        if ((cascade & (1u << pass)) != 0) use_book(bits.Bits(8, where), where);
      }
    }
    // The residue books, and a table of `dimensions` bytes for each entry of the classbook.
    const Codebook& book = books[classbook];
    allocation += RoundedAllocation(uint64_t{classifications} * 16) + RoundedAllocation(uint64_t{book.entries} * 8) +
                  uint64_t{book.entries} * RoundedAllocation(book.dimensions);
  }

  const uint32_t mappings = bits.Bits(6, "the mapping count") + 1;
  for (uint32_t i = 0; i < mappings; ++i) {
    const std::string where = "mapping " + Num(i);
    const uint32_t type = bits.Bits(16, where);
    if (type != 0) Refuse(where + " is of type " + Num(type) + ", expected 0");
    const uint32_t submaps = bits.Bits(1, where) != 0 ? bits.Bits(4, where) + 1 : 1;
    if (submaps > kStbMaxSubmaps) {
      Refuse(where + " has " + Num(submaps) + " submaps; stb_vorbis 1.22 overflows its tables above " +
             Num(kStbMaxSubmaps));
    }
    if (bits.Bits(1, where) != 0) {
      const uint32_t steps = bits.Bits(8, where) + 1;
      if (steps > static_cast<uint32_t>(channels)) {
        Refuse(where + " couples " + Num(steps) + " channel pairs in " + Num(channels) + " channels");
      }
      bits.Skip(uint64_t{steps} * 2 * BitsFor(static_cast<uint32_t>(channels - 1)), where);
    }
    if (bits.Bits(2, where) != 0) Refuse(where + "'s reserved bits are not 0");
    if (submaps > 1) bits.Skip(uint64_t{4} * static_cast<uint64_t>(channels), where);
    for (uint32_t j = 0; j < submaps; ++j) {
      bits.Bits(8, where);  // unused time configuration
      if (bits.Bits(8, where) >= floors) Refuse(where + " uses a floor that does not exist");
      if (bits.Bits(8, where) >= residues) Refuse(where + " uses a residue that does not exist");
    }
    allocation += RoundedAllocation(uint64_t{3} * static_cast<uint64_t>(channels));
  }

  const uint32_t modes = bits.Bits(6, "the mode count") + 1;
  for (uint32_t i = 0; i < modes; ++i) {
    const std::string where = "mode " + Num(i);
    bits.Skip(1 + 16 + 16, where);  // block flag, window and transform types (stb_vorbis checks them)
    if (bits.Bits(8, where) >= mappings) Refuse(where + " uses a mapping that does not exist");
  }
  if (bits.Bits(1, "the framing bit") == 0) Refuse("the setup header's framing bit is not set");

  for (uint32_t book : used_books) {
    if (books[book].empty) {
      Refuse("codebook " + Num(book) + " is used for decoding but has no entry in use");
    }
  }
  if (allocation > kMaxHeaderAllocationBytes) {
    Refuse("its headers would have stb_vorbis allocate " + Num(allocation >> 20) + " MiB, more than " +
           Num(kMaxHeaderAllocationMiB));
  }
}

WorkerFailure Check(ByteSource& source, int max_channels) {
  try {
    OggHeaderPackets packets(source);
    const int channels = CheckIdentification(packets.First(), max_channels);
    uint64_t allocation = 0;
    CheckComment(packets.Next("comment header"), allocation);
    CheckSetup(packets.Next("setup header"), channels, allocation);
    return {};
  } catch (const Refusal& refusal) {
    return {"INVALID_AUDIO", "audio: not a valid Ogg Vorbis stream (" + refusal.why + ")"};
  } catch (const ReadFailure& failure) {
    return {"FILE_UNREADABLE", failure.message};
  }
}

}  // namespace

WorkerFailure CheckVorbisHeaders(const uint8_t* bytes, size_t size, int max_channels) {
  MemorySource source(bytes, size);
  return Check(source, max_channels);
}

WorkerFailure CheckVorbisHeadersInFile(const std::string& path, int max_channels) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return {"FILE_UNREADABLE",
            "audio: cannot open " + path + " (" + std::error_code(errno, std::generic_category()).message() + ")"};
  }
  FileSource source(file, path);
  WorkerFailure failure = Check(source, max_channels);
  std::fclose(file);
  return failure;
}

}  // namespace whisper_napi
