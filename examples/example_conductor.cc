// Your own conductor binary: register your flow factories and hand them to the caboose command
// line, which gives you `conductor`, `jobs`, `bin`, `books` and `flows` over them:
//
//   example_conductor flows
//   example_conductor jobs post charge --board sqlite:///board.db
//       --persistence sqlite:///flows.db --factory orders.charge
//       --store '{"order": 17, "amount": 42}'
//   example_conductor conductor --board sqlite:///board.db --persistence sqlite:///flows.db
//
// A Python TaskFlow poster that names "orders.charge" in its flow detail's factory gets its jobs
// run here too.
#include "caboose/atoms/functor_task.h"
#include "caboose/cli/cli.h"
#include "caboose/conductors/flow_registry.h"
#include "caboose/patterns/linear_flow.h"

int main(int argc, char** argv) {
  caboose::conductors::FlowRegistry registry;
  registry.add(
      "orders.charge",
      [](const caboose::Value& /*args*/, const caboose::Value& /*kwargs*/) -> caboose::FlowPtr {
        auto flow = caboose::linear_flow("charge");
        flow->add(caboose::task("reserve",
                                [](int order) { return "reservation-" + std::to_string(order); },
                                {.args = {"order"}, .provides = "reservation"}));
        flow->add(caboose::task("charge",
                                [](int amount, const std::string& reservation) {
                                  return reservation + ": charged " + std::to_string(amount);
                                },
                                {.args = {"amount", "reservation"}, .provides = "receipt"}));
        return flow;
      },
      "reserves stock for an order, then charges its amount");
  return caboose::cli::run_cli(argc, argv, registry);
}
