#include "cli.h"

#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "books_command.h"
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*demo) {
      return run_demo(std::cout, demo_options);
    }
    if (*books_list) {
      return list_books(std::cout, books_options);
    }
    if (*books_show) {
      return show_book(std::cout, books_options, book_wanted);
    }
    std::cout << app.help();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "caboose: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace caboose::cli
