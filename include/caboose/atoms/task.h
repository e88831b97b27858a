// Task: an atom that does a piece of work and knows how to undo it, as taskflow.task.Task.
// execute() receives its arguments as a JSON object (argument name -> value) and returns its
// result; revert() receives the same arguments, the result execute() returned (or the Failure
// it raised) and the failures of the flow, and undoes the work. Both may throw; the engine
// captures what they throw into a Failure. A task may run on any engine thread, but never
// twice at once.
//
//   class Charge : public caboose::Task {
//    public:
//     Charge() : Task("charge", {.args = {"order"}, .provides = "receipt"}) {}
//     Value execute(const Value& args) override { return bank.charge(args["order"]); }
//     Value revert(const Value& args, const Outcome& result, const FailureMap&) override {
//       if (const Value* receipt = std::get_if<Value>(&result)) bank.refund(*receipt);
//       return nullptr;
//     }
//   };
#pragma once

#include <string>
#include <variant>

#include "caboose/atoms/atom.h"

namespace caboose {

// What an atom's execution ended with: its result or the failure it raised.
using Outcome = std::variant<Value, Failure>;

class Task : public Atom {
 public:
  AtomKind kind() const final { return AtomKind::kTask; }
  virtual Value execute(const Value& args) = 0;
  // The default does nothing and returns null.
  virtual Value revert(const Value& args, const Outcome& result, const FailureMap& flow_failures);

 protected:
  Task(std::string name, AtomOptions options) : Atom(std::move(name), std::move(options)) {}
};

}  // namespace caboose
