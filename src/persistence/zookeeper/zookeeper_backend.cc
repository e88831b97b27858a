#include "caboose/persistence/zookeeper_backend.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/errors.h"

#include "clients/zookeeper/zk_client.h"
#include "persistence/json_text.h"

namespace caboose::persistence {
namespace {

using clients::ZkAddress;
using clients::ZkClient;
using clients::ZkConnectionLoss;
using clients::ZkNode;
using clients::ZkOp;

constexpr int kLayoutVersion = 1;
// Attempts of one call that lost to concurrent writers before it gives up.
constexpr int kMaxConflicts = 64;
// Connection losses one call rides out (each waits for the session to come back).
constexpr int kMaxReconnects = 3;
// ZooKeeper drops the connection of a request above jute.maxbuffer (1 MiB by default): refuse
// such a transaction with a clear error instead.
constexpr std::size_t kMaxTransactionBytes = 1000 * 1000;
// clear_all() deletes in transactions of at most this many operations.
constexpr std::size_t kClearChunk = 500;

// Thrown inside an attempt when a version check failed: someone wrote since we read.
struct Conflict {};

std::string join(const std::string& parent, std::string_view name) {
  return parent == "/" ? fmt::format("/{}", name) : fmt::format("{}/{}", parent, name);
}

void check_name(std::string_view uuid) {
  if (uuid.empty() || uuid.find('/') != std::string_view::npos || uuid == "." || uuid == ".." ||
      uuid.find('\0') != std::string_view::npos) {
    throw InvalidArgument(fmt::format("'{}' cannot name a stored object", uuid));
  }
}

AtomDetail parse_atom_record_of(const std::string& data, std::string_view uuid) {
  return detail::parse_atom_record(data, fmt::format("atom detail {}", uuid));
}

FenceToken parse_fence(const std::optional<ZkNode>& node, std::string_view flow_uuid) {
  if (!node) {
    return 0;
  }
  FenceToken token = 0;
  const std::string& text = node->data;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), token);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw InvalidFormat(fmt::format("the fence of flow detail {} holds '{}'", flow_uuid, text));
  }
  return token;
}

// A child link: its position (caboose writes it as the link's data; TaskFlow's links are empty
// and come after, in creation order), then creation order, then name.
struct Link {
  std::string uuid;
  std::int64_t position;
  std::int64_t czxid;
};

std::vector<std::string> in_link_order(std::vector<Link> links) {
  std::sort(links.begin(), links.end(), [](const Link& a, const Link& b) {
    return std::tie(a.position, a.czxid, a.uuid) < std::tie(b.position, b.czxid, b.uuid);
  });
  std::vector<std::string> out;
  out.reserve(links.size());
  for (Link& link : links) {
    out.push_back(std::move(link.uuid));
  }
  return out;
}

std::int64_t link_position(const ZkNode& node) {
  std::int64_t position = 0;
  const auto [end, ec] =
      std::from_chars(node.data.data(), node.data.data() + node.data.size(), position);
  if (node.data.empty() || ec != std::errc() || end != node.data.data() + node.data.size()) {
    return INT64_MAX;  // linked by TaskFlow
  }
  return position;
}

class ZooKeeperBackend final : public Backend {
 public:
  explicit ZooKeeperBackend(ZkAddress address)
      : address_(std::move(address)),
        books_(join(address_.path, "books")),
        flows_(join(address_.path, "flow_details")),
        atoms_(join(address_.path, "atom_details")),
        fences_(join(address_.path, "caboose_fences")),
        schema_(join(address_.path, "caboose_schema")) {
    upgrade();
  }

  ~ZooKeeperBackend() override { close(); }

  void upgrade() override {
    run("upgrade", [&](ZkClient& zk) {
      for (const std::string& folder : {books_, flows_, atoms_, fences_}) {
        zk.ensure_path(folder);
      }
      const int version = layout_version(zk);
      if (version > kLayoutVersion) {
        throw StorageFailure(fmt::format(
            "ZooKeeper {}{} has caboose layout version {}, newer than this caboose knows ({}): "
            "upgrade caboose",
            address_.hosts, address_.path, version, kLayoutVersion));
      }
      if (version < kLayoutVersion) {
        try {
          zk.create(schema_, std::to_string(kLayoutVersion));
        } catch (const Duplicate&) {
          zk.set(schema_, std::to_string(kLayoutVersion));
        }
      }
      return 0;
    });
  }

  void validate() override {
    run("validate", [&](ZkClient& zk) {
      for (const std::string& folder : {books_, flows_, atoms_, fences_}) {
        if (!zk.exists(folder)) {
          throw StorageFailure(
              fmt::format("ZooKeeper {} has no {}: run upgrade() first", address_.hosts, folder));
        }
      }
      if (layout_version(zk) > kLayoutVersion) {
        throw StorageFailure(fmt::format("ZooKeeper {}{} has a newer caboose layout",
                                         address_.hosts, address_.path));
      }
      return 0;
    });
  }

  void close() override {
    std::shared_ptr<ZkClient> client;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      client = std::move(client_);
    }
  }

  FenceToken fence(std::string_view flow_uuid, FenceToken token) override {
    check_name(flow_uuid);
    return run("fence", [&](ZkClient& zk) {
      const auto nodes = zk.get_many({flow_path(flow_uuid), fence_path(flow_uuid)});
      if (!nodes[0]) {
        throw NotFound(fmt::format("no flow detail {}", flow_uuid));
      }
      const FenceToken stored = parse_fence(nodes[1], flow_uuid);
      if (token <= stored && nodes[1]) {
        return stored;
      }
      const FenceToken raised = std::max(stored, token);
      std::vector<ZkOp> ops{ZkOp::check(flow_path(flow_uuid), -1)};
      ops.push_back(nodes[1] ? ZkOp::set(fence_path(flow_uuid), std::to_string(raised),
                                         nodes[1]->stat.version)
                             : ZkOp::create(fence_path(flow_uuid), std::to_string(raised)));
      commit(zk, ops);
      return raised;
    });
  }

  FenceToken current_fence(std::string_view flow_uuid) override {
    check_name(flow_uuid);
    return run("read the fence", [&](ZkClient& zk) {
      const auto nodes = zk.get_many({flow_path(flow_uuid), fence_path(flow_uuid)});
      if (!nodes[0]) {
        throw NotFound(fmt::format("no flow detail {}", flow_uuid));
      }
      return parse_fence(nodes[1], flow_uuid);
    });
  }

  LogBook get_logbook(std::string_view book_uuid, bool lazy) override {
    check_name(book_uuid);
    return run("read a logbook", [&](ZkClient& zk) { return read_book(zk, book_uuid, lazy); });
  }

  std::vector<LogBook> get_logbooks(bool lazy) override {
    return run("list logbooks", [&](ZkClient& zk) {
      const std::vector<std::string> uuids = zk.children(books_);
      std::vector<std::string> paths;
      for (const std::string& uuid : uuids) {
        paths.push_back(join(books_, uuid));
      }
      const auto nodes = zk.get_many(paths);
      std::vector<Link> found;  // books in the order they were created
      for (std::size_t i = 0; i < uuids.size(); ++i) {
        if (nodes[i]) {
          found.push_back(Link{uuids[i], 0, nodes[i]->stat.czxid});
        }
      }
      std::vector<LogBook> books;
      for (const std::string& uuid : in_link_order(std::move(found))) {
        try {
          books.push_back(read_book(zk, uuid, lazy));
        } catch (const NotFound&) {
          // destroyed since it was listed
        }
      }
      return books;
    });
  }

  std::vector<FlowDetail> get_flows_for_book(std::string_view book_uuid) override {
    return get_logbook(book_uuid, /*lazy=*/false).flows;
  }

  FlowDetail get_flow_details(std::string_view flow_uuid, bool lazy) override {
    check_name(flow_uuid);
    return run("read a flow detail", [&](ZkClient& zk) {
      return std::move(read_flows(zk, {std::string(flow_uuid)}, lazy).front());
    });
  }

  AtomDetail get_atom_details(std::string_view atom_uuid) override {
    check_name(atom_uuid);
    return run("read an atom detail", [&](ZkClient& zk) {
      const std::optional<ZkNode> node = zk.get(atom_path(atom_uuid));
      if (!node) {
        throw NotFound(fmt::format("no atom detail {}", atom_uuid));
      }
      return parse_atom_record_of(node->data, atom_uuid);
    });
  }

  std::vector<AtomDetail> get_atoms_for_flow(std::string_view flow_uuid) override {
    return get_flow_details(flow_uuid, /*lazy=*/false).atoms;
  }

  void destroy_logbook(std::string_view book_uuid) override {
    check_name(book_uuid);
    run("destroy a logbook", [&](ZkClient& zk) {
      const std::string book = book_path(book_uuid);
      const auto listed = zk.children_many({book});
      if (!listed[0]) {
        throw NotFound(fmt::format("no logbook {}", book_uuid));
      }
      const std::vector<std::string>& flow_uuids = *listed[0];
      std::vector<std::string> flow_paths;
      for (const std::string& flow : flow_uuids) {
        flow_paths.push_back(flow_path(flow));
      }
      const auto atom_lists = zk.children_many(flow_paths);
      std::vector<std::string> probe;  // atom records and fences that may be absent
      for (std::size_t f = 0; f < flow_uuids.size(); ++f) {
        probe.push_back(fence_path(flow_uuids[f]));
        for (const std::string& atom : atom_lists[f].value_or(std::vector<std::string>{})) {
          probe.push_back(atom_path(atom));
        }
      }
      const auto present = zk.get_many(probe);
      std::vector<ZkOp> ops;
      std::size_t next = 0;
      for (std::size_t f = 0; f < flow_uuids.size(); ++f) {
        if (present[next++]) {
          ops.push_back(ZkOp::remove(fence_path(flow_uuids[f])));
        }
        if (atom_lists[f]) {
          for (const std::string& atom : *atom_lists[f]) {
            ops.push_back(ZkOp::remove(join(flow_paths[f], atom)));
            if (present[next++]) {
              ops.push_back(ZkOp::remove(atom_path(atom)));
            }
          }
          ops.push_back(ZkOp::remove(flow_paths[f]));
        }
        ops.push_back(ZkOp::remove(join(book, flow_uuids[f])));
      }
      ops.push_back(ZkOp::remove(book));
      commit(zk, ops);
      std::lock_guard lock(mu_);
      for (std::size_t f = 0; f < flow_uuids.size(); ++f) {
        flow_book_.erase(flow_uuids[f]);
        for (const std::string& atom : atom_lists[f].value_or(std::vector<std::string>{})) {
          atom_flow_.erase(atom);
        }
      }
      return 0;
    });
  }

  void clear_all() override {
    run("clear everything", [&](ZkClient& zk) {
      std::vector<ZkOp> ops;  // children before their parent
      for (const std::string& folder : {books_, flows_, atoms_, fences_}) {
        std::vector<std::string> paths;
        for (const std::string& name : zk.children(folder)) {
          paths.push_back(join(folder, name));
        }
        const auto grandchildren = zk.children_many(paths);
        for (std::size_t i = 0; i < paths.size(); ++i) {
          for (const std::string& name : grandchildren[i].value_or(std::vector<std::string>{})) {
            ops.push_back(ZkOp::remove(join(paths[i], name)));
          }
          if (grandchildren[i]) {
            ops.push_back(ZkOp::remove(paths[i]));
          }
        }
      }
      for (std::size_t at = 0; at < ops.size(); at += kClearChunk) {
        commit(zk, std::vector<ZkOp>(ops.begin() + static_cast<std::ptrdiff_t>(at),
                                     ops.begin() + static_cast<std::ptrdiff_t>(
                                                       std::min(ops.size(), at + kClearChunk))));
      }
      std::lock_guard lock(mu_);
      flow_book_.clear();
      atom_flow_.clear();
      return 0;
    });
  }

 protected:
  LogBook do_save_logbook(const LogBook& book, std::optional<FenceToken> token) override {
    check_name(book.uuid);
    run("save a logbook", [&](ZkClient& zk) {
      const std::string path = book_path(book.uuid);
      const auto stored = zk.get_many({path});
      const auto listed = zk.children_many({path});
      const std::vector<std::string> linked = listed[0].value_or(std::vector<std::string>{});
      std::vector<ZkOp> ops;
      LogBook fields = book;
      fields.flows.clear();
      if (stored[0]) {
        LogBook merged = LogBook::from_dict(
            detail::parse_stored_json(stored[0]->data, fmt::format("logbook {}", book.uuid)));
        merged.merge(fields);
        fields = std::move(merged);
      }
      std::vector<const FlowDetail*> flows;
      for (const FlowDetail& flow : book.flows) {
        check_name(flow.uuid);
        flows.push_back(&flow);
      }
      plan_flows(zk, flows, token, ops);  // checks fences before anything is written
      for (const FlowDetail& flow : book.flows) {
        if (std::find(linked.begin(), linked.end(), flow.uuid) == linked.end()) {
          if (const std::optional<std::string> owner = book_of_flow(zk, flow.uuid);
              owner && *owner != book.uuid) {
            throw StorageFailure(fmt::format("flow detail {} belongs to logbook {}, not {}",
                                             flow.uuid, *owner, book.uuid));
          }
        }
      }
      const std::string record = detail::python_json(fields.to_dict(/*marshal_time=*/true));
      ops.insert(ops.begin(), stored[0] ? ZkOp::set(path, record, stored[0]->stat.version)
                                        : ZkOp::create(path, record));
      std::int64_t position = static_cast<std::int64_t>(linked.size());
      for (const FlowDetail& flow : book.flows) {
        if (std::find(linked.begin(), linked.end(), flow.uuid) == linked.end()) {
          ops.push_back(ZkOp::create(join(path, flow.uuid), std::to_string(position++)));
        }
      }
      commit(zk, ops);
      for (const FlowDetail& flow : book.flows) {
        remember_atoms(flow);
        std::lock_guard lock(mu_);
        flow_book_[flow.uuid] = book.uuid;
      }
      return 0;
    });
    return get_logbook(book.uuid, /*lazy=*/false);
  }

  void do_update_flow_details(const FlowDetail& flow, std::optional<FenceToken> token) override {
    check_name(flow.uuid);
    run("save a flow detail", [&](ZkClient& zk) {
      if (!book_of_flow(zk, flow.uuid)) {
        throw NotFound(
            fmt::format("flow detail {} is not stored (save its logbook first)", flow.uuid));
      }
      std::vector<ZkOp> ops;
      if (!plan_flows(zk, {&flow}, token, ops)) {
        throw NotFound(
            fmt::format("flow detail {} is not stored (save its logbook first)", flow.uuid));
      }
      commit(zk, ops);
      remember_atoms(flow);
      return 0;
    });
  }

  void do_update_atom_details(const AtomDetail& atom, std::optional<FenceToken> token) override {
    check_name(atom.uuid);
    run("save an atom detail", [&](ZkClient& zk) {
      const std::optional<std::string> flow = token ? flow_of_atom(zk, atom.uuid) : std::nullopt;
      std::vector<std::string> paths{atom_path(atom.uuid)};
      if (flow) {
        paths.push_back(fence_path(*flow));
      }
      const auto nodes = zk.get_many(paths);
      if (!nodes[0]) {
        throw NotFound(fmt::format("atom detail {} ('{}') is not stored", atom.uuid, atom.name));
      }
      std::vector<ZkOp> ops;
      if (flow) {
        check_fence(*flow, parse_fence(nodes[1], *flow), token);
        guard_fence(*flow, nodes[1], ops);
      }
      AtomDetail merged = parse_atom_record_of(nodes[0]->data, atom.uuid);
      merged.merge(atom);
      ops.push_back(ZkOp::set(paths[0], detail::atom_record(merged), nodes[0]->stat.version));
      commit(zk, ops);
      return 0;
    });
  }

 private:
  // Runs `attempt` (reads, then at most one transaction) until it completes: again when it lost
  // to a concurrent writer (Conflict), and after a lost connection once the session is back
  // (every attempt reads afresh, so one that did commit before the loss writes the same again).
  template <typename Attempt>
  std::invoke_result_t<Attempt, ZkClient&> run(std::string_view what, Attempt attempt) {
    int conflicts = 0;
    int reconnects = 0;
    for (;;) {
      const std::shared_ptr<ZkClient> zk = client();
      try {
        return attempt(*zk);
      } catch (const Conflict&) {
        if (++conflicts >= kMaxConflicts) {
          throw StorageFailure(
              fmt::format("ZooKeeper {}: could not {}: other writers changed it {} times in a row",
                          address_.hosts, what, conflicts));
        }
      } catch (const ZkConnectionLoss&) {
        if (++reconnects > kMaxReconnects) {
          throw;
        }
        if (!zk->expired()) {
          zk->wait_connected(address_.session_timeout);
        }
      }
    }
  }

  std::shared_ptr<ZkClient> client() {
    std::lock_guard lock(mu_);
    if (closed_) {
      throw StorageFailure(
          fmt::format("ZooKeeper backend {}{} is closed", address_.hosts, address_.path));
    }
    if (!client_ || client_->expired()) {
      client_ = std::make_shared<ZkClient>(address_.hosts, address_.session_timeout,
                                           address_.session_timeout, address_.credentials);
    }
    return client_;
  }

  // Commits `ops` as one transaction; Conflict when a version check or an existence check
  // failed (someone wrote since we read).
  void commit(ZkClient& zk, const std::vector<ZkOp>& ops) {
    std::size_t bytes = 0;
    for (const ZkOp& op : ops) {
      bytes += op.path.size() + op.data.size() + 16;
    }
    if (bytes > kMaxTransactionBytes) {
      throw StorageFailure(fmt::format(
          "ZooKeeper {}: a write of {} bytes exceeds what one ZooKeeper transaction carries "
          "({} bytes, the server's jute.maxbuffer)",
          address_.hosts, bytes, kMaxTransactionBytes));
    }
    const clients::ZkMultiResult result = zk.multi(ops);
    if (result.ok) {
      return;
    }
    switch (result.code) {
      case ZBADVERSION:
      case ZNODEEXISTS:
      case ZNONODE:
      case ZNOTEMPTY:
        throw Conflict{};
      default:
        throw StorageFailure(fmt::format("ZooKeeper {}: writing {} failed: {}", address_.hosts,
                                         ops[static_cast<std::size_t>(result.failed_op)].path,
                                         clients::zk_error_name(result.code)));
    }
  }

  // Adds to `ops` a check that the fence read as `fence` (absent: none) is still what is stored.
  void guard_fence(const std::string& flow_uuid, const std::optional<ZkNode>& fence,
                   std::vector<ZkOp>& ops) const {
    if (fence) {
      ops.push_back(ZkOp::check(fence_path(flow_uuid), fence->stat.version));
    } else {  // still absent: creating then deleting it fails if someone created it meanwhile
      ops.push_back(ZkOp::create(fence_path(flow_uuid), "0"));
      ops.push_back(ZkOp::remove(fence_path(flow_uuid)));
    }
  }

  // Adds to `ops` the writes saving `flows` (merged into what is stored) with their atoms, after
  // checking `token` against the fence of each flow already stored (StaleClaim before anything
  // is written). Returns whether every flow was already stored.
  bool plan_flows(ZkClient& zk, const std::vector<const FlowDetail*>& flows,
                  std::optional<FenceToken> token, std::vector<ZkOp>& ops) {
    std::vector<std::string> flow_paths;
    std::vector<std::string> reads;
    std::vector<std::string> atom_paths;
    for (const FlowDetail* flow : flows) {
      flow_paths.push_back(flow_path(flow->uuid));
      reads.push_back(flow_paths.back());
      reads.push_back(fence_path(flow->uuid));
      for (const AtomDetail& atom : flow->atoms) {
        check_name(atom.uuid);
        atom_paths.push_back(atom_path(atom.uuid));
      }
    }
    const auto nodes = zk.get_many(reads);
    const auto links = zk.children_many(flow_paths);
    const auto atoms = zk.get_many(atom_paths);
    bool all_stored = true;
    for (std::size_t f = 0; f < flows.size(); ++f) {
      if (nodes[2 * f] && token) {
        check_fence(flows[f]->uuid, parse_fence(nodes[2 * f + 1], flows[f]->uuid), token);
      }
      all_stored = all_stored && nodes[2 * f].has_value();
    }
    std::size_t a = 0;
    for (std::size_t f = 0; f < flows.size(); ++f) {
      const FlowDetail& flow = *flows[f];
      const std::optional<ZkNode>& stored = nodes[2 * f];
      if (stored && token) {
        guard_fence(flow.uuid, nodes[2 * f + 1], ops);
      }
      const std::string record = detail::python_json(flow.to_dict());
      ops.push_back(stored ? ZkOp::set(flow_paths[f], record, stored->stat.version)
                           : ZkOp::create(flow_paths[f], record));
      const std::vector<std::string> linked = links[f].value_or(std::vector<std::string>{});
      std::int64_t position = static_cast<std::int64_t>(linked.size());
      for (const AtomDetail& atom : flow.atoms) {
        const std::optional<ZkNode>& atom_node = atoms[a];
        const bool is_linked = std::find(linked.begin(), linked.end(), atom.uuid) != linked.end();
        if (atom_node && !is_linked) {
          if (const std::optional<std::string> owner = flow_of_atom(zk, atom.uuid);
              owner && *owner != flow.uuid) {
            throw StorageFailure(fmt::format("atom detail {} belongs to flow detail {}, not {}",
                                             atom.uuid, *owner, flow.uuid));
          }
        }
        if (atom_node) {
          AtomDetail merged = parse_atom_record_of(atom_node->data, atom.uuid);
          merged.merge(atom);
          ops.push_back(
              ZkOp::set(atom_paths[a], detail::atom_record(merged), atom_node->stat.version));
        } else {
          ops.push_back(ZkOp::create(atom_paths[a], detail::atom_record(atom)));
        }
        if (!is_linked) {
          ops.push_back(ZkOp::create(join(flow_paths[f], atom.uuid), std::to_string(position++)));
        }
        ++a;
      }
    }
    return all_stored;
  }

  // After a commit: which flow each saved atom belongs to.
  void remember_atoms(const FlowDetail& flow) {
    std::lock_guard lock(mu_);
    for (const AtomDetail& atom : flow.atoms) {
      atom_flow_[atom.uuid] = flow.uuid;
    }
  }

  LogBook read_book(ZkClient& zk, std::string_view uuid, bool lazy) {
    const std::string path = book_path(uuid);
    const std::optional<ZkNode> node = zk.get(path);
    if (!node) {
      throw NotFound(fmt::format("no logbook {}", uuid));
    }
    LogBook book =
        LogBook::from_dict(detail::parse_stored_json(node->data, fmt::format("logbook {}", uuid)));
    if (lazy) {
      return book;
    }
    const std::vector<std::string> flows = linked_children(zk, path);
    {
      std::lock_guard lock(mu_);
      for (const std::string& flow : flows) {
        flow_book_[flow] = book.uuid;
      }
    }
    book.flows = read_flows(zk, flows, /*lazy=*/false);
    return book;
  }

  // The uuids linked under `parent`, in the order they were added.
  static std::vector<std::string> linked_children(ZkClient& zk, const std::string& parent) {
    const auto listed = zk.children_many({parent});
    if (!listed[0]) {
      throw NotFound(fmt::format("{} is gone", parent));
    }
    std::vector<std::string> paths;
    for (const std::string& uuid : *listed[0]) {
      paths.push_back(join(parent, uuid));
    }
    const auto nodes = zk.get_many(paths);
    std::vector<Link> links;
    for (std::size_t i = 0; i < paths.size(); ++i) {
      if (nodes[i]) {
        links.push_back(Link{(*listed[0])[i], link_position(*nodes[i]), nodes[i]->stat.czxid});
      }
    }
    return in_link_order(std::move(links));
  }

  std::vector<FlowDetail> read_flows(ZkClient& zk, const std::vector<std::string>& uuids,
                                     bool lazy) {
    std::vector<std::string> paths;
    for (const std::string& uuid : uuids) {
      check_name(uuid);
      paths.push_back(flow_path(uuid));
    }
    const auto nodes = zk.get_many(paths);
    std::vector<FlowDetail> flows;
    for (std::size_t i = 0; i < uuids.size(); ++i) {
      if (!nodes[i]) {
        throw NotFound(fmt::format("no flow detail {}", uuids[i]));
      }
      flows.push_back(FlowDetail::from_dict(
          detail::parse_stored_json(nodes[i]->data, fmt::format("flow detail {}", uuids[i]))));
    }
    if (lazy) {
      return flows;
    }
    for (std::size_t i = 0; i < uuids.size(); ++i) {
      const std::vector<std::string> atom_uuids = linked_children(zk, paths[i]);
      std::vector<std::string> atom_paths;
      for (const std::string& uuid : atom_uuids) {
        check_name(uuid);
        atom_paths.push_back(atom_path(uuid));
      }
      const auto records = zk.get_many(atom_paths);
      for (std::size_t a = 0; a < atom_uuids.size(); ++a) {
        if (!records[a]) {
          throw NotFound(fmt::format("flow detail {} links atom detail {}, which is not stored",
                                     uuids[i], atom_uuids[a]));
        }
        flows[i].atoms.push_back(parse_atom_record_of(records[a]->data, atom_uuids[a]));
      }
      std::lock_guard lock(mu_);
      for (const std::string& atom : atom_uuids) {
        atom_flow_[atom] = uuids[i];
      }
    }
    return flows;
  }

  // The book linking the flow, if any (cached: flows never move between books).
  std::optional<std::string> book_of_flow(ZkClient& zk, const std::string& flow_uuid) {
    return owner_of(zk, flow_uuid, books_, flow_book_);
  }

  // The flow linking the atom, if any (cached: atoms never move between flows).
  std::optional<std::string> flow_of_atom(ZkClient& zk, const std::string& atom_uuid) {
    return owner_of(zk, atom_uuid, flows_, atom_flow_);
  }

  // The parent under `folder` linking `child`: from `cache`, else by listing every parent's
  // links (at once), remembering all it sees.
  std::optional<std::string> owner_of(ZkClient& zk, const std::string& child,
                                      const std::string& folder,
                                      std::unordered_map<std::string, std::string>& cache) {
    {
      std::lock_guard lock(mu_);
      if (const auto it = cache.find(child); it != cache.end()) {
        return it->second;
      }
    }
    const std::vector<std::string> parents = zk.children(folder);
    std::vector<std::string> paths;
    for (const std::string& parent : parents) {
      paths.push_back(join(folder, parent));
    }
    const auto listed = zk.children_many(paths);
    std::optional<std::string> owner;
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < parents.size(); ++i) {
      for (const std::string& name : listed[i].value_or(std::vector<std::string>{})) {
        cache[name] = parents[i];
        if (name == child) {
          owner = parents[i];
        }
      }
    }
    return owner;
  }

  int layout_version(ZkClient& zk) const {
    const std::optional<ZkNode> node = zk.get(schema_);
    if (!node) {
      return 0;
    }
    int version = 0;
    const auto [end, ec] =
        std::from_chars(node->data.data(), node->data.data() + node->data.size(), version);
    if (ec != std::errc() || end != node->data.data() + node->data.size()) {
      throw InvalidFormat(fmt::format("{} holds no version: '{}'", schema_, node->data));
    }
    return version;
  }

  std::string book_path(std::string_view uuid) const { return join(books_, uuid); }
  std::string flow_path(std::string_view uuid) const { return join(flows_, uuid); }
  std::string atom_path(std::string_view uuid) const { return join(atoms_, uuid); }
  std::string fence_path(std::string_view uuid) const { return join(fences_, uuid); }

  const ZkAddress address_;
  const std::string books_;
  const std::string flows_;
  const std::string atoms_;
  const std::string fences_;
  const std::string schema_;
  std::mutex mu_;
  std::shared_ptr<ZkClient> client_;                        // Guarded by mu_.
  bool closed_ = false;                                     // Guarded by mu_.
  std::unordered_map<std::string, std::string> flow_book_;  // Guarded by mu_.
  std::unordered_map<std::string, std::string> atom_flow_;  // Guarded by mu_.
};

}  // namespace

std::unique_ptr<Backend> make_zookeeper_backend(std::string_view uri) {
  return std::make_unique<ZooKeeperBackend>(clients::parse_zk_uri(uri, "/taskflow"));
}

}  // namespace caboose::persistence
