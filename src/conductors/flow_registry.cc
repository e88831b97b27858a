#include "caboose/conductors/flow_registry.h"

#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose::conductors {

Value FactoryCall::to_value() const {
  return Value{{"name", name}, {"args", args}, {"kwargs", kwargs}};
}

FactoryCall FactoryCall::from_meta(const Value& meta) {
  if (!meta.is_object() || !meta.contains("factory")) {
    throw InvalidFormat("the flow detail names no factory (its meta has no \"factory\")");
  }
  const Value& factory = meta.at("factory");
  if (!factory.is_object()) {
    throw InvalidFormat("the flow detail's meta[\"factory\"] is not an object");
  }
  FactoryCall call;
  const auto name = factory.find("name");
  if (name == factory.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    throw InvalidFormat("the flow detail's factory has no name (a non-empty string)");
  }
  call.name = name->get<std::string>();
  // As TaskFlow's flow_from_detail: missing args/kwargs mean none.
  if (const auto args = factory.find("args"); args != factory.end() && !args->is_null()) {
    if (!args->is_array()) {
      throw InvalidFormat(fmt::format("the args of factory '{}' are not a list", call.name));
    }
    call.args = *args;
  }
  if (const auto kwargs = factory.find("kwargs"); kwargs != factory.end() && !kwargs->is_null()) {
    if (!kwargs->is_object()) {
      throw InvalidFormat(fmt::format("the kwargs of factory '{}' are not an object", call.name));
    }
    call.kwargs = *kwargs;
  }
  return call;
}

void save_factory_details(persistence::FlowDetail& flow_detail, FactoryCall call) {
  if (!flow_detail.meta.is_object()) {
    flow_detail.meta = Value::object();
  }
  flow_detail.meta["factory"] = call.to_value();
}

void FlowRegistry::add(std::string name, Factory factory, std::string description) {
  if (name.empty()) {
    throw InvalidArgument("a flow factory needs a name");
  }
  if (!factory) {
    throw InvalidArgument(fmt::format("flow factory '{}' is empty", name));
  }
  if (factories_.contains(name)) {
    throw Duplicate(fmt::format("flow factory '{}' is already registered", name));
  }
  factories_.emplace(std::move(name), Registered{std::move(factory), std::move(description)});
}

bool FlowRegistry::contains(std::string_view name) const {
  return factories_.find(name) != factories_.end();
}

FlowPtr FlowRegistry::make(const FactoryCall& call) const {
  const auto it = factories_.find(call.name);
  if (it == factories_.end()) {
    throw NotFound(fmt::format("no flow factory named '{}' is registered", call.name));
  }
  FlowPtr flow = it->second.factory(call.args, call.kwargs);
  if (!flow) {
    throw InvalidArgument(fmt::format("flow factory '{}' returned no flow", call.name));
  }
  return flow;
}

std::vector<FlowRegistry::Entry> FlowRegistry::entries() const {
  std::vector<Entry> out;
  out.reserve(factories_.size());
  for (const auto& [name, registered] : factories_) {
    out.push_back({name, registered.description});
  }
  return out;
}

}  // namespace caboose::conductors
