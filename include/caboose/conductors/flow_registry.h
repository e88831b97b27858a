// FlowRegistry: the flow factories a conductor can run, registered by name in code at start-up.
// A poster names a factory in its flow detail's meta, in TaskFlow's save_factory_details format
// ({"factory": {"name": ..., "args": [...], "kwargs": {...}}}); a conductor rebuilds the job's
// flow by calling the factory registered under that name. Nothing is ever loaded or executed by
// a name taken from job data: an unknown name is refused. Fill the registry before handing it
// to conductors; after that it is only read, from any thread.
//
//   caboose::conductors::FlowRegistry registry;
//   registry.add("orders.make_flow", [](const caboose::Value& args, const caboose::Value& kwargs) {
//     return make_order_flow(kwargs.value("order", 0));
//   }, "charges and ships one order");
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "caboose/core/value.h"
#include "caboose/patterns/flow.h"
#include "caboose/persistence/models.h"

namespace caboose::conductors {

// A factory as a flow detail names it (TaskFlow's meta["factory"]).
struct FactoryCall {
  std::string name;
  Value args = Value::array();
  Value kwargs = Value::object();

  // {"name": ..., "args": [...], "kwargs": {...}}.
  Value to_value() const;
  // Reads meta["factory"] of a flow detail. Throws InvalidFormat saying what is missing or of
  // the wrong type (no "factory", a name that is not a non-empty string, args not a list,
  // kwargs not an object).
  static FactoryCall from_meta(const Value& meta);
};

// Records `call` in the flow detail's meta (TaskFlow's engines.save_factory_details); the
// caller saves the flow detail.
void save_factory_details(persistence::FlowDetail& flow_detail, FactoryCall call);

class FlowRegistry {
 public:
  // Builds a flow from the stored args (a JSON list) and kwargs (a JSON object).
  using Factory = std::function<FlowPtr(const Value& args, const Value& kwargs)>;

  struct Entry {
    std::string name;
    std::string description;
  };

  // Registers `factory` under `name`. Throws InvalidArgument for an empty name or factory,
  // Duplicate for a name already registered.
  void add(std::string name, Factory factory, std::string description = {});
  bool contains(std::string_view name) const;
  // Calls the factory `call` names. Throws NotFound naming an unregistered factory, and lets
  // through what the factory throws; a factory returning no flow is an InvalidArgument.
  [[nodiscard]] FlowPtr make(const FactoryCall& call) const;
  // The registered factories, by name.
  std::vector<Entry> entries() const;
  std::size_t size() const { return factories_.size(); }

 private:
  struct Registered {
    Factory factory;
    std::string description;
  };
  std::map<std::string, Registered, std::less<>> factories_;
};

}  // namespace caboose::conductors
