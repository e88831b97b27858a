// The directory backend (dir://), as taskflow.persistence.backends.impl_dir: books/,
// flow_details/ and atom_details/ hold one directory per object (named by uuid) with a
// "metadata" JSON file and an empty "lock" file; containment is a symlink named by the child's
// uuid to the child's directory (absolute target). Python TaskFlow reads what caboose writes
// here and the reverse. Every file is replaced atomically (temporary file, fsync, rename, fsync
// of the directory), and writers in several processes are serialised by an advisory lock on
// the root (.caboose.lock), so a crash never leaves a half-written record.
//
// caboose adds, where TaskFlow does not look: caboose_fences/<flow uuid> (the fence token),
// caboose_schema (the layout version) and a caboose_order file in book and flow directories
// (the order children were added; directory listings have none).
#pragma once

#include <memory>
#include <string>

#include "caboose/persistence/backend.h"

namespace caboose::persistence {

// Opens the tree at `path` (made absolute), creating it and its folders (upgrade()). Throws
// StorageFailure naming the path when it cannot, or when its layout is newer than caboose knows.
[[nodiscard]] std::unique_ptr<Backend> make_dir_backend(const std::string& path);

}  // namespace caboose::persistence
