// The persistence model against the dicts Python TaskFlow writes (shared formats:
// model-and-states.txt), and TaskFlow's merge rules.
#include "caboose/persistence/models.h"

#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/decode.h"
#include "caboose/core/errors.h"

#include "persistence/json_text.h"
#include "persistence/sql_rows.h"

namespace caboose::persistence {
namespace {

// TaskDetail 'add' after run 'ok', as Python TaskFlow stored it.
const Value kAddDict = Value::parse(R"({
  "failure": null, "revert_failure": null, "meta": {"progress": 1.0}, "name": "add",
  "results": 42, "revert_results": null, "state": "SUCCESS", "version": "1.0",
  "intention": "EXECUTE", "uuid": "1835b024-8674-445c-bc24-2f4542489a29"})");

// TaskDetail 'charge' after run 'fail': a failure with its traceback and arguments.
const Value kChargeDict = Value::parse(R"({
  "failure": {"exception_str": "charge of 42 failed",
              "traceback_str": "  File \"orders_tasks.py\", line 21, in execute\n",
              "exc_type_names": ["RuntimeError", "Exception"], "version": 1,
              "exc_args": ["charge of 42 failed"], "causes": []},
  "revert_failure": null, "meta": {"progress": 1.0}, "name": "charge", "results": null,
  "revert_results": null, "state": "REVERTED", "version": "1.0", "intention": "REVERT",
  "uuid": "6f8a00e8-0394-403e-a2d8-a99d8c2b22b1"})");

TEST(AtomDetailDict, TaskDetailRoundTripsTaskFlowsDict) {
  const AtomDetail d = AtomDetail::from_dict(kAddDict, AtomDetailKind::kTask);
  EXPECT_EQ(d.name, "add");
  EXPECT_EQ(d.state, AtomState::kSuccess);
  EXPECT_EQ(d.intention, Intention::kExecute);
  EXPECT_EQ(d.results, 42);
  EXPECT_EQ(d.version, "1.0");
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.to_dict(), kAddDict);
}

TEST(AtomDetailDict, FailureFieldRoundTrips) {
  const AtomDetail d = AtomDetail::from_dict(kChargeDict, AtomDetailKind::kTask);
  ASSERT_TRUE(d.failure.has_value());
  EXPECT_EQ(d.failure->exception_str(), "charge of 42 failed");
  EXPECT_TRUE(d.failure->check("RuntimeError"));
  EXPECT_EQ(d.state, AtomState::kReverted);
  EXPECT_EQ(d.intention, Intention::kRevert);
  EXPECT_EQ(d.to_dict(), kChargeDict);
}

TEST(AtomDetailDict, InjectorHasNullVersion) {
  const Value dict = Value::parse(R"({
    "failure": null, "revert_failure": null, "meta": {}, "name": "_TaskFlow_INJECTOR",
    "results": {"x": 2, "y": 40}, "revert_results": null, "state": "SUCCESS",
    "version": null, "intention": "EXECUTE", "uuid": "ebd009cc-1ef6-4461-b343-a74cc2456f95"})");
  const AtomDetail d = AtomDetail::from_dict(dict, AtomDetailKind::kTask);
  EXPECT_FALSE(d.version.has_value());
  EXPECT_EQ(d.to_dict(), dict);
}

TEST(AtomDetailDict, RetryHistoryIsKept) {
  const Value dict = Value::parse(R"({
    "failure": null, "revert_failure": null, "meta": {}, "name": "r-times",
    "results": [[3, {}]], "revert_results": null, "state": "SUCCESS", "version": "1.0",
    "intention": "EXECUTE", "uuid": "c9735931-4678-45e4-a181-1bfd36c0aaf1"})");
  const AtomDetail d = AtomDetail::from_dict(dict, AtomDetailKind::kRetry);
  EXPECT_EQ(d.kind, AtomDetailKind::kRetry);
  EXPECT_EQ(d.to_dict(), dict);
  EXPECT_EQ(to_string(AtomDetailKind::kRetry), "RETRY_DETAIL");
  EXPECT_EQ(parse_atom_detail_kind("TASK_DETAIL"), AtomDetailKind::kTask);
  EXPECT_THROW((void)parse_atom_detail_kind("FLOW_DETAIL"), InvalidFormat);
}

TEST(AtomDetailDict, BadFieldsAreNamed) {
  for (const std::string field : {"state", "intention", "name", "uuid"}) {
    Value bad = kAddDict;
    bad[field] = Value::array();
    try {
      (void)AtomDetail::from_dict(bad, AtomDetailKind::kTask);
      ADD_FAILURE() << "accepted a bad " << field;
    } catch (const InvalidFormat& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << field << ": " << e.what();
    }
  }
  Value bad_state = kAddDict;
  bad_state["state"] = "SLEEPING";
  EXPECT_THROW((void)AtomDetail::from_dict(bad_state, AtomDetailKind::kTask), InvalidFormat);
  EXPECT_THROW((void)AtomDetail::from_dict(Value::array(), AtomDetailKind::kTask), InvalidFormat);
}

TEST(AtomDetailMerge, TakesEveryFieldButIdentity) {
  AtomDetail mine = AtomDetail::from_dict(kAddDict, AtomDetailKind::kTask);
  AtomDetail theirs = AtomDetail::from_dict(kChargeDict, AtomDetailKind::kTask);
  mine.merge(theirs);
  EXPECT_EQ(mine.name, "add");
  EXPECT_EQ(mine.uuid, "1835b024-8674-445c-bc24-2f4542489a29");
  EXPECT_EQ(mine.state, AtomState::kReverted);
  EXPECT_EQ(mine.intention, Intention::kRevert);
  EXPECT_EQ(mine.results, nullptr);
  ASSERT_TRUE(mine.failure.has_value());
  EXPECT_TRUE(mine.failure->matches(*theirs.failure));
}

TEST(FlowDetailDict, RoundTripsTaskFlowsDict) {
  const Value dict = Value::parse(R"({
    "name": "orders-ok",
    "meta": {"factory": {"name": "dump_models.make_orders_flow", "args": [], "kwargs": {}}},
    "state": "SUCCESS", "uuid": "aaaaaaaa-0000-4000-8000-00000000000a"})");
  const FlowDetail f = FlowDetail::from_dict(dict);
  EXPECT_EQ(f.state, FlowState::kSuccess);
  EXPECT_EQ(f.meta.at("factory").at("name"), "dump_models.make_orders_flow");
  EXPECT_EQ(f.to_dict(), dict);
}

TEST(FlowDetailDict, StateIsNullUntilRun) {
  FlowDetail f = make_flow_detail("fresh");
  EXPECT_FALSE(f.state.has_value());
  EXPECT_EQ(f.to_dict().at("state"), nullptr);
  EXPECT_FALSE(FlowDetail::from_dict(f.to_dict()).state.has_value());
}

TEST(FlowDetailMerge, MergesAtomsByUuidAndAddsNewOnes) {
  FlowDetail mine = make_flow_detail("f");
  AtomDetail a = AtomDetail::from_dict(kAddDict, AtomDetailKind::kTask);
  mine.atoms.push_back(a);
  FlowDetail theirs = mine;
  theirs.state = FlowState::kRunning;
  theirs.atoms[0].state = AtomState::kRunning;
  AtomDetail b = AtomDetail::from_dict(kChargeDict, AtomDetailKind::kTask);
  theirs.atoms.push_back(b);
  mine.merge(theirs);
  EXPECT_EQ(mine.state, FlowState::kRunning);
  ASSERT_EQ(mine.atoms.size(), 2u);
  EXPECT_EQ(mine.find(a.uuid)->state, AtomState::kRunning);
  EXPECT_NE(mine.find_by_name("charge"), nullptr);
  EXPECT_EQ(mine.find_by_name("nothing"), nullptr);
}

TEST(LogBookDict, DatetimesAsStringsOrMarshalled) {
  const Value dict = Value::parse(R"({
    "name": "orders-book-ok", "meta": {}, "uuid": "662801ee-f829-434c-8e05-8143e333c7a6",
    "updated_at": {"day": 23, "month": 11, "year": 2026, "hour": 7, "minute": 22,
                   "second": 53, "microsecond": 510866},
    "created_at": {"day": 23, "month": 11, "year": 2026, "hour": 7, "minute": 22,
                   "second": 53, "microsecond": 225832}})");
  const LogBook book = LogBook::from_dict(dict);
  EXPECT_EQ(book.to_dict(/*marshal_time=*/true), dict);
  const Value plain = book.to_dict();
  EXPECT_EQ(plain.at("created_at"), "2026-11-23T07:22:53.225832");
  EXPECT_EQ(plain.at("updated_at"), "2026-11-23T07:22:53.510866");
  EXPECT_EQ(LogBook::from_dict(plain), book);
  EXPECT_FALSE(plain.contains("flows"));
}

TEST(LogBookDict, NewBookHasCreatedAtOnly) {
  const LogBook book = make_logbook("b");
  EXPECT_TRUE(book.created_at.has_value());
  EXPECT_FALSE(book.updated_at.has_value());
  EXPECT_EQ(book.to_dict().at("updated_at"), nullptr);
  EXPECT_NE(make_logbook("b").uuid, book.uuid);
}

TEST(LogBookMerge, KeepsFlowsTheOtherDoesNotMention) {
  LogBook mine = make_logbook("b");
  mine.flows.push_back(make_flow_detail("one"));
  LogBook theirs = mine;
  theirs.flows = {make_flow_detail("two")};
  theirs.meta = {{"k", "v"}};
  mine.merge(theirs);
  EXPECT_EQ(mine.flows.size(), 2u);
  EXPECT_EQ(mine.meta.at("k"), "v");
}

TEST(LogBookDict, DatetimesReadEveryYearPythonCanHold) {
  // Past 2262 the nanoseconds of system_clock overflow: these once went through them.
  Value dict = LogBook::from_dict(Value{{"name", "b"}, {"uuid", "u"}}).to_dict();
  dict["created_at"] = "5026-11-23T07:21:56.273003";
  dict["updated_at"] = Value{{"day", 31},    {"month", 12},  {"year", 9999},         {"hour", 23},
                             {"minute", 59}, {"second", 59}, {"microsecond", 999999}};
  const LogBook book = LogBook::from_dict(dict);
  EXPECT_EQ(book.to_dict()["created_at"], "5026-11-23T07:21:56.273003");
  EXPECT_EQ(book.to_dict()["updated_at"], "9999-12-31T23:59:59.999999");
  EXPECT_EQ(LogBook::from_dict(book.to_dict(/*marshal_time=*/true)), book);
}

TEST(LogBookDict, DatetimesPythonCannotHoldAreInvalidFormat) {
  Value dict = LogBook::from_dict(Value{{"name", "b"}, {"uuid", "u"}}).to_dict();
  const Value good{{"day", 23},    {"month", 11},  {"year", 2026},         {"hour", 7},
                   {"minute", 21}, {"second", 56}, {"microsecond", 273003}};
  for (const auto& [field, value] :
       std::vector<std::pair<const char*, Value>>{{"year", 10000},
                                                  {"year", 1e300},
                                                  {"year", -2147483647},
                                                  {"month", 13},
                                                  {"day", 0},
                                                  {"hour", 24},
                                                  {"second", 60},
                                                  {"microsecond", -1},
                                                  {"microsecond", 1.5}}) {
    Value bad_time = good;
    bad_time[field] = value;
    dict["created_at"] = bad_time;
    EXPECT_THROW((void)LogBook::from_dict(dict), InvalidFormat) << bad_time.dump();
  }
  // Text: a fraction that is not digits was a std::invalid_argument from std::stol.
  for (const char* text : {"2026-11-23 07:21:56.abc", "2026-11-23 07:21:56.-5",
                           "2026-02-30 07:21:56.000000", "20260-11-23 07:21:56"}) {
    dict["created_at"] = text;
    EXPECT_THROW((void)LogBook::from_dict(dict), InvalidFormat) << text;
  }
  dict["created_at"] = "2026-11-23 07:21:56.5";  // half a second, as Python reads it
  EXPECT_EQ(LogBook::from_dict(dict).to_dict()["created_at"], "2026-11-23T07:21:56.500000");
}

// Stored records are read within caboose/core/decode.h's kRecordLimits.
std::string stored_error(const std::string& text) {
  try {
    (void)detail::parse_stored_json(text, "atom detail u column results");
  } catch (const InvalidFormat& e) {
    return e.what();
  }
  return "(no InvalidFormat)";
}

TEST(StoredJson, DeeplyNestedRecordIsRefusedNamingTheLimit) {
  const auto nested = [](std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  EXPECT_TRUE(detail::parse_stored_json(nested(kMaxNesting), "r").is_array());
  EXPECT_NE(stored_error(nested(kMaxNesting + 1))
                .find("atom detail u column results nests deeper than the limit of 1000 levels"),
            std::string::npos);
  EXPECT_NE(stored_error(nested(500'000)).find("nests deeper"), std::string::npos);
}

TEST(StoredJson, OversizedRecordIsRefusedNamingTheLimit) {
  const std::string big = '"' + std::string(16u << 20, 'r') + '"';
  EXPECT_NE(stored_error(big).find("over the limit of 16777216 bytes"), std::string::npos);
  EXPECT_EQ(detail::parse_stored_json('"' + std::string(8u << 20, 'r') + '"', "r")
                .get_ref<const std::string&>()
                .size(),
            8u << 20);
}

TEST(SqlRows, DeeplyNestedFailureColumnIsInvalidFormat) {
  // A failure whose causes nest 100000 deep: refused before Failure::from_dict recurses.
  std::string failure;
  for (int i = 0; i < 100'000; ++i) {
    failure += R"({"exception_str": "x", "exc_type_names": ["E"], "version": 1, "causes": [)";
  }
  detail::AtomRow row;
  row.name = "a";
  row.uuid = "u";
  row.state = "FAILURE";
  row.failure = failure;
  try {
    (void)detail::atom_from_row(row);
    ADD_FAILURE() << "a failure nested 200000 levels deep was read";
  } catch (const InvalidFormat& e) {
    EXPECT_NE(std::string(e.what()).find("atom detail u column failure nests deeper"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace caboose::persistence
