// `caboose conductor --board URI --persistence URI`: a conductor process. It claims jobs whose
// factory the registry knows and runs them until SIGTERM or SIGINT (then it claims nothing more,
// suspends running engines, releases their jobs without using an attempt and exits 0), until
// --max-dispatches jobs ran, or with --drain once the board holds no job. A board or store it
// cannot reach at start is retried for --connect-timeout-ms (a server restarting), then it fails.
//
// With --metrics-port, it serves its metrics (docs/operations.md) and the board's depth.
//
// `caboose flows`: the registered flow factories.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

#include "caboose/conductors/flow_registry.h"

namespace caboose::cli {

struct ConductorCommandOptions {
  std::string board;
  std::string persistence;
  std::string name;          // default: caboose@<host>:<pid>
  std::size_t max_jobs = 1;  // 1: a blocking conductor; more: non-blocking, that many at once
  std::int64_t max_dispatches = -1;  // negative: no limit
  bool drain = false;
  std::int64_t wait_ms = 500;
  std::int64_t backoff_ms = 1000;
  std::string engine = "serial";  // or "parallel"
  bool events = false;            // one JSON line per job outcome on stdout
  bool json = false;              // the final summary as JSON
  // Serve Prometheus metrics on http://<metrics_address>:<metrics_port>/metrics (0: a free
  // port, announced on stderr); negative: none.
  int metrics_port = -1;
  std::string metrics_address = "127.0.0.1";
  // How long to wait at start for an unreachable board or store (retrying) before failing.
  std::int64_t connect_timeout_ms = 60000;
};

int run_conductor(std::ostream& out, const ConductorCommandOptions& options,
                  const conductors::FlowRegistry& registry);

int list_flows(std::ostream& out, const conductors::FlowRegistry& registry, bool json);

}  // namespace caboose::cli
