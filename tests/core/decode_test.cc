// Decoding untrusted bytes: JSON and msgpack within size and nesting limits, refused with an
// InvalidFormat that names the limit, never a crash.
#include "caboose/core/decode.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "caboose/core/errors.h"

namespace caboose {
namespace {

using ::testing::HasSubstr;

std::string nested_json(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// `depth` msgpack fixarrays of one element around a nil.
std::string nested_msgpack(std::size_t depth) {
  return std::string(depth, '\x91') + '\xc0';
}

template <class F>
std::string invalid_format_message(F&& decode) {
  try {
    decode();
  } catch (const InvalidFormat& e) {
    return e.what();
  }
  return "(no InvalidFormat)";
}

TEST(DecodeJson, ReadsJsonWithinTheLimits) {
  EXPECT_EQ(decode_json(R"({"a": [1, "x", null]})", "a record", kRecordLimits),
            (Value{{"a", {1, "x", nullptr}}}));
  EXPECT_EQ(decode_json("7", "a record", {.max_bytes = 1, .max_depth = 0}), Value(7));
}

TEST(DecodeJson, NestingUpToTheLimitIsRead) {
  const Value v = decode_json(nested_json(kMaxNesting), "a record", kRecordLimits);
  EXPECT_TRUE(v.is_array());
  EXPECT_EQ(decode_json("[[]]", "x", {.max_bytes = 10, .max_depth = 2}),
            Value::array({Value::array()}));
}

TEST(DecodeJson, DeepNestingIsRefusedNamingTheLimit) {
  EXPECT_THAT(invalid_format_message(
                  [] { (void)decode_json(nested_json(kMaxNesting + 1), "job 7", kRecordLimits); }),
              HasSubstr("job 7 nests deeper than the limit of 1000 levels"));
  // Far past the limit (deep enough to overflow the stack of a recursive reader or copy).
  EXPECT_THAT(invalid_format_message(
                  [] { (void)decode_json(nested_json(200'000), "job 7", kRecordLimits); }),
              HasSubstr("nests deeper than the limit"));
  EXPECT_THAT(invalid_format_message([] {
                (void)decode_json(R"({"a": {"b": 1}})", "x", {.max_bytes = 99, .max_depth = 1});
              }),
              HasSubstr("limit of 1 levels"));
}

TEST(DecodeJson, OversizedInputIsRefusedNamingTheLimit) {
  EXPECT_THAT(invalid_format_message(
                  [] { (void)decode_json("[1, 2]", "x", {.max_bytes = 5, .max_depth = 9}); }),
              HasSubstr("x is 6 bytes, over the limit of 5 bytes"));
  const std::string big = '"' + std::string(kPostingLimits.max_bytes, 'a') + '"';
  EXPECT_THAT(invalid_format_message([&] { (void)decode_json(big, "a posting", kPostingLimits); }),
              HasSubstr("over the limit of 4194304 bytes"));
}

TEST(DecodeJson, MalformedTextIsInvalidFormat) {
  EXPECT_THAT(invalid_format_message([] { (void)decode_json("{\"a\": ", "x", kRecordLimits); }),
              HasSubstr("x holds invalid JSON"));
  EXPECT_THROW((void)decode_json("1 2", "x", kRecordLimits), InvalidFormat);
  EXPECT_THROW((void)decode_json("", "x", kRecordLimits), InvalidFormat);
  EXPECT_THROW((void)decode_json("/* c */ 1", "x", kRecordLimits), InvalidFormat);
}

TEST(DecodeMsgpack, ReadsMsgpackWithExtTypes) {
  // {"a": ext type 1 of one byte 0x05}
  const std::string bytes = std::string(
      "\x81\xa1"
      "a\xd4\x01\x05",
      6);
  const Value v = decode_msgpack(bytes, "a posting", kPostingLimits);
  ASSERT_TRUE(v.at("a").is_binary());
  EXPECT_EQ(v.at("a").get_binary().subtype(), 1);
  EXPECT_EQ(v.at("a").get_binary().size(), 1u);
}

TEST(DecodeMsgpack, DeepNestingIsRefusedNamingTheLimit) {
  EXPECT_TRUE(decode_msgpack(nested_msgpack(kMaxNesting), "p", kPostingLimits).is_array());
  EXPECT_THAT(invalid_format_message([] {
                (void)decode_msgpack(nested_msgpack(kMaxNesting + 1), "p", kPostingLimits);
              }),
              HasSubstr("p nests deeper than the limit of 1000 levels"));
  // nlohmann's msgpack reader recurses once per level: this deep would overflow the stack.
  EXPECT_THAT(invalid_format_message(
                  [] { (void)decode_msgpack(nested_msgpack(1'000'000), "p", kPostingLimits); }),
              HasSubstr("nests deeper than the limit"));
}

TEST(DecodeMsgpack, OversizedInputIsRefusedNamingTheLimit) {
  EXPECT_THAT(invalid_format_message([] {
                (void)decode_msgpack(std::string("\x92\x01\x02", 3), "p",
                                     {.max_bytes = 2, .max_depth = 9});
              }),
              HasSubstr("p is 3 bytes, over the limit of 2 bytes"));
}

TEST(DecodeMsgpack, TextThatIsNotUtf8IsRefused) {
  // msgpack-python (raw=False, as TaskFlow reads postings) refuses these too.
  for (const std::string& bad : {std::string("\xa1\xff", 2), std::string("\xa2\xc3\x28", 3),
                                 std::string("\xa3\xed\xa0\x80", 4),     // a surrogate
                                 std::string("\xa2\xc0\xaf", 3),         // overlong
                                 std::string("\x81\xa1\xfe\x01", 4)}) {  // a key
    EXPECT_THAT(invalid_format_message([&] { (void)decode_msgpack(bad, "p", kPostingLimits); }),
                HasSubstr("p holds text that is not UTF-8"));
  }
  EXPECT_EQ(decode_msgpack(std::string("\xa4\xf0\x9f\x98\x80", 5), "p", kPostingLimits),
            Value("\xf0\x9f\x98\x80"));
}

TEST(DecodeMsgpack, TruncatedOrTrailingBytesAreInvalidFormat) {
  EXPECT_THAT(invalid_format_message(
                  [] { (void)decode_msgpack(std::string("\x92\x01", 2), "p", kPostingLimits); }),
              HasSubstr("p is not msgpack"));
  EXPECT_THROW((void)decode_msgpack(std::string("\x01\x02", 2), "p", kPostingLimits),
               InvalidFormat);
  EXPECT_THROW((void)decode_msgpack("", "p", kPostingLimits), InvalidFormat);
}

}  // namespace
}  // namespace caboose
