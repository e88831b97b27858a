// `caboose demo`: runs the example order flow, whose last task fails, and shows its revert.
#pragma once

#include <ostream>

namespace caboose::cli {
// Prints every flow and atom state change and a summary to `out`. Returns the exit code:
// 0 when the flow failed and was reverted as designed.
int run_demo(std::ostream& out, bool json);
}  // namespace caboose::cli
