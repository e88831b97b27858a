#include "jobs_command.h"

#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

namespace caboose::cli {
namespace {

using jobs::Job;

std::string cut(std::string text, std::size_t width) {
  if (text.size() > width) {
    text = text.substr(0, width - 3) + "...";
  }
  return text;
}

void print_jobs(std::ostream& out, const std::vector<Job>& jobs, bool json, bool bin) {
  if (json) {
    Value all = Value::array();
    for (const Job& job : jobs) {
      all.push_back(job.to_value());
    }
    out << all.dump(2) << "\n";
    return;
  }
  if (bin) {
    out << fmt::format("{:<36}  {:<20}  {:>8}  {:<24}  {}\n", "UUID", "NAME", "ATTEMPTS", "REASON",
                       "LAST FAILURE");
  } else {
    out << fmt::format("{:<36}  {:<20}  {:<6}  {:<9}  {:<16}  {:>8}  {}\n", "UUID", "NAME", "PRIO",
                       "STATE", "OWNER", "ATTEMPTS", "CREATED");
  }
  for (const Job& job : jobs) {
    if (bin) {
      out << fmt::format("{:<36}  {:<20}  {:>8}  {:<24}  {}\n", job.uuid, cut(job.name, 20),
                         fmt::format("{}/{}", job.attempts, job.max_attempts),
                         cut(job.trash_reason.value_or("-"), 24),
                         job.last_failure ? cut(job.last_failure->exception_str(), 60) : "-");
    } else {
      out << fmt::format(
          "{:<36}  {:<20}  {:<6}  {:<9}  {:<16}  {:>8}  {}\n", job.uuid, cut(job.name, 20),
          to_string(job.priority), to_string(job.state), cut(job.owner.value_or("-"), 16),
          fmt::format("{}/{}", job.attempts, job.max_attempts), jobs::format_time(job.created_on));
    }
  }
  if (jobs.empty()) {
    out << (bin ? "(the garbage bin is empty)\n" : "(no jobs)\n");
  }
}

Value parse_details(const std::string& text) {
  Value details;
  try {
    details = Value::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(fmt::format("--details is not JSON: {}", e.what()));
  }
  if (!details.is_object()) {
    throw InvalidArgument("--details must be a JSON object");
  }
  return details;
}

}  // namespace

int post_job(std::ostream& out, const JobsOptions& options, const PostJobOptions& post) {
  jobs::PostOptions job{.details = parse_details(post.details),
                        .priority = jobs::parse_job_priority(post.priority),
                        .max_attempts = post.max_attempts};
  if (post.persistence.empty() != post.factory.empty()) {
    throw InvalidArgument("--persistence and --factory go together");
  }
  if (!post.persistence.empty()) {
    auto backend = persistence::fetch(post.persistence);
    persistence::LogBook book = persistence::make_logbook(post.name);
    persistence::FlowDetail flow = persistence::make_flow_detail(post.name);
    flow.meta["factory"] = {
        {"name", post.factory}, {"args", Value::array()}, {"kwargs", Value::object()}};
    book.flows.push_back(flow);
    book.updated_at = std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());  // as LogBook.add()
    backend->save_logbook(book);
    job.book = book;
    job.details["flow_uuid"] = flow.uuid;
  }
  auto board = jobs::fetch_jobboard(options.board);
  const Job posted = board->post(post.name, std::move(job));
  if (options.json) {
    out << posted.to_value().dump(2) << "\n";
  } else {
    out << posted.uuid << "\n";
  }
  return 0;
}

int list_jobs(std::ostream& out, const JobsOptions& options) {
  auto board = jobs::fetch_jobboard(options.board);
  print_jobs(out, board->iterjobs(), options.json, /*bin=*/false);
  for (const std::string& problem : board->skipped()) {
    out << "unreadable: " << problem << "\n";
  }
  return board->skipped().empty() ? 0 : 2;
}

int show_job(std::ostream& out, const JobsOptions& options, const std::string& job_uuid) {
  auto board = jobs::fetch_jobboard(options.board);
  const std::optional<Job> job = board->find(job_uuid);
  if (!job) {
    throw NotFound(fmt::format("no job {} on {}", job_uuid, options.board));
  }
  const Value v = job->to_value();
  if (options.json) {
    out << v.dump(2) << "\n";
    return 0;
  }
  for (const auto& [key, value] : v.items()) {
    out << fmt::format("{:<14} {}\n", key,
                       value.is_string() ? value.get<std::string>() : value.dump());
  }
  return 0;
}

int trash_job(std::ostream& out, const JobsOptions& options, const std::string& job_uuid,
              const std::string& reason) {
  auto board = jobs::fetch_jobboard(options.board);
  // Trashing takes a claim, so a job a conductor holds is refused (UnclaimableJob).
  board->trash(board->claim(job_uuid, "caboose-cli"), reason);
  out << fmt::format("trashed {}: {}\n", job_uuid, reason);
  return 0;
}

int requeue_job(std::ostream& out, const JobsOptions& options, const std::string& job_uuid) {
  auto board = jobs::fetch_jobboard(options.board);
  const Job job = board->requeue(job_uuid);
  out << fmt::format("requeued {} ('{}')\n", job.uuid, job.name);
  return 0;
}

int purge_jobs(std::ostream& out, const JobsOptions& options, const std::string& job_uuid) {
  auto board = jobs::fetch_jobboard(options.board);
  if (job_uuid.empty()) {
    out << fmt::format("purged {} trashed jobs\n", board->purge_all());
  } else {
    board->purge(job_uuid);
    out << fmt::format("purged {}\n", job_uuid);
  }
  return 0;
}

int show_bin(std::ostream& out, const JobsOptions& options) {
  auto board = jobs::fetch_jobboard(options.board);
  print_jobs(out, board->trashed(), options.json, /*bin=*/true);
  return 0;
}

}  // namespace caboose::cli
