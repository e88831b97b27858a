// The caboose command: its demo and its flags, through the same entry point main() uses.
#include "caboose/cli/cli.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/value.h"

#include "demo_command.h"
#include "jobs_command.h"

namespace caboose::cli {
namespace {

// Runs the command line `args` (without the program name); returns (exit code, stdout).
std::pair<int, std::string> run(std::vector<std::string> args) {
  args.insert(args.begin(), "caboose");
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  ::testing::internal::CaptureStdout();
  const int code = run_cli(static_cast<int>(argv.size()), argv.data());
  return {code, ::testing::internal::GetCapturedStdout()};
}

TEST(CliTest, DemoRevertsTheOrderAndSaysSo) {
  std::ostringstream out;
  EXPECT_EQ(run_demo(out, {.json = true}), 0);
  const Value summary = Value::parse(out.str());
  EXPECT_EQ(summary["state"], "REVERTED");
  EXPECT_FALSE(summary["error"].get<std::string>().empty());
  EXPECT_EQ(summary["atoms"]["ship"], "REVERTED");
  EXPECT_FALSE(summary["effects"].empty());
}

TEST(CliTest, DemoPrintsItsFlowAsDot) {
  const auto [code, out] = run({"demo", "--dot"});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out.rfind("digraph ", 0), 0u) << out;
  EXPECT_NE(out.find("\"charge_card\""), std::string::npos) << out;
}

TEST(CliTest, DemoSavedToSqliteIsListedAndShown) {
  std::string dir = (std::filesystem::temp_directory_path() / "caboose-cli-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string uri = "sqlite:///" + dir + "/demo.db";
  const auto [demo_code, demo_out] = run({"demo", "--json", "--persistence", uri});
  ASSERT_EQ(demo_code, 0) << demo_out;
  const std::string book = Value::parse(demo_out)["logbook"].get<std::string>();

  const auto [list_code, list_out] = run({"books", "list", "--persistence", uri, "--json"});
  ASSERT_EQ(list_code, 0);
  const Value books = Value::parse(list_out);
  ASSERT_EQ(books.size(), 1u);
  EXPECT_EQ(books[0]["uuid"], book);
  EXPECT_EQ(books[0]["flows"], 1);

  const auto [show_code, show_out] = run({"books", "show", book, "--persistence", uri, "--json"});
  ASSERT_EQ(show_code, 0);
  const Value shown = Value::parse(show_out);
  ASSERT_EQ(shown["flows"].size(), 1u);
  EXPECT_EQ(shown["flows"][0]["state"], "REVERTED");
  bool ship_seen = false;
  for (const Value& atom : shown["flows"][0]["atoms"]) {
    if (atom["name"] == "ship") {
      ship_seen = true;
      EXPECT_EQ(atom["state"], "REVERTED");
      EXPECT_FALSE(atom["failure"].is_null());
    }
  }
  EXPECT_TRUE(ship_seen) << show_out;

  const auto [table_code, table] = run({"books", "show", "caboose-demo", "--persistence", uri});
  EXPECT_EQ(table_code, 0);
  EXPECT_NE(table.find("charge_card"), std::string::npos) << table;
  EXPECT_NE(run({"books", "show", "no-such-book", "--persistence", uri}).first, 0);
  EXPECT_NE(run({"books", "list", "--persistence", "nosuch://x"}).first, 0);
  EXPECT_NE(run({"books", "list"}).first, 0);  // --persistence is required
  std::filesystem::remove_all(dir);
}

TEST(CliTest, JobsArePostedListedTrashedRequeuedAndPurged) {
  std::string dir = (std::filesystem::temp_directory_path() / "caboose-cli-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string board = "sqlite:///" + dir + "/board.db";
  const std::string flows = "sqlite:///" + dir + "/flows.db";
  const auto [post_code, post_out] =
      run({"jobs", "post", "charge", "--board", board, "--details", R"({"order": 17})",
           "--priority", "high", "--persistence", flows, "--factory", "orders.charge", "--json"});
  ASSERT_EQ(post_code, 0) << post_out;
  const Value posted = Value::parse(post_out);
  const std::string job = posted["uuid"].get<std::string>();
  EXPECT_EQ(posted["priority"], "HIGH");
  EXPECT_EQ(posted["details"]["order"], 17);
  ASSERT_TRUE(posted["details"]["flow_uuid"].is_string());

  // The logbook names the factory as TaskFlow's poster does.
  const auto [book_code, book_out] = run(
      {"books", "show", posted["book_uuid"].get<std::string>(), "--persistence", flows, "--json"});
  ASSERT_EQ(book_code, 0);
  const Value book = Value::parse(book_out);
  EXPECT_EQ(book["flows"][0]["uuid"], posted["details"]["flow_uuid"]);
  EXPECT_EQ(
      book["flows"][0]["meta"]["factory"],
      (Value{{"name", "orders.charge"}, {"args", Value::array()}, {"kwargs", Value::object()}}));

  const auto [list_code, list_out] = run({"jobs", "list", "--board", board, "--json"});
  ASSERT_EQ(list_code, 0);
  EXPECT_EQ(Value::parse(list_out).size(), 1u);
  EXPECT_EQ(run({"jobs", "show", job, "--board", board}).first, 0);
  EXPECT_EQ(run({"jobs", "trash", job, "--board", board, "--reason", "bad input"}).first, 0);
  const Value bin = Value::parse(run({"bin", "--board", board, "--json"}).second);
  ASSERT_EQ(bin.size(), 1u);
  EXPECT_EQ(bin[0]["trash_reason"], "bad input");
  EXPECT_EQ(run({"jobs", "requeue", job, "--board", board}).first, 0);
  EXPECT_EQ(Value::parse(run({"bin", "--board", board, "--json"}).second).size(), 0u);
  EXPECT_EQ(run({"jobs", "trash", job, "--board", board}).first, 0);
  EXPECT_EQ(run({"jobs", "purge", "--all", "--board", board}).first, 0);
  EXPECT_EQ(Value::parse(run({"jobs", "list", "--board", board, "--json"}).second).size(), 0u);

  EXPECT_NE(run({"jobs", "post", "x", "--board", board, "--details", "[1]"}).first, 0);
  EXPECT_NE(run({"jobs", "post", "x", "--board", board, "--priority", "urgent"}).first, 0);
  EXPECT_NE(run({"jobs", "post", "x", "--board", board, "--factory", "f"}).first, 0);
  EXPECT_NE(run({"jobs", "show", "no-such-job", "--board", board}).first, 0);
  EXPECT_NE(run({"jobs", "list", "--board", "nosuch://x"}).first, 0);
  EXPECT_NE(run({"jobs", "purge", "--board", board}).first, 0);
  std::filesystem::remove_all(dir);
}

TEST(CliTest, FlowsListsTheRegisteredFactories) {
  const auto [code, out] = run({"flows", "--json"});
  ASSERT_EQ(code, 0);
  std::vector<std::string> names;
  for (const Value& f : Value::parse(out)) {
    names.push_back(f["name"].get<std::string>());
  }
  for (const char* wanted : {"caboose.examples.sum", "caboose.examples.poison",
                             "caboose.examples.slow", "caboose.examples.crash_once"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), wanted), names.end()) << wanted;
  }
  conductors::FlowRegistry mine;
  mine.add(
      "orders.make", [](const Value&, const Value&) -> FlowPtr { return nullptr; }, "mine");
  std::vector<std::string> args = {"caboose", "flows"};
  std::vector<char*> argv = {args[0].data(), args[1].data()};
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_cli(2, argv.data(), mine), 0);
  const std::string listed = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(listed.find("orders.make"), std::string::npos);
  EXPECT_EQ(listed.find("caboose.examples.sum"), std::string::npos);
}

TEST(CliTest, ConductorRunsJobsAndClaimOwnerSaysWhoHoldsOne) {
  std::string dir = (std::filesystem::temp_directory_path() / "caboose-cli-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string board = "sqlite:///" + dir + "/board.db";
  const std::string flows = "sqlite:///" + dir + "/flows.db";
  const auto [post_code, post_out] =
      run({"jobs", "post", "sum", "--board", board, "--persistence", flows, "--factory",
           "caboose.examples.sum", "--store", R"({"x": 2, "y": 3})", "--count", "3", "--json"});
  ASSERT_EQ(post_code, 0) << post_out;
  const Value posted = Value::parse(post_out);
  ASSERT_EQ(posted.size(), 3u);
  const std::string job = posted[0]["uuid"].get<std::string>();
  EXPECT_EQ(run({"jobs", "claim-owner", job, "--board", board}).first, 3);  // nobody

  const auto [code, out] = run({"conductor", "--board", board, "--persistence", flows, "--drain",
                                "--wait-ms", "20", "--name", "cli-conductor", "--json"});
  ASSERT_EQ(code, 0) << out;
  const Value summary = Value::parse(out.substr(out.rfind('{')));
  EXPECT_EQ(summary["conductor"], "cli-conductor");
  EXPECT_EQ(summary["consumed"], 3);
  EXPECT_EQ(summary["trashed"], 0);
  const Value book = Value::parse(run({"books", "show", posted[0]["book_uuid"].get<std::string>(),
                                       "--persistence", flows, "--json"})
                                      .second);
  EXPECT_EQ(book["flows"][0]["state"], "SUCCESS");
  Value total;
  for (const Value& atom : book["flows"][0]["atoms"]) {
    if (atom["name"] == "sum") {
      total = atom["results"];
    }
  }
  EXPECT_EQ(total, 5);
  EXPECT_NE(run({"jobs", "claim-owner", job, "--board", board}).first, 0);  // consumed: gone

  EXPECT_NE(run({"conductor", "--board", "nosuch://x", "--persistence", flows}).first, 0);
  EXPECT_NE(run({"conductor", "--board", board, "--persistence", "nosuch://x"}).first, 0);
  EXPECT_NE(run({"conductor", "--board", board, "--persistence", flows, "--max-jobs", "0"}).first,
            0);
  EXPECT_NE(run({"conductor", "--board", board}).first, 0);  // --persistence is required
  std::filesystem::remove_all(dir);
}

TEST(CliTest, VersionBadFlagsAndTheExitCodesHelpDocuments) {
  const auto [code, out] = run({"--version"});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out.rfind("caboose ", 0), 0u) << out;
  const auto [help_code, help] = run({"--help"});
  EXPECT_EQ(help_code, 0);
  EXPECT_NE(help.find("Exit codes: 0 done; 1 failed"), std::string::npos) << help;
  EXPECT_NE(help.find("serve"), std::string::npos) << help;
  EXPECT_EQ(run({"demo", "--json", "--dot"}).first, kExitUsage);
  EXPECT_EQ(run({"no-such-command"}).first, kExitUsage);
  EXPECT_EQ(run({"jobs", "list"}).first, kExitUsage);  // --board is required
  EXPECT_EQ(run({"jobs", "list", "--board", "nosuch://x"}).first, kExitFailed);
}

TEST(CliTest, JobsWatchShowsTheBoardAsItChanges) {
  std::string dir = (std::filesystem::temp_directory_path() / "caboose-cli-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string board = "sqlite:///" + dir + "/board.db";
  ASSERT_EQ(run({"jobs", "post", "a", "--board", board, "--count", "3"}).first, 0);
  ASSERT_EQ(run({"jobs", "trash",
                 Value::parse(run({"jobs", "list", "--board", board, "--json"}).second)[0]["uuid"]
                     .get<std::string>(),
                 "--board", board})
                .first,
            0);
  const auto [code, out] =
      run({"jobs", "watch", "--board", board, "--count", "2", "--interval-ms", "20", "--json"});
  ASSERT_EQ(code, 0) << out;
  std::istringstream lines(out);
  int snapshots = 0;
  for (std::string line; std::getline(lines, line);) {
    const Value snapshot = Value::parse(line);
    EXPECT_EQ(snapshot["jobs"], 2) << line;
    EXPECT_EQ(snapshot["by_state"]["claimable"], 2) << line;
    EXPECT_EQ(snapshot["bin"], 1) << line;
    ++snapshots;
  }
  EXPECT_EQ(snapshots, 2) << out;
  const auto [text_code, text] = run({"jobs", "watch", "--board", board, "--count", "1"});
  EXPECT_EQ(text_code, 0);
  EXPECT_NE(text.find("2 jobs: 2 claimable, 0 waiting, 0 claimed; 1 in the bin"), std::string::npos)
      << text;
  EXPECT_EQ(run({"jobs", "watch", "--board", board, "--interval-ms", "0"}).first, kExitFailed);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace caboose::cli
