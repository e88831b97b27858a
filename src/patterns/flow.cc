#include "caboose/patterns/flow.h"

#include <cctype>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose {

FlowItem::FlowItem(AtomPtr atom) : item_(std::move(atom)) {
  if (!std::get<AtomPtr>(item_)) {
    throw InvalidArgument("a flow item must not be null");
  }
}

FlowItem::FlowItem(FlowPtr flow) : item_(std::move(flow)) {
  if (!std::get<FlowPtr>(item_)) {
    throw InvalidArgument("a flow item must not be null");
  }
}

const std::string& FlowItem::name() const {
  return atom() != nullptr ? atom()->name() : flow()->name();
}

const Atom* FlowItem::atom() const {
  const auto* atom = std::get_if<AtomPtr>(&item_);
  return atom != nullptr ? atom->get() : nullptr;
}

const Flow* FlowItem::flow() const {
  const auto* flow = std::get_if<FlowPtr>(&item_);
  return flow != nullptr ? flow->get() : nullptr;
}

std::set<std::string> FlowItem::requirements() const {
  return atom() != nullptr ? atom()->requirements() : flow()->requirements();
}

std::set<std::string> FlowItem::provides() const {
  return atom() != nullptr ? atom()->provides() : flow()->provides();
}

Flow::Flow(std::string name, std::unique_ptr<Retry> retry)
    : name_(std::move(name)), retry_(std::move(retry)) {
  if (name_.empty()) {
    throw InvalidArgument("a flow needs a name");
  }
}

Flow::~Flow() = default;

void Flow::on_add(const FlowItem& /*item*/) {}

void Flow::add_item(FlowItem item) {
  if (find(item.name())) {
    throw Duplicate(fmt::format("flow '{}' already has an item named '{}'", name_, item.name()));
  }
  if (retry_ && retry_->name() == item.name()) {
    throw Duplicate(fmt::format("flow '{}' has a retry named '{}' already", name_, item.name()));
  }
  on_add(item);
  index_.emplace(item.name(), items_.size());
  items_.push_back(std::move(item));
}

std::optional<std::size_t> Flow::find(std::string_view name) const {
  const auto it = index_.find(std::string(name));
  return it == index_.end() ? std::nullopt : std::optional<std::size_t>(it->second);
}

std::set<std::string> Flow::provides() const {
  std::set<std::string> names;
  if (retry_) {
    names = retry_->provides();
  }
  for (const FlowItem& item : items_) {
    names.merge(item.provides());
  }
  return names;
}

std::set<std::string> Flow::requirements() const {
  std::set<std::string> required;
  std::set<std::string> retry_provides;
  if (retry_) {
    required = retry_->requirements();
    retry_provides = retry_->provides();
  }
  // What each item needs, less what the items it runs after (its ancestors) provide.
  const std::vector<FlowLink> edges = links();
  std::vector<std::vector<std::size_t>> parents(items_.size());
  for (const FlowLink& link : edges) {
    parents[link.to].push_back(link.from);
  }
  std::vector<std::set<std::string>> seen_provides(items_.size());
  // Items are added so that every link goes from an earlier to a later index for linear
  // flows; graph flows may link backwards, so ancestors are collected by search.
  for (std::size_t i = 0; i < items_.size(); ++i) {
    std::set<std::string> available = retry_provides;
    std::vector<std::size_t> stack = parents[i];
    std::vector<bool> visited(items_.size(), false);
    while (!stack.empty()) {
      const std::size_t p = stack.back();
      stack.pop_back();
      if (visited[p]) {
        continue;
      }
      visited[p] = true;
      available.merge(items_[p].provides());
      stack.insert(stack.end(), parents[p].begin(), parents[p].end());
    }
    for (const std::string& name : items_[i].requirements()) {
      if (available.count(name) == 0) {
        required.insert(name);
      }
    }
  }
  return required;
}

std::string_view to_string(FlowKind kind) {
  switch (kind) {
    case FlowKind::kLinear:
      return "linear";
    case FlowKind::kUnordered:
      return "unordered";
    case FlowKind::kGraph:
      return "graph";
  }
  return "unknown";
}

std::string_view to_string(DeciderDepth depth) {
  switch (depth) {
    case DeciderDepth::kAll:
      return "ALL";
    case DeciderDepth::kFlow:
      return "FLOW";
    case DeciderDepth::kNeighbors:
      return "NEIGHBORS";
    case DeciderDepth::kAtom:
      return "ATOM";
  }
  return "?";
}

DeciderDepth parse_decider_depth(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  for (DeciderDepth d :
       {DeciderDepth::kAll, DeciderDepth::kFlow, DeciderDepth::kNeighbors, DeciderDepth::kAtom}) {
    if (to_string(d) == upper) {
      return d;
    }
  }
  throw InvalidArgument(
      fmt::format("unknown decider depth '{}' (expected ALL, FLOW, NEIGHBORS or ATOM)", text));
}

}  // namespace caboose
