// `caboose serve --board URI --persistence URI [--port N] [--address A] [--allow-write]`: the
// web view (web_view.h) until SIGTERM or SIGINT.
#pragma once

#include <ostream>
#include <string>

#include "caboose/conductors/flow_registry.h"

namespace caboose::cli {

struct ServeOptions {
  std::string board;
  std::string persistence;
  std::string address = "127.0.0.1";
  int port = 8080;  // 0: a free port (announced on stderr)
  bool allow_write = false;
};

int run_serve(std::ostream& out, const ServeOptions& options,
              const conductors::FlowRegistry& registry);

}  // namespace caboose::cli
