// A linear flow of typed tasks: values come from the store and from earlier tasks' results.
#include <iostream>

#include "caboose/atoms/functor_task.h"
#include "caboose/engine/engine.h"
#include "caboose/patterns/linear_flow.h"

int main() {
  auto flow = caboose::linear_flow("hello");
  flow->add(caboose::task("add", [](int x, int y) { return x + y; },
                          {.args = {"x", "y"}, .provides = "total"}));
  flow->add(caboose::task("greet", [](int total) { return "total is " + std::to_string(total); },
                          {.args = {"total"}, .provides = "greeting"}));
  const caboose::Value results =
      caboose::engine::run(std::move(flow), {.store = {{"x", 2}, {"y", 3}}});
  std::cout << results["greeting"].get<std::string>() << "\n";
  return 0;
}
