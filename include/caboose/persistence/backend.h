// Backend: where logbooks, flow details and atom details persist, as TaskFlow's persistence
// backend + connection (taskflow/persistence/base.py). Saves merge into what is stored (a
// save never drops atoms or flows the caller did not mention). All methods are thread-safe;
// each call is atomic. Backends are made from URIs by fetch() (persistence/fetch.h).
//
// Fencing: a conductor that claims a job raises the fence of the job's flow detail to its
// claim token (fence()), then saves with that token. A save carrying a token lower than the
// flow's fence is refused with StaleClaim, checked in the same transaction as the write, so
// a conductor that lost its claim can never write again. Saves without a token (plain engine
// use) are not fenced.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caboose/persistence/models.h"

namespace caboose::persistence {

// A claim's fencing token: positive, increasing with every claim of a job.
using FenceToken = std::int64_t;

class Backend {
 public:
  virtual ~Backend() = default;

  // Creates or migrates the storage layout. Idempotent.
  virtual void upgrade() = 0;
  // Checks the backend is usable; throws StorageFailure saying why not.
  virtual void validate() = 0;
  virtual void close() = 0;

  // Saves (merging) a logbook and its flows and atoms; returns what is now stored. With a
  // token, every flow in `book` that is already stored is fenced by it.
  LogBook save_logbook(const LogBook& book, std::optional<FenceToken> token = std::nullopt) {
    return do_save_logbook(book, token);
  }
  // Saves (merging) a flow detail and its atoms; the flow must belong to a saved logbook
  // (NotFound otherwise). get_flow_details() reads back what is now stored.
  void update_flow_details(const FlowDetail& flow, std::optional<FenceToken> token = std::nullopt) {
    do_update_flow_details(flow, token);
  }
  // Saves (merging) one atom detail that already exists (NotFound otherwise). The engine's hot
  // path: two calls per task run. A token is checked against the atom's flow's fence.
  void update_atom_details(const AtomDetail& atom, std::optional<FenceToken> token = std::nullopt) {
    do_update_atom_details(atom, token);
  }

  // Raises the fence of a stored flow detail to `token` (a lower token leaves it) and returns
  // the fence now in force. NotFound if the flow detail is not stored.
  virtual FenceToken fence(std::string_view flow_uuid, FenceToken token) = 0;
  // The fence in force for a flow detail: 0 if never fenced. NotFound if not stored.
  virtual FenceToken current_fence(std::string_view flow_uuid) = 0;

  // Throw NotFound naming the uuid.
  virtual LogBook get_logbook(std::string_view book_uuid, bool lazy = false) = 0;
  virtual std::vector<LogBook> get_logbooks(bool lazy = false) = 0;
  virtual std::vector<FlowDetail> get_flows_for_book(std::string_view book_uuid) = 0;
  virtual FlowDetail get_flow_details(std::string_view flow_uuid, bool lazy = false) = 0;
  virtual AtomDetail get_atom_details(std::string_view atom_uuid) = 0;
  virtual std::vector<AtomDetail> get_atoms_for_flow(std::string_view flow_uuid) = 0;

  // Removes a logbook with its flows and atoms (NotFound if absent).
  virtual void destroy_logbook(std::string_view book_uuid) = 0;
  // Removes everything.
  virtual void clear_all() = 0;

 protected:
  // Implementations check `token` (when set) against the fence inside the write's
  // transaction and throw StaleClaim, writing nothing, when it is lower.
  virtual LogBook do_save_logbook(const LogBook& book, std::optional<FenceToken> token) = 0;
  virtual void do_update_flow_details(const FlowDetail& flow, std::optional<FenceToken> token) = 0;
  virtual void do_update_atom_details(const AtomDetail& atom, std::optional<FenceToken> token) = 0;
};

// Throws StaleClaim saying which flow detail refused which token, when `token` is set and
// lower than `fence`. For backend implementations.
void check_fence(std::string_view flow_uuid, FenceToken fence, std::optional<FenceToken> token);

}  // namespace caboose::persistence
