// What a conductor reads from job data before it runs anything: a flow detail's meta naming
// the factory (TaskFlow's save_factory_details format) and its "store", a job's
// details["flow_uuid"] and details["store"], and engine options. The input is JSON text, read
// as a stored record is; each reader returns or throws a caboose::Error, and what reads back
// from its own output reads the same.
#include "caboose/conductors/flow_registry.h"
#include "caboose/core/decode.h"
#include "caboose/core/errors.h"
#include "caboose/engine/engine.h"

#include "conductors/job_details.h"
#include "fuzz/fuzz_check.h"

using caboose::Error;
using caboose::Value;
using caboose::conductors::FactoryCall;
namespace engine = caboose::engine;

namespace {

void factory(const Value& meta) {
  try {
    const FactoryCall call = FactoryCall::from_meta(meta);
    CABOOSE_FUZZ_CHECK(!call.name.empty() && call.args.is_array() && call.kwargs.is_object());
    caboose::persistence::FlowDetail flow;
    caboose::conductors::save_factory_details(flow, call);
    const FactoryCall again = FactoryCall::from_meta(flow.meta);
    CABOOSE_FUZZ_CHECK(again.to_value() == call.to_value());
  } catch (const Error&) {
  }
}

void job_details(const Value& v) {
  caboose::jobs::Job job;
  job.uuid = "fuzzed-job";
  job.details = v;
  caboose::persistence::FlowDetail flow;
  flow.meta = v.is_object() && v.contains("meta") ? v.at("meta") : v;
  try {
    (void)caboose::conductors::flow_uuid_of(job);
  } catch (const Error&) {
  }
  try {
    const Value store = caboose::conductors::merged_store(flow, job);
    CABOOSE_FUZZ_CHECK(store.is_object());
  } catch (const Error&) {
  }
}

void engine_options(const Value& v) {
  try {
    const engine::EngineOptions options = engine::EngineOptions::from_value(v);
    const engine::EngineOptions again = engine::EngineOptions::from_value(options.to_value());
    CABOOSE_FUZZ_CHECK(again.to_value() == options.to_value());
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Value v;
  try {
    v = caboose::decode_json(caboose::fuzz::as_text(data, size), "a fuzzed record",
                             caboose::kRecordLimits);
  } catch (const Error&) {
    return 0;
  }
  factory(v);
  job_details(v);
  engine_options(v);
  if (v.is_object() && v.contains("options")) {
    engine_options(v.at("options"));
  }
  return 0;
}
