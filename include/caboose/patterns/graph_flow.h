// GraphFlow: items ordered by a directed acyclic graph (taskflow.patterns.graph_flow). Edges
// are inferred when an item is added: an item that requires a name another item provides runs
// after it (both ways: existing items that need what the new one provides get linked too).
// link() adds explicit edges. A cycle is refused with DependencyFailure naming it, and a
// requirement two items could satisfy with AmbiguousDependency naming both.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "caboose/patterns/flow.h"

namespace caboose {

class GraphFlow final : public Flow {
 public:
  explicit GraphFlow(std::string name, std::unique_ptr<Retry> retry = nullptr)
      : Flow(std::move(name), std::move(retry)) {}
  FlowKind kind() const override { return FlowKind::kGraph; }
  std::vector<FlowLink> links() const override;

  // Makes item `to` run after item `from` (by item name). With a decider, `to` runs only if
  // the decider says so when `to` is next (see Decider); `depth` says what else is skipped when
  // it does not. Linking an existing edge again sets its decider. Throws NotFound for an
  // unknown name and DependencyFailure (leaving the flow unchanged) if the edge closes a cycle.
  GraphFlow& link(std::string_view from, std::string_view to, Decider decider = nullptr,
                  DeciderDepth depth = DeciderDepth::kAll);

  // Adds items without inferring edges from what they require and provide (TaskFlow's
  // add(..., resolve_requires=False)): only link() orders them.
  template <class... Items>
  GraphFlow& add_unresolved(Items&&... items) {
    resolve_ = false;
    try {
      add(std::forward<Items>(items)...);
    } catch (...) {
      resolve_ = true;
      throw;
    }
    resolve_ = true;
    return *this;
  }

 protected:
  void on_add(const FlowItem& item) override;

 private:
  // Links, refusing (DependencyFailure naming the cycle) an edge that would close one. The
  // order of items is kept topological as edges come (Pearce and Kelly's dynamic ordering), so
  // an edge that agrees with it costs O(1) and others search only between the two positions.
  void add_edge_checked(std::size_t from, std::size_t to);
  void remove_edge(std::size_t from, std::size_t to);
  // Moves nodes so `from` comes before `to`; false if `to` reaches `from` (a cycle).
  bool reorder(std::size_t from, std::size_t to);
  // The items on a path from `from` to `to`, or empty if there is none.
  std::vector<std::size_t> path(std::size_t from, std::size_t to) const;
  // After from -> to was added: requirements still waiting for a provider that `from` or its
  // ancestors provide are met for `to` and its descendants.
  void forget_met_requirements(std::size_t from, std::size_t to);
  const std::string& item_name(std::size_t i) const;

  std::set<std::pair<std::size_t, std::size_t>> edges_;
  std::vector<std::vector<std::size_t>> succs_;
  std::vector<std::vector<std::size_t>> preds_;
  std::vector<std::size_t> order_;  // a topological position per item
  std::size_t next_order_ = 0;
  std::vector<std::uint8_t> mark_;  // scratch for searches, all zero between them
  std::map<std::pair<std::size_t, std::size_t>, std::pair<Decider, DeciderDepth>> deciders_;
  // What items provide, and the names items require that nothing before them provides (as
  // TaskFlow's graph_flow.add() works out), kept as items and links come.
  std::map<std::string, std::vector<std::size_t>, std::less<>> providers_;
  std::map<std::string, std::vector<std::size_t>, std::less<>> waiting_;
  std::string pending_name_;  // the item being added (not yet in items())
  std::set<std::string> pending_provides_;
  bool resolve_ = true;  // infer edges for the item being added
};

[[nodiscard]] inline std::unique_ptr<GraphFlow> graph_flow(std::string name,
                                                           std::unique_ptr<Retry> retry = {}) {
  return std::make_unique<GraphFlow>(std::move(name), std::move(retry));
}

}  // namespace caboose
