// Fault cases for a jobboard on a real server, with a FaultProxy between the board under test
// and the server (another board talks to the server directly). Written once, instantiated by
// each server's test (redis_faults_test.cc, ...), as the conformance suites are.
#pragma once

#include <chrono>
#include <functional>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "caboose/jobs/jobboard.h"

#include "support/fault_proxy.h"

namespace caboose::reliability {

struct FaultBoard {
  std::string name;  // test-name suffix
  // The server's port on 127.0.0.1 (starting the process's shared server on first use).
  std::function<int()> server_port;
  // A board URI on `host_port` ("127.0.0.1:<port>") for the board path or namespace `path`, with
  // the client's timeout about the lease: a blackholed call fails within it, and a call over
  // the delayed link (300 ms a round trip) does not time out.
  std::function<std::string(const std::string& host_port, const std::string& path)> uri;
  // Something only the claim's request (the one that changes the store) holds, when `who`
  // claims: what FaultProxy::drop_next_reply() waits for.
  std::function<std::string(const std::string& who)> claim_marker;
  // The lease the cases use (etcd's leases are whole seconds, at least about 2 s).
  std::chrono::milliseconds lease{1000};
};

// A fresh board path, and a proxy in front of the server; direct_uri() skips the proxy.
class BoardFaultsTest : public ::testing::TestWithParam<FaultBoard> {
 protected:
  BoardFaultsTest();
  std::string direct_uri() const;
  std::string proxied_uri() const;
  jobs::BoardOptions options() const;

  std::string path_;
  caboose::testing::FaultProxy proxy_;
};

inline void PrintTo(const FaultBoard& board, std::ostream* os) {
  *os << board.name;
}

struct FaultBoardName {
  std::string operator()(const ::testing::TestParamInfo<FaultBoard>& p) const {
    return p.param.name;
  }
};

}  // namespace caboose::reliability
