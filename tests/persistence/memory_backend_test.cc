// The memory:// backend against the persistence conformance suite, and its URI.
#include "caboose/persistence/memory_backend.h"

#include <gtest/gtest.h>

#include "caboose/core/errors.h"
#include "caboose/persistence/fetch.h"

#include "persistence/backend_conformance.h"

namespace caboose::persistence::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(
    Memory, BackendConformance,
    ::testing::Values(BackendFactory{
        "memory", [] { return std::make_unique<SingleBackendFixture>(make_memory_backend()); }}),
    BackendName());

TEST(MemoryBackendUri, FetchMakesAMemoryBackend) {
  auto backend = fetch("memory://");
  LogBook book = make_logbook("b");
  backend->save_logbook(book);
  EXPECT_EQ(backend->get_logbook(book.uuid).name, "b");
}

TEST(MemoryBackendUri, UnknownSchemeIsAClearError) {
  try {
    (void)fetch("nosuch://host/x");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("nosuch"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace caboose::persistence::testing
