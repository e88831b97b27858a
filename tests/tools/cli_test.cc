// The caboose command: its demo and its flags, through the same entry point main() uses.
#include "cli.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/value.h"

#include "demo_command.h"

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

TEST(CliTest, VersionAndBadFlags) {
  const auto [code, out] = run({"--version"});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out.rfind("caboose ", 0), 0u) << out;
  EXPECT_NE(run({"demo", "--json", "--dot"}).first, 0);
  EXPECT_NE(run({"no-such-command"}).first, 0);
}

}  // namespace
}  // namespace caboose::cli
