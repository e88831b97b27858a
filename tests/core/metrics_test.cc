#include "caboose/core/metrics.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"

#include "persistence/temp_dir.h"
#include "support/run_command.h"

namespace caboose {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Prometheus's own parser and linter (promtool, Debian's prometheus package) accept `page`:
// run_command fails the test with promtool's words otherwise.
void expect_promtool_accepts(const std::string& page) {
  persistence::testing::TempDir dir;
  const std::string file = (dir / "metrics.txt").string();
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fwrite(page.data(), 1, page.size(), f);
  std::fclose(f);
  (void)caboose::testing::run_command("promtool check metrics < " + file);
}

TEST(Metrics, CountersGaugesAndHistogramsRenderInTheTextFormat) {
  MetricsRegistry m;
  m.counter("caboose_jobs_consumed_total", "Jobs consumed").inc();
  m.counter("caboose_jobs_consumed_total", "Jobs consumed").inc(2);
  m.counter("caboose_jobs_trashed_total", "Jobs trashed, by reason", {{"reason", "max_attempts"}})
      .inc();
  m.gauge("caboose_board_jobs", "Jobs on the board",
          {{"state", "unclaimed"}, {"priority", "NORMAL"}})
      .set(7);
  Histogram& h = m.histogram("caboose_claim_duration_seconds", "Claim latency", {0.01, 0.1, 1});
  h.observe(0.005);
  h.observe(0.01);  // on a bound: counted in that bucket (le is "less or equal")
  h.observe(0.5);
  h.observe(20);
  const std::string page = m.expose();
  EXPECT_TRUE(contains(page,
                       "# HELP caboose_jobs_consumed_total Jobs consumed\n"
                       "# TYPE caboose_jobs_consumed_total counter\n"
                       "caboose_jobs_consumed_total 3\n"))
      << page;
  EXPECT_TRUE(contains(page, "caboose_jobs_trashed_total{reason=\"max_attempts\"} 1\n")) << page;
  // Labels sorted by name.
  EXPECT_TRUE(contains(page, "caboose_board_jobs{priority=\"NORMAL\",state=\"unclaimed\"} 7\n"))
      << page;
  EXPECT_TRUE(contains(page,
                       "# TYPE caboose_claim_duration_seconds histogram\n"
                       "caboose_claim_duration_seconds_bucket{le=\"0.01\"} 2\n"
                       "caboose_claim_duration_seconds_bucket{le=\"0.1\"} 2\n"
                       "caboose_claim_duration_seconds_bucket{le=\"1\"} 3\n"
                       "caboose_claim_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                       "caboose_claim_duration_seconds_sum 20.515\n"
                       "caboose_claim_duration_seconds_count 4\n"))
      << page;
  // Families sorted by name.
  EXPECT_LT(page.find("caboose_board_jobs"), page.find("caboose_claim_duration_seconds"));
  expect_promtool_accepts(page);
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry m;
  m.counter("odd_total", "Help with a \\ backslash\nand a newline", {{"who", "a \"quoted\"\\\nx"}})
      .inc();
  const std::string page = m.expose();
  EXPECT_TRUE(contains(page, "# HELP odd_total Help with a \\\\ backslash\\nand a newline\n"))
      << page;
  EXPECT_TRUE(contains(page, "odd_total{who=\"a \\\"quoted\\\"\\\\\\nx\"} 1\n")) << page;
  expect_promtool_accepts(page);
}

TEST(Metrics, SpecialValuesRenderAsPrometheusReadsThem) {
  MetricsRegistry m;
  m.gauge("g_nan", "nan").set(std::numeric_limits<double>::quiet_NaN());
  m.gauge("g_inf", "inf").set(std::numeric_limits<double>::infinity());
  m.gauge("g_small", "small").set(0.000125);
  m.gauge("g_big", "big").set(1.5e20);
  m.gauge("g_neg", "neg").set(-3);
  const std::string page = m.expose();
  EXPECT_TRUE(contains(page, "g_nan NaN\n")) << page;
  EXPECT_TRUE(contains(page, "g_inf +Inf\n")) << page;
  EXPECT_TRUE(contains(page, "g_small 0.000125\n")) << page;
  EXPECT_TRUE(contains(page, "g_neg -3\n")) << page;
  expect_promtool_accepts(page);
}

TEST(Metrics, CountersOnlyGoUp) {
  MetricsRegistry m;
  Counter& c = m.counter("c_total", "c");
  c.inc(-5);
  c.inc(std::numeric_limits<double>::quiet_NaN());
  c.inc(0.5);
  EXPECT_EQ(c.value(), 0.5);
}

TEST(Metrics, BadNamesAndMismatchesAreRefused) {
  MetricsRegistry m;
  EXPECT_THROW(m.counter("", "x"), InvalidArgument);
  EXPECT_THROW(m.counter("9lives", "x"), InvalidArgument);
  EXPECT_THROW(m.counter("has-dash", "x"), InvalidArgument);
  EXPECT_THROW(m.counter("ok_total", "x", {{"bad-label", "v"}}), InvalidArgument);
  EXPECT_THROW(m.counter("ok_total", "x", {{"__reserved", "v"}}), InvalidArgument);
  EXPECT_THROW(m.counter("ok_total", "x", {{"a", "1"}, {"a", "2"}}), InvalidArgument);
  EXPECT_THROW(m.histogram("h", "x", {1, 0.5}), InvalidArgument);
  EXPECT_THROW(m.histogram("h2", "x", {1}, {{"le", "1"}}), InvalidArgument);
  m.counter("taken_total", "x");
  EXPECT_THROW(m.gauge("taken_total", "x"), InvalidArgument);
  EXPECT_THROW(m.counter("taken_total", "other help"), InvalidArgument);
  m.histogram("h3", "x", {1, 2});
  EXPECT_THROW(m.histogram("h3", "x", {1, 3}), InvalidArgument);
  // The same name, help and labels is the same metric.
  EXPECT_EQ(&m.counter("taken_total", "x"), &m.counter("taken_total", "x"));
  EXPECT_EQ(&m.counter("l_total", "x", {{"b", "1"}, {"a", "2"}}),
            &m.counter("l_total", "x", {{"a", "2"}, {"b", "1"}}));
  expect_promtool_accepts(m.expose());
}

TEST(Metrics, CollectorsRunAtEachScrapeAndAFailingOneIsCounted) {
  MetricsRegistry m;
  int scrapes = 0;
  m.add_collector([&](MetricsRegistry& r) { r.gauge("depth", "d").set(++scrapes); });
  m.add_collector([](MetricsRegistry&) { throw StorageFailure("board unreachable"); });
  EXPECT_TRUE(contains(m.expose(), "depth 1\n"));
  const std::string page = m.expose();
  EXPECT_TRUE(contains(page, "depth 2\n")) << page;
  EXPECT_TRUE(contains(page, "caboose_metrics_collector_errors_total 2\n")) << page;
}

TEST(Metrics, UpdatesFromManyThreadsAreAllCounted) {
  MetricsRegistry m;
  Counter& c = m.counter("c_total", "c");
  Histogram& h = m.histogram("h_seconds", "h", Histogram::kSecondsBuckets);
  Gauge& g = m.gauge("g", "g");
  std::vector<std::jthread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.002);
        g.add(1);
        if (i % 1000 == 0) {
          (void)m.expose();  // scrapes meanwhile
        }
      }
    });
  }
  threads.clear();
  EXPECT_EQ(c.value(), 40000);
  EXPECT_EQ(g.value(), 40000);
  EXPECT_EQ(h.snapshot().count, 40000u);
  EXPECT_NEAR(h.snapshot().sum, 80, 1e-6);
}

}  // namespace
}  // namespace caboose
