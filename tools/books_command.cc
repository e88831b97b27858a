#include "books_command.h"

#include <string>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/persistence/fetch.h"

namespace caboose::cli {
namespace {

using persistence::AtomDetail;
using persistence::FlowDetail;
using persistence::LogBook;

std::string time_text(const Value& dict, const char* field) {
  const auto it = dict.find(field);
  return it == dict.end() || it->is_null() ? std::string("-") : it->get<std::string>();
}

// A value shown in one table cell: JSON, cut to `width` characters.
std::string cell(const Value& v, std::size_t width = 48) {
  std::string text = v.is_null() ? std::string("-") : v.dump();
  if (text.size() > width) {
    text = text.substr(0, width - 3) + "...";
  }
  return text;
}

Value atom_json(const AtomDetail& a) {
  Value out = a.to_dict();
  out["type"] = to_string(a.kind);
  return out;
}

Value book_json(const LogBook& book) {
  Value out = book.to_dict();
  out["flows"] = Value::array();
  for (const FlowDetail& flow : book.flows) {
    Value f = flow.to_dict();
    f["atoms"] = Value::array();
    for (const AtomDetail& a : flow.atoms) {
      f["atoms"].push_back(atom_json(a));
    }
    out["flows"].push_back(std::move(f));
  }
  return out;
}

}  // namespace

int list_books(std::ostream& out, const BooksOptions& options) {
  auto backend = persistence::fetch(options.persistence);
  const std::vector<LogBook> books = backend->get_logbooks(/*lazy=*/false);
  if (options.json) {
    Value all = Value::array();
    for (const LogBook& book : books) {
      Value b = book.to_dict();
      b["flows"] = book.flows.size();
      all.push_back(std::move(b));
    }
    out << all.dump(2) << "\n";
    return 0;
  }
  out << fmt::format("{:<36}  {:<24}  {:>5}  {:<26}  {:<26}\n", "UUID", "NAME", "FLOWS", "CREATED",
                     "UPDATED");
  for (const LogBook& book : books) {
    const Value d = book.to_dict();
    out << fmt::format("{:<36}  {:<24}  {:>5}  {:<26}  {:<26}\n", book.uuid, book.name,
                       book.flows.size(), time_text(d, "created_at"), time_text(d, "updated_at"));
  }
  if (books.empty()) {
    out << "(no logbooks)\n";
  }
  return 0;
}

int show_book(std::ostream& out, const BooksOptions& options, const std::string& wanted) {
  auto backend = persistence::fetch(options.persistence);
  std::optional<LogBook> book;
  try {
    book = backend->get_logbook(wanted);
  } catch (const NotFound&) {
    std::vector<LogBook> named;
    for (LogBook& b : backend->get_logbooks(/*lazy=*/false)) {
      if (b.name == wanted) {
        named.push_back(std::move(b));
      }
    }
    if (named.size() > 1) {
      throw InvalidArgument(
          fmt::format("{} logbooks are named '{}': give a uuid", named.size(), wanted));
    }
    if (named.empty()) {
      throw NotFound(fmt::format("no logbook '{}' in {}", wanted, options.persistence));
    }
    book = std::move(named.front());
  }
  if (options.json) {
    out << book_json(*book).dump(2) << "\n";
    return 0;
  }
  const Value d = book->to_dict();
  out << fmt::format("logbook {} ({})\n  meta {}\n  created {}  updated {}\n", book->name,
                     book->uuid, book->meta.dump(), time_text(d, "created_at"),
                     time_text(d, "updated_at"));
  for (const FlowDetail& flow : book->flows) {
    out << fmt::format("\n  flow {} ({}) {}\n", flow.name, flow.uuid,
                       flow.state ? to_string(*flow.state) : std::string_view("-"));
    if (!flow.meta.empty()) {
      out << fmt::format("    meta {}\n", cell(flow.meta, 100));
    }
    out << fmt::format("    {:<24}  {:<5}  {:<14}  {:<9}  {}\n", "ATOM", "TYPE", "STATE",
                       "INTENTION", "RESULT / FAILURE");
    for (const AtomDetail& a : flow.atoms) {
      std::string outcome = cell(a.results);
      if (a.failure) {
        outcome = "failed: " + a.failure->exception_str();
      }
      if (a.revert_failure) {
        outcome += "; revert failed: " + a.revert_failure->exception_str();
      }
      out << fmt::format("    {:<24}  {:<5}  {:<14}  {:<9}  {}\n", a.name,
                         a.kind == persistence::AtomDetailKind::kTask ? "task" : "retry",
                         to_string(a.state), to_string(a.intention), outcome);
    }
  }
  return 0;
}

}  // namespace caboose::cli
