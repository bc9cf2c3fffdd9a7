// Reading a Silero VAD model file for whisper.cpp, checked first.
//
// whisper.cpp's VAD loader trusts the file: it indexes four encoder layers whatever the header
// says, reads tensor shapes into a four-element array for any n_dims, and a file cut short
// leaves the rest of its reads uninitialised. So the whole file is read into memory, walked
// tensor by tensor against the layout whisper.cpp's graph is built for, and only then handed
// to whisper_vad_init_with_params from that same memory, so what was checked is what loads.
#pragma once

#include <whisper.h>

#include <string>

#include "errors.h"

namespace whisper_napi {

// Loads `path` into a VAD context, or returns null with `failure` set: MODEL_NOT_FOUND for a
// path that does not exist, INVALID_ARGUMENT for a directory, FILE_UNREADABLE when it can't be
// read, INVALID_MODEL for anything that is not a complete Silero model as whisper.cpp expects
// it. `parameter` names the option that gave the path, for the messages.
whisper_vad_context* LoadVadModel(const std::string& path, const std::string& parameter, int n_threads,
                                  WorkerFailure& failure);

}  // namespace whisper_napi
