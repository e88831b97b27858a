// Metrics in Prometheus's text exposition format (version 0.0.4): counters, gauges and
// histograms, with labels, in a registry that renders them for a scrape. Updating a metric is a
// few atomic operations and takes no lock; only creating one (or a new label set) does, so keep
// the reference it returns. Debian 12 has no Prometheus client library for C++: this is the
// small one caboose needs, checked against Prometheus's own parser (promtool) by its tests.
//
//   caboose::MetricsRegistry metrics;
//   caboose::Counter& consumed = metrics.counter("caboose_jobs_consumed_total", "Jobs consumed");
//   consumed.inc();
//   caboose::Histogram& run = metrics.histogram("caboose_job_duration_seconds",
//       "Claim to outcome", caboose::Histogram::kSecondsBuckets, {{"factory", "orders.charge"}});
//   run.observe(0.25);
//   std::string page = metrics.expose();   // text/plain; version=0.0.4
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace caboose {

// Label names and values, in any order (rendered sorted by name).
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  // Adds `v` (>= 0; a negative or NaN one is ignored: counters only go up).
  void inc(double v = 1) noexcept;
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept;
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // Buckets for durations: 1 ms to 5 minutes.
  static const std::vector<double> kSecondsBuckets;

  // `bounds`: the buckets' upper bounds, increasing (+Inf is implied).
  explicit Histogram(std::vector<double> bounds);
  void observe(double v) noexcept;

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bound, then +Inf
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // The metric `name` with `labels`, made on first use; the reference stays valid as long as
  // the registry. Throws InvalidArgument for a name or label name Prometheus would refuse, a
  // name already registered as another type (or, for a histogram, other buckets), or help text
  // differing from the first registration.
  Counter& counter(const std::string& name, const std::string& help, MetricLabels labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, MetricLabels labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& bounds, MetricLabels labels = {});

  // Runs before every expose(), outside the registry's lock: sets gauges read from elsewhere
  // (a board's depth, say). A collector that throws is skipped for that scrape (its gauges keep
  // their last values) and counted in caboose_metrics_collector_errors_total.
  void add_collector(std::function<void(MetricsRegistry&)> collector);

  // Every metric in the text exposition format, families sorted by name.
  std::string expose();

 private:
  struct Family;
  Family& family(const std::string& name, const std::string& help, int type,
                 const std::vector<double>* bounds);

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;  // Guarded by mu_.
  std::mutex collect_mu_;                                    // one scrape's collectors at a time
  std::vector<std::function<void(MetricsRegistry&)>> collectors_;  // Guarded by mu_.
};

// The content type of expose()'s text.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace caboose
