// The fault cases (board_faults.h) on the zookeeper:// jobboard, on a private ZooKeeper.
#include <string>

#include <gtest/gtest.h>

#include "reliability/board_faults.h"
#include "support/zookeeper_server.h"

namespace caboose::reliability {
namespace {

using caboose::testing::ZooKeeperServer;

INSTANTIATE_TEST_SUITE_P(ZooKeeper, BoardFaultsTest,
                         ::testing::Values(FaultBoard{
                             .name = "zookeeper",
                             .server_port = [] { return ZooKeeperServer::shared().port(); },
                             .uri =
                                 [](const std::string& host_port, const std::string& path) {
                                   return "zookeeper://" + host_port + "/" + path +
                                          "/jobs?session_timeout_ms=4000";
                                 },
                             // The claim's multi creates the lock holding the claimer's name; the
                             // reads before it name only paths.
                             .claim_marker = [](const std::string& who) { return who; },
                             .lease = std::chrono::milliseconds(1000)}),
                         FaultBoardName());

}  // namespace
}  // namespace caboose::reliability
