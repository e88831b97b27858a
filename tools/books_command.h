// `caboose books list|show --persistence URI`: what a persistence backend holds (logbooks
// written by caboose or by Python TaskFlow), as a table for people or JSON for programs.
#pragma once

#include <ostream>
#include <string>

namespace caboose::cli {

struct BooksOptions {
  std::string persistence;  // a URI for persistence::fetch()
  bool json = false;
};

// One line per logbook: uuid, name, flows, created and updated times. Returns the exit code.
int list_books(std::ostream& out, const BooksOptions& options);
// The logbook (by uuid, or by name when one book has it), its flows and their atoms with
// states, results and failures. Returns the exit code.
int show_book(std::ostream& out, const BooksOptions& options, const std::string& book);

}  // namespace caboose::cli
