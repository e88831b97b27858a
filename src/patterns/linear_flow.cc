#include "caboose/patterns/linear_flow.h"

namespace caboose {
std::vector<FlowLink> LinearFlow::links() const {
  std::vector<FlowLink> links;
  for (std::size_t i = 1; i < size(); ++i) {
    links.push_back({i - 1, i});
  }
  return links;
}
}  // namespace caboose
