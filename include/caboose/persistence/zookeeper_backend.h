// The ZooKeeper backend (zookeeper://), as taskflow.persistence.backends.impl_zookeeper (a
// path-based backend): under the root path, books/<uuid>, flow_details/<uuid> and
// atom_details/<uuid> hold each object's JSON (as TaskFlow's jsonutils writes it); a book's
// flows and a flow's atoms are its child znodes, named by the child's uuid. Python TaskFlow
// (with kazoo) reads what caboose writes here and the reverse.
//
// Every call is one ZooKeeper transaction (multi): it reads what it merges into, then writes
// with version checks, so concurrent writers in any number of processes never lose each other's
// updates (a conflicting call reads again and retries). A save under a claim token checks the
// flow's fence node's version in the same transaction, so a fence raised meanwhile refuses it.
//
// caboose adds, where TaskFlow does not look: caboose_fences/<flow uuid> (the fence token),
// caboose_schema (the layout version), and the position of each child in its link znode's data
// (TaskFlow's links are empty; ZooKeeper lists children in no order).
//
//   auto backend = caboose::persistence::fetch("zookeeper://127.0.0.1:2181/taskflow");
#pragma once

#include <memory>
#include <string_view>

#include "caboose/persistence/backend.h"

namespace caboose::persistence {

// zookeeper://[user:password@]host:port[,host:port...][/path][?session_timeout_ms=N] (TaskFlow's
// default path /taskflow). Connects and creates the layout (upgrade()). With credentials, every
// session authenticates with them (digest scheme) and every node the backend creates, the
// missing parents of the path included, gets ZOO_CREATOR_ALL_ACL: all rights to that identity,
// none to anyone else. Throws InvalidArgument for a bad URI, StorageFailure naming the hosts
// (never the password) when no server answers, the credentials are refused or lack a right, or
// when the layout is newer than this caboose knows.
[[nodiscard]] std::unique_ptr<Backend> make_zookeeper_backend(std::string_view uri);

}  // namespace caboose::persistence
