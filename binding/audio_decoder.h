// Compressed audio decoded by the addon itself, with the decoders whisper-cli uses (miniaudio's
// dr_wav, dr_flac and dr_mp3, and stb_vorbis), so FLAC, MP3 and Ogg Vorbis give whisper-cli's
// samples without ffmpeg. Opening and every read run on libuv worker threads; a decoder hands
// out 16 kHz mono float32 a piece at a time, so a long file is never held whole.
#pragma once

#include <napi.h>

namespace whisper_napi {

// openAudioDecoder(source: string | Uint8Array, { format, channel }) -> Promise<{ info, read, close }>
Napi::Value OpenAudioDecoder(const Napi::CallbackInfo& info);

}  // namespace whisper_napi
