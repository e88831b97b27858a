#include "demo_command.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/engine/dot.h"
#include "caboose/engine/engine.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/persistence/fetch.h"

namespace caboose::cli {
namespace {

// A small order: reserve stock, charge the card, ship. The carrier is down, so shipping fails
// and the engine reverts the charge and the reservation, newest first.
FlowPtr make_order_flow(std::vector<std::string>& effects) {
  auto flow = linear_flow("order-1001");
  flow->add(task(
      "reserve_stock",
      [&effects](const std::string& sku, int qty) {
        effects.push_back(fmt::format("reserved {} x {}", qty, sku));
        return Value{{"sku", sku}, {"qty", qty}, {"reservation", "R-77"}};
      },
      {.args = {"sku", "qty"}, .provides = "reservation"},
      [&effects](const Value&, const Outcome& result, const FailureMap&) {
        if (const auto* r = std::get_if<Value>(&result)) {
          effects.push_back(
              fmt::format("released reservation {}", (*r)["reservation"].get<std::string>()));
        }
        return Value();
      }));
  flow->add(task(
      "charge_card",
      [&effects](const Value& reservation, double price) {
        const double total = price * reservation["qty"].get<int>();
        effects.push_back(fmt::format("charged {:.2f}", total));
        return Value{{"receipt", "C-501"}, {"amount", total}};
      },
      {.args = {"reservation", "price"}, .provides = "receipt"},
      [&effects](const Value&, const Outcome& result, const FailureMap&) {
        if (const auto* r = std::get_if<Value>(&result)) {
          effects.push_back(fmt::format("refunded {:.2f} (receipt {})",
                                        (*r)["amount"].get<double>(),
                                        (*r)["receipt"].get<std::string>()));
        }
        return Value();
      }));
  flow->add(task("ship",
                 [](const Value& receipt) -> Value {
                   throw std::runtime_error("carrier unavailable for receipt " +
                                            receipt["receipt"].get<std::string>());
                 },
                 {.args = {"receipt"}, .provides = "tracking"}));
  return flow;
}

}  // namespace

int run_demo(std::ostream& out, DemoOptions options) {
  const bool json = options.json;
  std::vector<std::string> effects;
  std::unique_ptr<persistence::Backend> backend;
  if (!options.persistence.empty()) {
    backend = persistence::fetch(options.persistence);
  }
  const persistence::LogBook book = persistence::make_logbook("caboose-demo");
  auto engine = engine::load(make_order_flow(effects),
                             {.store = {{"sku", "widget"}, {"qty", 3}, {"price", 9.5}},
                              .backend = backend.get(),
                              .book = book});
  if (!json && !options.dot) {
    engine->notifier().register_callback(std::string(Notifier::kAny), [&out](std::string_view state,
                                                                             const Value& details) {
      out << fmt::format("flow  {:<10} (was {})\n", state, details["old_state"].get<std::string>());
    });
    engine->atom_notifier().register_callback(
        std::string(Notifier::kAny), [&out](std::string_view state, const Value& details) {
          out << fmt::format("atom  {:<14} {}\n", details["task_name"].get<std::string>(), state);
        });
  }
  std::string error;
  try {
    engine->run();
  } catch (const std::exception& e) {
    error = e.what();
  }
  const FlowState end = engine->state();
  Value summary{{"flow", engine->storage().flow_name()},
                {"logbook", book.uuid},
                {"state", to_string(end)},
                {"error", error},
                {"effects", effects},
                {"atoms", Value::object()}};
  for (const char* name : {"reserve_stock", "charge_card", "ship"}) {
    summary["atoms"][name] = to_string(engine->storage().get_atom_state(name));
  }
  if (options.dot) {
    out << engine::to_dot(*engine);
  } else if (json) {
    out << summary.dump(2) << "\n";
  } else {
    out << "\nwhat happened:\n";
    for (const std::string& effect : effects) {
      out << "  " << effect << "\n";
    }
    out << fmt::format("\nflow '{}' ended {}: {}\n", summary["flow"].get<std::string>(),
                       to_string(end), error);
    if (!options.persistence.empty()) {
      out << fmt::format("saved as logbook {} in {} (caboose books show {} --persistence {})\n",
                         book.uuid, options.persistence, book.uuid, options.persistence);
    }
  }
  return end == FlowState::kReverted ? 0 : 1;
}

}  // namespace caboose::cli
