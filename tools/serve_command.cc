#include "serve_command.h"

#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/fetch.h"
#include "caboose/persistence/postgres_backend.h"

#include "http_server.h"
#include "stop_signals.h"
#include "web_view.h"

namespace caboose::cli {

int run_serve(std::ostream& out, const ServeOptions& options,
              const conductors::FlowRegistry& registry) {
  StopSignals signals;  // before the server's thread starts
  auto board = jobs::fetch_jobboard(options.board);
  auto backend = persistence::fetch(options.persistence);
  WebView view(*board, *backend, registry,
               {.board_shown = jobs::redact_board_uri(options.board),
                .persistence_shown = persistence::redact_conninfo(options.persistence),
                .allow_write = options.allow_write});
  HttpServer server(options.address, options.port,
                    [&view](const HttpRequest& request) { return view.handle(request); });
  std::cerr << fmt::format("caboose: serving on http://{}:{}/{}\n", options.address, server.port(),
                           options.allow_write ? "" : " (read-only)")
            << std::flush;
  int sig = 0;
  while ((sig = signals.wait(std::chrono::seconds(1))) == 0) {
  }
  out << fmt::format("stopped by {}\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  return 0;
}

}  // namespace caboose::cli
