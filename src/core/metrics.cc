#include "caboose/core/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose {
namespace {

enum Type { kCounter, kGauge, kHistogram };

const char* type_name(int type) {
  switch (type) {
    case kCounter:
      return "counter";
    case kGauge:
      return "gauge";
    default:
      return "histogram";
  }
}

bool valid_name(const std::string& name, bool label) {
  if (name.empty() || (label && name.rfind("__", 0) == 0)) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) {
      return false;
    }
  }
  return true;
}

void add_atomic(std::atomic<double>& a, double v) noexcept {
  double old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

// A sample value as Prometheus reads it (Go's ParseFloat): integers without a fraction.
std::string number(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return fmt::format("{}", static_cast<std::int64_t>(v));
  }
  return fmt::format("{}", v);  // shortest round-trip form
}

// HELP text escapes backslash and newline; label values also the double quote.
std::string escape(const std::string& text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"} (with `extra` last, for a histogram's le), or "" without labels.
std::string render_labels(const MetricLabels& labels, const std::string& extra = {}) {
  if (labels.empty() && extra.empty()) {
    return {};
  }
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    out += fmt::format("{}{}=\"{}\"", out.size() > 1 ? "," : "", name, escape(value, true));
  }
  if (!extra.empty()) {
    out += (out.size() > 1 ? "," : "") + extra;
  }
  return out + "}";
}

}  // namespace

const std::vector<double> Histogram::kSecondsBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

void Counter::inc(double v) noexcept {
  if (v > 0) {
    add_atomic(value_, v);
  }
}

void Gauge::add(double v) noexcept {
  add_atomic(value_, v);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double v) noexcept {
  const auto at = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v
  counts_[static_cast<std::size_t>(at - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  add_atomic(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  s.count = total;  // consistent with the buckets even while others observe
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

struct MetricsRegistry::Family {
  std::string help;
  int type = kCounter;
  std::vector<double> bounds;
  // Sorted labels -> the metric (one of the three).
  std::map<MetricLabels, std::unique_ptr<Counter>> counters;
  std::map<MetricLabels, std::unique_ptr<Gauge>> gauges;
  std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help,
                                                 int type, const std::vector<double>* bounds) {
  if (!valid_name(name, /*label=*/false)) {
    throw InvalidArgument(fmt::format("'{}' is not a valid metric name", name));
  }
  auto [it, added] = families_.try_emplace(name);
  if (added) {
    it->second = std::make_unique<Family>();
    it->second->help = help;
    it->second->type = type;
    if (bounds != nullptr) {
      if (!std::is_sorted(bounds->begin(), bounds->end()) ||
          std::adjacent_find(bounds->begin(), bounds->end()) != bounds->end() ||
          std::any_of(bounds->begin(), bounds->end(), [](double b) { return std::isnan(b); })) {
        families_.erase(it);
        throw InvalidArgument(
            fmt::format("histogram {}: bucket bounds must be increasing numbers", name));
      }
      it->second->bounds = *bounds;
    }
    return *it->second;
  }
  Family& f = *it->second;
  if (f.type != type) {
    throw InvalidArgument(
        fmt::format("metric {} is a {}, not a {}", name, type_name(f.type), type_name(type)));
  }
  if (f.help != help) {
    throw InvalidArgument(fmt::format("metric {} was registered with other help text", name));
  }
  if (bounds != nullptr && f.bounds != *bounds) {
    throw InvalidArgument(fmt::format("histogram {} was registered with other buckets", name));
  }
  return f;
}

namespace {
MetricLabels sorted_labels(MetricLabels labels, const std::string& metric, bool histogram) {
  std::sort(labels.begin(), labels.end());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i].first;
    if (!valid_name(label, /*label=*/true) || (histogram && label == "le") ||
        (i > 0 && labels[i - 1].first == label)) {
      throw InvalidArgument(
          fmt::format("metric {}: '{}' is not a valid label here", metric, label));
    }
  }
  return labels;
}
}  // namespace

namespace {
// The metric of `labels` in `slots`, made on first use.
template <class Metric, class... Args>
Metric& slot(std::map<MetricLabels, std::unique_ptr<Metric>>& slots, MetricLabels labels,
             Args&&... args) {
  auto& p = slots[std::move(labels)];
  if (!p) {
    p = std::make_unique<Metric>(std::forward<Args>(args)...);
  }
  return *p;
}
}  // namespace

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  MetricLabels labels) {
  labels = sorted_labels(std::move(labels), name, false);
  std::lock_guard lock(mu_);
  return slot(family(name, help, kCounter, nullptr).counters, std::move(labels));
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              MetricLabels labels) {
  labels = sorted_labels(std::move(labels), name, false);
  std::lock_guard lock(mu_);
  return slot(family(name, help, kGauge, nullptr).gauges, std::move(labels));
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      const std::vector<double>& bounds, MetricLabels labels) {
  labels = sorted_labels(std::move(labels), name, true);
  std::lock_guard lock(mu_);
  Family& f = family(name, help, kHistogram, &bounds);
  return slot(f.histograms, std::move(labels), f.bounds);
}

void MetricsRegistry::add_collector(std::function<void(MetricsRegistry&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::expose() {
  {
    std::lock_guard collecting(collect_mu_);
    std::vector<std::function<void(MetricsRegistry&)>> collectors;
    {
      std::lock_guard lock(mu_);
      collectors = collectors_;
    }
    for (const auto& collect : collectors) {
      try {
        collect(*this);
      } catch (...) {
        counter("caboose_metrics_collector_errors_total",
                "Scrapes at which a metrics collector failed (its gauges kept their last values)")
            .inc();
      }
    }
  }
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(f->help, false), name,
                       type_name(f->type));
    for (const auto& [labels, c] : f->counters) {
      out += fmt::format("{}{} {}\n", name, render_labels(labels), number(c->value()));
    }
    for (const auto& [labels, g] : f->gauges) {
      out += fmt::format("{}{} {}\n", name, render_labels(labels), number(g->value()));
    }
    for (const auto& [labels, h] : f->histograms) {
      const Histogram::Snapshot s = h->snapshot();
      for (std::size_t i = 0; i <= s.bounds.size(); ++i) {
        const std::string le = i < s.bounds.size() ? number(s.bounds[i]) : "+Inf";
        out += fmt::format("{}_bucket{} {}\n", name, render_labels(labels, "le=\"" + le + "\""),
                           s.cumulative[i]);
      }
      out += fmt::format("{}_sum{} {}\n", name, render_labels(labels), number(s.sum));
      out += fmt::format("{}_count{} {}\n", name, render_labels(labels), s.count);
    }
  }
  return out;
}

}  // namespace caboose
