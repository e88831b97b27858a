// `caboose serve`: its pages in a real headless Chromium (links followed, a trashed job requeued
// with the bin's button, screenshots kept under the build's test-artifacts/web/), and what it
// refuses: writes without --allow-write, posts from another origin, markup in job names.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "caboose/conductors/conductor.h"
#include "caboose/conductors/examples.h"
#include "caboose/conductors/post.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

#include "persistence/temp_dir.h"
#include "support/child_process.h"
#include "support/http_client.h"
#include "support/run_command.h"

namespace caboose::cli {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ChildProcess;
using caboose::testing::http_request;
using caboose::testing::wait_until;

class WebViewTest : public ::testing::Test {
 protected:
  WebViewTest()
      : board_uri_("sqlite:///" + (dir_ / "board.db").string()),
        flows_uri_("sqlite:///" + (dir_ / "flows.db").string()),
        board_(jobs::fetch_jobboard(board_uri_)),
        backend_(persistence::fetch(flows_uri_)) {
    conductors::add_example_flows(registry_);
  }

  jobs::Job post(const std::string& name, conductors::FactoryCall factory, Value store = nullptr,
                 jobs::PostOptions options = {}) {
    return conductors::post_flow_job(*board_, *backend_,
                                     {.name = name,
                                      .factory = std::move(factory),
                                      .store = std::move(store),
                                      .options = std::move(options)});
  }

  // Runs what is claimable now with an in-process conductor.
  void run_conductor(std::size_t jobs) {
    conductors::BlockingConductor conductor("web-view-test", *board_, *backend_, registry_,
                                            {.wait_timeout = 20ms});
    conductor.run(jobs);
  }

  // `caboose serve` on a free port; the port it announced.
  int serve(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {CABOOSE_BIN,     "serve",    "--board", board_uri_,
                                     "--persistence", flows_uri_, "--port",  "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ChildProcess>(
        argv, (dir_ / ("serve-" + std::to_string(++servers_) + ".out")).string());
    std::optional<int> port;
    EXPECT_TRUE(wait_until(
        [&] { return (port = caboose::testing::announced_port(server_->output())); }, 30s))
        << server_->output();
    return port.value_or(0);
  }

  persistence::testing::TempDir dir_;
  const std::string board_uri_;
  const std::string flows_uri_;
  std::unique_ptr<jobs::JobBoard> board_;
  std::unique_ptr<persistence::Backend> backend_;
  conductors::FlowRegistry registry_;
  std::unique_ptr<ChildProcess> server_;
  int servers_ = 0;
};

TEST_F(WebViewTest, AnOperatorFollowsTheLinksAndRequeuesATrashedJobInChromium) {
  const jobs::Job sum = post("sum-1", {.name = "caboose.examples.sum"}, Value{{"x", 2}, {"y", 3}});
  post("sum-2", {.name = "caboose.examples.sum"}, Value{{"x", 4}, {"y", 5}});
  const jobs::Job poison =
      post("poison", {.name = "caboose.examples.poison"}, nullptr, {.max_attempts = 1});
  run_conductor(3);
  post("later", {.name = "caboose.examples.sum"}, nullptr,
       {.not_before = jobs::now() + std::chrono::hours(1)});
  ASSERT_EQ(board_->trashed().size(), 1u);
  const int port = serve({"--allow-write"});
  ASSERT_GT(port, 0);

  const std::string shots = std::string(CABOOSE_ARTIFACTS_DIR) + "/web";
  const std::string out = caboose::testing::run_command(
      "/usr/bin/python3 " + std::string(CABOOSE_TOOLS_TEST_DIR) + "/browser.py " +
      std::to_string(port) + " " + shots + " " + poison.uuid + " " +
      sum.details["flow_uuid"].get<std::string>());
  const Value seen = Value::parse(out.substr(out.find('{')));
  EXPECT_EQ(seen["board_jobs"], 1) << out;  // "later", waiting
  EXPECT_EQ(seen["board_bin"], 1) << out;
  EXPECT_NE(seen["bin_reason"].get<std::string>().find("failed 1 of 1 attempts"), std::string::npos)
      << out;
  EXPECT_EQ(seen["job_title"], "Job poison") << out;
  EXPECT_NE(seen["done"].get<std::string>().find("requeued poison"), std::string::npos) << out;
  EXPECT_EQ(seen["bin_after"], 0) << out;
  EXPECT_EQ(seen["requeued_state"], "claimable") << out;
  EXPECT_EQ(seen["flow_state"], "SUCCESS") << out;
  EXPECT_GE(seen["graph_nodes"].get<int>(), 3) << out;  // start, sum, end
  EXPECT_EQ(seen["sum_state"], "SUCCESS") << out;
  EXPECT_EQ(seen["sum_result"], "5") << out;
  EXPECT_EQ(seen["conductors_title"], "Conductors") << out;

  // The button really moved the job: back on the board, its attempts reset.
  const std::optional<jobs::Job> back = board_->find(poison.uuid);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->state, jobs::JobState::kUnclaimed);
  EXPECT_EQ(back->attempts, 0);
  EXPECT_TRUE(board_->trashed().empty());
  for (const char* shot : {"board", "bin", "job", "bin-after-requeue", "jobs", "flow"}) {
    EXPECT_TRUE(std::filesystem::exists(shots + "/" + shot + ".png")) << shot;
  }
}

TEST_F(WebViewTest, WritesAreRefusedUnlessAllowedAndFromTheViewsOwnPages) {
  const jobs::Job poison =
      post("poison", {.name = "caboose.examples.poison"}, nullptr, {.max_attempts = 1});
  run_conductor(1);
  const std::string form = "job=" + poison.uuid + "&confirm=yes";
  {
    const int port = serve();
    const auto reply = http_request(port, "POST", "/bin/requeue", form);
    EXPECT_EQ(reply.status, 403) << reply.body;
    EXPECT_NE(reply.body.find("--allow-write"), std::string::npos) << reply.body;
    EXPECT_EQ(http_request(port, "POST", "/bin/purge-all", "confirm=yes").status, 403);
    EXPECT_NE(http_request(port, "GET", "/bin").body.find("Read-only"), std::string::npos);
    server_.reset();
  }
  EXPECT_EQ(board_->trashed().size(), 1u);
  const int port = serve({"--allow-write"});
  // Not confirmed; no job named; a job not in the bin.
  EXPECT_EQ(http_request(port, "POST", "/bin/requeue", "job=" + poison.uuid).status, 400);
  EXPECT_EQ(http_request(port, "POST", "/bin/requeue", "confirm=yes").status, 400);
  EXPECT_EQ(http_request(port, "POST", "/bin/requeue", "job=nope&confirm=yes").status, 404);
  // A form another site makes the operator's browser post (cross-site request forgery).
  EXPECT_EQ(http_request(port, "POST", "/bin/purge", form, "application/x-www-form-urlencoded",
                         "Origin: http://evil.example\r\n")
                .status,
            403);
  EXPECT_EQ(board_->trashed().size(), 1u);
  const auto purged = http_request(port, "POST", "/bin/purge", form);
  EXPECT_EQ(purged.status, 303) << purged.body;
  EXPECT_NE(purged.head.find("Location: /bin?done="), std::string::npos) << purged.head;
  EXPECT_TRUE(board_->trashed().empty());
  EXPECT_FALSE(board_->find(poison.uuid).has_value());
}

TEST_F(WebViewTest, WhatPostersWroteIsShownAsTextNeverAsMarkup) {
  const jobs::Job evil = post("<script>alert('job')</script>", {.name = "caboose.examples.sum"},
                              Value{{"x", 1}, {"y", 2}});
  const int port = serve();
  const std::string jobs = http_request(port, "GET", "/jobs").body;
  EXPECT_EQ(jobs.find("<script>alert"), std::string::npos) << jobs;
  EXPECT_NE(jobs.find("&lt;script&gt;alert(&#39;job&#39;)&lt;/script&gt;"), std::string::npos)
      << jobs;
  const std::string job = http_request(port, "GET", "/jobs/" + evil.uuid).body;
  EXPECT_EQ(job.find("<script>alert"), std::string::npos) << job;
  EXPECT_EQ(http_request(port, "GET", "/jobs/no-such-job").status, 404);
  EXPECT_EQ(http_request(port, "GET", "/flows/no-such-flow").status, 404);
  EXPECT_EQ(http_request(port, "GET", "/nowhere").status, 404);
  EXPECT_EQ(http_request(port, "DELETE", "/bin").status, 405);
  const auto metrics = http_request(port, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("caboose_board_jobs{priority=\"NORMAL\",state=\"claimable\"} 1"),
            std::string::npos)
      << metrics.body;
}

}  // namespace
}  // namespace caboose::cli
