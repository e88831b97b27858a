// Decoding values from bytes a stranger may have written (job postings, stored records): JSON
// text or msgpack, refused with InvalidFormat when larger or more deeply nested than a limit, so
// hostile input cannot exhaust memory or the stack (nlohmann's copy, dump and msgpack reader
// recurse once per level).
//
// The limits never refuse what Python TaskFlow writes: its msgpack packer stops at 511 levels
// and its json module at Python's recursion limit (1000); a ZooKeeper node holds at most 1 MiB
// and an etcd value 1.5 MiB by default.
#pragma once

#include <cstddef>
#include <string_view>

#include "caboose/core/value.h"

namespace caboose {

struct DecodeLimits {
  std::size_t max_bytes;  // the whole input
  std::size_t max_depth;  // nested arrays and objects (a scalar is depth 0, [] is depth 1)
};

// Arrays and objects nested deeper than this are refused everywhere.
inline constexpr std::size_t kMaxNesting = 1000;
// A job posting or a board's record (Redis, ZooKeeper, etcd, SQLite): 4 MiB.
inline constexpr DecodeLimits kPostingLimits{.max_bytes = 4u << 20, .max_depth = kMaxNesting};
// One stored persistence record (a JSON column, file or node): 16 MiB.
inline constexpr DecodeLimits kRecordLimits{.max_bytes = 16u << 20, .max_depth = kMaxNesting};

// Parses JSON text (no comments). Throws InvalidFormat naming `what` and the problem: not JSON,
// over limits.max_bytes, or nested deeper than limits.max_depth.
[[nodiscard]] Value decode_json(std::string_view text, std::string_view what,
                                const DecodeLimits& limits);
// Parses one msgpack object (all of `bytes`), as msgpack-python reads it with raw=False: text
// must be UTF-8. Ext types come back as binary values with the ext type as subtype. Throws
// InvalidFormat as decode_json does, and for text that is not UTF-8.
[[nodiscard]] Value decode_msgpack(std::string_view bytes, std::string_view what,
                                   const DecodeLimits& limits);
// As decode_json, but null where decode_json throws InvalidFormat: for a record its reader
// treats as absent when it cannot be read (a lock's owner, an entity's details).
[[nodiscard]] Value decode_json_or_null(std::string_view text, const DecodeLimits& limits);

}  // namespace caboose
