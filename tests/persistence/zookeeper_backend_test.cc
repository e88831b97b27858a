// The zookeeper:// backend against a private ZooKeeper (started once for this binary on a free
// loopback port): the conformance suite (a fresh root path per test; reopen() is a second
// client with its own session), TaskFlow's znode layout, URIs, concurrent writers, a server
// restart between two saves, and what ZooKeeper cannot carry.
#include "caboose/persistence/zookeeper_backend.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/persistence/fetch.h"

#include "clients/zookeeper/zk_client.h"
#include "persistence/backend_conformance.h"
#include "support/zookeeper_server.h"

namespace caboose::persistence::testing {
namespace {

using namespace std::chrono_literals;
using caboose::testing::ZooKeeperServer;

std::string fresh_path() {
  return "/caboose-persistence-" + make_uuid().substr(0, 8);
}

std::string uri_for(const std::string& path) {
  return "zookeeper://" + ZooKeeperServer::shared().hosts() + path;
}

clients::ZkClient inspector() {
  return clients::ZkClient(ZooKeeperServer::shared().hosts(), 4000ms, 20000ms);
}

class ZooKeeperFixture : public BackendFixture {
 public:
  // `userinfo` ("user:password@" or empty) goes before the hosts in the URI.
  explicit ZooKeeperFixture(const std::string& userinfo = "")
      : uri_("zookeeper://" + userinfo + ZooKeeperServer::shared().hosts() + fresh_path()) {}
  Backend& backend() override {
    if (!first_) {
      first_ = make_zookeeper_backend(uri_);
    }
    return *first_;
  }
  Backend& reopen() override {
    backend();
    second_ = make_zookeeper_backend(uri_);
    return *second_;
  }
  std::function<std::unique_ptr<Backend>()> opener() override {
    return [uri = uri_] { return make_zookeeper_backend(uri); };
  }

 private:
  std::string uri_;
  std::unique_ptr<Backend> first_;
  std::unique_ptr<Backend> second_;
};

// The suite once as everyone else runs it, and once with credentials in the URI (every node
// then closed to anyone without them).
INSTANTIATE_TEST_SUITE_P(
    ZooKeeper, BackendConformance,
    ::testing::Values(
        BackendFactory{"zookeeper", [] { return std::make_unique<ZooKeeperFixture>(); }},
        BackendFactory{"zookeeper_digest",
                       [] { return std::make_unique<ZooKeeperFixture>("conductor:s3cret@"); }}),
    BackendName());

LogBook sample_book() {
  LogBook book;
  book.uuid = make_uuid();
  book.name = "book";
  book.created_at =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  FlowDetail flow;
  flow.uuid = make_uuid();
  flow.name = "flow";
  for (const char* name : {"first", "second", "third"}) {
    AtomDetail atom;
    atom.uuid = make_uuid();
    atom.name = name;
    flow.atoms.push_back(atom);
  }
  book.flows.push_back(flow);
  return book;
}

// TaskFlow's path-based layout: the records where Python TaskFlow's ZkBackend reads them, links
// as children named by uuid, and caboose's additions beside them.
TEST(ZooKeeperBackend, WritesTaskFlowsZnodeLayout) {
  const std::string path = fresh_path();
  auto backend = make_zookeeper_backend(uri_for(path));
  const LogBook book = sample_book();
  backend->save_logbook(book);
  const FlowDetail& flow = book.flows[0];
  backend->fence(flow.uuid, 4);

  clients::ZkClient zk = inspector();
  const auto book_node = zk.get(path + "/books/" + book.uuid);
  ASSERT_TRUE(book_node);
  const Value book_record = Value::parse(book_node->data);
  EXPECT_EQ(book_record["name"], "book");
  EXPECT_TRUE(book_record["created_at"].is_object());  // marshalled, as TaskFlow writes it
  EXPECT_NE(book_node->data.find("\", \""), std::string::npos) << "jsonutils spacing";
  EXPECT_EQ(zk.children(path + "/books/" + book.uuid), std::vector<std::string>{flow.uuid});

  const auto flow_node = zk.get(path + "/flow_details/" + flow.uuid);
  ASSERT_TRUE(flow_node);
  EXPECT_EQ(Value::parse(flow_node->data)["name"], "flow");
  EXPECT_EQ(zk.children(path + "/flow_details/" + flow.uuid).size(), 3u);
  for (const AtomDetail& atom : flow.atoms) {
    const auto atom_node = zk.get(path + "/atom_details/" + atom.uuid);
    ASSERT_TRUE(atom_node) << atom.name;
    const Value record = Value::parse(atom_node->data);
    EXPECT_EQ(record["type"], "TASK_DETAIL");
    EXPECT_EQ(record["atom"]["name"], atom.name);
    EXPECT_TRUE(zk.exists(path + "/flow_details/" + flow.uuid + "/" + atom.uuid));
  }
  EXPECT_EQ(zk.get(path + "/caboose_fences/" + flow.uuid)->data, "4");
  EXPECT_EQ(zk.get(path + "/caboose_schema")->data, "1");
}

// Links TaskFlow made (empty, in no particular order) are read after caboose's, by creation.
TEST(ZooKeeperBackend, ReadsAtomsLinkedByTaskFlow) {
  const std::string path = fresh_path();
  auto backend = make_zookeeper_backend(uri_for(path));
  LogBook book = sample_book();
  backend->save_logbook(book);
  const FlowDetail& flow = book.flows[0];

  clients::ZkClient zk = inspector();
  AtomDetail added;
  added.uuid = make_uuid();
  added.name = "added-by-python";
  zk.create(path + "/atom_details/" + added.uuid,
            R"({"atom": {"name": "added-by-python", "uuid": ")" + added.uuid +
                R"(", "state": "SUCCESS", "intention": "EXECUTE", "results": 7, "failure": null,)"
                R"( "meta": {}, "version": null}, "type": "TASK_DETAIL"})");
  zk.create(path + "/flow_details/" + flow.uuid + "/" + added.uuid, "");

  const FlowDetail read = backend->get_flow_details(flow.uuid);
  ASSERT_EQ(read.atoms.size(), 4u);
  EXPECT_EQ(read.atoms[0].name, "first");
  EXPECT_EQ(read.atoms[1].name, "second");
  EXPECT_EQ(read.atoms[2].name, "third");
  EXPECT_EQ(read.atoms[3].name, "added-by-python");
  EXPECT_EQ(read.atoms[3].results, 7);
  EXPECT_EQ(read.atoms[3].state, AtomState::kSuccess);
}

TEST(ZooKeeperBackend, UrisAndErrors) {
  EXPECT_THROW((void)fetch("zookeeper:///no-host"), InvalidArgument);
  EXPECT_THROW((void)fetch("zookeeper://127.0.0.1:1/p?color=blue"), InvalidArgument);
  EXPECT_THROW((void)fetch("zookeeper://127.0.0.1:1/p?session_timeout_ms=soon"), InvalidArgument);
  EXPECT_THROW((void)fetch("zookeeper://127.0.0.1:1/a//b"), InvalidArgument);
  try {
    (void)fetch("zookeeper://127.0.0.1:1/p?session_timeout_ms=300");
    FAIL() << "nobody listens on port 1";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
  // The default path is TaskFlow's; the URI's root path is the server's root.
  auto backend = fetch("zookeeper://" + ZooKeeperServer::shared().hosts());
  backend->validate();
  EXPECT_TRUE(inspector().exists("/taskflow/books"));
  EXPECT_THROW((void)backend->get_logbook("no/such"), InvalidArgument);
}

// A record larger than a ZooKeeper transaction carries is refused with a clear error, and the
// connection stays usable.
TEST(ZooKeeperBackend, OversizedRecordIsRefusedClearly) {
  auto backend = make_zookeeper_backend(uri_for(fresh_path()));
  LogBook book = sample_book();
  backend->save_logbook(book);
  AtomDetail big = book.flows[0].atoms[0];
  big.results = std::string(2 * 1000 * 1000, 'x');
  try {
    backend->update_atom_details(big);
    FAIL() << "a 2 MB atom detail was stored";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find("jute.maxbuffer"), std::string::npos) << e.what();
  }
  EXPECT_EQ(backend->get_atom_details(big.uuid).results, nullptr);
  AtomDetail small = big;
  small.results = 1;
  backend->update_atom_details(small);
  EXPECT_EQ(backend->get_atom_details(big.uuid).results, 1);
}

// Threads of two backends update atoms of one flow, and add atoms, all at once: every update
// lands (version checks make the losers read again) and nothing is dropped.
TEST(ZooKeeperBackend, ConcurrentWritersLoseNothing) {
  const std::string uri = uri_for(fresh_path());
  auto one = make_zookeeper_backend(uri);
  auto two = make_zookeeper_backend(uri);
  LogBook book = sample_book();
  one->save_logbook(book);
  FlowDetail flow = book.flows[0];
  constexpr int kRounds = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      Backend& backend = w % 2 == 0 ? *one : *two;
      try {
        for (int i = 0; i < kRounds; ++i) {
          AtomDetail atom = flow.atoms[static_cast<std::size_t>(w % 3)];
          atom.meta = Value{{"writer-" + std::to_string(w), i}};
          backend.update_atom_details(atom);
          FlowDetail grown = flow;
          AtomDetail added;
          added.uuid = make_uuid();
          added.name = "w" + std::to_string(w) + "-" + std::to_string(i);
          grown.atoms = {added};
          backend.update_flow_details(grown);
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (std::thread& t : writers) {
    t.join();
  }
  ASSERT_EQ(failures.load(), 0);
  const FlowDetail stored = make_zookeeper_backend(uri)->get_flow_details(flow.uuid);
  EXPECT_EQ(stored.atoms.size(), 3u + 4u * kRounds);
  // A save replaces an atom's meta: each atom holds the final round of whichever writer wrote
  // it last (a lost update would leave an earlier round).
  for (std::size_t a = 0; a < 3; ++a) {
    const Value meta = stored.atoms[a].meta;
    ASSERT_TRUE(meta.is_object() && meta.size() == 1u) << meta.dump();
    EXPECT_EQ(meta.begin().value(), kRounds - 1) << meta.dump();
  }
}

// The server restarted (killed) between two saves: the backend's session survives (it is
// within its timeout), and the next calls succeed once the server is back.
TEST(ZooKeeperBackend, RidesOutAServerRestart) {
  // A server of its own: restarting the shared one would disturb the other cases.
  caboose::testing::ZooKeeperServer server;
  const std::string uri = "zookeeper://" + server.hosts() + "/restart?session_timeout_ms=8000";
  auto backend = make_zookeeper_backend(uri);
  LogBook book = sample_book();
  backend->save_logbook(book);
  server.restart();
  AtomDetail atom = book.flows[0].atoms[1];
  atom.state = AtomState::kSuccess;
  atom.results = "after the restart";
  backend->update_atom_details(atom, 1);
  EXPECT_EQ(make_zookeeper_backend(uri)->get_atom_details(atom.uuid).results, "after the restart");
}

}  // namespace
}  // namespace caboose::persistence::testing
