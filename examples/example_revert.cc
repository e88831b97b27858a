// A task fails; the engine reverts what already ran, newest first, and rethrows the failure.
#include <iostream>
#include <stdexcept>

#include "caboose/atoms/functor_task.h"
#include "caboose/engine/engine.h"
#include "caboose/patterns/linear_flow.h"

int main() {
  auto flow = caboose::linear_flow("booking");
  flow->add(caboose::task(
      "book_room", [] { return "room-12"; }, {.provides = "room"},
      [](const caboose::Value&, const caboose::Outcome& result, const caboose::FailureMap&) {
        std::cout << "cancelled " << std::get<caboose::Value>(result).get<std::string>() << "\n";
        return caboose::Value();
      }));
  flow->add(caboose::task(
      "book_flight", []() -> caboose::Value { throw std::runtime_error("no seats left"); }, {}));
  auto engine = caboose::engine::load(std::move(flow));
  try {
    engine->run();
  } catch (const std::runtime_error& e) {
    std::cout << "flow " << caboose::to_string(engine->state()) << ": " << e.what() << "\n";
  }
  return engine->state() == caboose::FlowState::kReverted ? 0 : 1;
}
