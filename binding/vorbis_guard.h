// stb_vorbis 1.22 trusts the lengths and counts in an Ogg Vorbis stream's three header packets
// (CVE-2023-45675..45682): a comment length past the packet, a comment count it cannot allocate,
// a 16th submap, a codebook whose sizes overflow an int, and it writes out of bounds, frees what
// it never allocated or reads through a null pointer, ending the process. We may not patch it, so
// the headers are checked here, page by page as stb_vorbis reads them, before it sees them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "errors.h"

namespace whisper_napi {

// Checks the headers at the start of `bytes`. max_channels is stb_vorbis's STB_VORBIS_MAX_CHANNELS.
// On a refusal: INVALID_AUDIO "audio: not a valid Ogg Vorbis stream (<what exactly>)".
WorkerFailure CheckVorbisHeaders(const uint8_t* bytes, size_t size, int max_channels);

// The same for a file, reading only as far as the headers go (a read failure: FILE_UNREADABLE).
WorkerFailure CheckVorbisHeadersInFile(const std::string& path, int max_channels);

}  // namespace whisper_napi
