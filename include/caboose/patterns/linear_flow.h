// LinearFlow: items run one after another, in the order added, and revert in reverse order
// (taskflow.patterns.linear_flow).
#pragma once

#include <memory>
#include <string>

#include "caboose/patterns/flow.h"

namespace caboose {

class LinearFlow final : public Flow {
 public:
  explicit LinearFlow(std::string name, std::unique_ptr<Retry> retry = nullptr)
      : Flow(std::move(name), std::move(retry)) {}
  FlowKind kind() const override { return FlowKind::kLinear; }
  std::vector<FlowLink> links() const override;
};

[[nodiscard]] inline std::unique_ptr<LinearFlow> linear_flow(std::string name,
                                                             std::unique_ptr<Retry> retry = {}) {
  return std::make_unique<LinearFlow>(std::move(name), std::move(retry));
}

}  // namespace caboose
