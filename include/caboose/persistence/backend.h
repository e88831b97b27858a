// Backend: where logbooks, flow details and atom details persist, as TaskFlow's persistence
// backend + connection (taskflow/persistence/base.py). Saves merge into what is stored (a
// save never drops atoms or flows the caller did not mention). All methods are thread-safe;
// each call is atomic. Backends are made from URIs by fetch() (persistence/fetch.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "caboose/persistence/models.h"

namespace caboose::persistence {

class Backend {
 public:
  virtual ~Backend() = default;

  // Creates or migrates the storage layout. Idempotent.
  virtual void upgrade() = 0;
  // Checks the backend is usable; throws StorageFailure saying why not.
  virtual void validate() = 0;
  virtual void close() = 0;

  // Saves (merging) a logbook and its flows and atoms; returns what is now stored.
  virtual LogBook save_logbook(const LogBook& book) = 0;
  // Saves (merging) a flow detail and its atoms; the flow must belong to a saved logbook
  // (NotFound otherwise). get_flow_details() reads back what is now stored.
  virtual void update_flow_details(const FlowDetail& flow) = 0;
  // Saves (merging) one atom detail that already exists (NotFound otherwise). The engine's hot
  // path: two calls per task run.
  virtual void update_atom_details(const AtomDetail& atom) = 0;

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
};

}  // namespace caboose::persistence
