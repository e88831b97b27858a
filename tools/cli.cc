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

  DemoOptions demo_options;
  CLI::App* demo =
      app.add_subcommand("demo", "Run the example order flow (a task fails and is reverted)");
  demo->add_flag("--json", demo_options.json, "Print the summary as JSON");
  demo->add_flag("--dot", demo_options.dot,
                 "Print the flow as Graphviz dot, coloured by the states it ended in")
      ->excludes("--json");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*demo) {
      return run_demo(std::cout, demo_options);
    }
    std::cout << app.help();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "caboose: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace caboose::cli
