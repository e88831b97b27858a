#include "cli.h"

#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "demo_command.h"

namespace caboose::cli {

int run_cli(int argc, char** argv) {
  CLI::App app{"caboose: durable task flows, jobboards and conductors"};
  app.set_version_flag("--version", std::string("caboose ") + CABOOSE_VERSION);
  app.require_subcommand(0, 1);
  spdlog::set_level(spdlog::level::warn);

  bool json = false;
  CLI::App* demo =
      app.add_subcommand("demo", "Run the example order flow (a task fails and is reverted)");
  demo->add_flag("--json", json, "Print the summary as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*demo) {
      return run_demo(std::cout, json);
    }
    std::cout << app.help();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "caboose: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace caboose::cli
