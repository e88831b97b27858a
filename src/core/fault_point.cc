#include "caboose/core/fault_point.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "caboose/core/errors.h"

#include "core/log.h"

namespace caboose {
namespace detail {
std::atomic<bool> fault_points_armed{false};
}  // namespace detail

namespace {

constexpr const char* kVariable = "CABOOSE_FAULT_POINTS";

struct Armed {
  std::mutex mu;
  std::vector<FaultSpec> specs;                 // Guarded by mu.
  std::mt19937_64 rng{std::random_device{}()};  // Guarded by mu.
};

Armed& armed() {
  static Armed a;
  return a;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
  }
  while (!s.empty() && s.back() == ' ') {
    s.remove_suffix(1);
  }
  return s;
}

FaultSpec parse_one(std::string_view entry) {
  const std::size_t eq = entry.find('=');
  if (eq == std::string_view::npos) {
    throw InvalidArgument(
        fmt::format("fault point entry '{}': expected point=action[@probability]", entry));
  }
  FaultSpec spec;
  spec.point = std::string(trim(entry.substr(0, eq)));
  const auto& known = known_fault_points();
  if (std::find(known.begin(), known.end(), spec.point) == known.end()) {
    throw InvalidArgument(fmt::format("fault point entry '{}': no point named '{}' (known: {})",
                                      entry, spec.point, fmt::join(known, ", ")));
  }
  std::string_view rest = trim(entry.substr(eq + 1));
  const std::size_t at = rest.find('@');
  const std::string_view action = trim(rest.substr(0, at));
  if (action == "kill") {
    spec.action = FaultAction::kKill;
  } else if (action == "abort") {
    spec.action = FaultAction::kAbort;
  } else {
    throw InvalidArgument(fmt::format(
        "fault point entry '{}': unknown action '{}' (known: kill, abort)", entry, action));
  }
  if (at != std::string_view::npos) {
    const std::string text(trim(rest.substr(at + 1)));
    std::size_t used = 0;
    double p = 0;
    try {
      p = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() || !(p > 0.0 && p <= 1.0)) {
      throw InvalidArgument(fmt::format(
          "fault point entry '{}': probability '{}' is not a number in (0, 1]", entry, text));
    }
    spec.probability = p;
  }
  return spec;
}

}  // namespace

const std::vector<std::string>& known_fault_points() {
  static const std::vector<std::string> points = {"conductor.before_consume",
                                                  "conductor.after_consume"};
  return points;
}

std::vector<FaultSpec> parse_fault_points(std::string_view text) {
  std::vector<FaultSpec> specs;
  std::set<std::string> seen;
  while (!trim(text).empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (entry.empty()) {
      throw InvalidArgument("fault points: an empty entry (two commas in a row?)");
    }
    FaultSpec spec = parse_one(entry);
    if (!seen.insert(spec.point).second) {
      throw InvalidArgument(fmt::format("fault points: '{}' is named twice", spec.point));
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

void arm_fault_points(std::vector<FaultSpec> specs) {
  Armed& a = armed();
  std::lock_guard lock(a.mu);
  const bool any = !specs.empty();
  a.specs = std::move(specs);
  detail::fault_points_armed.store(any, std::memory_order_relaxed);
}

std::size_t arm_fault_points_from_env() {
  const char* value = std::getenv(kVariable);
  if (value == nullptr || *value == '\0') {
    return 0;
  }
  std::vector<FaultSpec> specs;
  try {
    specs = parse_fault_points(value);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("{}: {}", kVariable, e.what()));
  }
  const std::size_t n = specs.size();
  for (const FaultSpec& spec : specs) {
    detail::log().warn("fault point armed point={} action={} probability={}", spec.point,
                       spec.action == FaultAction::kKill ? "kill" : "abort", spec.probability);
  }
  arm_fault_points(std::move(specs));
  return n;
}

namespace detail {

void pass_fault_point(std::string_view name, const std::string& context) {
  FaultAction action = FaultAction::kKill;
  {
    Armed& a = armed();
    std::lock_guard lock(a.mu);
    const auto it = std::find_if(a.specs.begin(), a.specs.end(),
                                 [&](const FaultSpec& s) { return s.point == name; });
    if (it == a.specs.end()) {
      return;
    }
    if (it->probability < 1.0 &&
        std::uniform_real_distribution<double>(0.0, 1.0)(a.rng) >= it->probability) {
      return;
    }
    action = it->action;
  }
  log().warn("fault point {} fires: {} {}", name, action == FaultAction::kKill ? "kill" : "abort",
             context);
  log().flush();
  if (action == FaultAction::kKill) {
    ::kill(::getpid(), SIGKILL);
  }
  std::abort();  // kAbort, or a SIGKILL that has not landed yet
}

}  // namespace detail
}  // namespace caboose
