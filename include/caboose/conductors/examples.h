// The example flow factories the stock `caboose` binary carries (listed by `caboose flows`), for
// demos, interop with Python TaskFlow posters and crash tests:
//
//   caboose.examples.sum        one task "sum": stored x + y, provides "total"
//   caboose.examples.noop       one task that does nothing (benchmarks)
//   caboose.examples.poison     one task that always fails with an ExecutionFailure, so the job
//                               is abandoned and retried until its attempts run out
//   caboose.examples.slow       kwargs {"tasks": N, "ms": M}: N tasks that each sleep M ms
//   caboose.examples.crash_once kwargs {"marker": path}: tasks "before", "crash", "after";
//                               "crash" kills its own process (SIGKILL) when the marker file does
//                               not exist yet (creating it first), so a job crashes its first
//                               conductor and completes on the next
//   caboose.examples.ledger     kwargs {"ledger": path, "tasks": N, "ms": M, "pad": B, "kill_at":
//                               {"atom": name, "attempt": k}}: tasks "step-1".."step-N" that each
//                               record an effect (job, atom, claim token, attempt, conductor, pid,
//                               time) in the SQLite file `path`, then sleep M ms and return
//                               "<job uuid>/<atom>" (with pad, {"id": that, "pad": B bytes});
//                               with kill_at, that atom kills its conductor
//                               (SIGKILL) right after its effect on that attempt (the reliability
//                               harness's workload)
#pragma once

#include "caboose/conductors/flow_registry.h"

namespace caboose::conductors {

// Registers every example factory in `registry`.
void add_example_flows(FlowRegistry& registry);

}  // namespace caboose::conductors
