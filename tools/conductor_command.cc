#include "conductor_command.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "caboose/conductors/conductor.h"
#include "caboose/core/errors.h"
#include "caboose/core/metrics.h"
#include "caboose/jobs/board_metrics.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"

#include "http_server.h"
#include "progress.h"
#include "stop_signals.h"

namespace caboose::cli {
namespace {

constexpr std::chrono::milliseconds kMaxConnectDelay(2000);

std::string default_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) {
    host[0] = '\0';
  }
  return fmt::format("caboose@{}:{}", host[0] != '\0' ? host : "localhost", ::getpid());
}

}  // namespace

int run_conductor(std::ostream& out, const ConductorCommandOptions& options,
                  const conductors::FlowRegistry& registry) {
  if (options.max_jobs == 0) {
    throw InvalidArgument("--max-jobs must be at least 1");
  }
  if (options.wait_ms <= 0 || options.backoff_ms < 0 || options.connect_timeout_ms < 0) {
    throw InvalidArgument(
        "--wait-ms must be positive, --backoff-ms and --connect-timeout-ms not negative");
  }
  StopSignals signals;  // before any thread starts
  const std::string name = options.name.empty() ? default_name() : options.name;
  std::unique_ptr<jobs::JobBoard> board;
  std::unique_ptr<persistence::Backend> backend;

  // Metrics: declared before the conductor, which updates them until it is gone; the board's
  // depth is read through a connection of its own, at scrape time.
  MetricsRegistry metrics;
  std::unique_ptr<jobs::JobBoard> metrics_board;

  conductors::ConductorOptions conductor_options;
  if (options.metrics_port >= 0) {
    conductor_options.metrics = &metrics;
  }
  conductor_options.engine = engine::EngineOptions::from_value(Value{{"engine", options.engine}});
  conductor_options.wait_timeout = std::chrono::milliseconds(options.wait_ms);
  conductor_options.backoff.base = std::chrono::milliseconds(options.backoff_ms);
  conductor_options.backoff.cap =
      std::max(conductor_options.backoff.cap, conductor_options.backoff.base);
  std::unique_ptr<conductors::Conductor> conductor;
  // The board or the store may be down for a moment when we start (a server restarting): wait
  // for them, as a running conductor does, until a stop signal or --connect-timeout-ms.
  const auto connect_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options.connect_timeout_ms);
  for (std::chrono::milliseconds delay(50);; delay = std::min(delay * 2, kMaxConnectDelay)) {
    try {
      board = jobs::fetch_jobboard(options.board);
      backend = persistence::fetch(options.persistence);
      if (options.max_jobs == 1) {
        conductor = std::make_unique<conductors::BlockingConductor>(name, *board, *backend,
                                                                    registry, conductor_options);
      } else {
        conductor = std::make_unique<conductors::NonBlockingConductor>(
            name, *board, *backend, registry, options.max_jobs, conductor_options);
      }
      conductor->connect();
      break;
    } catch (const StorageFailure& e) {
      conductor.reset();
      backend.reset();
      board.reset();
      if (std::chrono::steady_clock::now() + delay >= connect_deadline) {
        throw;
      }
      spdlog::warn("conductor {} cannot reach its board or store: {}; retrying in {} ms", name,
                   e.what(), delay.count());
      if (signals.wait(delay) != 0) {
        return 0;  // stopped before it started: nothing was claimed
      }
    }
  }
  if (options.metrics_port >= 0) {
    metrics_board = jobs::fetch_jobboard(options.board);  // the board is up: we just reached it
    jobs::add_board_metrics(metrics, *metrics_board);
  }
  std::unique_ptr<HttpServer> metrics_server;
  if (options.metrics_port >= 0) {
    metrics_server = std::make_unique<HttpServer>(
        options.metrics_address, options.metrics_port, [&metrics](const HttpRequest& request) {
          if (request.method != "GET" && request.method != "HEAD") {
            return HttpResponse{.status = 405, .content_type = "text/plain", .body = "GET only\n"};
          }
          if (request.path == "/metrics") {
            return HttpResponse{.content_type = kMetricsContentType, .body = metrics.expose()};
          }
          if (request.path == "/") {
            return HttpResponse{.body =
                                    "<!doctype html><title>caboose conductor</title>"
                                    "<a href=\"/metrics\">metrics</a>\n"};
          }
          return HttpResponse{.status = 404, .content_type = "text/plain", .body = "not found\n"};
        });
    std::cerr << fmt::format("caboose: metrics on http://{}:{}/metrics\n", options.metrics_address,
                             metrics_server->port())
              << std::flush;
  }

  std::mutex out_mu;
  std::map<std::string, std::int64_t> outcomes;  // Guarded by out_mu.
  conductor->notifier().register_callback(std::string(Notifier::kAny),
                                          [&](std::string_view event, const Value& details) {
                                            if (event.substr(0, 4) != "job_") {
                                              return;
                                            }
                                            std::lock_guard lock(out_mu);
                                            ++outcomes[std::string(event.substr(4))];
                                            if (options.events) {
                                              Value line = details;
                                              line["event"] = std::string(event);
                                              line.erase("failure");
                                              out << line.dump() << std::endl;
                                            }
                                          });

  std::atomic<int> signal_seen{0};
  // Draining on a terminal (and not printing events there): a progress line.
  Progress progress(options.drain && !options.events);
  std::jthread watcher([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      const int sig = signals.wait(std::chrono::milliseconds(options.wait_ms));
      if (sig != 0) {
        signal_seen.store(sig);
        conductor->stop();
        return;
      }
      if (options.drain) {
        try {
          const std::size_t left = board->job_count();
          {
            std::lock_guard lock(out_mu);
            progress.update(fmt::format("draining: {} consumed, {} abandoned, {} trashed; {} left",
                                        outcomes["consumed"], outcomes["abandoned"],
                                        outcomes["trashed"], left));
          }
          if (left == 0) {
            conductor->stop();
            return;
          }
        } catch (const std::exception&) {
          // the conductor logs what is wrong with the board; keep watching
        }
      }
    }
  });
  conductor->run(options.max_dispatches < 0 ? std::nullopt
                                            : std::optional<std::size_t>(static_cast<std::size_t>(
                                                  options.max_dispatches)));
  watcher.request_stop();
  watcher.join();
  progress.done();

  std::lock_guard lock(out_mu);
  Value summary{{"conductor", name}};
  for (const char* key : {"consumed", "abandoned", "trashed", "released", "lost"}) {
    summary[key] = outcomes.contains(key) ? outcomes.at(key) : 0;
  }
  if (signal_seen.load() != 0) {
    summary["stopped_by"] = signal_seen.load() == SIGTERM ? "SIGTERM" : "SIGINT";
  }
  if (options.json) {
    out << summary.dump() << std::endl;
  } else {
    out << fmt::format(
        "conductor {}: {} consumed, {} abandoned, {} trashed, {} released, {} lost\n", name,
        summary["consumed"].get<std::int64_t>(), summary["abandoned"].get<std::int64_t>(),
        summary["trashed"].get<std::int64_t>(), summary["released"].get<std::int64_t>(),
        summary["lost"].get<std::int64_t>());
  }
  metrics_server.reset();
  conductor->close();
  return 0;
}

int list_flows(std::ostream& out, const conductors::FlowRegistry& registry, bool json) {
  if (json) {
    Value all = Value::array();
    for (const auto& entry : registry.entries()) {
      all.push_back({{"name", entry.name}, {"description", entry.description}});
    }
    out << all.dump(2) << "\n";
    return 0;
  }
  out << fmt::format("{:<32}  {}\n", "FACTORY", "DESCRIPTION");
  for (const auto& entry : registry.entries()) {
    out << fmt::format("{:<32}  {}\n", entry.name, entry.description);
  }
  if (registry.size() == 0) {
    out << "(no flow factories registered)\n";
  }
  return 0;
}

}  // namespace caboose::cli
