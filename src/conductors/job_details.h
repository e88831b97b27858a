// What a conductor reads from a job's details and its flow detail's meta, as TaskFlow's
// _engine_from_job: the flow detail to run and the values the engine starts with. Both come
// from job data a stranger may have written: every malformed field is an InvalidFormat.
#pragma once

#include <optional>
#include <string>

#include "caboose/core/value.h"
#include "caboose/jobs/job.h"
#include "caboose/persistence/models.h"

namespace caboose::conductors {

// details["flow_uuid"], or nullopt when the job names no flow detail (its book must hold one).
std::optional<std::string> flow_uuid_of(const jobs::Job& job);

// The stored values the engine starts with: the flow detail's meta["store"], then the job's
// details["store"] over it.
Value merged_store(const persistence::FlowDetail& flow, const jobs::Job& job);

}  // namespace caboose::conductors
