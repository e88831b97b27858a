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

}  // namespace caboose::cli
