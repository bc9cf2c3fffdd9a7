#include "arguments.h"

#include <cmath>
#include <sstream>
#include <string>

#include "errors.h"

namespace whisper_napi {

namespace {

constexpr size_t kMaxQuotedString = 60;

// JS's own Number-to-string, so a message shows 0.1 as 0.1 and 1e21 as 1e+21.
std::string JsNumber(const Napi::Value& value) { return value.ToString().Utf8Value(); }

// The shortest form that reads back as the same double, as JS prints range bounds.
std::string FormatNumber(double number) {
  std::string text;
  for (int precision = 1; precision <= 17; ++precision) {
    std::ostringstream out;
    out.precision(precision);
    out << number;
    text = out.str();
    if (std::stod(text) == number) break;
  }
  return text;
}

// Reading properties can run getters (and throw); a description must never fail.
std::string ConstructorName(const Napi::Value& value) {
  try {
    Napi::Value constructor = value.As<Napi::Object>().Get("constructor");
    if (constructor.IsFunction()) {
      Napi::Value name = constructor.As<Napi::Object>().Get("name");
      if (name.IsString()) return name.As<Napi::String>().Utf8Value();
    }
  } catch (const Napi::Error&) {
  }
  return "typed array";
}

// Object.prototype.toString's tag ("Object", "Map", "Promise"), as lib/'s describeValue shows it.
std::string ObjectTag(const Napi::Value& value) {
  try {
    Napi::Env env = value.Env();
    Napi::Object prototype = env.Global().Get("Object").As<Napi::Object>().Get("prototype").As<Napi::Object>();
    Napi::Value tag = prototype.Get("toString").As<Napi::Function>().Call(value, {});
    if (tag.IsString()) {
      const std::string text = tag.As<Napi::String>().Utf8Value();  // "[object Tag]"
      if (text.size() > 9) return text.substr(8, text.size() - 9);
    }
  } catch (const Napi::Error&) {
  }
  return "Object";
}

}  // namespace

std::string DescribeValue(const Napi::Value& value) {
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return value.As<Napi::Boolean>().Value() ? "true" : "false";
    case napi_number: return JsNumber(value);
    case napi_bigint: return JsNumber(value) + "n";
    case napi_string: {
      const std::string text = value.As<Napi::String>().Utf8Value();
      if (text.size() > kMaxQuotedString) return "a string of length " + std::to_string(text.size());
      return "\"" + text + "\"";
    }
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_external: return "an external";
    default: break;
  }
  if (value.IsArray()) return "an array of length " + std::to_string(value.As<Napi::Array>().Length());
  if (value.IsTypedArray()) {
    return "a " + ConstructorName(value) + " of length " + std::to_string(value.As<Napi::TypedArray>().ElementLength());
  }
  return "an object (" + ObjectTag(value) + ")";
}

Napi::Error InvalidArgument(Napi::Env env, const std::string& parameter, const std::string& expected,
                            const std::string& given) {
  return MakeError(env, "INVALID_ARGUMENT", parameter + ": expected " + expected + ", got " + given);
}

Napi::Error InvalidArgument(Napi::Env env, const std::string& parameter, const std::string& expected,
                            const Napi::Value& given) {
  return InvalidArgument(env, parameter, expected, DescribeValue(given));
}

bool ReadBool(const Napi::Value& value, const std::string& parameter) {
  if (!value.IsBoolean()) throw InvalidArgument(value.Env(), parameter, "a boolean", value);
  return value.As<Napi::Boolean>().Value();
}

std::string ReadString(const Napi::Value& value, const std::string& parameter) {
  if (!value.IsString()) throw InvalidArgument(value.Env(), parameter, "a string", value);
  return value.As<Napi::String>().Utf8Value();
}

int64_t ReadInteger(const Napi::Value& value, const std::string& parameter, int64_t min, int64_t max) {
  const std::string expected = IntegerRange(min, max);
  if (!value.IsNumber()) throw InvalidArgument(value.Env(), parameter, expected, value);
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number) || number != std::floor(number) || number < static_cast<double>(min) ||
      number > static_cast<double>(max)) {
    throw InvalidArgument(value.Env(), parameter, expected, value);
  }
  return static_cast<int64_t>(number);
}

double ReadNumber(const Napi::Value& value, const std::string& parameter, double min, double max) {
  const std::string expected = NumberRange(min, max);
  if (!value.IsNumber()) throw InvalidArgument(value.Env(), parameter, expected, value);
  const double number = value.As<Napi::Number>().DoubleValue();
  // NaN fails both comparisons, so it is rejected with the out-of-range values.
  if (!(number >= min && number <= max)) throw InvalidArgument(value.Env(), parameter, expected, value);
  return number;
}

std::string IntegerRange(int64_t min, int64_t max) {
  return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

std::string NumberRange(double min, double max) {
  return "a number from " + FormatNumber(min) + " to " + FormatNumber(max);
}

}  // namespace whisper_napi
