#include "jobs_command.h"

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "caboose/conductors/flow_registry.h"
#include "caboose/conductors/post.h"
#include "caboose/core/errors.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

#include "progress.h"
#include "stop_signals.h"

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

Value parse_json(const std::string& text, const char* option, Value::value_t type) {
  Value value;
  try {
    value = Value::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(fmt::format("{} is not JSON: {}", option, e.what()));
  }
  if (value.type() != type) {
    throw InvalidArgument(fmt::format("{} must be a JSON {}", option,
                                      type == Value::value_t::array ? "list" : "object"));
  }
  return value;
}

}  // namespace

int post_job(std::ostream& out, const JobsOptions& options, const PostJobOptions& post) {
  const Value details = parse_json(post.details, "--details", Value::value_t::object);
  if (post.persistence.empty() != post.factory.empty()) {
    throw InvalidArgument("--persistence and --factory go together");
  }
  if (post.count < 1) {
    throw InvalidArgument("--count must be at least 1");
  }
  conductors::FactoryCall factory{
      .name = post.factory,
      .args = parse_json(post.args, "--args", Value::value_t::array),
      .kwargs = parse_json(post.kwargs, "--kwargs", Value::value_t::object)};
  std::unique_ptr<persistence::Backend> backend;
  if (!post.persistence.empty()) {
    backend = persistence::fetch(post.persistence);
  }
  auto board = jobs::fetch_jobboard(options.board);
  Value posted_all = Value::array();
  // A progress line on a terminal, for long batches.
  Progress progress(post.count >= 100);
  for (std::int64_t i = 0; i < post.count; ++i) {
    jobs::PostOptions job{.details = details,
                          .priority = jobs::parse_job_priority(post.priority),
                          .max_attempts = post.max_attempts};
    const Value store =
        post.store.empty() ? Value() : parse_json(post.store, "--store", Value::value_t::object);
    Job posted;
    if (backend) {
      // As a TaskFlow poster: a logbook with one flow detail naming the factory, then the job.
      posted = conductors::post_flow_job(
          *board, *backend,
          {.name = post.name, .factory = factory, .store = store, .options = std::move(job)});
    } else {
      if (!store.is_null()) {
        job.details["store"] = store;
      }
      posted = board->post(post.name, std::move(job));
    }
    if ((i + 1) % 100 == 0 || i + 1 == post.count) {
      progress.update(fmt::format("posted {}/{}", i + 1, post.count));
    }
    if (options.json) {
      posted_all.push_back(posted.to_value());
    } else {
      out << posted.uuid << "\n";
    }
  }
  if (options.json) {
    out << (post.count == 1 ? posted_all.at(0) : posted_all).dump(2) << "\n";
  }
  return 0;
}

int show_owner(std::ostream& out, const JobsOptions& options, const std::string& job_uuid) {
  auto board = jobs::fetch_jobboard(options.board);
  if (!board->find(job_uuid)) {
    throw NotFound(fmt::format("no job {} on the board", job_uuid));
  }
  const std::optional<std::string> owner = board->find_owner(job_uuid);
  if (options.json) {
    out << Value{{"job_uuid", job_uuid}, {"owner", owner ? Value(*owner) : Value()}}.dump() << "\n";
  } else {
    out << owner.value_or("(unclaimed)") << "\n";
  }
  return owner ? 0 : kExitNobody;
}

int list_jobs(std::ostream& out, const JobsOptions& options) {
  auto board = jobs::fetch_jobboard(options.board);
  print_jobs(out, board->iterjobs(), options.json, /*bin=*/false);
  for (const std::string& problem : board->skipped()) {
    out << "unreadable: " << problem << "\n";
  }
  return board->skipped().empty() ? 0 : kExitUnreadable;
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

int watch_jobs(std::ostream& out, const JobsOptions& options, const WatchOptions& watch) {
  if (watch.interval_ms <= 0) {
    throw InvalidArgument("--interval-ms must be positive");
  }
  StopSignals signals;
  auto board = jobs::fetch_jobboard(options.board);
  const bool screen = !options.json && ::isatty(1) == 1;
  for (std::int64_t shown = 0; watch.count <= 0 || shown < watch.count; ++shown) {
    if (shown > 0 && signals.wait(std::chrono::milliseconds(watch.interval_ms)) != 0) {
      break;
    }
    const std::vector<Job> all = board->iterjobs();
    const std::size_t bin = board->trashed().size();
    const jobs::TimePoint at = jobs::now();
    std::map<std::string, std::int64_t> by_state = {
        {"claimable", 0}, {"waiting", 0}, {"claimed", 0}};
    Value claimed = Value::array();
    for (const Job& job : all) {
      ++by_state[std::string(jobs::availability(job, at))];
      if (job.state == jobs::JobState::kClaimed) {
        claimed.push_back({{"job", job.uuid},
                           {"name", job.name},
                           {"owner", job.owner.value_or("")},
                           {"attempt", job.attempts}});
      }
    }
    if (options.json) {
      out << Value{{"at", jobs::format_time(at)},
                   {"jobs", all.size()},
                   {"by_state", by_state},
                   {"bin", bin},
                   {"claimed", claimed}}
                 .dump()
          << std::endl;
      continue;
    }
    if (screen) {
      out << "\x1b[H\x1b[2J";  // a live view: redraw from the top
    }
    out << fmt::format("{}  {}\n{} jobs: {} claimable, {} waiting, {} claimed; {} in the bin\n",
                       jobs::format_time(at), jobs::redact_board_uri(options.board), all.size(),
                       by_state["claimable"], by_state["waiting"], by_state["claimed"], bin);
    print_jobs(out, all, /*json=*/false, /*bin=*/false);
    out << std::flush;
  }
  return 0;
}

int show_bin(std::ostream& out, const JobsOptions& options) {
  auto board = jobs::fetch_jobboard(options.board);
  print_jobs(out, board->trashed(), options.json, /*bin=*/true);
  return 0;
}

}  // namespace caboose::cli
