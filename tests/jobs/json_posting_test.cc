// TaskFlow's JSON postings (ZooKeeper and etcd boards): the captures of
// shared/formats/zk-layout.txt decode, and what is malformed, oversized or too deeply nested is
// an InvalidFormat naming the problem.
#include "jobs/json_posting.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "caboose/core/decode.h"
#include "caboose/core/errors.h"

#include "jobs/etcd/etcd_layout.h"

namespace caboose::jobs::detail {
namespace {

using ::testing::HasSubstr;

// Job-A of the ZooKeeper capture.
constexpr std::string_view kJobA =
    R"({"uuid": "414f839f-1a8b-4cfa-ab6f-0c805e2a595a", "name": "job-A", "priority": "NORMAL", )"
    R"("details": {"flow_uuid": "d94889ef-6c16-44df-b2b5-8cbe963d8175", "store": {"x": 1}}, )"
    R"("book": {"name": "job-A", "uuid": "92f839fd-8130-482c-9393-b23bb160c884"}})";

std::string invalid_format_message(std::string_view data) {
  try {
    (void)decode_json_posting(data);
  } catch (const InvalidFormat& e) {
    return e.what();
  }
  return "(no InvalidFormat)";
}

// A posting whose details hold {"a": [[...[1]...]]}: `arrays` arrays, 1 + arrays + 1 levels.
std::string nested_posting(std::size_t arrays) {
  return R"({"uuid": "u", "name": "n", "details": {"a": )" + std::string(arrays, '[') + "1" +
         std::string(arrays, ']') + "}}";
}

TEST(JsonPosting, DecodesTaskFlowsPosting) {
  const Job a = decode_json_posting(kJobA);
  EXPECT_EQ(a.uuid, "414f839f-1a8b-4cfa-ab6f-0c805e2a595a");
  EXPECT_EQ(a.name, "job-A");
  EXPECT_EQ(a.priority, JobPriority::kNormal);
  EXPECT_EQ(a.details.at("store"), (Value{{"x", 1}}));
  EXPECT_EQ(a.book_uuid, "92f839fd-8130-482c-9393-b23bb160c884");
  EXPECT_EQ(encode_json_posting(a, PostingLayout::kZooKeeper), kJobA);
}

TEST(JsonPosting, MalformedPostingsAreInvalidFormat) {
  EXPECT_THAT(invalid_format_message("not json"), HasSubstr("the posting holds invalid JSON"));
  EXPECT_THAT(invalid_format_message("[1]"), HasSubstr("not a JSON object"));
  EXPECT_THAT(invalid_format_message(R"({"uuid": 1, "name": "n"})"), HasSubstr("no uuid or name"));
  EXPECT_THAT(invalid_format_message(R"({"uuid": "u", "name": "n", "details": 3})"),
              HasSubstr("details are not an object"));
  EXPECT_THAT(invalid_format_message(R"({"uuid": "u", "name": "n", "priority": "SOON"})"),
              HasSubstr("SOON"));
}

TEST(JsonPosting, DeeplyNestedPostingIsRefusedNamingTheLimit) {
  EXPECT_EQ(decode_json_posting(nested_posting(kMaxNesting - 2)).details.at("a").size(), 1u);
  EXPECT_THAT(invalid_format_message(nested_posting(kMaxNesting - 1)),
              HasSubstr("the posting nests deeper than the limit of 1000 levels"));
  EXPECT_THAT(invalid_format_message(nested_posting(300'000)),
              HasSubstr("nests deeper than the limit"));
}

TEST(JsonPosting, OversizedPostingIsRefusedNamingTheLimit) {
  const std::string big = R"({"uuid": "u", "name": ")" + std::string(4u << 20, 'n') + "\"}";
  EXPECT_THAT(invalid_format_message(big), HasSubstr("over the limit of 4194304 bytes"));
}

TEST(EtcdRecords, UnreadableOrTooDeepRecordsReadAsAbsent) {
  const auto kv = [](std::string value) {
    return std::optional<EtcdKv>(EtcdKv{.key = "k", .value = std::move(value)});
  };
  EXPECT_EQ(EtcdExtras::parse(kv(R"({"uuid": "u", "attempts": 2})")).attempts, 2);
  const EtcdExtras deep =
      EtcdExtras::parse(kv(R"({"uuid": "u", "attempts": 2, "last_failure": )" +
                           std::string(200'000, '[') + std::string(200'000, ']') + "}"));
  EXPECT_EQ(deep.uuid, "");
  EXPECT_TRUE(deep.last_failure.is_null());
  EXPECT_EQ(lock_owner(EtcdKv{.key = "k", .value = R"({"owner": "c1"})"}), "c1");
  EXPECT_EQ(lock_owner(EtcdKv{.key = "k", .value = std::string(100'000, '{')}), "");
  EXPECT_FALSE(parse_modified(kv(std::string(100'000, '['))).has_value());
}

TEST(JsonPosting, PythonTimesReadEveryYearPythonCanHold) {
  // Past 2262 the nanoseconds of system_clock overflow: 5026 once went through them.
  for (const char* text : {"5026-11-23T07:24:24.515281", "0001-01-01T00:00:00.000000",
                           "9999-12-31T23:59:59.999999", "2024-02-29T12:00:00.000001"}) {
    const auto t = parse_python_time(text);
    ASSERT_TRUE(t.has_value()) << text;
    EXPECT_EQ(python_time(*t), text);
  }
  for (const char* text :
       {"2026-02-29T00:00:00.000000", "2026-13-01T00:00:00.000000", "2026-11-23T24:00:00.000000",
        "2026-11-23T07:24:24.-00001", "0000-11-23T07:24:24.000000"}) {
    EXPECT_FALSE(parse_python_time(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace caboose::jobs::detail
