// `caboose jobs post|list|show|trash|requeue|purge --board URI` and `caboose bin --board URI`:
// a jobboard's jobs and its garbage bin, as tables for people or JSON for programs.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace caboose::cli {

struct JobsOptions {
  std::string board;  // a jobboard URI
  bool json = false;
};

struct PostJobOptions {
  std::string name;
  std::string details = "{}";  // JSON object
  std::string priority = "NORMAL";
  std::int64_t max_attempts = 0;
  // With both: a logbook holding one flow detail that names the factory (TaskFlow's
  // {"factory": {"name", "args", "kwargs"}} meta) is saved there, and the job points at it
  // (its book, and details["flow_uuid"]), as a TaskFlow poster does.
  std::string persistence;
  std::string factory;
  std::string args = "[]";    // the factory's args (JSON list)
  std::string kwargs = "{}";  // the factory's kwargs (JSON object)
  std::string store;          // details["store"] (JSON object), if given
  std::int64_t count = 1;     // that many jobs, each with its own logbook
};

int post_job(std::ostream& out, const JobsOptions& options, const PostJobOptions& post);
int list_jobs(std::ostream& out, const JobsOptions& options);
int show_job(std::ostream& out, const JobsOptions& options, const std::string& job_uuid);
// Prints who holds a valid claim on the job; exit code 3 when nobody does.
int show_owner(std::ostream& out, const JobsOptions& options, const std::string& job_uuid);
int trash_job(std::ostream& out, const JobsOptions& options, const std::string& job_uuid,
              const std::string& reason);
int requeue_job(std::ostream& out, const JobsOptions& options, const std::string& job_uuid);
// Purges one trashed job, or every one when `job_uuid` is empty.
int purge_jobs(std::ostream& out, const JobsOptions& options, const std::string& job_uuid);
int show_bin(std::ostream& out, const JobsOptions& options);

struct WatchOptions {
  std::int64_t interval_ms = 1000;
  std::int64_t count = 0;  // snapshots to show, then exit; 0: until SIGINT/SIGTERM
};
// A live view of the board: counts by state, the bin, the jobs (redrawn on a terminal); with
// --json, one JSON object per snapshot and line.
int watch_jobs(std::ostream& out, const JobsOptions& options, const WatchOptions& watch);

// Exit codes of the command line (also in --help): 0 done; 1 failed (the message says why:
// bad input, an unreachable or refusing store); 2 usage (unknown command, bad flags);
// 3 nobody holds the job (jobs claim-owner); 4 listed, but some records were unreadable
// (jobs list: they are named).
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNobody = 3;
inline constexpr int kExitUnreadable = 4;

}  // namespace caboose::cli
