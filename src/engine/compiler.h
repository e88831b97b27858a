// The compiler: turns a flow (a tree of flows and atoms) into one execution graph, as
// taskflow/engines/action_engine/compiler.py. Every atom becomes a node; every flow becomes an
// entry and an exit node that do no work, so joining two unordered groups costs edges in
// proportion to their sizes, not their product. Edges point from what must finish first to what
// runs after it. The result is immutable and read by the runtime.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "caboose/atoms/atom.h"
#include "caboose/patterns/flow.h"

namespace caboose::engine {

using NodeId = std::uint32_t;
using ScopeId = std::uint32_t;

enum class NodeKind : std::uint8_t { kTask, kRetry, kEntry, kExit };

// A decider on a link into a node: consulted when the node is about to execute.
struct EdgeDecider {
  NodeId from;  // an atom, or the exit of a flow
  Decider decider;
  DeciderDepth depth;
};

struct Node {
  const Atom* atom = nullptr;  // null: a flow's entry or exit (no work)
  NodeKind kind = NodeKind::kEntry;
  std::vector<NodeId> preds;
  std::vector<NodeId> succs;
  ScopeId scope = 0;  // the flow the node belongs to
  // The index of the item of `scope` that holds the node; -1 for the flow's retry and for
  // the flow's own entry and exit.
  std::int64_t item = -1;
  // The innermost retry controlling this atom (for a retry: the one enclosing its flow).
  std::optional<NodeId> retry;
  std::vector<EdgeDecider> deciders;  // on links into this node
};

// One flow of the tree.
struct Scope {
  const Flow* flow = nullptr;
  std::optional<ScopeId> parent;
  std::int64_t item_in_parent = -1;  // this flow's index among its parent's items
  std::uint32_t depth = 0;
  NodeId entry = 0;
  NodeId exit = 0;
};

struct Compilation {
  std::vector<Node> nodes;
  std::vector<Scope> scopes;        // scopes[0] is the flow given to compile()
  std::vector<NodeId> atoms;        // atom nodes, depth first in the order items were added
  std::vector<NodeId> topological;  // every node, each after all its predecessors
};

// Throws Duplicate naming atoms that share a name, DependencyFailure if the flow's links
// make a cycle (possible only across nested graph flows).
[[nodiscard]] Compilation compile(const Flow& flow);

}  // namespace caboose::engine
