// A graph flow orders its tasks by what each requires and provides, whatever the add order.
#include <iostream>

#include "caboose/atoms/functor_task.h"
#include "caboose/engine/engine.h"
#include "caboose/patterns/graph_flow.h"

int main() {
  auto flow = caboose::graph_flow("pipeline");
  flow->add(caboose::task("report", [](int cleaned) { return "rows: " + std::to_string(cleaned); },
                          {.args = {"cleaned"}, .provides = "report"}));
  flow->add(caboose::task("clean", [](int raw) { return raw - 2; },
                          {.args = {"raw"}, .provides = "cleaned"}));
  flow->add(caboose::task("load", [] { return 42; }, {.provides = "raw"}));
  std::cout << caboose::engine::run(std::move(flow))["report"].get<std::string>() << "\n";
  return 0;
}
