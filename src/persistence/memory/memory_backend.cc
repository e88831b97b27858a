#include "caboose/persistence/memory_backend.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose::persistence {
namespace {

// As taskflow/persistence/backends/impl_memory.py: records kept apart (books, flows, atoms)
// and linked by uuid, so a save merges into what is there and never drops children.
class MemoryBackend final : public Backend {
 public:
  void upgrade() override {}
  void validate() override {}
  void close() override {}

  FenceToken fence(std::string_view flow_uuid, FenceToken token) override {
    std::lock_guard lock(mu_);
    FlowRecord& record = flow(flow_uuid);
    record.fence = std::max(record.fence, token);
    return record.fence;
  }

  FenceToken current_fence(std::string_view flow_uuid) override {
    std::lock_guard lock(mu_);
    return flow(flow_uuid).fence;
  }

 protected:
  LogBook do_save_logbook(const LogBook& book, std::optional<FenceToken> token) override {
    std::lock_guard lock(mu_);
    for (const FlowDetail& f : book.flows) {  // checked before anything is written
      if (const auto it = flows_.find(f.uuid); it != flows_.end()) {
        check_fence(f.uuid, it->second.fence, token);
      }
    }
    auto [it, added] = books_.try_emplace(book.uuid);
    BookRecord& record = it->second;
    if (added) {
      record.book = book;
      record.book.flows.clear();
      book_order_.push_back(book.uuid);
    } else {
      LogBook fields = book;
      fields.flows.clear();
      record.book.merge(fields);
    }
    for (const FlowDetail& flow : book.flows) {
      save_flow_locked(flow, book.uuid);
    }
    return assemble_book(record, /*lazy=*/false);
  }

  void do_update_flow_details(const FlowDetail& flow, std::optional<FenceToken> token) override {
    std::lock_guard lock(mu_);
    const auto it = flows_.find(flow.uuid);
    if (it == flows_.end()) {
      throw NotFound(
          fmt::format("flow detail {} is not stored (save its logbook first)", flow.uuid));
    }
    check_fence(flow.uuid, it->second.fence, token);
    save_flow_locked(flow, it->second.book);
  }

  void do_update_atom_details(const AtomDetail& atom, std::optional<FenceToken> token) override {
    std::lock_guard lock(mu_);
    const auto it = atoms_.find(atom.uuid);
    if (it == atoms_.end()) {
      throw NotFound(fmt::format("atom detail {} ('{}') is not stored", atom.uuid, atom.name));
    }
    if (token) {
      check_fence(it->second.flow, flows_.at(it->second.flow).fence, token);
    }
    it->second.detail.merge(atom);
  }

 public:
  LogBook get_logbook(std::string_view book_uuid, bool lazy) override {
    std::lock_guard lock(mu_);
    return assemble_book(book(book_uuid), lazy);
  }

  std::vector<LogBook> get_logbooks(bool lazy) override {
    std::lock_guard lock(mu_);
    std::vector<LogBook> books;
    for (const std::string& uuid : book_order_) {
      books.push_back(assemble_book(books_.at(uuid), lazy));
    }
    return books;
  }

  std::vector<FlowDetail> get_flows_for_book(std::string_view book_uuid) override {
    std::lock_guard lock(mu_);
    std::vector<FlowDetail> flows;
    for (const std::string& uuid : book(book_uuid).flows) {
      flows.push_back(assemble_flow(flows_.at(uuid), /*lazy=*/false));
    }
    return flows;
  }

  FlowDetail get_flow_details(std::string_view flow_uuid, bool lazy) override {
    std::lock_guard lock(mu_);
    const auto it = flows_.find(std::string(flow_uuid));
    if (it == flows_.end()) {
      throw NotFound(fmt::format("no flow detail {}", flow_uuid));
    }
    return assemble_flow(it->second, lazy);
  }

  AtomDetail get_atom_details(std::string_view atom_uuid) override {
    std::lock_guard lock(mu_);
    const auto it = atoms_.find(std::string(atom_uuid));
    if (it == atoms_.end()) {
      throw NotFound(fmt::format("no atom detail {}", atom_uuid));
    }
    return it->second.detail;
  }

  std::vector<AtomDetail> get_atoms_for_flow(std::string_view flow_uuid) override {
    return get_flow_details(flow_uuid, /*lazy=*/false).atoms;
  }

  void destroy_logbook(std::string_view book_uuid) override {
    std::lock_guard lock(mu_);
    const BookRecord& record = book(book_uuid);
    for (const std::string& flow_uuid : record.flows) {
      for (const std::string& atom_uuid : flows_.at(flow_uuid).atoms) {
        atoms_.erase(atom_uuid);
      }
      flows_.erase(flow_uuid);
    }
    std::erase(book_order_, std::string(book_uuid));
    books_.erase(std::string(book_uuid));
  }

  void clear_all() override {
    std::lock_guard lock(mu_);
    books_.clear();
    flows_.clear();
    atoms_.clear();
    book_order_.clear();
  }

 private:
  struct BookRecord {
    LogBook book;  // without flows
    std::vector<std::string> flows;
  };
  struct FlowRecord {
    FlowDetail flow;  // without atoms
    std::string book;
    std::vector<std::string> atoms;
    FenceToken fence = 0;
  };
  struct AtomRecord {
    AtomDetail detail;
    std::string flow;
  };

  BookRecord& book(std::string_view uuid) {
    const auto it = books_.find(std::string(uuid));
    if (it == books_.end()) {
      throw NotFound(fmt::format("no logbook {}", uuid));
    }
    return it->second;
  }

  FlowRecord& flow(std::string_view uuid) {
    const auto it = flows_.find(std::string(uuid));
    if (it == flows_.end()) {
      throw NotFound(fmt::format("no flow detail {}", uuid));
    }
    return it->second;
  }

  void save_flow_locked(const FlowDetail& flow, const std::string& book_uuid) {
    auto [it, added] = flows_.try_emplace(flow.uuid);
    FlowRecord& record = it->second;
    if (added) {
      record.book = book_uuid;
      books_.at(book_uuid).flows.push_back(flow.uuid);
    } else if (record.book != book_uuid) {
      throw StorageFailure(fmt::format("flow detail {} belongs to logbook {}, not {}", flow.uuid,
                                       record.book, book_uuid));
    }
    record.flow.name = flow.name;
    record.flow.uuid = flow.uuid;
    record.flow.state = flow.state;
    record.flow.meta = flow.meta;
    atoms_.reserve(atoms_.size() + flow.atoms.size());
    for (const AtomDetail& atom : flow.atoms) {
      auto [a, atom_added] = atoms_.try_emplace(atom.uuid);
      if (atom_added) {
        a->second.detail = atom;
        a->second.flow = flow.uuid;
        record.atoms.push_back(atom.uuid);
      } else if (a->second.flow != flow.uuid) {
        throw StorageFailure(fmt::format("atom detail {} belongs to flow detail {}, not {}",
                                         atom.uuid, a->second.flow, flow.uuid));
      } else {
        a->second.detail.merge(atom);
      }
    }
  }

  FlowDetail assemble_flow(const FlowRecord& record, bool lazy) const {
    FlowDetail flow = record.flow;
    if (!lazy) {
      flow.atoms.reserve(record.atoms.size());
      for (const std::string& uuid : record.atoms) {
        flow.atoms.push_back(atoms_.at(uuid).detail);
      }
    }
    return flow;
  }

  LogBook assemble_book(const BookRecord& record, bool lazy) const {
    LogBook book = record.book;
    if (!lazy) {
      for (const std::string& uuid : record.flows) {
        book.flows.push_back(assemble_flow(flows_.at(uuid), /*lazy=*/false));
      }
    }
    return book;
  }

  std::mutex mu_;
  std::unordered_map<std::string, BookRecord> books_;  // Guarded by mu_.
  std::vector<std::string> book_order_;                // Guarded by mu_.
  std::unordered_map<std::string, FlowRecord> flows_;  // Guarded by mu_.
  std::unordered_map<std::string, AtomRecord> atoms_;  // Guarded by mu_.
};

}  // namespace

std::unique_ptr<Backend> make_memory_backend() {
  return std::make_unique<MemoryBackend>();
}

}  // namespace caboose::persistence
