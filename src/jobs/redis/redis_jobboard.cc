// The Redis jobboard (redis://): TaskFlow's keys and postings (shared/formats/redis-layout.txt),
// so Python TaskFlow and caboose share a board, plus caboose's additions where TaskFlow does not
// look: <ns>:<uuid>.caboose (token, attempts, max_attempts, not_before, last_failure,
// trash_reason), <ns>:caboose.order (the claim order) and <ns>:caboose.entities. A claim is
// TaskFlow's <uuid>.owned key, holding the owner's name, with the lease as its expiry, so a
// claim by either side blocks the other. Every change is one Lua script.
#include "jobs/redis/redis_jobboard.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/decode.h"
#include "caboose/core/errors.h"
#include "caboose/core/uuid.h"
#include "caboose/jobs/jobboard.h"

#include "core/log.h"
#include "jobs/redis/posting.h"
#include "jobs/redis/redis_client.h"

namespace caboose::jobs {
namespace {

using detail::RedisAddress;
using detail::RedisClient;
using detail::Reply;
using detail::Script;

constexpr auto kPollInterval = std::chrono::milliseconds(25);

std::int64_t micros(TimePoint t) {
  return t.time_since_epoch().count();
}

// The claim order as one sorted-set score: priority first, then sequence (exact below 2^48).
std::string order_score(JobPriority priority, std::int64_t sequence) {
  return std::to_string(static_cast<std::int64_t>(priority) * (std::int64_t{1} << 48) + sequence);
}

// Adds a posting (HSETNX, as TaskFlow) and caboose's fields and index entry.
// KEYS: listings, order, extra. ARGV: uuid, posting, score, max_attempts, not_before.
const std::string kPostScript{R"LUA(
if redis.call('hsetnx', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('hset', KEYS[3], 'token', 0, 'attempts', 0, 'max_attempts', ARGV[4])
if ARGV[5] ~= '' then redis.call('hset', KEYS[3], 'not_before', ARGV[5]) end
redis.call('zadd', KEYS[2], ARGV[3], ARGV[1])
return 1
)LUA"};

// KEYS: listings, trash, owned, last_modified, extra.
// ARGV: uuid, who, now_us, lease_ms, datetime, claim_id (unique to this call: a claim whose
// reply was lost is read back by it).
const std::string kClaimScript{R"LUA(
if redis.call('hexists', KEYS[1], ARGV[1]) == 0 then
  if redis.call('hexists', KEYS[2], ARGV[1]) == 1 then return {'trashed'} end
  return {'missing'}
end
local owner = redis.call('get', KEYS[3])
if owner then return {'claimed', owner} end
local nb = redis.call('hget', KEYS[5], 'not_before')
if nb and tonumber(nb) > tonumber(ARGV[3]) then return {'not_due', nb} end
local token = redis.call('hincrby', KEYS[5], 'token', 1)
local attempts = redis.call('hincrby', KEYS[5], 'attempts', 1)
redis.call('hset', KEYS[5], 'claim_id', ARGV[6])
redis.call('set', KEYS[3], ARGV[2], 'px', ARGV[4])
redis.call('set', KEYS[4], ARGV[5])
return {'ok', token, attempts}
)LUA"};

// The claim still current: its token is the job's, and the owner key is the claimer's (or gone
// with a lapsed lease nobody took over). KEYS: listings, owned, extra. ARGV: uuid, who, token.
constexpr const char* kCurrentClaim = R"LUA(
local function current()
  if redis.call('hexists', KEYS[1], ARGV[1]) == 0 then return false end
  if redis.call('hget', KEYS[3], 'token') ~= ARGV[3] then return false end
  local owner = redis.call('get', KEYS[2])
  return owner == false or owner == ARGV[2]
end
)LUA";

// KEYS: listings, owned, extra. ARGV: uuid, who, token, lease_ms.
const std::string kRenewScript{std::string(kCurrentClaim) + R"LUA(
if not current() then return 0 end
redis.call('set', KEYS[2], ARGV[2], 'px', ARGV[4])
return 1
)LUA"};

// KEYS: listings, owned, extra, last_modified, order. ARGV: uuid, who, token.
const std::string kConsumeScript{std::string(kCurrentClaim) + R"LUA(
if not current() then return 0 end
redis.call('del', KEYS[2], KEYS[4], KEYS[3])
redis.call('hdel', KEYS[1], ARGV[1])
redis.call('zrem', KEYS[5], ARGV[1])
return 1
)LUA"};

// KEYS: listings, owned, extra, last_modified. ARGV: uuid, who, token, not_before, failure, dt.
const std::string kAbandonScript{std::string(kCurrentClaim) + R"LUA(
if not current() then return 0 end
redis.call('del', KEYS[2])
if ARGV[4] ~= '' then redis.call('hset', KEYS[3], 'not_before', ARGV[4])
else redis.call('hdel', KEYS[3], 'not_before') end
if ARGV[5] ~= '' then redis.call('hset', KEYS[3], 'last_failure', ARGV[5]) end
redis.call('set', KEYS[4], ARGV[6])
return 1
)LUA"};

// KEYS: listings, owned, extra, last_modified. ARGV: uuid, who, token, dt.
const std::string kReleaseScript{std::string(kCurrentClaim) + R"LUA(
if not current() then return 0 end
redis.call('del', KEYS[2])
redis.call('hdel', KEYS[3], 'not_before')
if tonumber(redis.call('hget', KEYS[3], 'attempts') or '0') > 0 then
  redis.call('hincrby', KEYS[3], 'attempts', -1)
end
redis.call('set', KEYS[4], ARGV[4])
return 1
)LUA"};

// KEYS: listings, owned, extra, last_modified, order, trash.
// ARGV: uuid, who, token, reason, failure, dt.
const std::string kTrashScript{std::string(kCurrentClaim) + R"LUA(
if not current() then return 0 end
local posting = redis.call('hget', KEYS[1], ARGV[1])
redis.call('hset', KEYS[6], ARGV[1], posting)
redis.call('hdel', KEYS[1], ARGV[1])
redis.call('zrem', KEYS[5], ARGV[1])
redis.call('del', KEYS[2])
redis.call('hset', KEYS[3], 'trash_reason', ARGV[4])
if ARGV[5] ~= '' then redis.call('hset', KEYS[3], 'last_failure', ARGV[5]) end
redis.call('set', KEYS[4], ARGV[6])
return 1
)LUA"};

// KEYS: trash, listings, extra, order. ARGV: uuid, score.
const std::string kRequeueScript{R"LUA(
local posting = redis.call('hget', KEYS[1], ARGV[1])
if not posting then return 0 end
redis.call('hdel', KEYS[1], ARGV[1])
redis.call('hset', KEYS[2], ARGV[1], posting)
redis.call('hset', KEYS[3], 'attempts', 0)
redis.call('hdel', KEYS[3], 'not_before', 'trash_reason')
redis.call('zadd', KEYS[4], ARGV[2], ARGV[1])
return 1
)LUA"};

class RedisJobBoard final : public JobBoard {
 public:
  RedisJobBoard(RedisAddress address, BoardOptions options)
      : options_(options), client_(std::make_unique<RedisClient>(std::move(address))) {
    check_options(options_);
    client_->command({"PING"});
  }

  void close() override {
    std::lock_guard lock(mu_);
    client_.reset();
  }

  Job post(std::string name, PostOptions options) override {
    Job job = new_job(std::move(name), std::move(options), options_);
    {
      std::lock_guard lock(mu_);
      RedisClient& c = open();
      job.sequence = c.command({"INCRBY", key("sequence"), "1"}).integer;  // as TaskFlow
      c.eval(post_script, {key("listings"), key("caboose.order"), extra_key(job.uuid)},
             {job.uuid, detail::encode_posting(job), order_score(job.priority, job.sequence),
              std::to_string(job.max_attempts),
              job.not_before ? std::to_string(micros(*job.not_before)) : std::string()});
    }
    notifier_.notify("posted", Value{{"job_uuid", job.uuid}, {"job_name", job.name}});
    return job;
  }

  std::vector<Job> iterjobs(bool only_unclaimed) override {
    std::lock_guard lock(mu_);
    RedisClient& c = open();
    skipped_.clear();
    std::vector<Job> jobs;
    const TimePoint at = now();
    // A conductor's listing (only_unclaimed) has no use for the claims' leases.
    for (std::optional<Job>& job :
         read_jobs(c, ordered_uuids(c), "listings", /*leases=*/!only_unclaimed)) {
      if (!job) {
        continue;
      }
      if (only_unclaimed &&
          (job->state != JobState::kUnclaimed || (job->not_before && *job->not_before > at))) {
        continue;
      }
      jobs.push_back(std::move(*job));
    }
    return jobs;
  }

  std::vector<std::string> skipped() const override {
    std::lock_guard lock(mu_);
    return skipped_;
  }

  bool wait(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (!iterjobs(/*only_unclaimed=*/true).empty()) {
        return true;
      }
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        return false;
      }
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(left, kPollInterval));
    }
  }

  std::optional<Job> find(std::string_view job_uuid) override {
    std::lock_guard lock(mu_);
    RedisClient& c = open();
    const std::string uuid(job_uuid);
    if (std::optional<Job> job = read_job(c, uuid, "listings")) {
      return job;
    }
    return read_job(c, uuid, "trash");
  }

  Claim claim(std::string_view job_uuid, std::string_view who) override {
    if (who.empty()) {
      throw InvalidArgument("a claim needs a claimer's name");
    }
    std::lock_guard lock(mu_);
    RedisClient& c = open();
    const std::string uuid(job_uuid);
    const TimePoint at = now();
    const std::string claim_id = make_uuid();
    const auto [keys, args] = claim_call(uuid, who, at, claim_id);
    Reply reply;
    try {
      reply = c.eval(claim_script, keys, args);
    } catch (const StorageFailure&) {
      // The reply was lost: the claim may or may not have been made. Read back before telling.
      if (std::optional<Claim> made = claimed_after_all(c, uuid, who, at, claim_id)) {
        return *made;
      }
      throw;
    }
    return claim_from(c, reply, uuid, who, at);
  }

  std::vector<std::optional<Claim>> claim_many(const std::vector<std::string>& job_uuids,
                                               std::string_view who) override {
    if (who.empty()) {
      throw InvalidArgument("a claim needs a claimer's name");
    }
    std::lock_guard lock(mu_);
    RedisClient& c = open();
    const TimePoint at = now();
    const std::string claim_id = make_uuid();
    std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> calls;
    for (const std::string& uuid : job_uuids) {
      calls.push_back(claim_call(uuid, who, at, claim_id));
    }
    std::vector<Reply> replies;
    try {
      replies = c.eval_many(claim_script, calls);
    } catch (const StorageFailure&) {
      // The replies were lost: read each claim back before telling.
      std::vector<std::optional<Claim>> made;
      bool any = false;
      for (const std::string& uuid : job_uuids) {
        made.push_back(claimed_after_all(c, uuid, who, at, claim_id));
        any = any || made.back().has_value();
      }
      if (!any) {
        throw;
      }
      return made;
    }
    std::vector<std::optional<Claim>> claims;
    for (std::size_t i = 0; i < replies.size(); ++i) {
      try {
        claims.emplace_back(claim_from(c, replies[i], job_uuids[i], who, at));
      } catch (const UnclaimableJob&) {
        claims.emplace_back(std::nullopt);
      } catch (const NotFound&) {
        claims.emplace_back(std::nullopt);
      }
    }
    return claims;
  }

  Claim renew(const Claim& claim) override {
    std::lock_guard lock(mu_);
    RedisClient& c = open();
    Claim renewed = claim;
    renewed.lease_until = now() + options_.lease;
    const Reply r = c.eval(renew_script,
                           {key("listings"), owned_key(claim.job_uuid), extra_key(claim.job_uuid)},
                           {claim.job_uuid, claim.owner, std::to_string(claim.token),
                            std::to_string(options_.lease.count())});
    require_done(c, r, claim, "renew");
    return renewed;
  }

  void consume(const Claim& claim) override {
    {
      std::lock_guard lock(mu_);
      RedisClient& c = open();
      const Reply r = c.eval(consume_script,
                             {key("listings"), owned_key(claim.job_uuid), extra_key(claim.job_uuid),
                              key(claim.job_uuid + ".last_modified"), key("caboose.order")},
                             {claim.job_uuid, claim.owner, std::to_string(claim.token)});
      require_done(c, r, claim, "consume");
    }
    notifier_.notify("removal", Value{{"job_uuid", claim.job_uuid}, {"reason", "consumed"}});
  }

  std::vector<std::exception_ptr> consume_many(const std::vector<Claim>& claims) override {
    std::vector<std::exception_ptr> errors;
    {
      std::lock_guard lock(mu_);
      RedisClient& c = open();
      std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> calls;
      for (const Claim& claim : claims) {
        calls.push_back({{key("listings"), owned_key(claim.job_uuid), extra_key(claim.job_uuid),
                          key(claim.job_uuid + ".last_modified"), key("caboose.order")},
                         {claim.job_uuid, claim.owner, std::to_string(claim.token)}});
      }
      const std::vector<Reply> replies = c.eval_many(consume_script, calls);
      for (std::size_t i = 0; i < replies.size(); ++i) {
        try {
          require_done(c, replies[i], claims[i], "consume");
          errors.emplace_back(nullptr);
        } catch (const Error&) {
          errors.push_back(std::current_exception());
        }
      }
    }
    for (std::size_t i = 0; i < claims.size(); ++i) {
      if (!errors[i]) {
        notifier_.notify("removal",
                         Value{{"job_uuid", claims[i].job_uuid}, {"reason", "consumed"}});
      }
    }
    return errors;
  }

  void abandon(const Claim& claim, std::optional<TimePoint> not_before,
               std::optional<Failure> failure) override {
    std::lock_guard lock(mu_);
    RedisClient& c = open();
    const Reply r = c.eval(
        abandon_script,
        {key("listings"), owned_key(claim.job_uuid), extra_key(claim.job_uuid),
         key(claim.job_uuid + ".last_modified")},
        {claim.job_uuid, claim.owner, std::to_string(claim.token),
         not_before ? std::to_string(micros(*not_before)) : std::string(),
         failure ? failure->to_dict().dump() : std::string(), detail::encode_datetime(now())});
    require_done(c, r, claim, "abandon");
  }

  void release(const Claim& claim) override {
    std::lock_guard lock(mu_);
    RedisClient& c = open();
    const Reply r = c.eval(
        release_script,
        {key("listings"), owned_key(claim.job_uuid), extra_key(claim.job_uuid),
         key(claim.job_uuid + ".last_modified")},
        {claim.job_uuid, claim.owner, std::to_string(claim.token), detail::encode_datetime(now())});
    require_done(c, r, claim, "release");
  }

  void trash(const Claim& claim, std::string reason, std::optional<Failure> failure) override {
    {
      std::lock_guard lock(mu_);
      RedisClient& c = open();
      const Reply r = c.eval(
          trash_script,
          {key("listings"), owned_key(claim.job_uuid), extra_key(claim.job_uuid),
           key(claim.job_uuid + ".last_modified"), key("caboose.order"), key("trash")},
          {claim.job_uuid, claim.owner, std::to_string(claim.token), reason,
           failure ? failure->to_dict().dump() : std::string(), detail::encode_datetime(now())});
      require_done(c, r, claim, "trash");
    }
    notifier_.notify("removal", Value{{"job_uuid", claim.job_uuid}, {"reason", "trashed"}});
  }

  std::optional<std::string> find_owner(std::string_view job_uuid) override {
    std::lock_guard lock(mu_);
    RedisClient& c = open();
    const std::string uuid(job_uuid);
    if (c.command({"HEXISTS", key("listings"), uuid}).integer == 0) {
      return std::nullopt;
    }
    const Reply owner = c.command({"GET", owned_key(uuid)});
    if (owner.is_nil()) {
      return std::nullopt;
    }
    return owner.text;
  }

  std::size_t job_count() override {
    std::lock_guard lock(mu_);
    return static_cast<std::size_t>(open().command({"HLEN", key("listings")}).integer);
  }

  std::vector<Job> trashed() override {
    std::lock_guard lock(mu_);
    RedisClient& c = open();
    skipped_.clear();
    std::vector<std::string> uuids;
    for (const Reply& uuid : c.command({"HKEYS", key("trash")}).elements) {
      uuids.push_back(uuid.text);
    }
    std::vector<Job> jobs;
    for (std::optional<Job>& job : read_jobs(c, uuids, "trash")) {
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
      RedisClient& c = open();
      const std::string uuid(job_uuid);
      std::optional<Job> trashed_job = read_job(c, uuid, "trash");
      if (!trashed_job) {
        throw NotFound(fmt::format("no job {} in the garbage bin", uuid));
      }
      if (c.eval(requeue_script,
                 {key("trash"), key("listings"), extra_key(uuid), key("caboose.order")},
                 {uuid, order_score(trashed_job->priority, trashed_job->sequence)})
              .integer == 0) {
        throw NotFound(fmt::format("no job {} in the garbage bin", uuid));
      }
      job = *read_job(c, uuid, "listings");
    }
    return job;
  }

  void purge(std::string_view job_uuid) override {
    {
      std::lock_guard lock(mu_);
      RedisClient& c = open();
      const std::string uuid(job_uuid);
      if (c.command({"HDEL", key("trash"), uuid}).integer == 0) {
        throw NotFound(fmt::format("no job {} in the garbage bin", uuid));
      }
      c.command({"DEL", extra_key(uuid), key(uuid + ".last_modified")});
    }
    notifier_.notify("removal", Value{{"job_uuid", std::string(job_uuid)}, {"reason", "purged"}});
  }

  std::size_t purge_all() override {
    std::lock_guard lock(mu_);
    RedisClient& c = open();
    std::size_t n = 0;
    for (const Reply& uuid : c.command({"HKEYS", key("trash")}).elements) {
      n += static_cast<std::size_t>(c.command({"HDEL", key("trash"), uuid.text}).integer);
      c.command({"DEL", extra_key(uuid.text), key(uuid.text + ".last_modified")});
    }
    return n;
  }

  void register_entity(std::string_view name, const Value& details) override {
    std::lock_guard lock(mu_);
    open().command({"HSET", key("caboose.entities"), std::string(name),
                    Value{{"details", details}, {"last_seen", format_time(now())}}.dump()});
  }

  Value entities() override {
    std::lock_guard lock(mu_);
    const Reply all = open().command({"HGETALL", key("caboose.entities")});
    std::vector<std::pair<std::string, Value>> sorted;
    for (std::size_t i = 0; i + 1 < all.elements.size(); i += 2) {
      Value record = decode_json_or_null(all.elements[i + 1].text, kPostingLimits);
      if (!record.is_object()) {
        record = Value::object();
      }
      sorted.emplace_back(all.elements[i].text, std::move(record));
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    Value out = Value::array();
    for (auto& [name, record] : sorted) {
      out.push_back(Value{{"name", name},
                          {"details", record.value("details", Value())},
                          {"last_seen", record.value("last_seen", Value())}});
    }
    return out;
  }

  const BoardOptions& options() const override { return options_; }

 private:
  RedisClient& open() {
    if (!client_) {
      throw StorageFailure("the jobboard is closed");
    }
    return *client_;
  }

  std::string key(const std::string& piece) const {
    const std::string& ns = client_->address().key_namespace;
    return ns.empty() ? piece : ns + ":" + piece;
  }
  std::string owned_key(const std::string& uuid) const { return key(uuid + ".owned"); }
  std::string extra_key(const std::string& uuid) const { return key(uuid + ".caboose"); }

  // Listed jobs in claim order: those caboose indexed, then any another program (Python
  // TaskFlow) posted, by priority and sequence.
  // The claim script's keys and arguments for one job.
  std::pair<std::vector<std::string>, std::vector<std::string>> claim_call(
      const std::string& uuid, std::string_view who, TimePoint at, const std::string& claim_id) {
    return {{key("listings"), key("trash"), owned_key(uuid), key(uuid + ".last_modified"),
             extra_key(uuid)},
            {uuid, std::string(who), std::to_string(micros(at)),
             std::to_string(options_.lease.count()), detail::encode_datetime(at), claim_id}};
  }

  // After a claim whose reply was lost: the claim, if the call `claim_id` made it and it is
  // still the job's current one (on a new connection); nullopt if it was not made, or cannot
  // be read (the server still unreachable: the claim then lapses with its lease).
  std::optional<Claim> claimed_after_all(RedisClient& c, const std::string& uuid,
                                         std::string_view who, TimePoint at,
                                         const std::string& claim_id) {
    try {
      const std::vector<Reply> r = c.pipeline(
          {{"HMGET", extra_key(uuid), "claim_id", "token", "attempts"}, {"GET", owned_key(uuid)}});
      const std::vector<Reply>& fields = r[0].elements;
      if (fields.size() != 3 || fields[0].text != claim_id || r[1].text != who) {
        return std::nullopt;
      }
      caboose::detail::log().warn("claim reply lost, claim read back job={} token={}", uuid,
                                  fields[1].text);
      return Claim{uuid, std::string(who), std::stoll(fields[1].text), std::stoll(fields[2].text),
                   at + options_.lease};
    } catch (const StorageFailure&) {
      return std::nullopt;
    }
  }

  // The claim the script's reply grants; throws NotFound / UnclaimableJob saying why not.
  Claim claim_from(RedisClient& c, const Reply& r, const std::string& uuid, std::string_view who,
                   TimePoint at) {
    const std::string outcome = r.elements.empty() ? "" : r.elements[0].text;
    if (outcome == "missing") {
      throw NotFound(fmt::format("no job {} on the board", uuid));
    }
    if (outcome == "trashed") {
      throw UnclaimableJob(fmt::format("job {} is in the garbage bin", uuid));
    }
    if (outcome == "claimed") {
      throw UnclaimableJob(
          fmt::format("job {} is already claimed by '{}'", uuid, r.elements[1].text));
    }
    if (outcome == "not_due") {
      throw UnclaimableJob(fmt::format("job {} is not claimable yet", uuid));
    }
    if (outcome != "ok" || r.elements.size() != 3) {
      throw StorageFailure(
          fmt::format("Redis {}: unexpected claim reply for job {}", c.address().shown, uuid));
    }
    return Claim{uuid, std::string(who), r.elements[1].integer, r.elements[2].integer,
                 at + options_.lease};
  }

  std::vector<std::string> ordered_uuids(RedisClient& c) {
    const std::vector<Reply> replies =
        c.pipeline({{"ZRANGE", key("caboose.order"), "0", "-1"}, {"HLEN", key("listings")}});
    std::vector<std::string> uuids;
    for (const Reply& r : replies[0].elements) {
      uuids.push_back(r.text);
    }
    const std::int64_t listed = replies[1].integer;
    if (listed == static_cast<std::int64_t>(uuids.size())) {
      return uuids;
    }
    // Postings without an index entry: read them all and merge by (priority, sequence).
    const std::unordered_set<std::string> indexed(uuids.begin(), uuids.end());
    std::vector<std::pair<std::pair<int, std::int64_t>, std::string>> all;
    const Reply listings = c.command({"HGETALL", key("listings")});
    for (std::size_t i = 0; i + 1 < listings.elements.size(); i += 2) {
      try {
        const Job job = detail::decode_posting(listings.elements[i + 1].text);
        all.push_back({{static_cast<int>(job.priority), job.sequence}, listings.elements[i].text});
      } catch (const Error&) {
        all.push_back({{99, 0}, listings.elements[i].text});  // reported when read
      }
    }
    std::sort(all.begin(), all.end());
    uuids.clear();
    for (auto& [order, uuid] : all) {
      uuids.push_back(std::move(uuid));
    }
    return uuids;
  }

  // The job from the `where` hash ("listings" or "trash") with its owner and caboose's fields;
  // nullopt if absent. An unreadable posting is recorded in skipped_ and logged.
  std::optional<Job> read_job(RedisClient& c, const std::string& uuid, const char* where) {
    return std::move(read_jobs(c, {uuid}, where, /*leases=*/true).front());
  }

  // read_job() of many jobs, four commands each (five with `leases`: the owner key's time to
  // live gives a claimed job's lease_until), pipelined in batches (one round trip each).
  std::vector<std::optional<Job>> read_jobs(RedisClient& c, const std::vector<std::string>& uuids,
                                            const char* where, bool leases = false) {
    const std::size_t per_job = leases ? 5 : 4;
    constexpr std::size_t kBatch = 512;
    std::vector<std::optional<Job>> jobs;
    jobs.reserve(uuids.size());
    std::vector<std::vector<std::string>> commands;
    for (std::size_t first = 0; first < uuids.size(); first += kBatch) {
      const std::size_t last = std::min(uuids.size(), first + kBatch);
      commands.clear();
      for (std::size_t i = first; i < last; ++i) {
        commands.push_back({"HGET", key(where), uuids[i]});
        commands.push_back({"GET", owned_key(uuids[i])});
        commands.push_back({"GET", key(uuids[i] + ".last_modified")});
        commands.push_back({"HGETALL", extra_key(uuids[i])});
        if (leases) {
          commands.push_back({"PTTL", owned_key(uuids[i])});
        }
      }
      const TimePoint at = now();
      const std::vector<Reply> replies = c.pipeline(commands);
      for (std::size_t i = first; i < last; ++i) {
        const std::size_t r = (i - first) * per_job;
        std::optional<Job> job = job_from(c, uuids[i], where, replies[r], replies[r + 1],
                                          replies[r + 2], replies[r + 3]);
        if (leases && job && job->state == JobState::kClaimed && replies[r + 4].integer > 0) {
          job->lease_until = at + std::chrono::milliseconds(replies[r + 4].integer);
        }
        jobs.push_back(std::move(job));
      }
    }
    return jobs;
  }

  std::optional<Job> job_from(RedisClient& c, const std::string& uuid, const char* where,
                              const Reply& posting, const Reply& owner, const Reply& last,
                              const Reply& extra) {
    if (posting.is_nil()) {
      return std::nullopt;
    }
    Job job;
    try {
      job = detail::decode_posting(posting.text);
    } catch (const Error& e) {
      const std::string problem = fmt::format("job {} ({}): {}", uuid, where, e.what());
      skipped_.push_back(problem);
      caboose::detail::log().error("jobboard {}: skipping {}", c.address().shown, problem);
      return std::nullopt;
    }
    job.uuid = uuid;
    if (std::string_view(where) == "trash") {
      job.state = JobState::kTrashed;
    } else if (!owner.is_nil()) {
      job.state = JobState::kClaimed;
      job.owner = owner.text;
    }
    if (!last.is_nil()) {
      try {
        job.last_modified = detail::decode_datetime(last.text);
      } catch (const Error&) {
      }
    }
    job.max_attempts = options_.max_attempts;  // a posting from TaskFlow carries none
    for (std::size_t i = 0; i + 1 < extra.elements.size(); i += 2) {
      const std::string& field = extra.elements[i].text;
      const std::string& value = extra.elements[i + 1].text;
      try {
        if (field == "attempts") {
          job.attempts = std::stoll(value);
        } else if (field == "max_attempts") {
          job.max_attempts = std::stoll(value);
        } else if (field == "not_before") {
          job.not_before = TimePoint(std::chrono::microseconds(std::stoll(value)));
        } else if (field == "last_failure") {
          job.last_failure =
              Failure::from_dict(decode_json(value, "its last failure", kPostingLimits));
        } else if (field == "trash_reason") {
          job.trash_reason = value;
        }
      } catch (const std::exception& e) {
        caboose::detail::log().warn("jobboard {}: job {}: bad {}: {}", c.address().shown, uuid,
                                    field, e.what());
      }
    }
    return job;
  }

  void require_done(RedisClient& c, const Reply& r, const Claim& claim, std::string_view action) {
    if (r.integer == 1) {
      return;
    }
    if (c.command({"HEXISTS", key("listings"), claim.job_uuid}).integer == 0 &&
        c.command({"HEXISTS", key("trash"), claim.job_uuid}).integer == 0) {
      throw NotFound(
          fmt::format("cannot {} job {}: it is not on the board", action, claim.job_uuid));
    }
    const Reply owner = c.command({"GET", owned_key(claim.job_uuid)});
    throw StaleClaim(fmt::format(
        "cannot {} job {}: the claim of '{}' (token {}) is no longer current{}", action,
        claim.job_uuid, claim.owner, claim.token,
        owner.is_nil() ? std::string() : fmt::format(" (claimed by '{}')", owner.text)));
  }

  const BoardOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<RedisClient> client_;  // Guarded by mu_; null once closed.
  // The scripts, with their SHA1 once loaded (per board: guarded by mu_).
  Script post_script{kPostScript, ""};
  Script claim_script{kClaimScript, ""};
  Script renew_script{kRenewScript, ""};
  Script consume_script{kConsumeScript, ""};
  Script abandon_script{kAbandonScript, ""};
  Script release_script{kReleaseScript, ""};
  Script trash_script{kTrashScript, ""};
  Script requeue_script{kRequeueScript, ""};
  std::vector<std::string> skipped_;  // Guarded by mu_.
};

}  // namespace

std::unique_ptr<JobBoard> make_redis_jobboard(std::string_view uri, BoardOptions options) {
  return std::make_unique<RedisJobBoard>(RedisAddress::parse(uri), options);
}

}  // namespace caboose::jobs
