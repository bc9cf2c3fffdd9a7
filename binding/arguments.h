// Reading arguments from JS with one error for every bad one: code INVALID_ARGUMENT and a
// message "<parameter>: expected <what>, got <value>", the shape lib/errors/validate.ts uses.
// lib/ validates everything before it calls the addon; these checks keep a direct caller of the
// addon (or a gap in lib/) from reaching a GGML_ASSERT, an abort or an out-of-bounds access.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace whisper_napi {

// The given value as the messages show it: numbers as JS prints them, short strings quoted.
std::string DescribeValue(const Napi::Value& value);

Napi::Error InvalidArgument(Napi::Env env, const std::string& parameter, const std::string& expected,
                            const Napi::Value& given);
// For a value that is no single JS value (e.g. a count of arguments).
Napi::Error InvalidArgument(Napi::Env env, const std::string& parameter, const std::string& expected,
                            const std::string& given);

// Each throws InvalidArgument naming `parameter` unless the value has the type (and lies in the range).
bool ReadBool(const Napi::Value& value, const std::string& parameter);
std::string ReadString(const Napi::Value& value, const std::string& parameter);
// An integer (no fraction, not NaN) from min to max inclusive.
int64_t ReadInteger(const Napi::Value& value, const std::string& parameter, int64_t min, int64_t max);
// A finite number from min to max inclusive.
double ReadNumber(const Napi::Value& value, const std::string& parameter, double min, double max);

// "an integer from 1 to 8" and "a number from 0 to 1", as the messages word ranges.
std::string IntegerRange(int64_t min, int64_t max);
std::string NumberRange(double min, double max);

}  // namespace whisper_napi
