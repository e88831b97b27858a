#include "engine/scopes.h"

#include <algorithm>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose::engine {

ScopeResolver::ScopeResolver(const Compilation& compilation, std::vector<AtomIndex> storage_index)
    : compilation_(compilation), storage_index_(std::move(storage_index)) {
  for (NodeId id : compilation_.atoms) {
    node_of_.emplace(storage_index_[id], id);
  }
}

const std::vector<std::pair<ScopeId, std::int64_t>>& ScopeResolver::chain(NodeId node) {
  auto [it, added] = chains_.try_emplace(node);
  if (added) {
    const Node& n = compilation_.nodes[node];
    ScopeId scope = n.scope;
    std::int64_t item = n.item;
    while (true) {
      it->second.emplace_back(scope, item);
      const Scope& s = compilation_.scopes[scope];
      if (!s.parent) {
        break;
      }
      item = s.item_in_parent;
      scope = *s.parent;
    }
  }
  return it->second;
}

bool ScopeResolver::item_reaches(ScopeId scope, std::int64_t from_item, std::int64_t to_item) {
  auto [it, added] = graphs_.try_emplace(scope);
  GraphIndex& g = it->second;
  if (added) {
    // Predecessor lists and a topological position per item (Kahn), built once per scope.
    const Flow& flow = *compilation_.scopes[scope].flow;
    const std::size_t n = flow.size();
    g.preds.resize(n);
    std::vector<std::vector<std::size_t>> succs(n);
    std::vector<std::size_t> waiting(n, 0);
    for (const FlowLink& l : flow.links()) {
      g.preds[l.to].push_back(l.from);
      succs[l.from].push_back(l.to);
      ++waiting[l.to];
    }
    g.position.assign(n, 0);
    g.mark.assign(n, 0);
    std::vector<std::size_t> ready;
    for (std::size_t i = 0; i < n; ++i) {
      if (waiting[i] == 0) {
        ready.push_back(i);
      }
    }
    std::size_t next = 0;
    while (!ready.empty()) {
      const std::size_t i = ready.back();
      ready.pop_back();
      g.position[i] = next++;
      for (std::size_t s : succs[i]) {
        if (--waiting[s] == 0) {
          ready.push_back(s);
        }
      }
    }
  }
  const auto from = static_cast<std::size_t>(from_item);
  const auto to = static_cast<std::size_t>(to_item);
  if (g.position[from] >= g.position[to]) {
    return false;
  }
  // Backwards from `to`, only through items placed after `from`: what a provider close to its
  // consumer costs is the distance between them, not the size of the flow.
  if (++g.epoch == 0) {
    std::fill(g.mark.begin(), g.mark.end(), 0);
    g.epoch = 1;
  }
  std::vector<std::size_t> stack{to};
  g.mark[to] = g.epoch;
  while (!stack.empty()) {
    const std::size_t n = stack.back();
    stack.pop_back();
    for (std::size_t p : g.preds[n]) {
      if (p == from) {
        return true;
      }
      if (g.mark[p] != g.epoch && g.position[p] > g.position[from]) {
        g.mark[p] = g.epoch;
        stack.push_back(p);
      }
    }
  }
  return false;
}

std::optional<ScopeResolver::Rank> ScopeResolver::locate(NodeId provider, NodeId atom) {
  const auto& mine = chain(atom);
  const auto& theirs = chain(provider);
  for (const auto& [scope, their_item] : theirs) {
    for (const auto& [my_scope, my_item] : mine) {
      if (my_scope != scope) {
        continue;
      }
      const Rank rank{compilation_.scopes[scope].depth, their_item, scope};
      if (their_item == -1) {
        // The scope's retry runs before every item of its flow.
        return my_item == -1 ? std::nullopt : std::optional<Rank>(rank);
      }
      if (my_item == -1 || my_item == their_item) {
        return std::nullopt;
      }
      switch (compilation_.scopes[scope].flow->kind()) {
        case FlowKind::kLinear:
          return their_item < my_item ? std::optional<Rank>(rank) : std::nullopt;
        case FlowKind::kUnordered:
          return std::nullopt;
        case FlowKind::kGraph:
          return item_reaches(scope, their_item, my_item) ? std::optional<Rank>(rank)
                                                          : std::nullopt;
      }
    }
  }
  return std::nullopt;
}

bool ScopeResolver::runs_before(NodeId a, NodeId b) {
  return locate(a, b).has_value();
}

std::vector<Provider> ScopeResolver::resolve(NodeId atom, const std::string& name,
                                             const std::vector<Provider>& candidates) {
  std::vector<std::pair<Rank, Provider>> located;
  std::optional<Provider> best;
  std::optional<Rank> best_rank;
  NodeId best_node = 0;
  bool is_tied = false;
  NodeId tied = 0;
  for (const Provider& p : candidates) {
    if (!p.atom) {
      continue;
    }
    const auto node = node_of_.find(*p.atom);
    if (node == node_of_.end() || node->second == atom) {
      continue;
    }
    const auto rank = locate(node->second, atom);
    if (!rank) {
      continue;
    }
    located.emplace_back(*rank, p);
    const bool nearer = !best_rank || rank->depth > best_rank->depth ||
                        (rank->depth == best_rank->depth && rank->item > best_rank->item);
    const bool same = best_rank && rank->depth == best_rank->depth && rank->item == best_rank->item;
    if (nearer) {
      best = p;
      best_rank = rank;
      best_node = node->second;
      is_tied = false;
    } else if (same && !runs_before(best_node, node->second) &&
               !runs_before(node->second, best_node)) {
      is_tied = true;
      tied = node->second;
    }
  }
  if (is_tied) {
    throw AmbiguousDependency(fmt::format(
        "atom '{}' requires '{}', which both '{}' and '{}' provide, and neither runs before "
        "the other",
        compilation_.nodes[atom].atom->name(), name, compilation_.nodes[best_node].atom->name(),
        compilation_.nodes[tied].atom->name()));
  }
  if (!best) {
    return {};
  }
  // The nearest first, then the others of its scope, nearest first (read when the nearer ones
  // were ignored, as TaskFlow's storage skips IGNORE providers).
  std::vector<Provider> out{*best};
  std::stable_sort(located.begin(), located.end(),
                   [](const auto& a, const auto& b) { return a.first.item > b.first.item; });
  for (const auto& [rank, p] : located) {
    if (rank.depth == best_rank->depth && !(p.atom == best->atom && p.index == best->index)) {
      out.push_back(p);
    }
  }
  return out;
}

}  // namespace caboose::engine
