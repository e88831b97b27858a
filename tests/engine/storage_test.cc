// Storage, as TaskFlow's tests/unit/test_storage.py (the task cases; retry history comes with
// the retry controllers).
#include "caboose/engine/storage.h"

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/persistence/memory_backend.h"

namespace caboose::engine {
namespace {

AtomPtr noop(const std::string& name, AtomOptions options = {}) {
  return task(
      name, [] {}, std::move(options));
}

Failure woot() {
  try {
    throw std::runtime_error("Woot!");
  } catch (...) {
    return Failure::capture();
  }
}

class StorageTest : public ::testing::Test {
 protected:
  StorageTest() : backend_(persistence::make_memory_backend()) {
    book_ = persistence::make_logbook("lb");
    book_.flows.push_back(persistence::make_flow_detail("fd"));
    backend_->save_logbook(book_);
  }
  persistence::FlowDetail saved_flow() { return backend_->get_flow_details(book_.flows[0].uuid); }
  std::unique_ptr<Storage> storage() { return std::make_unique<Storage>(saved_flow(), *backend_); }
  // A storage over a flow detail that already holds `atom` (as a resumed run sees it).
  std::unique_ptr<Storage> storage_with(persistence::AtomDetail atom) {
    persistence::FlowDetail flow = saved_flow();
    flow.atoms.push_back(std::move(atom));
    backend_->update_flow_details(flow);
    return storage();
  }

  std::unique_ptr<persistence::Backend> backend_;
  persistence::LogBook book_;
};

TEST_F(StorageTest, FlowNameUuidAndMeta) {
  persistence::FlowDetail flow = saved_flow();
  flow.meta = {{"a", 1}};
  backend_->update_flow_details(flow);
  auto s = storage();
  EXPECT_EQ(s->flow_name(), "fd");
  EXPECT_EQ(s->flow_uuid(), book_.flows[0].uuid);
  EXPECT_EQ(s->flow_meta(), (Value{{"a", 1}}));
}

TEST_F(StorageTest, EnsureTaskMakesAPendingDetailWithItsVersion) {
  auto s = storage();
  auto t = noop("my task", {.version = "3.11"});
  const AtomIndex i = s->ensure_atom(*t);
  EXPECT_EQ(s->get_atom_state("my task"), AtomState::kPending);
  EXPECT_TRUE(is_uuid(s->atom_uuid(i)));
  const persistence::FlowDetail flow = saved_flow();
  const persistence::AtomDetail* d = flow.find(s->atom_uuid(i));
  ASSERT_NE(d, nullptr);  // saved through the backend
  EXPECT_EQ(d->name, "my task");
  EXPECT_EQ(d->version, "3.11");
  EXPECT_EQ(d->state, AtomState::kPending);
}

TEST_F(StorageTest, EnsureExistingTaskKeepsItsDetail) {
  persistence::AtomDetail existing;
  existing.name = "my_task";
  existing.uuid = "42";
  existing.state = AtomState::kSuccess;
  existing.results = 7;
  auto s = storage_with(existing);
  EXPECT_EQ(s->atom_uuid(s->index("my_task")), "42");  // known before ensure
  auto t = noop("my_task");
  EXPECT_EQ(s->atom_uuid(s->ensure_atom(*t)), "42");
  EXPECT_EQ(s->get_atom_state("my_task"), AtomState::kSuccess);
  EXPECT_EQ(s->get("my_task"), 7);
  EXPECT_EQ(s->atom_count(), 1u);
}

TEST_F(StorageTest, SaveAndGet) {
  auto s = storage();
  auto t = noop("my task");
  const AtomIndex i = s->ensure_atom(*t);
  s->save(i, 5);
  EXPECT_EQ(s->get("my task"), 5);
  EXPECT_EQ(s->fetch_all(), Value::object());  // provides nothing
  EXPECT_EQ(s->get_atom_state("my task"), AtomState::kSuccess);
}

TEST_F(StorageTest, SavedFailureIsKeptThroughRevertAndReload) {
  auto s = storage();
  auto t = noop("my task");
  const AtomIndex i = s->ensure_atom(*t);
  const Failure failure = woot();
  s->save_failure(i, failure);
  EXPECT_EQ(s->get_atom_state("my task"), AtomState::kFailure);
  EXPECT_TRUE(s->has_failures());
  ASSERT_EQ(s->get_execute_failures().size(), 1u);
  EXPECT_EQ(s->get_execute_failures().at("my task"), failure);
  EXPECT_THROW((void)s->get("my task"), NotFound);
  s->set_atom_state(i, AtomState::kReverting);
  EXPECT_EQ(s->get_failure("my task"), failure);
  s->set_atom_state(i, AtomState::kReverted);
  EXPECT_EQ(s->get_failure("my task"), failure);

  auto reloaded = storage();
  EXPECT_TRUE(reloaded->has_failures());
  EXPECT_TRUE(reloaded->get_failure("my task")->matches(failure));
  EXPECT_EQ(reloaded->get_atom_state("my task"), AtomState::kReverted);
}

TEST_F(StorageTest, GetWithoutResultIsNotFound) {
  auto s = storage();
  auto t = noop("my task");
  s->ensure_atom(*t);
  EXPECT_THROW((void)s->get("my task"), NotFound);
  EXPECT_THROW((void)s->get("no such task"), NotFound);
}

TEST_F(StorageTest, ResetClearsResultAndState) {
  auto s = storage();
  auto t = noop("my task");
  const AtomIndex i = s->ensure_atom(*t);
  s->save(i, 5);
  s->set_atom_intention(i, Intention::kRevert);
  s->reset(i);
  EXPECT_EQ(s->get_atom_state("my task"), AtomState::kPending);
  EXPECT_EQ(s->get_atom_intention("my task"), Intention::kExecute);
  EXPECT_THROW((void)s->get("my task"), NotFound);
  EXPECT_EQ(saved_flow().find(s->atom_uuid(i))->results, nullptr);
}

TEST_F(StorageTest, FetchByProvidedName) {
  auto s = storage();
  auto t = noop("my task", {.provides = "my result"});
  s->save(s->ensure_atom(*t), 5);
  EXPECT_EQ(s->fetch("my result"), 5);
  EXPECT_EQ(s->fetch_all(), (Value{{"my result", 5}}));
}

TEST_F(StorageTest, FetchUnknownNameSaysSo) {
  auto s = storage();
  try {
    (void)s->fetch("xxx");
    FAIL() << "expected NotFound";
  } catch (const NotFound& e) {
    EXPECT_NE(std::string(e.what()).find("'xxx'"), std::string::npos) << e.what();
  }
}

TEST_F(StorageTest, FetchResultNotReady) {
  auto s = storage();
  auto t = noop("my task", {.provides = "my result"});
  s->ensure_atom(*t);
  EXPECT_THROW((void)s->fetch("my result"), NotFound);
  EXPECT_EQ(s->fetch_all(), Value::object());
}

TEST_F(StorageTest, MultipleResultsMappedByPosition) {
  auto s = storage();
  auto t = noop("my task", {.provides = Provides::positional({"foo", "bar"})});
  s->save(s->ensure_atom(*t), Value::array({"spam", "eggs"}));
  EXPECT_EQ(s->fetch_all(), (Value{{"foo", "spam"}, {"bar", "eggs"}}));
}

TEST_F(StorageTest, ShortOrEmptyResultsAreChecked) {
  auto s = storage();
  auto keyed = noop("keyed", {.provides = Provides::keys({"result"})});
  s->save(s->ensure_atom(*keyed), Value::object());
  EXPECT_THROW((void)s->fetch("result"), NotFound);
  auto empty = noop("empty", {.provides = Provides::positional({"a"})});
  s->save(s->ensure_atom(*empty), Value::array());
  EXPECT_THROW((void)s->fetch("a"), NotFound);
  auto short_result = noop("short", {.provides = Provides::positional({"c", "d"})});
  s->save(s->ensure_atom(*short_result), Value::array({"result"}));
  EXPECT_EQ(s->fetch("c"), "result");
  EXPECT_THROW((void)s->fetch("d"), NotFound);
}

TEST_F(StorageTest, MetadataAndProgress) {
  auto s = storage();
  s->update_flow_metadata({{"test_data", true}});
  EXPECT_EQ(saved_flow().meta.at("test_data"), true);

  auto t = noop("my task");
  const AtomIndex i = s->ensure_atom(*t);
  EXPECT_EQ(s->get_task_progress("my task"), 0.0);
  EXPECT_EQ(s->get_task_progress_details("my task"), nullptr);
  s->set_task_progress(i, 0.5, {{"test_data", 11}});
  EXPECT_EQ(s->get_task_progress("my task"), 0.5);
  EXPECT_EQ(s->get_task_progress_details("my task"),
            (Value{{"at_progress", 0.5}, {"details", {{"test_data", 11}}}}));
  s->set_task_progress(i, 0.7, {{"test_data", 17}});
  s->set_task_progress(i, 0.99);  // no details: the last ones stay
  EXPECT_EQ(s->get_task_progress("my task"), 0.99);
  EXPECT_EQ(s->get_task_progress_details("my task"),
            (Value{{"at_progress", 0.7}, {"details", {{"test_data", 17}}}}));
  s->set_task_progress(i, 0.8, Value::object());  // empty details erase them
  EXPECT_EQ(s->get_task_progress("my task"), 0.8);
  EXPECT_EQ(s->get_task_progress_details("my task"), nullptr);
  EXPECT_EQ(saved_flow().find(s->atom_uuid(i))->meta.at("progress"), 0.8);
}

TEST_F(StorageTest, InjectTwiceAndResume) {
  auto s = storage();
  s->inject({{"foo", "bar"}});
  EXPECT_EQ(s->fetch_all(), (Value{{"foo", "bar"}}));
  s->inject({{"spam", "eggs"}});
  EXPECT_EQ(s->fetch("spam"), "eggs");
  EXPECT_EQ(s->fetch_all(), (Value{{"foo", "bar"}, {"spam", "eggs"}}));
  EXPECT_EQ(storage()->fetch_all(), (Value{{"foo", "bar"}, {"spam", "eggs"}}));
  EXPECT_THROW(s->inject(Value::array({1})), InvalidArgument);
}

TEST_F(StorageTest, TransientValuesAreNotSaved) {
  auto s = storage();
  s->inject({{"a", "b"}}, /*transient=*/true);
  s->inject({{"b", "c"}});
  EXPECT_EQ(s->fetch_all(), (Value{{"a", "b"}, {"b", "c"}}));
  EXPECT_EQ(s->fetch_mapped_args({{"y", "a"}, {"z", "b"}}), (Value{{"y", "b"}, {"z", "c"}}));
  EXPECT_EQ(storage()->fetch_all(), (Value{{"b", "c"}}));
}

TEST_F(StorageTest, FetchMappedArgs) {
  auto s = storage();
  s->inject({{"foo", "bar"}, {"spam", "eggs"}});
  EXPECT_EQ(s->fetch_mapped_args({{"viking", "spam"}}), (Value{{"viking", "eggs"}}));
  EXPECT_THROW((void)s->fetch_mapped_args({{"viking", "helmet"}}), NotFound);
  EXPECT_EQ(s->fetch_mapped_args({{"viking", "spam"}}, {"viking"}), (Value{{"viking", "eggs"}}));
  EXPECT_EQ(s->fetch_mapped_args({{"viking", "helmet"}}, {"viking"}), Value::object());
}

TEST_F(StorageTest, AtomInjectedArgsSatisfyAndTransientWins) {
  auto s = storage();
  auto t = task("my task", [](int) {}, {.args = {"x"}});
  s->ensure_atom(*t);
  EXPECT_EQ(s->fetch_unsatisfied_args("my task", {{"x", "x"}}), std::set<std::string>{"x"});
  s->inject_atom_args("my task", {{"x", 2}}, /*transient=*/false);
  EXPECT_TRUE(s->fetch_unsatisfied_args("my task", {{"x", "x"}}).empty());
  EXPECT_EQ(s->fetch_mapped_args({{"x", "x"}}, {}, "my task").at("x"), 2);
  s->inject_atom_args("my task", {{"x", 3}}, /*transient=*/true);
  EXPECT_EQ(s->fetch_mapped_args({{"x", "x"}}, {}, "my task").at("x"), 3);
  // The persisted value survives a reload; the transient one does not.
  auto reloaded = storage();
  EXPECT_EQ(reloaded->fetch_mapped_args({{"x", "x"}}, {}, "my task").at("x"), 2);
  EXPECT_THROW(s->inject_atom_args("nobody", {{"x", 1}}), NotFound);
}

TEST_F(StorageTest, ManyThreadsEnsureOneTask) {
  auto s = storage();
  auto t = noop("my_task");
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] { s->ensure_atom(*t); });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(s->atom_count(), 1u);
  EXPECT_EQ(saved_flow().atoms.size(), 1u);
}

TEST_F(StorageTest, ManyThreadsInject) {
  auto s = storage();
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&s, i] { s->inject({{std::to_string(i), std::to_string(i)}}); });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(s->fetch_all().size(), 16u);
  EXPECT_EQ(s->atom_count(), 1u);  // one injector detail
  EXPECT_EQ(storage()->fetch_all().size(), 16u);
}

TEST_F(StorageTest, StatesAndIntentions) {
  auto s = storage();
  EXPECT_EQ(s->flow_state(), FlowState::kPending);
  s->set_flow_state(FlowState::kSuccess);
  EXPECT_EQ(s->flow_state(), FlowState::kSuccess);
  EXPECT_EQ(saved_flow().state, FlowState::kSuccess);
  auto t = noop("my task");
  const AtomIndex i = s->ensure_atom(*t);
  s->set_atom_state(i, AtomState::kRunning);
  EXPECT_EQ(s->get_atom_state("my task"), AtomState::kRunning);
  s->set_atom_intention(i, Intention::kRetry);
  EXPECT_EQ(s->get_atom_intention("my task"), Intention::kRetry);
  EXPECT_THROW((void)s->get_atom_state("unknown"), NotFound);
  EXPECT_THROW((void)s->index("unknown"), NotFound);
}

TEST_F(StorageTest, RevertResultsAreSeparate) {
  auto s = storage();
  auto t = noop("my task");
  const AtomIndex i = s->ensure_atom(*t);
  s->save(i, 2);
  EXPECT_EQ(s->get("my task"), 2);
  EXPECT_THROW((void)s->get_revert_result("my task"), NotFound);
  s->set_atom_intention(i, Intention::kRevert);
  s->save_revert(i, 3);
  EXPECT_THROW((void)s->get("my task"), NotFound);  // no longer SUCCESS
  EXPECT_EQ(s->get_revert_result("my task"), 3);
  const Failure failure = woot();
  s->save_revert_failure(i, failure);
  EXPECT_EQ(s->get_revert_failure("my task"), failure);
  EXPECT_THROW((void)s->get_revert_result("my task"), NotFound);
  EXPECT_EQ(s->get_revert_failures().size(), 1u);
}

TEST_F(StorageTest, TaskAndRetryCannotShareAName) {
  persistence::AtomDetail retry;
  retry.kind = persistence::AtomDetailKind::kRetry;
  retry.name = "my retry";
  retry.uuid = make_uuid();
  retry.results = Value::array();
  auto s = storage_with(retry);
  auto t = noop("my retry");
  EXPECT_THROW(s->ensure_atom(*t), Duplicate);
}

}  // namespace
}  // namespace caboose::engine
