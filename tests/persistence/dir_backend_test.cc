// The dir:// backend: the conformance suite on a directory tree (a second backend on the same
// tree for reopen()), then what is its own: TaskFlow's layout, corrupt files, URIs, and writers
// in several processes.
#include "caboose/persistence/dir_backend.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/persistence/fetch.h"

#include "persistence/backend_conformance.h"
#include "persistence/temp_dir.h"

namespace caboose::persistence::testing {
namespace {

namespace fs = std::filesystem;

class DirFixture : public BackendFixture {
 public:
  Backend& backend() override {
    if (!first_) {
      first_ = make_dir_backend((dir_ / "tree").string());
    }
    return *first_;
  }
  Backend& reopen() override {
    backend();
    second_ = make_dir_backend((dir_ / "tree").string());
    return *second_;
  }
  std::function<std::unique_ptr<Backend>()> opener() override {
    return [path = (dir_ / "tree").string()] { return make_dir_backend(path); };
  }

 private:
  TempDir dir_;
  std::unique_ptr<Backend> first_;
  std::unique_ptr<Backend> second_;
};

INSTANTIATE_TEST_SUITE_P(Dir, BackendConformance,
                         ::testing::Values(BackendFactory{
                             "dir", [] { return std::make_unique<DirFixture>(); }}),
                         BackendName());

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

LogBook sample_book() {
  LogBook book = make_logbook("sample-book");
  book.meta = {{"owner", "sample"}};
  FlowDetail flow = make_flow_detail("sample-flow");
  flow.state = FlowState::kFailure;
  AtomDetail ok;
  ok.name = "t-ok";
  ok.uuid = "11111111-2222-4333-8444-555555555555";
  ok.state = AtomState::kSuccess;
  ok.results = {{"total", 42}};
  ok.meta = {{"progress", 1.0}};
  ok.version = "1.0";
  flow.atoms.push_back(ok);
  book.flows.push_back(flow);
  return book;
}

TEST(DirBackend, TreeIsTaskFlowsLayout) {
  TempDir dir;
  const fs::path root = dir / "tree";
  auto backend = make_dir_backend(root.string());
  const LogBook book = sample_book();
  backend->save_logbook(book);
  const FlowDetail& flow = book.flows[0];
  const std::string atom = flow.atoms[0].uuid;

  for (const char* folder : {"books", "flow_details", "atom_details"}) {
    EXPECT_TRUE(fs::is_directory(root / folder)) << folder;
  }
  const fs::path book_dir = root / "books" / book.uuid;
  EXPECT_TRUE(fs::is_regular_file(book_dir / "lock"));
  EXPECT_EQ(fs::file_size(book_dir / "lock"), 0u);
  ASSERT_TRUE(fs::is_symlink(book_dir / flow.uuid));
  EXPECT_EQ(fs::read_symlink(book_dir / flow.uuid), root / "flow_details" / flow.uuid);
  ASSERT_TRUE(fs::is_symlink(root / "flow_details" / flow.uuid / atom));
  EXPECT_EQ(fs::read_symlink(root / "flow_details" / flow.uuid / atom),
            root / "atom_details" / atom);

  const std::string atom_text = slurp(root / "atom_details" / atom / "metadata");
  EXPECT_EQ(atom_text.back(), '}');  // no trailing newline
  EXPECT_NE(atom_text.find(R"("type": "TASK_DETAIL")"), std::string::npos) << atom_text;
  EXPECT_NE(atom_text.find(R"("results": {"total": 42})"), std::string::npos) << atom_text;
  const Value atom_json = Value::parse(atom_text);
  EXPECT_EQ(atom_json["atom"]["state"], "SUCCESS");
  EXPECT_EQ(atom_json["atom"]["uuid"], atom);

  const Value book_json = Value::parse(slurp(book_dir / "metadata"));
  EXPECT_EQ(book_json["name"], "sample-book");
  ASSERT_TRUE(book_json["created_at"].is_object()) << book_json.dump();  // marshalled time
  for (const char* part : {"day", "month", "year", "hour", "minute", "second", "microsecond"}) {
    EXPECT_TRUE(book_json["created_at"].contains(part)) << part;
  }
  const Value flow_json = Value::parse(slurp(root / "flow_details" / flow.uuid / "metadata"));
  EXPECT_EQ(flow_json, flow.to_dict());
}

TEST(DirBackend, CorruptFilesAreErrorsNamingThem) {
  TempDir dir;
  const fs::path root = dir / "tree";
  auto backend = make_dir_backend(root.string());
  const LogBook book = sample_book();
  backend->save_logbook(book);
  const std::string atom = book.flows[0].atoms[0].uuid;
  std::ofstream(root / "atom_details" / atom / "metadata") << R"({"atom": {"name": "t-ok", )";
  try {
    (void)backend->get_atom_details(atom);
    FAIL() << "a truncated record was read";
  } catch (const InvalidFormat& e) {
    EXPECT_NE(std::string(e.what()).find(atom), std::string::npos) << e.what();
  }
  std::ofstream(root / "atom_details" / atom / "metadata") << R"({"atom": {}, "type": "ROBOT"})";
  EXPECT_THROW((void)backend->get_atom_details(atom), InvalidFormat);
  EXPECT_THROW((void)backend->get_atom_details("../../etc"), InvalidArgument);
}

// A record that cannot be read (here: a directory in its place, so read() fails with EISDIR, as
// it would with EIO) is a StorageFailure naming it and the errno's text: never a missing record
// (NotFound, which trashes a job), a malformed one (InvalidFormat), or a fence of 0 that lets a
// stale token write.
TEST(DirBackend, UnreadableRecordsAreStorageFailuresNotMissingOnes) {
  TempDir dir;
  const fs::path root = dir / "tree";
  auto backend = make_dir_backend(root.string());
  const LogBook book = sample_book();
  backend->save_logbook(book);
  const FlowDetail& flow = book.flows[0];
  EXPECT_EQ(backend->fence(flow.uuid, 5), 5);

  const fs::path fence = root / "caboose_fences" / flow.uuid;
  fs::remove(fence);
  fs::create_directory(fence);
  AtomDetail stale = flow.atoms[0];
  stale.results = "stale";
  try {
    backend->update_atom_details(stale, 3);
    FAIL() << "a write under token 3 was accepted with the fence unreadable";
  } catch (const StorageFailure& e) {
    EXPECT_NE(std::string(e.what()).find(fence.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Is a directory"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)backend->current_fence(flow.uuid), StorageFailure);

  const fs::path metadata = root / "flow_details" / flow.uuid / "metadata";
  fs::rename(metadata, root / "moved");
  fs::create_directory(metadata);
  EXPECT_THROW((void)backend->get_flow_details(flow.uuid), StorageFailure);
  EXPECT_THROW((void)backend->get_logbook(book.uuid), StorageFailure);
}

TEST(DirBackend, NewerLayoutIsRefused) {
  TempDir dir;
  const fs::path root = dir / "tree";
  (void)make_dir_backend(root.string());
  std::ofstream(root / "caboose_schema") << "7";
  EXPECT_THROW((void)make_dir_backend(root.string()), StorageFailure);
}

TEST(DirBackend, UrisNameTheDirectory) {
  TempDir dir;
  auto backend = fetch("dir://" + (dir / "tree").string());
  backend->save_logbook(make_logbook("b"));
  EXPECT_EQ(make_dir_backend((dir / "tree").string())->get_logbooks().size(), 1u);
  EXPECT_THROW((void)fetch("dir://"), InvalidArgument);
  std::ofstream(dir / "file") << "x";
  EXPECT_THROW((void)fetch("dir://" + (dir / "file").string()), StorageFailure);
}

}  // namespace
}  // namespace caboose::persistence::testing
