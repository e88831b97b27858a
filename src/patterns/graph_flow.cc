#include "caboose/patterns/graph_flow.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose {

std::vector<FlowLink> GraphFlow::links() const {
  std::vector<FlowLink> links;
  links.reserve(edges_.size());
  for (const auto& [from, to] : edges_) {
    if (const auto it = deciders_.find({from, to}); it != deciders_.end()) {
      links.push_back({from, to, it->second.first, it->second.second});
    } else {
      links.push_back({from, to});
    }
  }
  return links;
}

const std::string& GraphFlow::item_name(std::size_t i) const {
  return i < size() ? items()[i].name() : pending_name_;
}

std::vector<std::size_t> GraphFlow::path(std::size_t from, std::size_t to) const {
  // Depth-first search remembering parents, so the path can be named.
  std::map<std::size_t, std::size_t> parent;
  std::vector<std::size_t> stack{from};
  parent[from] = from;
  while (!stack.empty()) {
    const std::size_t node = stack.back();
    stack.pop_back();
    if (node == to) {
      std::vector<std::size_t> found{to};
      for (std::size_t n = to; n != from; n = parent[n]) {
        found.push_back(parent[n]);
      }
      std::reverse(found.begin(), found.end());
      return found;
    }
    for (std::size_t next : succs_[node]) {
      if (parent.emplace(next, node).second) {
        stack.push_back(next);
      }
    }
  }
  return {};
}

bool GraphFlow::reorder(std::size_t from, std::size_t to) {
  if (order_[from] < order_[to]) {
    return true;
  }
  const std::size_t lower = order_[to];
  const std::size_t upper = order_[from];
  std::vector<std::size_t> forward;
  std::vector<std::size_t> backward;
  const auto unmark = [&] {
    for (std::size_t n : forward) {
      mark_[n] = 0;
    }
    for (std::size_t n : backward) {
      mark_[n] = 0;
    }
  };
  // What `to` reaches among the positions up to `from`'s: reaching `from` is a cycle.
  std::vector<std::size_t> stack{to};
  mark_[to] = 1;
  while (!stack.empty()) {
    const std::size_t n = stack.back();
    stack.pop_back();
    forward.push_back(n);
    for (std::size_t s : succs_[n]) {
      if (s == from) {
        unmark();
        for (std::size_t m : stack) {
          mark_[m] = 0;
        }
        return false;
      }
      if (mark_[s] == 0 && order_[s] < upper) {
        mark_[s] = 1;
        stack.push_back(s);
      }
    }
  }
  // What reaches `from` among the positions from `to`'s up.
  stack.push_back(from);
  mark_[from] = 1;
  while (!stack.empty()) {
    const std::size_t n = stack.back();
    stack.pop_back();
    backward.push_back(n);
    for (std::size_t p : preds_[n]) {
      if (mark_[p] == 0 && order_[p] > lower) {
        mark_[p] = 1;
        stack.push_back(p);
      }
    }
  }
  unmark();
  // The positions they held, reassigned: first what reaches `from`, then what `to` reaches,
  // each group keeping its relative order.
  const auto by_order = [&](std::size_t a, std::size_t b) { return order_[a] < order_[b]; };
  std::sort(backward.begin(), backward.end(), by_order);
  std::sort(forward.begin(), forward.end(), by_order);
  std::vector<std::size_t> positions;
  positions.reserve(backward.size() + forward.size());
  for (std::size_t n : backward) {
    positions.push_back(order_[n]);
  }
  for (std::size_t n : forward) {
    positions.push_back(order_[n]);
  }
  std::sort(positions.begin(), positions.end());
  std::size_t i = 0;
  for (std::size_t n : backward) {
    order_[n] = positions[i++];
  }
  for (std::size_t n : forward) {
    order_[n] = positions[i++];
  }
  return true;
}

void GraphFlow::add_edge_checked(std::size_t from, std::size_t to) {
  if (from == to) {
    throw DependencyFailure(
        fmt::format("graph flow '{}': linking '{}' to itself is a cycle", name(), item_name(from)));
  }
  if (edges_.count({from, to}) != 0) {
    return;
  }
  if (!reorder(from, to)) {
    std::string cycle;
    for (std::size_t n : path(to, from)) {
      cycle += item_name(n) + " -> ";
    }
    cycle += item_name(to);
    throw DependencyFailure(
        fmt::format("graph flow '{}': linking '{}' to '{}' would make a cycle: {}", name(),
                    item_name(from), item_name(to), cycle));
  }
  edges_.emplace(from, to);
  succs_[from].push_back(to);
  preds_[to].push_back(from);
}

void GraphFlow::remove_edge(std::size_t from, std::size_t to) {
  if (edges_.erase({from, to}) == 0) {
    return;
  }
  // Removing an edge never breaks the topological order.
  std::erase(succs_[from], to);
  std::erase(preds_[to], from);
}

void GraphFlow::forget_met_requirements(std::size_t from, std::size_t to) {
  if (waiting_.empty()) {
    return;
  }
  // The waiting names `from` and its ancestors provide.
  std::set<std::string> met;
  std::vector<std::size_t> seen;
  std::vector<std::size_t> stack{from};
  mark_[from] = 1;
  while (!stack.empty()) {
    const std::size_t n = stack.back();
    stack.pop_back();
    seen.push_back(n);
    for (const std::string& provided : n < size() ? items()[n].provides() : pending_provides_) {
      if (waiting_.count(provided) != 0) {
        met.insert(provided);
      }
    }
    for (std::size_t p : preds_[n]) {
      if (mark_[p] == 0) {
        mark_[p] = 1;
        stack.push_back(p);
      }
    }
  }
  for (std::size_t n : seen) {
    mark_[n] = 0;
  }
  if (met.empty()) {
    return;
  }
  // Met for `to` and everything after it.
  std::set<std::size_t> after;
  stack.push_back(to);
  while (!stack.empty()) {
    const std::size_t n = stack.back();
    stack.pop_back();
    if (after.insert(n).second) {
      stack.insert(stack.end(), succs_[n].begin(), succs_[n].end());
    }
  }
  for (const std::string& name : met) {
    auto it = waiting_.find(name);
    std::erase_if(it->second, [&](std::size_t n) { return after.count(n) != 0; });
    if (it->second.empty()) {
      waiting_.erase(it);
    }
  }
}

GraphFlow& GraphFlow::link(std::string_view from, std::string_view to, Decider decider,
                           DeciderDepth depth) {
  const auto u = find(from);
  if (!u) {
    throw NotFound(fmt::format("graph flow '{}' has no item '{}' to link from", name(), from));
  }
  const auto v = find(to);
  if (!v) {
    throw NotFound(fmt::format("graph flow '{}' has no item '{}' to link to", name(), to));
  }
  add_edge_checked(*u, *v);
  forget_met_requirements(*u, *v);
  if (decider) {
    deciders_[{*u, *v}] = {std::move(decider), depth};
  }
  return *this;
}

void GraphFlow::on_add(const FlowItem& item) {
  // As taskflow/patterns/graph_flow.py add(): link the new item after the one provider of
  // each name it needs, and before every existing item still waiting for a name it provides.
  const std::size_t added = size();
  if (succs_.size() <= added) {
    succs_.resize(added + 1);
    preds_.resize(added + 1);
    order_.resize(added + 1);
    mark_.resize(added + 1, 0);
  }
  succs_[added].clear();
  preds_[added].clear();
  order_[added] = next_order_++;
  pending_name_ = item.name();
  pending_provides_ = item.provides();
  std::set<std::string> requires_ = item.requirements();
  if (const Retry* r = retry()) {
    for (const std::string& name : r->provides()) {
      requires_.erase(name);
    }
  }
  std::vector<std::string> unmet;  // requirements nothing provides yet
  std::vector<std::pair<std::size_t, std::size_t>> linked;
  try {
    if (resolve_) {
      for (const std::string& needed : requires_) {
        const auto p = providers_.find(needed);
        if (p == providers_.end()) {
          unmet.push_back(needed);
          continue;
        }
        if (p->second.size() > 1) {
          std::string names;
          for (std::size_t i : p->second) {
            names += (names.empty() ? "'" : ", '") + items()[i].name() + "'";
          }
          throw AmbiguousDependency(fmt::format(
              "graph flow '{}': adding '{}' is ambiguous: [{}] all provide '{}', which it "
              "requires",
              name(), item.name(), names, needed));
        }
        add_edge_checked(p->second.front(), added);
        linked.emplace_back(p->second.front(), added);
      }
      for (const std::string& provided : pending_provides_) {
        const auto w = waiting_.find(provided);
        if (w == waiting_.end()) {
          continue;
        }
        for (std::size_t requiree : w->second) {
          add_edge_checked(added, requiree);
          linked.emplace_back(added, requiree);
        }
      }
    } else {
      unmet.assign(requires_.begin(), requires_.end());
    }
  } catch (...) {
    for (const auto& [from, to] : linked) {  // the flow is left as it was
      remove_edge(from, to);
    }
    throw;
  }
  // Committed: record what the item provides and still waits for.
  if (resolve_) {
    for (const std::string& provided : pending_provides_) {
      waiting_.erase(provided);
    }
  }
  for (const std::string& name : unmet) {
    waiting_[name].push_back(added);
  }
  for (const std::string& provided : pending_provides_) {
    providers_[provided].push_back(added);
  }
  for (const auto& [from, to] : linked) {
    if (from == added) {
      forget_met_requirements(from, to);
    }
  }
}

}  // namespace caboose
