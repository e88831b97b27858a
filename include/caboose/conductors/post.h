// Posting work for conductors, as a TaskFlow poster does: a logbook holding one flow detail whose
// meta names the factory (save_factory_details), saved first, then a job on the board pointing
// at it (details["flow_uuid"]; the initial store in details["store"]).
//
//   caboose::conductors::post_flow_job(*board, *backend,
//       {.name = "charge-17", .factory = {.name = "orders.charge"},
//        .store = caboose::Value{{"order", 17}, {"amount", 42}}});
#pragma once

#include <string>

#include "caboose/conductors/flow_registry.h"
#include "caboose/core/value.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/backend.h"

namespace caboose::conductors {

struct FlowJob {
  std::string name;                // the job's (and the logbook's and flow detail's) name
  FactoryCall factory;             // the registered factory that builds the flow
  Value store = nullptr;           // the flow's initial store, an object (null: none)
  jobs::PostOptions options = {};  // details, priority, max_attempts, not_before; book is set here
};

// Saves the logbook, then posts the job; returns the job as posted. Throws what the backend or
// the board throws (the logbook may then be saved without a job: harmless, TaskFlow does the
// same), and InvalidArgument for a store that is not an object.
jobs::Job post_flow_job(jobs::JobBoard& board, persistence::Backend& backend, FlowJob job);

}  // namespace caboose::conductors
