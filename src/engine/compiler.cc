#include "engine/compiler.h"

#include <deque>
#include <map>
#include <set>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose::engine {
namespace {

class Compiler {
 public:
  Compilation run(const Flow& flow) {
    compile_flow(flow, std::nullopt, -1, 0, std::nullopt);
    check_names();
    sort();
    return std::move(out_);
  }

 private:
  NodeId add_node(const Atom* atom, ScopeId scope, std::int64_t item, NodeKind kind,
                  std::optional<NodeId> retry = std::nullopt) {
    Node node;
    node.atom = atom;
    node.kind = kind;
    node.retry = retry;
    node.scope = scope;
    node.item = item;
    out_.nodes.push_back(std::move(node));
    const auto id = static_cast<NodeId>(out_.nodes.size() - 1);
    if (atom != nullptr) {
      out_.atoms.push_back(id);
    }
    return id;
  }

  void link(NodeId from, NodeId to) {
    out_.nodes[from].succs.push_back(to);
    out_.nodes[to].preds.push_back(from);
  }

  // Returns the (entry, exit) nodes of `flow`.
  std::pair<NodeId, NodeId> compile_flow(const Flow& flow, std::optional<ScopeId> parent,
                                         std::int64_t item_in_parent, std::uint32_t depth,
                                         std::optional<NodeId> retry) {
    const auto scope = static_cast<ScopeId>(out_.scopes.size());
    out_.scopes.push_back({&flow, parent, item_in_parent, depth, 0, 0});
    const NodeId entry = add_node(nullptr, scope, -1, NodeKind::kEntry);
    NodeId start = entry;
    if (flow.retry() != nullptr) {
      // The retry runs first; every item of its flow runs after it (TaskFlow links it so),
      // and it controls them.
      start = add_node(flow.retry(), scope, -1, NodeKind::kRetry, retry);
      link(entry, start);
      retry = start;
    }
    std::vector<std::pair<NodeId, NodeId>> items;
    items.reserve(flow.size());
    for (std::size_t i = 0; i < flow.size(); ++i) {
      const FlowItem& item = flow.items()[i];
      if (const Atom* atom = item.atom()) {
        const NodeKind kind = atom->kind() == AtomKind::kTask ? NodeKind::kTask : NodeKind::kRetry;
        const NodeId id = add_node(atom, scope, static_cast<std::int64_t>(i), kind, retry);
        items.emplace_back(id, id);
      } else {
        items.push_back(
            compile_flow(*item.flow(), scope, static_cast<std::int64_t>(i), depth + 1, retry));
      }
    }
    const NodeId exit = add_node(nullptr, scope, -1, NodeKind::kExit);
    out_.scopes[scope].entry = entry;
    out_.scopes[scope].exit = exit;
    std::vector<bool> has_pred(items.size(), false);
    std::vector<bool> has_succ(items.size(), false);
    for (const FlowLink& l : flow.links()) {
      link(items[l.from].second, items[l.to].first);
      if (l.decider) {
        out_.nodes[items[l.to].first].deciders.push_back(
            {items[l.from].second, l.decider, l.depth});
      }
      has_pred[l.to] = true;
      has_succ[l.from] = true;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!has_pred[i]) {
        link(start, items[i].first);
      }
      if (!has_succ[i]) {
        link(items[i].second, exit);
      }
    }
    if (items.empty()) {
      link(start, exit);
    }
    return {entry, exit};
  }

  void check_names() {
    std::set<std::string> seen;
    std::set<std::string> dups;
    for (NodeId id : out_.atoms) {
      const std::string& name = out_.nodes[id].atom->name();
      if (!seen.insert(name).second) {
        dups.insert(name);
      }
    }
    if (!dups.empty()) {
      std::string names;
      for (const std::string& n : dups) {
        names += (names.empty() ? "'" : ", '") + n + "'";
      }
      throw Duplicate(fmt::format("atoms with duplicate names found: [{}]", names));
    }
  }

  // Kahn's algorithm; a leftover node means a cycle.
  void sort() {
    std::vector<std::size_t> waiting(out_.nodes.size());
    std::deque<NodeId> ready;
    for (NodeId id = 0; id < out_.nodes.size(); ++id) {
      waiting[id] = out_.nodes[id].preds.size();
      if (waiting[id] == 0) {
        ready.push_back(id);
      }
    }
    out_.topological.reserve(out_.nodes.size());
    while (!ready.empty()) {
      const NodeId id = ready.front();
      ready.pop_front();
      out_.topological.push_back(id);
      for (NodeId s : out_.nodes[id].succs) {
        if (--waiting[s] == 0) {
          ready.push_back(s);
        }
      }
    }
    if (out_.topological.size() != out_.nodes.size()) {
      std::string stuck;
      for (NodeId id = 0; id < out_.nodes.size(); ++id) {
        if (waiting[id] != 0 && out_.nodes[id].atom != nullptr) {
          stuck += (stuck.empty() ? "'" : ", '") + out_.nodes[id].atom->name() + "'";
        }
      }
      throw DependencyFailure(fmt::format("flow '{}' has a dependency cycle through [{}]",
                                          out_.scopes.front().flow->name(), stuck));
    }
  }

  Compilation out_;
};

}  // namespace

Compilation compile(const Flow& flow) {
  return Compiler().run(flow);
}

}  // namespace caboose::engine
