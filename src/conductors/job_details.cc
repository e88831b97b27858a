#include "conductors/job_details.h"

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose::conductors {

std::optional<std::string> flow_uuid_of(const jobs::Job& job) {
  if (!job.details.contains("flow_uuid")) {
    return std::nullopt;
  }
  const Value& flow_uuid = job.details.at("flow_uuid");
  if (!flow_uuid.is_string()) {
    throw InvalidFormat(fmt::format("job {}: details[\"flow_uuid\"] is not a string", job.uuid));
  }
  return flow_uuid.get<std::string>();
}

Value merged_store(const persistence::FlowDetail& flow, const jobs::Job& job) {
  Value store = Value::object();
  for (const Value* source :
       {flow.meta.is_object() && flow.meta.contains("store") ? &flow.meta.at("store") : nullptr,
        job.details.contains("store") ? &job.details.at("store") : nullptr}) {
    if (source == nullptr || source->is_null()) {
      continue;
    }
    if (!source->is_object()) {
      throw InvalidFormat(fmt::format("job {}: a \"store\" that is not an object", job.uuid));
    }
    for (const auto& [key, value] : source->items()) {
      store[key] = value;
    }
  }
  return store;
}

}  // namespace caboose::conductors
