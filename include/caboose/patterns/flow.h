// Flow: a named, nested structure of atoms and other flows, as taskflow.flow.Flow. A flow says
// only how its items relate (in order, in any order, as a graph); an engine compiles it into
// one graph and runs it. A flow owns its items; an item belongs to one flow. A flow may have
// a retry controller that decides what happens when one of its atoms fails. Not thread-safe
// while being built; immutable once given to an engine.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "caboose/atoms/atom.h"
#include "caboose/atoms/retry.h"

namespace caboose {

class Flow;
using FlowPtr = std::unique_ptr<Flow>;

enum class FlowKind { kLinear, kUnordered, kGraph };
std::string_view to_string(FlowKind kind);  // "linear", "unordered", "graph"

// One item of a flow: an atom or a nested flow.
class FlowItem {
 public:
  FlowItem(AtomPtr atom);  // NOLINT: implicit by design
  FlowItem(FlowPtr flow);  // NOLINT: implicit by design
  // Defined below Flow: clang resolves the delegation where it is written, and deciding
  // between the two needs Flow complete.
  template <class T, std::enable_if_t<std::is_base_of_v<Atom, T>, int> = 0>
  FlowItem(std::unique_ptr<T> atom);  // NOLINT
  template <class T, std::enable_if_t<std::is_base_of_v<Flow, T>, int> = 0>
  FlowItem(std::unique_ptr<T> flow);  // NOLINT

  const std::string& name() const;
  // Null unless the item is of that kind.
  const Atom* atom() const;
  const Flow* flow() const;
  std::set<std::string> requirements() const;
  std::set<std::string> provides() const;

 private:
  std::variant<AtomPtr, FlowPtr> item_;
};

// How far a decider that says "no" reaches, as taskflow.deciders.Depth: ALL (the target and
// everything after it), FLOW (the target and the atoms after it in the same flow, not entering
// nested flows or retries), NEIGHBORS (the target and the tasks right after it), ATOM (the
// target alone).
enum class DeciderDepth { kAll, kFlow, kNeighbors, kAtom };
std::string_view to_string(DeciderDepth depth);  // "ALL", "FLOW", "NEIGHBORS", "ATOM"
// Case-insensitive; throws InvalidArgument naming the value.
DeciderDepth parse_decider_depth(std::string_view text);

// Decides, when a link's target is about to run, whether it runs. `history` maps the name of
// each atom the decided links into the target come from to its result (a failure's dict if it
// failed). Returning false ignores the target (state IGNORE) and, per the link's depth, what
// follows it.
using Decider = std::function<bool(const Value& history)>;

// A dependency between two items of a flow, by index into items(), with an optional decider.
struct FlowLink {
  std::size_t from;
  std::size_t to;
  Decider decider = nullptr;
  DeciderDepth depth = DeciderDepth::kAll;
};

class Flow {
 public:
  virtual ~Flow();
  Flow(const Flow&) = delete;
  Flow& operator=(const Flow&) = delete;

  virtual FlowKind kind() const = 0;
  const std::string& name() const { return name_; }
  // The retry controller, or null.
  const Retry* retry() const { return retry_.get(); }
  Retry* retry() { return retry_.get(); }

  // Adds items in order. Throws Duplicate if an item's name is already an item of this flow,
  // and what the pattern's rules throw (GraphFlow: DependencyFailure for a cycle).
  template <class... Items>
  Flow& add(Items&&... items) {
    (add_item(FlowItem(std::forward<Items>(items))), ...);
    return *this;
  }
  void add_item(FlowItem item);

  const std::vector<FlowItem>& items() const { return items_; }
  std::size_t size() const { return items_.size(); }
  // The ordering constraints between items.
  virtual std::vector<FlowLink> links() const = 0;
  // Names this flow needs from outside it (its items' requirements not provided inside).
  std::set<std::string> requirements() const;
  // Names this flow's atoms (and retry) provide.
  std::set<std::string> provides() const;
  // The index of the item named `name`, or nullopt.
  std::optional<std::size_t> find(std::string_view name) const;

 protected:
  Flow(std::string name, std::unique_ptr<Retry> retry);
  // Called before an item is appended (index = items().size()); may refuse it by throwing.
  virtual void on_add(const FlowItem& item);

 private:
  const std::string name_;
  std::unique_ptr<Retry> retry_;
  std::vector<FlowItem> items_;
  std::unordered_map<std::string, std::size_t> index_;  // item name -> position
};

template <class T, std::enable_if_t<std::is_base_of_v<Atom, T>, int>>
FlowItem::FlowItem(std::unique_ptr<T> atom) : FlowItem(AtomPtr(std::move(atom))) {}
template <class T, std::enable_if_t<std::is_base_of_v<Flow, T>, int>>
FlowItem::FlowItem(std::unique_ptr<T> flow) : FlowItem(FlowPtr(std::move(flow))) {}

}  // namespace caboose
