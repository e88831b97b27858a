// The fault cases (board_faults.h) on the redis:// jobboard, on a private redis-server.
#include <string>

#include <gtest/gtest.h>

#include "reliability/board_faults.h"
#include "support/redis_server.h"

namespace caboose::reliability {
namespace {

using caboose::testing::RedisServer;

INSTANTIATE_TEST_SUITE_P(
    Redis, BoardFaultsTest,
    ::testing::Values(FaultBoard{
        .name = "redis",
        .server_port = [] { return RedisServer::shared().port(); },
        .uri =
            [](const std::string& host_port, const std::string& path) {
              return "redis://" + host_port + "/0?namespace=" + path + "&timeout_ms=1000";
            },
        // The claim script's arguments carry the claimer's name; nothing before it does.
        .claim_marker = [](const std::string& who) { return who; },
        .lease = std::chrono::milliseconds(1000)}),
    FaultBoardName());

}  // namespace
}  // namespace caboose::reliability
