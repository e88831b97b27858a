#include "caboose/cli/cli.h"

#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "caboose/conductors/examples.h"
#include "caboose/core/fault_point.h"

#include "books_command.h"
#include "conductor_command.h"
#include "demo_command.h"
#include "jobs_command.h"
#include "serve_command.h"
#include "showcase_command.h"

namespace caboose::cli {

int run_cli(int argc, char** argv) {
  conductors::FlowRegistry registry;
  conductors::add_example_flows(registry);
  return run_cli(argc, argv, registry);
}

int run_cli(int argc, char** argv, const conductors::FlowRegistry& registry) {
  CLI::App app{"caboose: durable task flows, jobboards and conductors"};
  app.set_version_flag("--version", std::string("caboose ") + CABOOSE_VERSION);
  app.require_subcommand(0, 1);
  app.footer(
      "Exit codes: 0 done; 1 failed (the message says why: bad input, an unreachable or "
      "refusing store); 2 usage (unknown command, bad flags); 3 nobody holds the job (jobs "
      "claim-owner); 4 listed, but some records were unreadable (jobs list names them).\n"
      "Every command that prints a result takes --json (one JSON document; jobs watch and "
      "conductor --events print one per line).");
  spdlog::set_level(spdlog::level::warn);

  DemoOptions demo_options;
  CLI::App* demo =
      app.add_subcommand("demo", "Run the example order flow (a task fails and is reverted)");
  demo->add_flag("--json", demo_options.json, "Print the summary as JSON");
  demo->add_flag("--dot", demo_options.dot,
                 "Print the flow as Graphviz dot, coloured by the states it ended in")
      ->excludes("--json");
  demo->add_option("--persistence", demo_options.persistence,
                   "Save the run to this persistence URI (e.g. sqlite:///demo.db)");

  BooksOptions books_options;
  std::string book_wanted;
  CLI::App* books = app.add_subcommand("books", "Show what a persistence backend holds");
  books->require_subcommand(1);
  CLI::App* books_list = books->add_subcommand("list", "List the logbooks");
  CLI::App* books_show =
      books->add_subcommand("show", "Show a logbook's flows and atoms, with states and results");
  books_show->add_option("book", book_wanted, "The logbook's uuid or name")->required();
  for (CLI::App* sub : {books_list, books_show}) {
    sub->add_option("--persistence", books_options.persistence,
                    "Persistence URI: sqlite:///file.db, memory://, ...")
        ->required();
    sub->add_flag("--json", books_options.json, "Print JSON instead of a table");
  }

  JobsOptions jobs_options;
  PostJobOptions post_options;
  std::string job_uuid;
  std::string trash_reason = "trashed by hand";
  bool purge_everything = false;
  CLI::App* jobs = app.add_subcommand("jobs", "Post, list and manage a jobboard's jobs");
  jobs->require_subcommand(1);
  CLI::App* jobs_post = jobs->add_subcommand("post", "Post a job");
  jobs_post->add_option("name", post_options.name, "The job's name")->required();
  jobs_post->add_option("--details", post_options.details, "The job's details (a JSON object)");
  jobs_post->add_option("--priority", post_options.priority,
                        "VERY_HIGH, HIGH, NORMAL, LOW or VERY_LOW");
  jobs_post->add_option("--max-attempts", post_options.max_attempts,
                        "Claims allowed before the job is trashed (default: the board's)");
  jobs_post->add_option("--persistence", post_options.persistence,
                        "Save a logbook for the job there (with --factory)");
  jobs_post->add_option("--factory", post_options.factory,
                        "The flow factory the job's flow detail names");
  jobs_post->add_option("--args", post_options.args, "The factory's args (a JSON list)");
  jobs_post->add_option("--kwargs", post_options.kwargs, "The factory's kwargs (a JSON object)");
  jobs_post->add_option("--store", post_options.store,
                        "Values for the flow (a JSON object, details[\"store\"])");
  jobs_post->add_option("--count", post_options.count, "Post this many such jobs");
  CLI::App* jobs_list = jobs->add_subcommand("list", "List the jobs on the board");
  CLI::App* jobs_owner =
      jobs->add_subcommand("claim-owner", "Who holds a valid claim on a job (exit 3: nobody)");
  CLI::App* jobs_show = jobs->add_subcommand("show", "Show one job");
  CLI::App* jobs_trash = jobs->add_subcommand("trash", "Move an unclaimed job to the garbage bin");
  jobs_trash->add_option("--reason", trash_reason, "Why");
  CLI::App* jobs_requeue = jobs->add_subcommand("requeue", "Put a trashed job back on the board");
  CLI::App* jobs_purge = jobs->add_subcommand("purge", "Delete trashed jobs");
  WatchOptions watch_options;
  CLI::App* jobs_watch =
      jobs->add_subcommand("watch", "A live view of the board (until SIGINT/SIGTERM)");
  jobs_watch->add_option("--interval-ms", watch_options.interval_ms,
                         "Time between snapshots (default 1000)");
  jobs_watch->add_option("--count", watch_options.count, "Show this many snapshots, then exit");
  jobs_purge->add_flag("--all", purge_everything, "Every trashed job");
  for (CLI::App* sub : {jobs_show, jobs_owner, jobs_trash, jobs_requeue}) {
    sub->add_option("job", job_uuid, "The job's uuid")->required();
  }
  jobs_purge->add_option("job", job_uuid, "The job's uuid");
  CLI::App* bin = app.add_subcommand("bin", "The garbage bin: trashed jobs and why");
  for (CLI::App* sub : {jobs_post, jobs_list, jobs_show, jobs_owner, jobs_trash, jobs_requeue,
                        jobs_purge, jobs_watch, bin}) {
    sub->add_option("--board", jobs_options.board, "Jobboard URI: sqlite:///board.db, ...")
        ->required();
    sub->add_flag("--json", jobs_options.json, "Print JSON instead of a table");
  }

  ConductorCommandOptions conductor_options;
  CLI::App* conductor = app.add_subcommand(
      "conductor", "Claim jobs from a board and run them (SIGTERM/SIGINT: stop gracefully)");
  conductor->add_option("--board", conductor_options.board, "Jobboard URI")->required();
  conductor->add_option("--persistence", conductor_options.persistence, "Persistence URI")
      ->required();
  conductor->add_option("--name", conductor_options.name,
                        "The conductor's name on the board (default: caboose@host:pid)");
  conductor->add_option("--max-jobs", conductor_options.max_jobs,
                        "Jobs run at once (1: a blocking conductor)");
  conductor->add_option("--max-dispatches", conductor_options.max_dispatches,
                        "Exit after claiming this many jobs");
  conductor->add_flag("--drain", conductor_options.drain, "Exit once the board holds no job");
  conductor->add_option("--wait-ms", conductor_options.wait_ms,
                        "Idle wait between board scans, in milliseconds");
  conductor->add_option("--backoff-ms", conductor_options.backoff_ms,
                        "First backoff of an abandoned job, in milliseconds (doubles per attempt)");
  conductor->add_option("--engine", conductor_options.engine, "serial or parallel");
  conductor->add_option("--connect-timeout-ms", conductor_options.connect_timeout_ms,
                        "How long to retry an unreachable board or store at start");
  conductor->add_flag("--events", conductor_options.events,
                      "Print one JSON line per job outcome as it happens");
  conductor->add_flag("--json", conductor_options.json, "Print the final summary as JSON");
  conductor->add_option("--metrics-port", conductor_options.metrics_port,
                        "Serve Prometheus metrics on this port (0: a free one, announced on "
                        "stderr)");
  conductor->add_option("--metrics-address", conductor_options.metrics_address,
                        "Address the metrics endpoint listens on (default 127.0.0.1)");
  std::string log_level = "warn";
  conductor->add_option("--log-level", log_level, "trace, debug, info, warn or error");

  ShowcaseOptions showcase_options;
  CLI::App* showcase = app.add_subcommand(
      "showcase",
      "The main job: example jobs (one poison, one that crashes its conductor) run by two "
      "conductor processes on an embedded SQLite board, then what became of each");
  showcase->add_option("--dir", showcase_options.dir,
                       "Keep the board, the flows and the logs there (default: a new temp dir)");
  showcase->add_flag("--json", showcase_options.json, "Print the summary as JSON");

  ServeOptions serve_options;
  CLI::App* serve = app.add_subcommand(
      "serve", "A web view of a board and its flows: jobs, the garbage bin, logbooks, graphs");
  serve->add_option("--board", serve_options.board, "Jobboard URI")->required();
  serve->add_option("--persistence", serve_options.persistence, "Persistence URI")->required();
  serve->add_option("--port", serve_options.port, "Port (default 8080; 0: a free one)");
  serve->add_option("--address", serve_options.address, "Address (default 127.0.0.1)");
  serve->add_flag("--allow-write", serve_options.allow_write,
                  "Allow requeue and purge from the garbage bin (read-only otherwise)");

  bool flows_json = false;
  CLI::App* flows = app.add_subcommand("flows", "List the flow factories this binary can run");
  flows->add_flag("--json", flows_json, "Print JSON instead of a table");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;  // --help and --version are "errors" of 0
  }
  try {
    if (*conductor) {
      spdlog::set_level(spdlog::level::from_str(log_level));
      (void)arm_fault_points_from_env();  // a test's crash points (caboose/core/fault_point.h)
      return run_conductor(std::cout, conductor_options, registry);
    }
    if (*showcase) {
      return run_showcase(std::cout, showcase_options);
    }
    if (*serve) {
      return run_serve(std::cout, serve_options, registry);
    }
    if (*flows) {
      return list_flows(std::cout, registry, flows_json);
    }
    if (*jobs_owner) {
      return show_owner(std::cout, jobs_options, job_uuid);
    }
    if (*demo) {
      return run_demo(std::cout, demo_options);
    }
    if (*books_list) {
      return list_books(std::cout, books_options);
    }
    if (*books_show) {
      return show_book(std::cout, books_options, book_wanted);
    }
    if (*jobs_post) {
      return post_job(std::cout, jobs_options, post_options);
    }
    if (*jobs_list) {
      return list_jobs(std::cout, jobs_options);
    }
    if (*jobs_show) {
      return show_job(std::cout, jobs_options, job_uuid);
    }
    if (*jobs_trash) {
      return trash_job(std::cout, jobs_options, job_uuid, trash_reason);
    }
    if (*jobs_requeue) {
      return requeue_job(std::cout, jobs_options, job_uuid);
    }
    if (*jobs_purge) {
      if (job_uuid.empty() != purge_everything) {
        std::cerr << "caboose: jobs purge takes a job uuid or --all\n";
        return kExitUsage;
      }
      return purge_jobs(std::cout, jobs_options, job_uuid);
    }
    if (*bin) {
      return show_bin(std::cout, jobs_options);
    }
    if (*jobs_watch) {
      return watch_jobs(std::cout, jobs_options, watch_options);
    }
    std::cout << app.help();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "caboose: " << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace caboose::cli
