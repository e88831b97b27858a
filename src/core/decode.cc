#include "caboose/core/decode.h"

#include <string>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose {
namespace {

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      lo = c == 0xe0 ? 0xa0 : 0x80;
      hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      lo = c == 0xf0 ? 0x90 : 0x80;
      hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
      return false;
    }
    if (s.size() - i <= n) {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      const auto t = static_cast<unsigned char>(s[i + k]);
      if (t < (k == 1 ? lo : 0x80) || t > (k == 1 ? hi : 0xbf)) {
        return false;
      }
    }
    i += n + 1;
  }
  return true;
}

// nlohmann's DOM builder behind a depth limit (and, for msgpack, a UTF-8 check): a SAX event
// that would go too deep stops the parse before the reader recurses further.
class LimitedSax {
 public:
  using number_integer_t = Value::number_integer_t;
  using number_unsigned_t = Value::number_unsigned_t;
  using number_float_t = Value::number_float_t;
  using string_t = Value::string_t;
  using binary_t = Value::binary_t;

  enum class Stop { kNone, kTooDeep, kNotUtf8 };

  LimitedSax(Value& result, std::size_t max_depth, bool check_utf8)
      : dom_(result, /*allow_exceptions_=*/true), max_depth_(max_depth), check_utf8_(check_utf8) {}

  Stop stop() const { return stop_; }

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(number_float_t v, const string_t& s) { return dom_.number_float(v, s); }
  bool string(string_t& s) { return text(s) && dom_.string(s); }
  bool binary(binary_t& b) { return dom_.binary(b); }
  bool key(string_t& k) { return text(k) && dom_.key(k); }
  bool start_object(std::size_t n) { return deeper() && dom_.start_object(n); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return deeper() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t position, const std::string& token,
                   const nlohmann::detail::exception& e) {
    return dom_.parse_error(position, token, e);  // throws e
  }

 private:
  bool deeper() {
    if (++depth_ > max_depth_) {
      stop_ = Stop::kTooDeep;
      return false;
    }
    return true;
  }
  bool text(const string_t& s) {
    if (check_utf8_ && !valid_utf8(s)) {
      stop_ = Stop::kNotUtf8;
      return false;
    }
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<Value> dom_;
  const std::size_t max_depth_;
  const bool check_utf8_;
  std::size_t depth_ = 0;
  Stop stop_ = Stop::kNone;
};

Value decode(std::string_view bytes, std::string_view what, const DecodeLimits& limits,
             nlohmann::json::input_format_t format) {
  const bool json = format == nlohmann::json::input_format_t::json;
  if (bytes.size() > limits.max_bytes) {
    throw InvalidFormat(fmt::format("{} is {} bytes, over the limit of {} bytes", what,
                                    bytes.size(), limits.max_bytes));
  }
  Value result;
  LimitedSax sax(result, limits.max_depth, /*check_utf8=*/!json);  // the JSON lexer checks it
  bool complete = false;
  try {
    complete = Value::sax_parse(bytes.begin(), bytes.end(), &sax, format, /*strict=*/true,
                                /*ignore_comments=*/false);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidFormat(
        fmt::format("{} {}: {}", what, json ? "holds invalid JSON" : "is not msgpack", e.what()));
  }
  switch (sax.stop()) {
    case LimitedSax::Stop::kTooDeep:
      throw InvalidFormat(
          fmt::format("{} nests deeper than the limit of {} levels", what, limits.max_depth));
    case LimitedSax::Stop::kNotUtf8:
      throw InvalidFormat(fmt::format("{} holds text that is not UTF-8", what));
    case LimitedSax::Stop::kNone:
      break;
  }
  if (!complete) {
    throw InvalidFormat(fmt::format("{} {}", what, json ? "holds invalid JSON" : "is not msgpack"));
  }
  return result;
}

}  // namespace

Value decode_json(std::string_view text, std::string_view what, const DecodeLimits& limits) {
  return decode(text, what, limits, nlohmann::json::input_format_t::json);
}

Value decode_msgpack(std::string_view bytes, std::string_view what, const DecodeLimits& limits) {
  return decode(bytes, what, limits, nlohmann::json::input_format_t::msgpack);
}

Value decode_json_or_null(std::string_view text, const DecodeLimits& limits) {
  try {
    return decode_json(text, "a record", limits);
  } catch (const InvalidFormat&) {
    return Value();
  }
}

}  // namespace caboose
