// Which provider an atom's argument is read from, as taskflow/engines/action_engine/scopes.py
// walks scopes: among the atoms that provide a name, an atom sees only those that always run
// before it; the nearest scope wins (the innermost flow holding both), then, within it, the
// latest item before the atom. Resolved once per engine, so a run pays nothing per argument
// but a lookup.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "caboose/engine/storage.h"

#include "engine/compiler.h"

namespace caboose::engine {

class ScopeResolver {
 public:
  // `storage_index[n]` is the storage index of atom node n (ignored for other nodes).
  ScopeResolver(const Compilation& compilation, std::vector<AtomIndex> storage_index);

  // The providers of `name` visible to atom node `atom`: the nearest first, then the others in
  // its scope, nearest first; empty if none. Throws AmbiguousDependency if two providers are
  // equally near and neither runs before the other.
  std::vector<Provider> resolve(NodeId atom, const std::string& name,
                                const std::vector<Provider>& candidates);

 private:
  struct Rank {
    std::uint32_t depth;  // depth of the scope shared with the atom (deeper is nearer)
    std::int64_t item;    // the provider's item in that scope (later is nearer)
    ScopeId scope;
  };
  // Where `provider` sits relative to `atom`, or nullopt if it never runs before it.
  std::optional<Rank> locate(NodeId provider, NodeId atom);
  // Whether node `a` always runs before node `b`.
  bool runs_before(NodeId a, NodeId b);
  // Whether item `from` of graph scope `scope` reaches item `to` (a search bounded by the
  // items' topological positions).
  bool item_reaches(ScopeId scope, std::int64_t from, std::int64_t to);
  // (scope, item) pairs from the node's own scope up to the root.
  const std::vector<std::pair<ScopeId, std::int64_t>>& chain(NodeId node);

  const Compilation& compilation_;
  std::vector<AtomIndex> storage_index_;
  std::unordered_map<AtomIndex, NodeId> node_of_;
  std::unordered_map<NodeId, std::vector<std::pair<ScopeId, std::int64_t>>> chains_;
  struct GraphIndex {
    std::vector<std::vector<std::size_t>> preds;  // per item of the graph flow
    std::vector<std::size_t> position;            // topological
    std::vector<std::uint32_t> mark;              // visited in search number `epoch`
    std::uint32_t epoch = 0;
  };
  std::unordered_map<ScopeId, GraphIndex> graphs_;
};

}  // namespace caboose::engine
