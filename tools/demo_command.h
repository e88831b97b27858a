// `caboose demo`: runs the example order flow, whose last task fails, and shows its revert.
#pragma once

#include <ostream>
#include <string>

namespace caboose::cli {
struct DemoOptions {
  bool json = false;             // the summary as JSON instead of the transitions and a summary
  bool dot = false;              // the flow, coloured by the states it ended in, as Graphviz dot
  std::string persistence = {};  // where the run is saved (a persistence URI); memory if empty
};
// Prints every flow and atom state change and a summary to `out`. Returns the exit code:
// 0 when the flow failed and was reverted as designed.
int run_demo(std::ostream& out, DemoOptions options);
}  // namespace caboose::cli
