// UnorderedFlow: items that may run in any order, even at once, as one unit
// (taskflow.patterns.unordered_flow). No item sees what another provides.
#pragma once

#include <memory>
#include <string>

#include "caboose/patterns/flow.h"

namespace caboose {

class UnorderedFlow final : public Flow {
 public:
  explicit UnorderedFlow(std::string name, std::unique_ptr<Retry> retry = nullptr)
      : Flow(std::move(name), std::move(retry)) {}
  FlowKind kind() const override { return FlowKind::kUnordered; }
  std::vector<FlowLink> links() const override { return {}; }
};

[[nodiscard]] inline std::unique_ptr<UnorderedFlow> unordered_flow(
    std::string name, std::unique_ptr<Retry> retry = {}) {
  return std::make_unique<UnorderedFlow>(std::move(name), std::move(retry));
}

}  // namespace caboose
