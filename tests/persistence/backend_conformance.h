// The persistence conformance suite: every Backend passes the same cases (TaskFlow's
// tests/unit/persistence/base.py, ported, plus what caboose adds). A backend joins by
// instantiating the suite with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Memory, BackendConformance,
//                            testing::Values(BackendFactory{"memory", make_memory_fixture}),
//                            BackendName());
//
// The fixture opens a fresh, empty store per test; reopen() gives a second connection to the
// same store (a new Backend object where the backend has outside storage), so cases check
// what really persisted.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "caboose/persistence/backend.h"

namespace caboose::persistence::testing {

// One store for one test: where it lives and how to connect to it.
class BackendFixture {
 public:
  virtual ~BackendFixture() = default;
  // A connection to the store (created, upgraded and empty on first use).
  virtual Backend& backend() = 0;
  // Another connection to the same store; for an in-process store, the same backend.
  virtual Backend& reopen() = 0;
  // Opens a new connection to the store from any process (a forked child included); null for
  // a store that lives in this process only.
  virtual std::function<std::unique_ptr<Backend>()> opener() { return nullptr; }
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<BackendFixture>()> make;
  friend std::ostream& operator<<(std::ostream& out, const BackendFactory& f) {
    return out << f.name;
  }
};

// Names instantiated cases after the backend ("Memory/BackendConformance.X/memory").
struct BackendName {
  std::string operator()(const ::testing::TestParamInfo<BackendFactory>& p) const {
    return p.param.name;
  }
};

class BackendConformance : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override { fixture_ = GetParam().make(); }
  void TearDown() override { fixture_.reset(); }
  Backend& conn() { return fixture_->backend(); }
  Backend& reopen() { return fixture_->reopen(); }
  std::function<std::unique_ptr<Backend>()> opener() { return fixture_->opener(); }

 private:
  std::unique_ptr<BackendFixture> fixture_;
};

// A fixture holding one backend, made by `make` (for backends with no outside storage).
class SingleBackendFixture : public BackendFixture {
 public:
  explicit SingleBackendFixture(std::unique_ptr<Backend> backend) : backend_(std::move(backend)) {
    backend_->upgrade();
  }
  Backend& backend() override { return *backend_; }
  Backend& reopen() override { return *backend_; }

 private:
  std::unique_ptr<Backend> backend_;
};

}  // namespace caboose::persistence::testing
