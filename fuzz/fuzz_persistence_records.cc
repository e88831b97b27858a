// What persistence backends read back from storage anyone with access to it can write: the dicts
// of LogBook, FlowDetail, AtomDetail and Failure as JSON text (dir:// files, ZooKeeper nodes,
// JSON columns), and the rows of TaskFlow's SQL schema. The first byte picks the decoder; each
// returns or throws a caboose::Error, and a decoded value's dict decodes to an equal value.
#include <vector>

#include "caboose/core/errors.h"
#include "caboose/core/failure.h"
#include "caboose/persistence/models.h"

#include "fuzz/fuzz_check.h"
#include "persistence/json_text.h"
#include "persistence/sql_rows.h"

using caboose::Error;
using caboose::Failure;
using caboose::Value;
using namespace caboose::persistence;

namespace {

Value json(std::string_view text) {
  return detail::parse_stored_json(std::string(text), "a fuzzed record");
}

void check_book(const LogBook& book) {
  CABOOSE_FUZZ_CHECK(LogBook::from_dict(book.to_dict()) == book);
  CABOOSE_FUZZ_CHECK(LogBook::from_dict(book.to_dict(/*marshal_time=*/true)) == book);
}

void check_atom(const AtomDetail& atom) {
  CABOOSE_FUZZ_CHECK(AtomDetail::from_dict(atom.to_dict(), atom.kind) == atom);
  // As an SQL backend writes and reads it back.
  const AtomDetail again = detail::atom_from_row(
      {.name = atom.name,
       .uuid = atom.uuid,
       .state = std::string(caboose::to_string(atom.state)),
       .intention = std::string(caboose::to_string(atom.intention)),
       .results = detail::json_column(atom.results, true),
       .failure = detail::json_column(detail::failure_value(atom.failure), true),
       .revert_results = detail::json_column(atom.revert_results, true),
       .revert_failure = detail::json_column(detail::failure_value(atom.revert_failure), true),
       .meta = detail::json_column(atom.meta, true),
       .version = atom.version,
       .atom_type = std::string(to_string(atom.kind))});
  CABOOSE_FUZZ_CHECK(again == atom);
}

// Fields separated by NUL bytes; a field "\x01" is SQL NULL, a missing one is NULL too.
std::vector<detail::Column> fields(std::string_view text, std::size_t count) {
  std::vector<detail::Column> out;
  while (out.size() < count) {
    if (text.empty() && out.size() >= 2) {
      out.emplace_back();
      continue;
    }
    const auto nul = text.find('\0');
    const std::string_view field = text.substr(0, nul);
    out.push_back(field == "\x01" ? detail::Column() : detail::Column(std::string(field)));
    text = nul == std::string_view::npos ? std::string_view() : text.substr(nul + 1);
  }
  return out;
}

void decode(std::uint8_t selector, std::string_view rest) {
  switch (selector % 8) {
    case 0:
      check_book(LogBook::from_dict(json(rest)));
      return;
    case 1: {
      const FlowDetail flow = FlowDetail::from_dict(json(rest));
      CABOOSE_FUZZ_CHECK(FlowDetail::from_dict(flow.to_dict()) == flow);
      return;
    }
    case 2:
      check_atom(AtomDetail::from_dict(json(rest), AtomDetailKind::kTask));
      return;
    case 3:
      check_atom(AtomDetail::from_dict(json(rest), AtomDetailKind::kRetry));
      return;
    case 4: {
      const Failure failure = Failure::from_dict(json(rest));
      CABOOSE_FUZZ_CHECK(Failure::from_dict(failure.to_dict()) == failure);
      return;
    }
    case 5: {
      const auto f = fields(rest, 11);
      check_atom(detail::atom_from_row({.name = f[0].value_or(""),
                                        .uuid = f[1].value_or(""),
                                        .state = f[2],
                                        .intention = f[3],
                                        .results = f[4],
                                        .failure = f[5],
                                        .revert_results = f[6],
                                        .revert_failure = f[7],
                                        .meta = f[8],
                                        .version = f[9],
                                        .atom_type = f[10]}));
      return;
    }
    case 6: {
      const auto f = fields(rest, 5);
      check_book(detail::book_from_row({.name = f[0].value_or(""),
                                        .uuid = f[1].value_or(""),
                                        .meta = f[2],
                                        .created_at = f[3],
                                        .updated_at = f[4]}));
      return;
    }
    default: {
      const auto f = fields(rest, 4);
      const FlowDetail flow = detail::flow_from_row(
          {.name = f[0].value_or(""), .uuid = f[1].value_or(""), .state = f[2], .meta = f[3]});
      CABOOSE_FUZZ_CHECK(FlowDetail::from_dict(flow.to_dict()) == flow);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  try {
    decode(data[0], caboose::fuzz::as_text(data + 1, size - 1));
  } catch (const Error&) {
  }
  return 0;
}
