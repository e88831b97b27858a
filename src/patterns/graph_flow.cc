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
    for (auto it = edges_.lower_bound({node, 0}); it != edges_.end() && it->first == node; ++it) {
      if (parent.emplace(it->second, node).second) {
        stack.push_back(it->second);
      }
    }
  }
  return {};
}

void GraphFlow::add_edge_checked(std::size_t from, std::size_t to) {
  auto name_of = [&](std::size_t i) -> const std::string& {
    return i < size() ? items()[i].name() : pending_name_;
  };
  if (from == to) {
    throw DependencyFailure(
        fmt::format("graph flow '{}': linking '{}' to itself is a cycle", name(), name_of(from)));
  }
  if (const std::vector<std::size_t> back = path(to, from); !back.empty()) {
    std::string cycle;
    for (std::size_t n : back) {
      cycle += name_of(n) + " -> ";
    }
    cycle += name_of(to);
    throw DependencyFailure(
        fmt::format("graph flow '{}': linking '{}' to '{}' would make a cycle: {}", name(),
                    name_of(from), name_of(to), cycle));
  }
  edges_.emplace(from, to);
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
  if (decider) {
    deciders_[{*u, *v}] = {std::move(decider), depth};
  }
  return *this;
}

void GraphFlow::on_add(const FlowItem& item) {
  // As taskflow/patterns/graph_flow.py add(): link the new item after the one provider of
  // each name it needs, and before every existing item still waiting for a name it provides.
  if (!resolve_) {
    return;
  }
  const std::size_t added = size();
  const std::set<std::string> retry_provides =
      retry() != nullptr ? retry()->provides() : std::set<std::string>{};
  const auto saved = edges_;
  pending_name_ = item.name();
  try {
    // What each existing item still needs after its ancestors' provides.
    std::vector<std::set<std::string>> unsatisfied(added);
    for (std::size_t i = 0; i < added; ++i) {
      std::set<std::string> available = retry_provides;
      for (std::size_t j = 0; j < added; ++j) {
        if (j != i && !path(j, i).empty()) {
          available.merge(items()[j].provides());
        }
      }
      for (const std::string& name : items()[i].requirements()) {
        if (available.count(name) == 0) {
          unsatisfied[i].insert(name);
        }
      }
    }
    for (const std::string& needed : item.requirements()) {
      if (retry_provides.count(needed) != 0) {
        continue;
      }
      std::vector<std::size_t> providers;
      for (std::size_t i = 0; i < added; ++i) {
        if (items()[i].provides().count(needed) != 0) {
          providers.push_back(i);
        }
      }
      if (providers.size() > 1) {
        std::string names;
        for (std::size_t p : providers) {
          names += (names.empty() ? "'" : ", '") + items()[p].name() + "'";
        }
        throw AmbiguousDependency(fmt::format(
            "graph flow '{}': adding '{}' is ambiguous: [{}] all provide '{}', which it requires",
            name(), item.name(), names, needed));
      }
      if (providers.size() == 1) {
        add_edge_checked(providers.front(), added);
      }
    }
    for (const std::string& provided : item.provides()) {
      for (std::size_t i = 0; i < added; ++i) {
        if (unsatisfied[i].count(provided) != 0) {
          add_edge_checked(added, i);
          unsatisfied[i].erase(provided);
        }
      }
    }
  } catch (...) {
    edges_ = saved;  // the flow is left as it was
    throw;
  }
}

}  // namespace caboose
