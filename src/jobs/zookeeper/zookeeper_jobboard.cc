// The ZooKeeper jobboard (zookeeper://): TaskFlow's layout (shared/formats/zk-layout.txt), so
// Python TaskFlow and caboose share a board: <path>/job<N> persistent sequential nodes holding
// the JSON posting, <path>/job<N>.lock ephemeral claim nodes holding {"owner": who}, trashed
// postings under the sibling <.trash>, conductors under <.entities>/conductor. What caboose adds
// lives where TaskFlow does not look, the sibling <.caboose>/<job uuid>: attempts, the claim
// token (a counter), the lease's end, not_before, the last failure, the trash reason. caboose
// also writes its token into its lock nodes ({"owner": who, "caboose_token": n}; TaskFlow reads
// only "owner"). A claim is the lock node created in one transaction with a version check of
// the job node and of the extras node (where the attempt is counted); a caboose claim whose
// lease lapsed can be taken over (its lock deleted in the taking claim's transaction), while a
// Python claim holds as long as its holder's session.
#include "jobs/zookeeper/zookeeper_jobboard.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/decode.h"
#include "caboose/core/errors.h"
#include "caboose/jobs/jobboard.h"

#include "clients/zookeeper/zk_client.h"
#include "core/log.h"
#include "jobs/json_posting.h"

namespace caboose::jobs {
namespace {

using clients::ZkAddress;
using clients::ZkClient;
using clients::ZkMode;
using clients::ZkMultiResult;
using clients::ZkNode;
using clients::ZkOp;

// As TaskFlow: the sibling is the path with its last component's text replaced (Python's
// str.replace, every occurrence).
std::string sibling(const std::string& path, const std::string& name) {
  const std::string base = path.substr(path.rfind('/') + 1);
  std::string out = path;
  for (auto at = out.find(base); !base.empty() && at != std::string::npos;
       at = out.find(base, at + name.size())) {
    out.replace(at, base.size(), name);
  }
  return out;
}

std::int64_t micros(TimePoint t) {
  return t.time_since_epoch().count();
}

TimePoint from_micros(std::int64_t us) {
  return TimePoint(std::chrono::microseconds(us));
}

// caboose's fields of one job (<.caboose>/<uuid>).
struct Extras {
  std::int64_t attempts = 0;
  std::int64_t max_attempts = 0;
  std::int64_t token = 0;
  std::optional<std::int64_t> not_before;   // µs since the epoch
  std::optional<std::int64_t> lease_until;  // µs since the epoch
  Value last_failure;                       // a failure dict, or null
  std::optional<std::string> trash_reason;
  int version = -1;  // of the node; -1 when there is none yet

  static Extras read(const std::optional<ZkNode>& node) {
    Extras e;
    if (!node) {
      return e;
    }
    e.version = node->stat.version;
    const Value v = decode_json_or_null(node->data, kPostingLimits);
    if (!v.is_object()) {
      return e;
    }
    e.attempts = v.value("attempts", std::int64_t{0});
    e.max_attempts = v.value("max_attempts", std::int64_t{0});
    e.token = v.value("token", std::int64_t{0});
    if (v.contains("not_before") && v["not_before"].is_number_integer()) {
      e.not_before = v["not_before"].get<std::int64_t>();
    }
    if (v.contains("lease_until") && v["lease_until"].is_number_integer()) {
      e.lease_until = v["lease_until"].get<std::int64_t>();
    }
    if (v.contains("last_failure")) {
      e.last_failure = v["last_failure"];
    }
    if (v.contains("trash_reason") && v["trash_reason"].is_string()) {
      e.trash_reason = v["trash_reason"].get<std::string>();
    }
    return e;
  }

  std::string dump() const {
    Value v{{"attempts", attempts}, {"max_attempts", max_attempts}, {"token", token}};
    v["not_before"] = not_before ? Value(*not_before) : Value();
    v["lease_until"] = lease_until ? Value(*lease_until) : Value();
    v["last_failure"] = last_failure;
    v["trash_reason"] = trash_reason ? Value(*trash_reason) : Value();
    return v.dump();
  }
};

// A claim node: its owner, and the token when caboose made it (0 for TaskFlow's).
struct Lock {
  std::string owner;
  std::int64_t token = 0;
  int version = 0;

  static std::optional<Lock> read(const std::optional<ZkNode>& node) {
    if (!node) {
      return std::nullopt;
    }
    Lock lock;
    lock.version = node->stat.version;
    const Value v = decode_json_or_null(node->data, kPostingLimits);
    if (v.is_object()) {
      if (v.contains("owner") && v["owner"].is_string()) {
        lock.owner = v["owner"].get<std::string>();
      }
      lock.token = v.value("caboose_token", std::int64_t{0});
    }
    return lock;
  }
};

bool is_job_name(const std::string& name) {
  return name.rfind("job", 0) == 0 &&
         (name.size() < 5 || name.compare(name.size() - 5, 5, ".lock") != 0);
}

class ZooKeeperJobBoard final : public JobBoard {
 public:
  ZooKeeperJobBoard(ZkAddress address, BoardOptions options)
      : address_(std::move(address)),
        options_(options),
        jobs_(address_.path),
        trash_(sibling(jobs_, ".trash")),
        entities_(sibling(jobs_, ".entities")),
        extras_(sibling(jobs_, ".caboose")),
        records_(sibling(jobs_, ".caboose-entities")) {
    check_options(options_);
    open();
  }

  void close() override {
    std::lock_guard lock(mu_);
    client_.reset();
    closed_ = true;
  }

  Job post(std::string name, PostOptions options) override {
    Job job = new_job(std::move(name), std::move(options), options_);
    Extras extras;
    extras.max_attempts = job.max_attempts;
    if (job.not_before) {
      extras.not_before = micros(*job.not_before);
    }
    {
      std::lock_guard lock(mu_);
      ZkClient& zk = open();
      // The extras first: a job is never listed without them.
      zk.create(extras_ + "/" + job.uuid, extras.dump());
      const std::string path = zk.create(
          jobs_ + "/job", detail::encode_json_posting(job, detail::PostingLayout::kZooKeeper),
          ZkMode::kPersistentSequential);
      const std::string node = path.substr(path.rfind('/') + 1);
      job.sequence = sequence_of(node);
      remember(jobs_, node, job.uuid);
    }
    notifier_.notify("posted", Value{{"job_uuid", job.uuid}, {"name", job.name}});
    return job;
  }

  std::vector<Job> iterjobs(bool only_unclaimed) override {
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    skipped_.clear();
    std::vector<Job> jobs;
    const TimePoint at = now();
    const std::vector<std::string> listing = zk.children(jobs_);
    std::vector<std::string> nodes;
    for (const std::string& child : listing) {
      if (is_job_name(child)) {
        nodes.push_back(child);
      }
    }
    for (std::optional<Job>& job : read_jobs(zk, jobs_, nodes, &listing)) {
      if (!job) {
        continue;
      }
      if (only_unclaimed &&
          (job->state != JobState::kUnclaimed || (job->not_before && *job->not_before > at))) {
        continue;
      }
      jobs.push_back(std::move(*job));
    }
    sort_in_claim_order(jobs);
    return jobs;
  }

  std::vector<std::string> skipped() const override {
    std::lock_guard lock(mu_);
    return skipped_;
  }

  bool wait(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::uint64_t seen = 0;
      {
        std::lock_guard watch_lock(watch_mu_);
        seen = changes_;
      }
      {
        std::lock_guard lock(mu_);
        open().children(jobs_, /*watch=*/true);  // the next change wakes us
      }
      // Claimable now, or when (at the earliest) one becomes so with no change to the znodes
      // the watch sees: a not_before or a caboose lease passing (a holder that died leaves its
      // lock in place until then).
      std::optional<TimePoint> next;
      const TimePoint at = now();
      for (const Job& job : iterjobs(/*only_unclaimed=*/false)) {
        std::optional<TimePoint> due;
        if (job.state == JobState::kUnclaimed) {
          if (!job.not_before || *job.not_before <= at) {
            return true;
          }
          due = job.not_before;
        } else if (job.state == JobState::kClaimed) {
          due = job.lease_until;
        }
        if (due) {
          next = next ? std::min(*next, *due) : *due;
        }
      }
      std::unique_lock lock(watch_mu_);
      // Woken by a change of the jobs' children (posts, claims, consumes), when the next job
      // falls due, and at least every second.
      auto slice = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1));
      if (next) {
        slice = std::min(slice, std::chrono::steady_clock::now() + (*next - at));
      }
      changed_.wait_until(lock, slice, [&] { return changes_ != seen; });
      if (std::chrono::steady_clock::now() >= deadline) {
        lock.unlock();
        return !iterjobs(/*only_unclaimed=*/true).empty();
      }
    }
  }

  std::optional<Job> find(std::string_view job_uuid) override {
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    if (const auto node = locate(zk, jobs_, job_uuid)) {
      return read_job(zk, jobs_, *node);
    }
    if (const auto node = locate(zk, trash_, job_uuid)) {
      return read_job(zk, trash_, *node);
    }
    return std::nullopt;
  }

  Claim claim(std::string_view job_uuid, std::string_view who) override {
    if (who.empty()) {
      throw InvalidArgument("a claim needs a claimer's name");
    }
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    const std::string uuid(job_uuid);
    const std::optional<std::string> node = locate(zk, jobs_, uuid);
    if (!node) {
      if (locate(zk, trash_, uuid)) {
        throw UnclaimableJob(fmt::format("job {} is in the garbage bin", uuid));
      }
      throw NotFound(fmt::format("no job {} on the board", uuid));
    }
    const std::string job_path = jobs_ + "/" + *node;
    // One round trip for the posting, its lock and caboose's extras.
    const std::vector<std::optional<ZkNode>> read =
        zk.get_many({job_path, job_path + ".lock", extras_ + "/" + uuid});
    const std::optional<ZkNode>& posting = read[0];
    if (!posting) {
      throw NotFound(fmt::format("no job {} on the board", uuid));
    }
    const std::optional<Lock> held = Lock::read(read[1]);
    Extras extras = Extras::read(read[2]);
    const TimePoint at = now();
    std::vector<ZkOp> ops = {ZkOp::check(job_path, posting->stat.version)};
    if (held) {
      if (!lapsed(*held, extras, at)) {
        throw UnclaimableJob(fmt::format("job {} is already claimed by '{}'", uuid, held->owner));
      }
      ops.push_back(ZkOp::remove(job_path + ".lock", held->version));
    }
    if (extras.not_before && *extras.not_before > micros(at)) {
      throw UnclaimableJob(fmt::format("job {} is not claimable yet", uuid));
    }
    extras.attempts += 1;
    extras.token += 1;
    extras.lease_until = micros(at + options_.lease);
    if (extras.max_attempts == 0) {
      extras.max_attempts = options_.max_attempts;  // a job TaskFlow posted
    }
    ops.push_back(
        ZkOp::create(job_path + ".lock",
                     Value{{"owner", std::string(who)}, {"caboose_token", extras.token}}.dump(),
                     ZkMode::kEphemeral));
    ops.push_back(extras.version < 0
                      ? ZkOp::create(extras_ + "/" + uuid, extras.dump())
                      : ZkOp::set(extras_ + "/" + uuid, extras.dump(), extras.version));
    ZkMultiResult r;
    try {
      r = zk.multi(ops);
    } catch (const StorageFailure&) {
      // The reply was lost (connection loss): the claim may or may not have been made. Read
      // back, once the client is connected again, before telling anyone.
      if (!claimed_after_all(zk, job_path + ".lock", who, extras.token)) {
        throw;
      }
      return Claim{uuid, std::string(who), extras.token, extras.attempts, at + options_.lease};
    }
    if (!r.ok) {
      throw UnclaimableJob(fmt::format("job {} was claimed or changed meanwhile ({})", uuid,
                                       clients::zk_error_name(r.code)));
    }
    return Claim{uuid, std::string(who), extras.token, extras.attempts, at + options_.lease};
  }

  Claim renew(const Claim& claim) override {
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    Current c = current(zk, claim, "renew");
    Claim renewed = claim;
    renewed.lease_until = now() + options_.lease;
    c.extras.lease_until = micros(renewed.lease_until);
    commit(zk, claim, "renew",
           {ZkOp::check(c.lock_path, c.lock.version),
            ZkOp::set(extras_ + "/" + claim.job_uuid, c.extras.dump(), c.extras.version)});
    return renewed;
  }

  void consume(const Claim& claim) override {
    {
      std::lock_guard lock(mu_);
      ZkClient& zk = open();
      const Current c = current(zk, claim, "consume");
      commit(zk, claim, "consume",
             {ZkOp::remove(c.lock_path, c.lock.version), ZkOp::remove(c.job_path),
              ZkOp::remove(extras_ + "/" + claim.job_uuid, c.extras.version)});
      forget(jobs_, c.node);
    }
    notifier_.notify("removal", Value{{"job_uuid", claim.job_uuid}, {"reason", "consumed"}});
  }

  void abandon(const Claim& claim, std::optional<TimePoint> not_before,
               std::optional<Failure> failure) override {
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    Current c = current(zk, claim, "abandon");
    c.extras.not_before =
        not_before ? std::optional<std::int64_t>(micros(*not_before)) : std::nullopt;
    c.extras.lease_until.reset();
    if (failure) {
      c.extras.last_failure = failure->to_dict();
    }
    commit(zk, claim, "abandon",
           {ZkOp::remove(c.lock_path, c.lock.version),
            ZkOp::set(extras_ + "/" + claim.job_uuid, c.extras.dump(), c.extras.version)});
  }

  void release(const Claim& claim) override {
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    Current c = current(zk, claim, "release");
    c.extras.not_before.reset();
    c.extras.lease_until.reset();
    c.extras.attempts = std::max<std::int64_t>(0, c.extras.attempts - 1);
    commit(zk, claim, "release",
           {ZkOp::remove(c.lock_path, c.lock.version),
            ZkOp::set(extras_ + "/" + claim.job_uuid, c.extras.dump(), c.extras.version)});
  }

  void trash(const Claim& claim, std::string reason, std::optional<Failure> failure) override {
    {
      std::lock_guard lock(mu_);
      ZkClient& zk = open();
      Current c = current(zk, claim, "trash");
      const std::optional<ZkNode> posting = zk.get(c.job_path);
      if (!posting) {
        throw NotFound(fmt::format("cannot trash job {}: it is not on the board", claim.job_uuid));
      }
      c.extras.trash_reason = std::move(reason);
      c.extras.lease_until.reset();
      if (failure) {
        c.extras.last_failure = failure->to_dict();
      }
      commit(zk, claim, "trash",
             {ZkOp::create(trash_ + "/" + c.node, posting->data),
              ZkOp::remove(c.lock_path, c.lock.version),
              ZkOp::remove(c.job_path, posting->stat.version),
              ZkOp::set(extras_ + "/" + claim.job_uuid, c.extras.dump(), c.extras.version)});
      forget(jobs_, c.node);
      remember(trash_, c.node, claim.job_uuid);
    }
    notifier_.notify("removal", Value{{"job_uuid", claim.job_uuid}, {"reason", "trashed"}});
  }

  std::optional<std::string> find_owner(std::string_view job_uuid) override {
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    const std::optional<std::string> node = locate(zk, jobs_, job_uuid);
    if (!node) {
      return std::nullopt;
    }
    const std::optional<Lock> held = Lock::read(zk.get(jobs_ + "/" + *node + ".lock"));
    if (!held ||
        lapsed(*held, Extras::read(zk.get(extras_ + "/" + std::string(job_uuid))), now())) {
      return std::nullopt;
    }
    return held->owner;
  }

  std::size_t job_count() override {
    std::lock_guard lock(mu_);
    return job_nodes(open()).size();
  }

  std::vector<Job> trashed() override {
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    skipped_.clear();
    std::vector<Job> jobs;
    for (std::optional<Job>& job : read_jobs(zk, trash_, zk.children(trash_))) {
      if (job) {
        jobs.push_back(std::move(*job));
      }
    }
    sort_in_bin_order(jobs);
    return jobs;
  }

  Job requeue(std::string_view job_uuid) override {
    Job job;
    {
      std::lock_guard lock(mu_);
      ZkClient& zk = open();
      const std::string uuid(job_uuid);
      const std::optional<std::string> node = locate(zk, trash_, uuid);
      if (!node) {
        throw NotFound(fmt::format("job {} is not in the garbage bin", uuid));
      }
      const std::optional<ZkNode> posting = zk.get(trash_ + "/" + *node);
      if (!posting) {
        throw NotFound(fmt::format("job {} is not in the garbage bin", uuid));
      }
      Extras extras = Extras::read(zk.get(extras_ + "/" + uuid));
      extras.attempts = 0;
      extras.not_before.reset();
      extras.trash_reason.reset();
      std::vector<ZkOp> ops = {
          ZkOp::create(jobs_ + "/job", posting->data, ZkMode::kPersistentSequential),
          ZkOp::remove(trash_ + "/" + *node, posting->stat.version),
          extras.version < 0 ? ZkOp::create(extras_ + "/" + uuid, extras.dump())
                             : ZkOp::set(extras_ + "/" + uuid, extras.dump(), extras.version)};
      const ZkMultiResult r = zk.multi(ops);
      if (!r.ok) {
        throw UnclaimableJob(fmt::format("job {} changed while being requeued ({})", uuid,
                                         clients::zk_error_name(r.code)));
      }
      const std::string created = r.created.front();
      forget(trash_, *node);
      remember(jobs_, created.substr(created.rfind('/') + 1), uuid);
      job = *read_job(zk, jobs_, created.substr(created.rfind('/') + 1));
    }
    notifier_.notify("posted", Value{{"job_uuid", job.uuid}, {"name", job.name}});
    return job;
  }

  void purge(std::string_view job_uuid) override {
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    const std::string uuid(job_uuid);
    const std::optional<std::string> node = locate(zk, trash_, uuid);
    if (!node) {
      throw NotFound(fmt::format("job {} is not in the garbage bin", uuid));
    }
    std::vector<ZkOp> ops = {ZkOp::remove(trash_ + "/" + *node)};
    if (zk.exists(extras_ + "/" + uuid)) {
      ops.push_back(ZkOp::remove(extras_ + "/" + uuid));
    }
    const ZkMultiResult r = zk.multi(ops);
    if (!r.ok) {
      throw NotFound(fmt::format("job {} is not in the garbage bin", uuid));
    }
    forget(trash_, *node);
    notifier_.notify("removal", Value{{"job_uuid", uuid}, {"reason", "purged"}});
  }

  void register_entity(std::string_view name, const Value& details) override {
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    zk.ensure_path(entities_ + "/conductor");
    // TaskFlow's live-conductor node (ephemeral: it goes with this session), and caboose's
    // record, kept with its last-seen time after the conductor is gone.
    const std::string live = entities_ + "/conductor/" + std::string(name);
    try {
      zk.create(live, details.dump(), ZkMode::kEphemeral);
    } catch (const Duplicate&) {
      zk.set(live, details.dump());
    }
    const std::string record = records_ + "/" + std::string(name);
    const std::string data = Value{{"details", details}, {"last_seen", format_time(now())}}.dump();
    try {
      zk.create(record, data);
    } catch (const Duplicate&) {
      zk.set(record, data);
    }
  }

  Value entities() override {
    std::lock_guard lock(mu_);
    ZkClient& zk = open();
    Value out = Value::array();
    std::vector<std::string> names;
    try {
      names = zk.children(records_);
    } catch (const NotFound&) {
      return out;
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const std::optional<ZkNode> node = zk.get(records_ + "/" + name);
      Value record = node ? decode_json_or_null(node->data, kPostingLimits) : Value();
      if (!record.is_object()) {
        record = Value::object();
      }
      out.push_back(Value{{"name", name},
                          {"details", record.value("details", Value())},
                          {"last_seen", record.value("last_seen", Value())}});
    }
    return out;
  }

  const BoardOptions& options() const override { return options_; }

 private:
  // A claim found current: its job node, lock and extras.
  struct Current {
    std::string node;
    std::string job_path;
    std::string lock_path;
    Lock lock;
    Extras extras;
  };

  // The claim still current (its lock, made with its token, is there) or StaleClaim/NotFound.
  Current current(ZkClient& zk, const Claim& claim, std::string_view action) {
    const std::optional<std::string> node = locate(zk, jobs_, claim.job_uuid);
    if (!node) {
      throw NotFound(
          fmt::format("cannot {} job {}: it is not on the board", action, claim.job_uuid));
    }
    Current c;
    c.node = *node;
    c.job_path = jobs_ + "/" + *node;
    c.lock_path = c.job_path + ".lock";
    const std::vector<std::optional<ZkNode>> read =
        zk.get_many({c.lock_path, extras_ + "/" + claim.job_uuid});
    const std::optional<Lock> held = Lock::read(read[0]);
    c.extras = Extras::read(read[1]);
    if (!held || held->token != claim.token || held->owner != claim.owner ||
        c.extras.token != claim.token) {
      throw StaleClaim(
          fmt::format("cannot {} job {}: the claim of '{}' (token {}) is no longer current{}",
                      action, claim.job_uuid, claim.owner, claim.token,
                      held ? fmt::format(" (claimed by '{}')", held->owner) : std::string()));
    }
    c.lock = *held;
    return c;
  }

  void commit(ZkClient& zk, const Claim& claim, std::string_view action,
              const std::vector<ZkOp>& ops) {
    const ZkMultiResult r = zk.multi(ops);
    if (!r.ok) {
      throw StaleClaim(fmt::format("cannot {} job {}: it changed meanwhile ({})", action,
                                   claim.job_uuid, clients::zk_error_name(r.code)));
    }
  }

  // Whether the lock at `lock_path` is the one a claim whose reply was lost would have made
  // (its owner and token), retried while the connection comes back (within the session).
  bool claimed_after_all(ZkClient& zk, const std::string& lock_path, std::string_view who,
                         std::int64_t token) {
    const auto deadline = std::chrono::steady_clock::now() + address_.session_timeout;
    for (;;) {
      try {
        const std::optional<Lock> held = Lock::read(zk.get(lock_path));
        return held && held->owner == who && held->token == token;
      } catch (const StorageFailure&) {
        if (std::chrono::steady_clock::now() >= deadline || zk.expired()) {
          return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  // A caboose claim whose lease ended without a renewal; TaskFlow's claims never lapse.
  static bool lapsed(const Lock& lock, const Extras& extras, TimePoint at) {
    return lock.token != 0 && lock.token == extras.token && extras.lease_until &&
           *extras.lease_until <= micros(at);
  }

  static std::int64_t sequence_of(const std::string& node) {
    std::int64_t n = 0;
    std::from_chars(node.data() + 3, node.data() + node.size(), n);
    return n;
  }

  std::vector<std::string> job_nodes(ZkClient& zk) {
    std::vector<std::string> nodes;
    for (std::string& child : zk.children(jobs_)) {
      if (is_job_name(child)) {
        nodes.push_back(std::move(child));
      }
    }
    return nodes;
  }

  // The node name of job `uuid` under `dir` (jobs or trash). Every node's uuid is read once and
  // remembered (a node's posting never changes); a miss lists `dir` and reads only the nodes
  // not seen before.
  std::optional<std::string> locate(ZkClient& zk, const std::string& dir,
                                    std::string_view job_uuid) {
    const std::string uuid(job_uuid);
    const std::string key = dir + "\n" + uuid;
    if (const auto it = path_of_.find(key); it != path_of_.end()) {
      if (zk.exists(dir + "/" + it->second)) {
        return it->second;
      }
      path_of_.erase(it);
    }
    std::vector<std::string> children;
    try {
      children = zk.children(dir);
    } catch (const NotFound&) {
      return std::nullopt;
    }
    std::vector<std::string> unseen;
    std::vector<std::string> paths;
    for (const std::string& child : children) {
      const std::string path = dir + "/" + child;
      if (is_job_name(child) && !uuid_at_.contains(path)) {
        unseen.push_back(child);
        paths.push_back(path);
      }
    }
    const std::vector<std::optional<ZkNode>> postings = zk.get_many(paths);
    for (std::size_t i = 0; i < unseen.size(); ++i) {
      if (postings[i]) {
        remember(dir, unseen[i], posting_uuid(postings[i]->data));
      }
    }
    if (const auto it = path_of_.find(key); it != path_of_.end()) {
      return it->second;
    }
    return std::nullopt;
  }

  void forget(const std::string& dir, const std::string& node) {
    if (const auto it = uuid_at_.find(dir + "/" + node); it != uuid_at_.end()) {
      path_of_.erase(dir + "\n" + it->second);
      uuid_at_.erase(it);
    }
  }

  void remember(const std::string& dir, const std::string& node, const std::string& uuid) {
    if (uuid.empty()) {
      return;
    }
    uuid_at_[dir + "/" + node] = uuid;
    path_of_[dir + "\n" + uuid] = node;
  }

  static std::string posting_uuid(const std::string& data) {
    const Value v = decode_json_or_null(data, kPostingLimits);
    return v.is_object() && v.contains("uuid") && v["uuid"].is_string()
               ? v["uuid"].get<std::string>()
               : std::string();
  }

  // The job in node `node` of `dir`, with its claim and caboose's fields; nullopt if gone or
  // unreadable (recorded in skipped_).
  std::optional<Job> read_job(ZkClient& zk, const std::string& dir, const std::string& node) {
    return std::move(read_jobs(zk, dir, {node}).front());
  }

  // The jobs in nodes `nodes` of `dir`, as read_job() reads one, in batches: two round trips per
  // batch (postings, then extras and locks together), not three per job. With `listing` (the
  // names listed under `dir`), only the locks it shows are read.
  std::vector<std::optional<Job>> read_jobs(ZkClient& zk, const std::string& dir,
                                            const std::vector<std::string>& nodes,
                                            const std::vector<std::string>* listing = nullptr) {
    constexpr std::size_t kBatch = 1024;
    std::vector<std::optional<Job>> out(nodes.size());
    std::set<std::string> locks;
    if (listing != nullptr) {
      for (const std::string& name : *listing) {
        if (name.ends_with(".lock")) {
          locks.insert(name);
        }
      }
    }
    for (std::size_t begin = 0; begin < nodes.size(); begin += kBatch) {
      const std::size_t end = std::min(nodes.size(), begin + kBatch);
      std::vector<std::string> paths;
      for (std::size_t i = begin; i < end; ++i) {
        paths.push_back(dir + "/" + nodes[i]);
      }
      const std::vector<std::optional<ZkNode>> postings = zk.get_many(paths);
      std::vector<std::string> more;  // extras, and locks, of the jobs decoded
      std::vector<std::pair<std::size_t, std::size_t>> at(end - begin, {SIZE_MAX, SIZE_MAX});
      for (std::size_t i = begin; i < end; ++i) {
        std::optional<Job> job = decode_node(dir, nodes[i], postings[i - begin]);
        if (!job) {
          continue;
        }
        at[i - begin].first = more.size();
        more.push_back(extras_ + "/" + job->uuid);
        const std::string lock = nodes[i] + ".lock";
        if (dir != trash_ && (listing == nullptr || locks.contains(lock))) {
          at[i - begin].second = more.size();
          more.push_back(dir + "/" + lock);
        }
        out[i] = std::move(job);
      }
      const std::vector<std::optional<ZkNode>> read = zk.get_many(more);
      static const std::optional<ZkNode> kAbsent;
      for (std::size_t i = begin; i < end; ++i) {
        if (out[i]) {
          const auto [extras, lock] = at[i - begin];
          complete_job(*out[i], dir, read[extras], lock == SIZE_MAX ? kAbsent : read[lock]);
          remember(dir, nodes[i], out[i]->uuid);
        }
      }
    }
    return out;
  }

  // The posting in node `node` of `dir`; nullopt if gone, completed (TaskFlow empties it) or
  // unreadable (recorded in skipped_).
  std::optional<Job> decode_node(const std::string& dir, const std::string& node,
                                 const std::optional<ZkNode>& posting) {
    if (!posting || posting->data.empty() || posting->data == "{}") {
      return std::nullopt;  // TaskFlow's COMPLETE
    }
    Job job;
    try {
      job = detail::decode_json_posting(posting->data);
    } catch (const Error& e) {
      const auto known = uuid_at_.find(dir + "/" + node);
      const std::string problem = fmt::format(
          "job {} (node {}/{}): {}", known != uuid_at_.end() ? known->second : std::string("?"),
          dir, node, e.what());
      skipped_.push_back(problem);
      caboose::detail::log().error("jobboard zookeeper://{}: skipping {}", address_.hosts, problem);
      return std::nullopt;
    }
    job.sequence = sequence_of(node);
    job.created_on = from_micros(posting->stat.ctime_ms * 1000);
    job.last_modified = from_micros(posting->stat.mtime_ms * 1000);
    return job;
  }

  // Fills in caboose's fields (from the extras node) and the claim (from the lock node).
  void complete_job(Job& job, const std::string& dir, const std::optional<ZkNode>& extras_node,
                    const std::optional<ZkNode>& lock_node) const {
    const Extras extras = Extras::read(extras_node);
    job.attempts = extras.attempts;
    job.max_attempts = extras.max_attempts > 0 ? extras.max_attempts : options_.max_attempts;
    if (extras.not_before) {
      job.not_before = from_micros(*extras.not_before);
    }
    if (extras.last_failure.is_object()) {
      try {
        job.last_failure = Failure::from_dict(extras.last_failure);
      } catch (const Error&) {
        // an unreadable failure is not worth losing the job over
      }
    }
    job.trash_reason = extras.trash_reason;
    if (dir == trash_) {
      job.state = JobState::kTrashed;
      return;
    }
    if (const std::optional<Lock> held = Lock::read(lock_node)) {
      if (!lapsed(*held, extras, now())) {
        job.state = JobState::kClaimed;
        job.owner = held->owner;
        if (extras.lease_until && held->token == extras.token) {
          job.lease_until = from_micros(*extras.lease_until);
        }
      }
    }
  }

  ZkClient& open() {
    if (closed_) {
      throw StorageFailure(fmt::format("jobboard zookeeper://{} is closed", address_.hosts));
    }
    if (!client_ || client_->expired()) {
      client_ = std::make_unique<ZkClient>(address_.hosts, address_.session_timeout,
                                           address_.session_timeout, address_.credentials);
      // Runs on the client's completion thread, which also completes the calls made under
      // mu_: it must never take mu_.
      client_->set_child_watcher([this](const std::string&) {
        {
          std::lock_guard lock(watch_mu_);
          ++changes_;
        }
        changed_.notify_all();
      });
      // The session's expiry takes our ephemeral locks with it: holders should renew now.
      client_->set_session_watcher([this](int state) {
        if (state == ZOO_EXPIRED_SESSION_STATE) {
          claims_in_doubt();
        }
      });
      for (const std::string& path : {jobs_, trash_, extras_, records_}) {
        client_->ensure_path(path);
      }
    }
    return *client_;
  }

  const ZkAddress address_;
  const BoardOptions options_;
  const std::string jobs_;
  const std::string trash_;
  const std::string entities_;
  const std::string extras_;
  const std::string records_;
  mutable std::mutex mu_;
  std::mutex watch_mu_;
  std::condition_variable changed_;
  std::uint64_t changes_ = 0;                   // Guarded by watch_mu_: child events seen.
  bool closed_ = false;                         // Guarded by mu_.
  std::map<std::string, std::string> uuid_at_;  // Guarded by mu_: node path -> job uuid.
  std::map<std::string, std::string> path_of_;  // Guarded by mu_: dir + "\n" + uuid -> node.
  std::vector<std::string> skipped_;            // Guarded by mu_.
  std::unique_ptr<ZkClient> client_;            // Guarded by mu_; last: closes first.
};

}  // namespace

std::unique_ptr<JobBoard> make_zookeeper_jobboard(std::string_view uri, BoardOptions options) {
  return std::make_unique<ZooKeeperJobBoard>(clients::parse_zk_uri(uri, "/taskflow/jobs"), options);
}

}  // namespace caboose::jobs
