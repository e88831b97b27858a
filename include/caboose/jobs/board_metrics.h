// A jobboard's depth as metrics, read at scrape time: jobs by state and priority, the garbage
// bin's size, the age of the oldest claimable job. Listing a large board costs round trips, so
// a scrape within `min_interval` of the last listing reuses it.
//
//   caboose::MetricsRegistry metrics;
//   auto board = caboose::jobs::fetch_jobboard(uri);   // its own connection, for the scrapes
//   caboose::jobs::add_board_metrics(metrics, *board);
#pragma once

#include <chrono>

#include "caboose/core/metrics.h"
#include "caboose/jobs/jobboard.h"

namespace caboose::jobs {

// Adds a collector to `metrics` listing `board` (which must outlive the registry's scrapes):
//   caboose_board_jobs{state="claimable"|"waiting"|"claimed", priority=...}   ("waiting": in
//       backoff, not due before not_before)
//   caboose_garbage_bin_jobs
//   caboose_board_oldest_claimable_age_seconds   (0 when none)
// A board that cannot be listed fails that scrape's collector (counted; gauges keep their last
// values).
void add_board_metrics(MetricsRegistry& metrics, JobBoard& board,
                       std::chrono::milliseconds min_interval = std::chrono::seconds(5));

}  // namespace caboose::jobs
