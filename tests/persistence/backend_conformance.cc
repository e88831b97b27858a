#include "persistence/backend_conformance.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"

namespace caboose::persistence::testing {
namespace {

AtomDetail task_detail(std::string name) {
  AtomDetail d;
  d.kind = AtomDetailKind::kTask;
  d.name = std::move(name);
  d.uuid = make_uuid();
  d.version = "1.0";
  return d;
}

AtomDetail retry_detail(std::string name) {
  AtomDetail d = task_detail(std::move(name));
  d.kind = AtomDetailKind::kRetry;
  d.results = Value::array();
  return d;
}

Failure runtime_failure(const std::string& message) {
  try {
    throw std::runtime_error(message);
  } catch (...) {
    return Failure::capture();
  }
}

TEST_P(BackendConformance, TaskDetailAddedToSavedFlowIsStored) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  const AtomDetail first = task_detail("detail-1");
  flow.atoms.push_back(first);
  book.flows.push_back(flow);
  conn().save_logbook(book);

  const AtomDetail second = task_detail("detail-2");
  flow.atoms.push_back(second);
  conn().update_flow_details(flow);

  const LogBook loaded = reopen().get_logbook(book.uuid);
  const FlowDetail* f = loaded.find(flow.uuid);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->find(first.uuid), nullptr);
  EXPECT_NE(f->find(second.uuid), nullptr);
  ASSERT_EQ(f->atoms.size(), 2u);
  EXPECT_EQ(f->atoms[0].name, "detail-1");  // insertion order kept
  EXPECT_EQ(f->atoms[1].name, "detail-2");
}

TEST_P(BackendConformance, FlowDetailAddedToSavedBookIsStored) {
  LogBook book = make_logbook("lb");
  const FlowDetail first = make_flow_detail("test");
  book.flows.push_back(first);
  conn().save_logbook(book);
  const FlowDetail second = make_flow_detail("test-2");
  book.flows.push_back(second);
  conn().save_logbook(book);

  const LogBook loaded = reopen().get_logbook(book.uuid);
  EXPECT_NE(loaded.find(first.uuid), nullptr);
  EXPECT_NE(loaded.find(second.uuid), nullptr);
}

TEST_P(BackendConformance, ManyLogbooksSavedAndListed) {
  std::set<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    LogBook book = make_logbook("lb-" + std::to_string(i));
    EXPECT_THROW((void)conn().get_logbook(book.uuid), NotFound);
    conn().save_logbook(book);
    ids.insert(book.uuid);
  }
  const std::vector<LogBook> books = reopen().get_logbooks();
  ASSERT_EQ(books.size(), ids.size());
  for (const LogBook& book : books) {
    EXPECT_EQ(ids.erase(book.uuid), 1u) << book.uuid;
  }
}

TEST_P(BackendConformance, LogbookFieldsRoundTrip) {
  LogBook book = make_logbook("lb-fields");
  book.meta = {{"1", 2}, {"nested", {{"a", Value::array({1, "b", nullptr})}}}};
  EXPECT_THROW((void)conn().get_logbook(book.uuid), NotFound);
  conn().save_logbook(book);

  const LogBook loaded = reopen().get_logbook(book.uuid);
  EXPECT_EQ(loaded.name, "lb-fields");
  EXPECT_TRUE(loaded.flows.empty());
  EXPECT_EQ(loaded.meta, book.meta);
  EXPECT_FALSE(loaded.updated_at.has_value());
  ASSERT_TRUE(loaded.created_at.has_value());
  EXPECT_EQ(*loaded.created_at, *book.created_at);  // microsecond precision kept
}

TEST_P(BackendConformance, FlowDetailNeedsItsLogbook) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  book.flows.push_back(flow);
  EXPECT_THROW((void)conn().get_logbook(book.uuid), NotFound);
  EXPECT_THROW(conn().update_flow_details(flow), NotFound);
  conn().save_logbook(book);
  flow.state = FlowState::kRunning;
  conn().update_flow_details(flow);
  EXPECT_EQ(reopen().get_flow_details(flow.uuid).state, FlowState::kRunning);
}

TEST_P(BackendConformance, FlowDetailMetaUpdated) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  flow.meta = {{"test", 42}};
  book.flows.push_back(flow);
  conn().save_logbook(book);
  flow.meta["test"] = 43;
  conn().update_flow_details(flow);
  const LogBook loaded = reopen().get_logbook(book.uuid);
  ASSERT_NE(loaded.find(flow.uuid), nullptr);
  EXPECT_EQ(loaded.find(flow.uuid)->meta.at("test"), 43);
}

TEST_P(BackendConformance, FlowDetailLazyFetchHasNoAtoms) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  AtomDetail atom = task_detail("detail-1");
  atom.version = "4.2";
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  conn().save_logbook(book);
  EXPECT_TRUE(reopen().get_flow_details(flow.uuid, /*lazy=*/true).atoms.empty());
  EXPECT_EQ(reopen().get_flow_details(flow.uuid).atoms.size(), 1u);
}

TEST_P(BackendConformance, AtomDetailNeedsItsFlow) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  const AtomDetail atom = task_detail("detail-1");
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  EXPECT_THROW(conn().update_flow_details(flow), NotFound);
  EXPECT_THROW(conn().update_atom_details(atom), NotFound);
  conn().save_logbook(book);
  conn().update_flow_details(flow);
  conn().update_atom_details(atom);
  EXPECT_EQ(reopen().get_atom_details(atom.uuid), atom);
}

TEST_P(BackendConformance, AtomDetailMetaUpdated) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  AtomDetail atom = task_detail("detail-1");
  atom.meta = {{"test", 42}};
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  conn().save_logbook(book);
  atom.meta["test"] = 43;
  conn().update_atom_details(atom);
  const LogBook loaded = reopen().get_logbook(book.uuid);
  const AtomDetail* a = loaded.find(flow.uuid)->find(atom.uuid);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->meta.at("test"), 43);
  EXPECT_EQ(a->kind, AtomDetailKind::kTask);
}

TEST_P(BackendConformance, AtomDetailFailureRoundTrips) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  AtomDetail atom = task_detail("detail-1");
  atom.state = AtomState::kFailure;
  atom.failure = runtime_failure("Woot!");
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  conn().save_logbook(book);
  conn().update_atom_details(atom);

  const AtomDetail loaded = reopen().get_atom_details(atom.uuid);
  ASSERT_TRUE(loaded.failure.has_value());
  EXPECT_EQ(loaded.failure->exception_str(), "Woot!");
  EXPECT_TRUE(loaded.failure->check<std::runtime_error>());
  EXPECT_EQ(loaded.failure->traceback_str(), atom.failure->traceback_str());
  EXPECT_TRUE(loaded.failure->matches(*atom.failure));
  EXPECT_EQ(loaded.state, AtomState::kFailure);
}

TEST_P(BackendConformance, EveryAtomFieldRoundTrips) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  AtomDetail atom = task_detail("all-fields");
  atom.state = AtomState::kRevertFailure;
  atom.intention = Intention::kRevert;
  atom.results = {{"total", 42}, {"list", Value::array({1.5, "x", false})}};
  atom.failure = runtime_failure("execute broke");
  atom.revert_results = "partly";
  atom.revert_failure = runtime_failure("revert broke");
  atom.meta = {{"progress", 0.5}, {"progress_details", {{"at", 3}}}};
  atom.version = "2.7";
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  conn().save_logbook(book);
  EXPECT_EQ(reopen().get_atom_details(atom.uuid).to_dict(), atom.to_dict());
  EXPECT_EQ(reopen().get_atoms_for_flow(flow.uuid).at(0).to_dict(), atom.to_dict());
}

TEST_P(BackendConformance, SavingABookWithAnotherFlowMergesFlows) {
  LogBook book = make_logbook("lb");
  book.flows.push_back(make_flow_detail("test"));
  conn().save_logbook(book);
  LogBook again;
  again.name = book.name;
  again.uuid = book.uuid;
  again.created_at = book.created_at;
  again.flows.push_back(make_flow_detail("test2"));
  conn().save_logbook(again);
  EXPECT_EQ(reopen().get_logbook(book.uuid).flows.size(), 2u);
  EXPECT_EQ(reopen().get_flows_for_book(book.uuid).size(), 2u);
}

TEST_P(BackendConformance, FlowDetailReadBackByName) {
  LogBook book = make_logbook("lb");
  const FlowDetail flow = make_flow_detail("test");
  book.flows.push_back(flow);
  conn().save_logbook(book);
  const LogBook loaded = reopen().get_logbook(book.uuid);
  ASSERT_EQ(loaded.flows.size(), 1u);
  EXPECT_EQ(loaded.find(flow.uuid)->name, "test");
}

TEST_P(BackendConformance, LogbookLazyFetchHasNoFlows) {
  LogBook book = make_logbook("lb");
  book.flows.push_back(make_flow_detail("test"));
  conn().save_logbook(book);
  EXPECT_TRUE(reopen().get_logbook(book.uuid, /*lazy=*/true).flows.empty());
  EXPECT_EQ(reopen().get_logbook(book.uuid).flows.size(), 1u);
}

TEST_P(BackendConformance, TaskDetailInBookRoundTrips) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  AtomDetail atom = task_detail("detail-1");
  atom.version = "4.2";
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  conn().save_logbook(book);
  const LogBook loaded = reopen().get_logbook(book.uuid);
  ASSERT_EQ(loaded.flows.size(), 1u);
  const AtomDetail* a = loaded.find(flow.uuid)->find(atom.uuid);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "detail-1");
  EXPECT_EQ(a->version, "4.2");
  EXPECT_EQ(a->intention, Intention::kExecute);
  EXPECT_EQ(a->state, AtomState::kPending);
}

TEST_P(BackendConformance, LogbookDestroyed) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  const AtomDetail atom = task_detail("detail-1");
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  EXPECT_THROW(conn().destroy_logbook(book.uuid), NotFound);
  conn().save_logbook(book);
  EXPECT_NO_THROW((void)reopen().get_logbook(book.uuid));
  conn().destroy_logbook(book.uuid);
  EXPECT_THROW(conn().destroy_logbook(book.uuid), NotFound);
  EXPECT_THROW((void)reopen().get_logbook(book.uuid), NotFound);
  EXPECT_THROW((void)reopen().get_flow_details(flow.uuid), NotFound);
  EXPECT_THROW((void)reopen().get_atom_details(atom.uuid), NotFound);
}

TEST_P(BackendConformance, DestroyingOneBookKeepsTheOthers) {
  LogBook gone = make_logbook("gone");
  LogBook kept = make_logbook("kept");
  kept.flows.push_back(make_flow_detail("f"));
  conn().save_logbook(gone);
  conn().save_logbook(kept);
  conn().destroy_logbook(gone.uuid);
  const std::vector<LogBook> books = reopen().get_logbooks();
  ASSERT_EQ(books.size(), 1u);
  EXPECT_EQ(books[0].uuid, kept.uuid);
  EXPECT_EQ(books[0].flows.size(), 1u);
}

TEST_P(BackendConformance, RetryDetailKeepsItsKindAndIntention) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  AtomDetail retry = retry_detail("detail-1");
  retry.intention = Intention::kRevert;
  flow.atoms.push_back(retry);
  book.flows.push_back(flow);
  conn().save_logbook(book);
  conn().update_atom_details(retry);
  const LogBook loaded = reopen().get_logbook(book.uuid);
  const AtomDetail* r = loaded.find(flow.uuid)->find(retry.uuid);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->intention, Intention::kRevert);
  EXPECT_EQ(r->kind, AtomDetailKind::kRetry);
}

TEST_P(BackendConformance, RetryHistoryWithTaskFailureRoundTrips) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  AtomDetail retry = retry_detail("retry-1");
  const Failure failure = runtime_failure("fail");
  retry.results.push_back(Value::array({42, {{"some-task", failure.to_dict()}}}));
  flow.atoms.push_back(retry);
  book.flows.push_back(flow);
  conn().save_logbook(book);
  const AtomDetail loaded = reopen().get_atom_details(retry.uuid);
  EXPECT_EQ(loaded.kind, AtomDetailKind::kRetry);
  ASSERT_EQ(loaded.results.size(), 1u);
  EXPECT_EQ(loaded.results[0][0], 42);
  EXPECT_TRUE(Failure::from_dict(loaded.results[0][1].at("some-task")).matches(failure));
}

TEST_P(BackendConformance, AtomSaveMergesAndNeverDropsSiblings) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("test");
  AtomDetail a = task_detail("a");
  AtomDetail b = task_detail("b");
  flow.atoms = {a, b};
  book.flows.push_back(flow);
  conn().save_logbook(book);
  // A flow detail saved without its atoms keeps them.
  FlowDetail fields = flow;
  fields.atoms.clear();
  fields.state = FlowState::kSuccess;
  conn().update_flow_details(fields);
  a.state = AtomState::kSuccess;
  a.results = 1;
  conn().update_atom_details(a);
  const FlowDetail loaded = reopen().get_flow_details(flow.uuid);
  EXPECT_EQ(loaded.state, FlowState::kSuccess);
  ASSERT_EQ(loaded.atoms.size(), 2u);
  EXPECT_EQ(loaded.find(a.uuid)->results, 1);
  EXPECT_EQ(loaded.find(b.uuid)->state, AtomState::kPending);
}

TEST_P(BackendConformance, UnknownUuidsAreNotFound) {
  EXPECT_THROW((void)conn().get_logbook(make_uuid()), NotFound);
  EXPECT_THROW((void)conn().get_flow_details(make_uuid()), NotFound);
  EXPECT_THROW((void)conn().get_atom_details(make_uuid()), NotFound);
  EXPECT_THROW((void)conn().get_flows_for_book(make_uuid()), NotFound);
  EXPECT_THROW(conn().update_atom_details(task_detail("nowhere")), NotFound);
}

TEST_P(BackendConformance, ClearAllRemovesEverything) {
  LogBook book = make_logbook("lb");
  book.flows.push_back(make_flow_detail("f"));
  conn().save_logbook(book);
  conn().clear_all();
  EXPECT_TRUE(reopen().get_logbooks().empty());
  EXPECT_THROW((void)reopen().get_flow_details(book.flows[0].uuid), NotFound);
}

TEST_P(BackendConformance, UpgradeAndValidateAreIdempotent) {
  conn().upgrade();
  conn().upgrade();
  EXPECT_NO_THROW(conn().validate());
  LogBook book = make_logbook("lb");
  conn().save_logbook(book);
  conn().upgrade();
  EXPECT_NO_THROW((void)reopen().get_logbook(book.uuid));
}

// Whether this process runs on one thread, waiting a little for the threads of earlier
// cases to leave (a joined thread can linger in /proc for a moment).
[[maybe_unused]] bool single_threaded() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& task :
         std::filesystem::directory_iterator("/proc/self/task")) {
      ++n;
    }
    if (n == 1 || std::chrono::steady_clock::now() > deadline) {
      return n == 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Two processes saving into one store at once: every write of both lands.
//
// The children are forked before this process opens the store: a client that runs threads
// (ZooKeeper's re-resolves its hosts from its own thread) may hold a libc lock at the moment
// of a fork, and a child that then resolves a host waits for that lock forever. They wait on
// a pipe until the parent has saved what they update.
TEST_P(BackendConformance, WritersInTwoProcessesBothLand) {
  const auto open = opener();
  if (!open) {
    GTEST_SKIP() << "the store lives in one process";
  }
#if !defined(__SANITIZE_THREAD__)  // ThreadSanitizer runs a thread of its own (and forks safely)
  ASSERT_TRUE(single_threaded()) << "a child forked now could inherit a lock held by a thread";
#endif
  constexpr int kEach = 15;
  const auto atom_uuid = [](int p, int i) {
    return "p" + std::to_string(p) + "-" + std::to_string(i);
  };
  pid_t children[2];
  int go[2][2];
  for (int p = 0; p < 2; ++p) {
    ASSERT_EQ(::pipe(go[p]), 0);
    children[p] = fork();
    ASSERT_GE(children[p], 0);
    if (children[p] == 0) {
      ::close(go[p][1]);
      char byte = 0;
      // End of file instead of the byte: the parent failed before saving and gave up.
      if (::read(go[p][0], &byte, 1) != 1) {
        _exit(2);
      }
      int code = 0;
      try {
        auto backend = open();
        for (int i = 0; i < kEach; ++i) {
          AtomDetail a = backend->get_atom_details(atom_uuid(p, i));
          a.state = AtomState::kSuccess;
          a.results = Value{{"by", p}};
          backend->update_atom_details(a);
        }
        backend->save_logbook(make_logbook("from-" + std::to_string(p)));
      } catch (...) {
        code = 1;
      }
      _exit(code);
    }
    ::close(go[p][0]);
  }

  LogBook book = make_logbook("shared");
  FlowDetail flow = make_flow_detail("f");
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < kEach; ++i) {
      AtomDetail a = task_detail(atom_uuid(p, i));
      a.uuid = a.name;
      flow.atoms.push_back(a);
    }
  }
  book.flows.push_back(flow);
  bool saved = false;
  try {
    conn().save_logbook(book);
    saved = true;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "saving the shared book: " << e.what();
  }
  for (int p = 0; p < 2; ++p) {
    if (saved) {
      EXPECT_EQ(::write(go[p][1], "g", 1), 1);
    }
    ::close(go[p][1]);
  }
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  ASSERT_TRUE(saved);
  Backend& again = reopen();
  const FlowDetail stored = again.get_flow_details(flow.uuid);
  ASSERT_EQ(stored.atoms.size(), 2u * kEach);
  for (const AtomDetail& a : stored.atoms) {
    EXPECT_EQ(a.state, AtomState::kSuccess) << a.name;
    EXPECT_EQ(a.name.substr(0, 2), "p" + std::to_string(a.results["by"].get<int>()));
  }
  EXPECT_EQ(again.get_logbooks().size(), 3u);
}

// Fencing: a save under a claim token lower than the flow's fence is refused and writes
// nothing; equal or higher tokens and untokened saves go through.
TEST_P(BackendConformance, FenceRisesAndNeverFalls) {
  LogBook book = make_logbook("lb");
  const FlowDetail flow = make_flow_detail("f");
  book.flows.push_back(flow);
  EXPECT_THROW((void)conn().fence(flow.uuid, 1), NotFound);
  conn().save_logbook(book);
  EXPECT_EQ(conn().current_fence(flow.uuid), 0);
  EXPECT_EQ(conn().fence(flow.uuid, 5), 5);
  EXPECT_EQ(conn().fence(flow.uuid, 3), 5);
  EXPECT_EQ(reopen().current_fence(flow.uuid), 5);
  EXPECT_THROW((void)conn().current_fence(make_uuid()), NotFound);
}

TEST_P(BackendConformance, StaleTokenWritesNothing) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("f");
  AtomDetail atom = task_detail("a");
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  conn().save_logbook(book);
  conn().fence(flow.uuid, 2);

  AtomDetail stale = atom;
  stale.state = AtomState::kSuccess;
  stale.results = "from the old owner";
  EXPECT_THROW(conn().update_atom_details(stale, 1), StaleClaim);
  FlowDetail stale_flow = flow;
  stale_flow.state = FlowState::kSuccess;
  stale_flow.atoms.push_back(task_detail("added-late"));
  EXPECT_THROW(conn().update_flow_details(stale_flow, 1), StaleClaim);
  LogBook stale_book = book;
  stale_book.flows = {stale_flow};
  stale_book.meta = {{"written", "late"}};
  EXPECT_THROW((void)conn().save_logbook(stale_book, 1), StaleClaim);

  const LogBook loaded = reopen().get_logbook(book.uuid);
  const FlowDetail* f = loaded.find(flow.uuid);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->state.has_value());
  ASSERT_EQ(f->atoms.size(), 1u);
  EXPECT_EQ(f->atoms[0].state, AtomState::kPending);
  EXPECT_EQ(f->atoms[0].results, nullptr);
  EXPECT_EQ(loaded.meta, Value::object());
}

TEST_P(BackendConformance, CurrentAndNewerTokensAndNoTokenWrite) {
  LogBook book = make_logbook("lb");
  FlowDetail flow = make_flow_detail("f");
  AtomDetail atom = task_detail("a");
  flow.atoms.push_back(atom);
  book.flows.push_back(flow);
  conn().save_logbook(book);
  conn().fence(flow.uuid, 2);
  atom.state = AtomState::kRunning;
  conn().update_atom_details(atom, 2);
  EXPECT_EQ(reopen().get_atom_details(atom.uuid).state, AtomState::kRunning);
  atom.state = AtomState::kSuccess;
  conn().update_atom_details(atom, 3);
  EXPECT_EQ(reopen().get_atom_details(atom.uuid).state, AtomState::kSuccess);
  atom.results = 7;
  conn().update_atom_details(atom);
  EXPECT_EQ(reopen().get_atom_details(atom.uuid).results, 7);
  flow.state = FlowState::kSuccess;
  conn().update_flow_details(flow, 2);
  EXPECT_EQ(reopen().get_flow_details(flow.uuid).state, FlowState::kSuccess);
}

TEST_P(BackendConformance, FencesAreKeptPerFlow) {
  LogBook book = make_logbook("lb");
  FlowDetail one = make_flow_detail("one");
  FlowDetail two = make_flow_detail("two");
  AtomDetail atom = task_detail("a");
  two.atoms.push_back(atom);
  book.flows = {one, two};
  conn().save_logbook(book);
  conn().fence(one.uuid, 9);
  atom.state = AtomState::kRunning;
  EXPECT_NO_THROW(conn().update_atom_details(atom, 1));
  EXPECT_EQ(reopen().current_fence(two.uuid), 0);
}

}  // namespace
}  // namespace caboose::persistence::testing
