// TaskFlow's Redis postings, byte for byte: the captures of shared/formats/redis-layout.txt
// decode to the jobs they describe, and encoding those jobs gives the captured bytes back.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"

#include "jobs/redis/posting.h"

namespace caboose::jobs::detail {
namespace {

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

// Job-C of the capture: LOW, with a book and details, sequence 3.
constexpr std::string_view kJobC =
    "87a475756964d92432666239303562342d396135632d343734652d393835322d343436333939376636323035a4"
    "6e616d65a56a6f622d43a87072696f72697479a34c4f57aa637265617465645f6f6ec73c0187a364617917a56d"
    "6f6e74680ba479656172cd07eaa4686f757207a66d696e75746518a67365636f6e6418ab6d6963726f7365636f"
    "6e64ce0007dcd1a764657461696c7381a9666c6f775f75756964d92431333237313561392d363536312d343433"
    "352d623631372d353963393065623965636336a4626f6f6b82a46e616d65a56a6f622d43a475756964d9246665"
    "3837346238392d323262392d343936612d396637612d313736323032303164346631a873657175656e636503";
// Job-D: NORMAL, no book, no details, sequence 4.
constexpr std::string_view kJobD =
    "86a475756964d92430393763633666302d653437302d343866642d626136662d636430333338346533613965a4"
    "6e616d65a56a6f622d44a87072696f72697479a64e4f524d414caa637265617465645f6f6ec73c0187a3646179"
    "17a56d6f6e74680ba479656172cd07eaa4686f757207a66d696e75746518a67365636f6e6418ab6d6963726f73"
    "65636f6e64ce0007de9ca764657461696c7380a873657175656e636504";
// Job-C's last_modified.
constexpr std::string_view kLastModified =
    "c73c0187a364617917a56d6f6e74680ba479656172cd07eaa4686f757207a66d696e75746518a67365636f6e64"
    "18ab6d6963726f7365636f6e64ce000bdcb7";

TimePoint at(int hour, int minute, int second, long micro) {
  // 2026-11-23, the capture's day.
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 10;
  tm.tm_mday = 23;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return std::chrono::time_point_cast<std::chrono::microseconds>(
             std::chrono::system_clock::from_time_t(timegm(&tm))) +
         std::chrono::microseconds(micro);
}

TEST(RedisPosting, DecodesTaskFlowsPostings) {
  const Job c = decode_posting(from_hex(kJobC));
  EXPECT_EQ(c.uuid, "2fb905b4-9a5c-474e-9852-4463997f6205");
  EXPECT_EQ(c.name, "job-C");
  EXPECT_EQ(c.priority, JobPriority::kLow);
  EXPECT_EQ(c.created_on, at(7, 24, 24, 515281));
  EXPECT_EQ(c.details, (Value{{"flow_uuid", "132715a9-6561-4435-b617-59c90eb9ecc6"}}));
  EXPECT_EQ(c.book_uuid, "fe874b89-22b9-496a-9f7a-17620201d4f1");
  EXPECT_EQ(c.book_name, "job-C");
  EXPECT_EQ(c.sequence, 3);
  EXPECT_EQ(c.state, JobState::kUnclaimed);

  const Job d = decode_posting(from_hex(kJobD));
  EXPECT_EQ(d.priority, JobPriority::kNormal);
  EXPECT_EQ(d.details, Value::object());
  EXPECT_FALSE(d.book_uuid.has_value());
  EXPECT_EQ(d.sequence, 4);
}

TEST(RedisPosting, EncodesTheBytesTaskFlowWrites) {
  EXPECT_EQ(to_hex(encode_posting(decode_posting(from_hex(kJobC)))), kJobC);
  EXPECT_EQ(to_hex(encode_posting(decode_posting(from_hex(kJobD)))), kJobD);
  Job built;
  built.uuid = "097cc6f0-e470-48fd-ba6f-cd03384e3a9e";
  built.name = "job-D";
  built.created_on = at(7, 24, 24, 515740);
  built.sequence = 4;
  EXPECT_EQ(to_hex(encode_posting(built)), kJobD);
}

// Details holding what TaskFlow's msgpackutils writes as ext types (a datetime here) or bytes
// keep them when caboose writes the posting again (they once came back as {"bytes", "subtype"}
// maps: the details went through JSON text; found by fuzz_redis_posting).
TEST(RedisPosting, ExtTypesAndBytesInDetailsSurviveReencoding) {
  Job job = decode_posting(from_hex(kJobC));
  const std::string when = from_hex(kLastModified).substr(3);  // the datetime's payload
  job.details["when"] = Value::binary(std::vector<std::uint8_t>(when.begin(), when.end()), 1);
  job.details["raw"] = Value::binary(std::vector<std::uint8_t>{0, 1, 255});
  const std::string encoded = encode_posting(job);
  const Job again = decode_posting(encoded);
  ASSERT_TRUE(again.details["when"].is_binary());
  EXPECT_EQ(again.details["when"].get_binary().subtype(), 1);
  const std::vector<std::uint8_t>& raw = again.details["raw"].get_binary();
  EXPECT_EQ(raw, std::vector<std::uint8_t>({0, 1, 255}));
  EXPECT_EQ(Value::to_msgpack(again.details), Value::to_msgpack(job.details));
  EXPECT_EQ(encode_posting(again), encoded);
  // The datetime is still TaskFlow's ext type 1, byte for byte.
  const std::vector<std::uint8_t> ext = Value::to_msgpack(again.details["when"]);
  EXPECT_EQ(decode_datetime(std::string(ext.begin(), ext.end())), at(7, 24, 24, 777399));
}

TEST(RedisPosting, DatetimesRoundTripAtEveryIntegerWidth) {
  EXPECT_EQ(decode_datetime(from_hex(kLastModified)), at(7, 24, 24, 777399));
  EXPECT_EQ(to_hex(encode_datetime(at(7, 24, 24, 777399))), kLastModified);
  for (long micro : {0L, 5L, 127L, 128L, 255L, 256L, 65535L, 65536L, 999999L}) {
    const TimePoint t = at(23, 59, 59, micro);
    EXPECT_EQ(decode_datetime(encode_datetime(t)), t) << micro;
  }
}

TEST(RedisPosting, WhatTaskFlowWouldRejectIsAnError) {
  const std::string good = from_hex(kJobD);
  EXPECT_THROW((void)decode_posting("\x00\xff\x13garbage"), InvalidFormat);
  EXPECT_THROW((void)decode_posting(good.substr(0, good.size() / 2)), InvalidFormat);
  Job job = decode_posting(good);
  job.details = Value::object();
  std::string bad = encode_posting(job);
  // An unknown priority.
  const auto pos = bad.find("NORMAL");
  bad.replace(pos, 6, "MEDIUM");
  EXPECT_THROW((void)decode_posting(bad), InvalidFormat);
  // Not a map at all.
  EXPECT_THROW((void)decode_posting(std::string("\x93\x01\x02\x03", 4)), InvalidFormat);
  EXPECT_THROW((void)decode_datetime(std::string("\x01", 1)), InvalidFormat);
}

// The posting's details, re-encoded around a replacement (msgpack) for its empty map.
std::string with_details(std::string_view details) {
  std::string bytes = from_hex(kJobD);
  const auto at = bytes.find("details") + 7;
  EXPECT_EQ(bytes[at], '\x80');
  return bytes.replace(at, 1, details);
}

TEST(RedisPosting, DeeplyNestedDetailsAreRefusedNamingTheLimit) {
  // {"a": [[...[nil]...]]}, 999 arrays deep: 1000 levels with the details map, as deep as
  // msgpack-python or json can write.
  const auto nested = [](std::size_t arrays) {
    return std::string(
               "\x81\xa1"
               "a") +
           std::string(arrays, '\x91') + '\xc0';
  };
  EXPECT_EQ(decode_posting(with_details(nested(998))).details.at("a").size(), 1u);
  try {
    (void)decode_posting(with_details(nested(999)));
    ADD_FAILURE() << "a posting nested 1001 levels deep was read";
  } catch (const InvalidFormat& e) {
    EXPECT_NE(std::string(e.what()).find("nests deeper than the limit of 1000 levels"),
              std::string::npos)
        << e.what();
  }
  // Deep enough to overflow the stack of nlohmann's recursive msgpack reader.
  EXPECT_THROW((void)decode_posting(with_details(nested(500'000))), InvalidFormat);
}

TEST(RedisPosting, OversizedPostingIsRefusedNamingTheLimit) {
  // {"a": a str32 of `n` bytes}
  const auto details = [](std::size_t n) {
    std::string out(
        "\x81\xa1"
        "a\xdb",
        4);
    for (int shift = 24; shift >= 0; shift -= 8) {
      out += static_cast<char>(n >> shift & 0xff);
    }
    return out + std::string(n, 'x');
  };
  EXPECT_EQ(decode_posting(with_details(details(3u << 20)))
                .details.at("a")
                .get_ref<const std::string&>()
                .size(),
            3u << 20);
  try {
    (void)decode_posting(with_details(details(4u << 20)));
    ADD_FAILURE() << "a posting over 4 MiB was read";
  } catch (const InvalidFormat& e) {
    EXPECT_NE(std::string(e.what()).find("over the limit of 4194304 bytes"), std::string::npos)
        << e.what();
  }
}

TEST(RedisPosting, TextThatIsNotUtf8IsRefused) {
  // msgpack-python reads TaskFlow's postings with raw=False: such a posting is unreadable there.
  EXPECT_THROW((void)decode_posting(with_details(std::string("\x81\xa1"
                                                             "a\xa1\xff",
                                                             5))),
               InvalidFormat);
  EXPECT_EQ(decode_posting(with_details(std::string("\x81\xa1"
                                                    "a\xa2\xc3\xa9",
                                                    6)))
                .details.at("a"),
            "\xc3\xa9");
}

// A datetime payload {"day", "month", "year", "hour", "minute", "second", "microsecond"}.
std::string datetime(const Value& parts) {
  const std::vector<std::uint8_t> payload =
      nlohmann::ordered_json::to_msgpack(nlohmann::ordered_json{{"day", parts[0]},
                                                                {"month", parts[1]},
                                                                {"year", parts[2]},
                                                                {"hour", parts[3]},
                                                                {"minute", parts[4]},
                                                                {"second", parts[5]},
                                                                {"microsecond", parts[6]}});
  const auto bytes = Value::to_msgpack(Value::binary(payload, 1));
  return std::string(bytes.begin(), bytes.end());
}

TEST(RedisPosting, DatetimesReadEveryYearPythonCanHold) {
  // Past 2262 the nanoseconds of system_clock overflow: these once went through them.
  const TimePoint far = decode_datetime(datetime({23, 11, 5026, 7, 24, 24, 777399}));
  EXPECT_EQ(far - at(7, 24, 24, 777399),
            std::chrono::days(3000 * 365 + 727));  // 727 leap years in 2026-5025
  EXPECT_EQ(decode_datetime(encode_datetime(far)), far);
  const TimePoint first = decode_datetime(datetime({1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(decode_datetime(encode_datetime(first)), first);
  EXPECT_EQ(decode_datetime(datetime({31, 12, 9999, 23, 59, 59, 999999})) -
                decode_datetime(datetime({1, 1, 1, 0, 0, 0, 0})),
            std::chrono::days(3652059) - std::chrono::microseconds(1));
}

TEST(RedisPosting, DatetimesPythonCannotHoldAreInvalidFormat) {
  for (const Value& parts :
       {Value{23, 11, 10000, 7, 24, 24, 0}, Value{23, 11, 0, 7, 24, 24, 0},
        Value{30, 2, 2026, 7, 24, 24, 0}, Value{23, 13, 2026, 7, 24, 24, 0},
        Value{23, 11, 2026, 24, 24, 24, 0}, Value{23, 11, 2026, 7, 60, 24, 0},
        Value{23, 11, 2026, 7, 24, 60, 0}, Value{23, 11, 2026, 7, 24, 24, 1000000},
        Value{23, 11, 2026, 7, 24, 24, -1}, Value{23, 11, 2026.5, 7, 24, 24, 0},
        Value{23, 11, 1e300, 7, 24, 24, 0}, Value{23, 11, "2026", 7, 24, 24, 0},
        Value{23, 11, std::int64_t{-9'000'000'000'000'000'000}, 7, 24, 24, 0}}) {
    EXPECT_THROW((void)decode_datetime(datetime(parts)), InvalidFormat) << parts.dump();
  }
}

}  // namespace
}  // namespace caboose::jobs::detail
