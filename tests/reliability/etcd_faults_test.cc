// The fault cases (board_faults.h) on the etcd:// jobboard, on a private etcd.
#include <string>

#include <gtest/gtest.h>

#include "reliability/board_faults.h"
#include "support/etcd_server.h"

namespace caboose::reliability {
namespace {

using caboose::testing::EtcdServer;

INSTANTIATE_TEST_SUITE_P(
    Etcd, BoardFaultsTest,
    ::testing::Values(FaultBoard{
        .name = "etcd",
        .server_port = [] { return EtcdServer::shared().port(); },
        .uri =
            [](const std::string& host_port, const std::string& path) {
              return "etcd://" + host_port + "/" + path + "?timeout_ms=1500";
            },
        // The claim's transaction puts the lock with the board's etcd lease; the reads and the
        // lease grant before it carry no "lease" field (values are base64 in etcd's JSON).
        .claim_marker = [](const std::string&) { return std::string("\"lease\":\""); },
        .lease = std::chrono::milliseconds(2000)}),
    FaultBoardName());

}  // namespace
}  // namespace caboose::reliability
