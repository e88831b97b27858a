// Where the etcd jobboard keeps what, as TaskFlow's EtcdJobBoard (taskflow/jobs/backends/
// impl_etcd.py) names it, so Python TaskFlow and caboose share a board:
//
//   /taskflow/jobs/<path>/sequence              the posting counter (decimal text)
//   /taskflow/jobs/<path>/job<N>.data           the JSON posting (with "sequence": N)
//   /taskflow/jobs/<path>/job<N>.lock           {"owner": who, "lease_id": id}, bound to that lease
//   /taskflow/jobs/<path>/job<N>.last_modified  {"last_modified": "YYYY-MM-DDTHH:MM:SS.ffffff"}
//   /taskflow/.trash/<path>/job<N>              a trashed posting
//
// What caboose adds lives where TaskFlow does not look (its listing reads only .data keys, its
// consume deletes the prefix job<N>. and so these too):
//
//   /taskflow/jobs/<path>/job<N>.caboose        attempts, max_attempts, lease end, not_before,
//                                               last failure, trash reason, the job's uuid
//   /taskflow/.trash/<path>/job<N>.caboose      the same for a trashed job (+ .last_modified)
//   /taskflow/jobs/<path>/.caboose/jobs/<uuid>  "N": where job <uuid> is (board or trash)
//   /taskflow/jobs/<path>/.caboose/entities/<name>  a registered conductor
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caboose/core/value.h"
#include "caboose/jobs/job.h"

#include "jobs/etcd/etcd_client.h"

namespace caboose::jobs::detail {

struct EtcdAddress {
  EtcdEndpoints endpoints;
  std::string path;  // TaskFlow's board "path", without leading or trailing slashes
};

// etcd://[user:password@]host[:port][,host[:port]...]/path[?timeout_ms=N]. InvalidArgument
// naming the problem (the password shown as ***).
EtcdAddress parse_etcd_uri(std::string_view uri);

struct EtcdKeys {
  explicit EtcdKeys(const std::string& path);
  std::string root;      // /taskflow/jobs/<path>
  std::string trash;     // /taskflow/.trash/<path>
  std::string index;     // <root>/.caboose/jobs/
  std::string entities;  // <root>/.caboose/entities/

  std::string sequence() const { return root + "/sequence"; }
  std::string jobs() const { return root + "/job"; }  // the prefix of every job key
  std::string job(std::int64_t n) const { return jobs() + std::to_string(n); }
  std::string data(std::int64_t n) const { return job(n) + ".data"; }
  std::string lock(std::int64_t n) const { return job(n) + ".lock"; }
  std::string extras(std::int64_t n) const { return job(n) + ".caboose"; }
  std::string modified(std::int64_t n) const { return job(n) + ".last_modified"; }
  std::string binned() const { return trash + "/job"; }
  std::string bin(std::int64_t n) const { return binned() + std::to_string(n); }
  std::string bin_extras(std::int64_t n) const { return bin(n) + ".caboose"; }
  std::string bin_modified(std::int64_t n) const { return bin(n) + ".last_modified"; }
};

// caboose's fields of one job (job<N>.caboose).
struct EtcdExtras {
  std::string uuid;
  std::int64_t attempts = 0;
  std::int64_t max_attempts = 0;
  std::optional<std::int64_t> not_before;   // µs since the epoch
  std::optional<std::int64_t> lease_until;  // µs since the epoch, while claimed by caboose
  Value last_failure;                       // a failure dict, or null
  std::optional<std::string> trash_reason;

  static EtcdExtras parse(const std::optional<EtcdKv>& kv);
  std::string dump() const;
};

// The keys of one job, on the board (data, lock, extras, modified) or in the bin (data is the
// trashed posting).
struct EtcdRecord {
  std::int64_t n = 0;
  std::optional<EtcdKv> data;
  std::optional<EtcdKv> lock;
  std::optional<EtcdKv> extras;
  std::optional<EtcdKv> modified;
};

// Groups the keys under `prefix` (EtcdKeys::jobs() or binned()) by job number. On the board the
// posting is job<N>.data; in the bin it is job<N> itself.
std::map<std::int64_t, EtcdRecord> group_records(const std::vector<EtcdKv>& kvs,
                                                 const std::string& prefix, bool bin);

// The lock's owner ("" when unreadable).
std::string lock_owner(const EtcdKv& lock);
// {"last_modified": "..."} as TaskFlow writes it.
std::string modified_value(TimePoint t);
std::optional<TimePoint> parse_modified(const std::optional<EtcdKv>& kv);

}  // namespace caboose::jobs::detail
