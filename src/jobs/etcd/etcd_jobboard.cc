// The etcd jobboard (etcd://): TaskFlow's etcd layout (jobs/etcd/etcd_layout.h), reached through
// etcd's JSON gateway. Every state change is one etcd transaction:
//
// - post: compare the sequence key's mod_revision, put sequence N, job<N>.data, its extras, its
//   last_modified and the uuid index (again with the next N when another post won).
// - claim: compare the mod_revisions of job<N>.data, job<N>.caboose and job<N>.lock (0: absent),
//   put the lock bound to this board's etcd lease and the extras with attempts + 1. The claim
//   token is the lock's mod_revision: the revision of the claim's transaction, so it grows with
//   every claim of the job and survives restarts. (For a fresh lock it equals its
//   create_revision; a caboose claim whose lease lapsed is taken over by overwriting its lock in
//   the taking transaction, since etcd refuses a delete and a put of one key in one transaction,
//   and an overwrite keeps create_revision while mod_revision moves.)
// - renew, consume, abandon, release, trash: compare the lock's mod_revision with the token
//   (and the extras' mod_revision), then act.
//
// caboose's lease is lease_ms, recorded in the extras; etcd's lease (whole seconds, at least
// about two) is one per board object, granted on first claim, at least twice lease_ms long and
// kept alive by claims and renewals, so a dead holder's locks disappear eventually (TaskFlow's
// claims are never taken over before). close() revokes it: the board's claims end at once.
// wait() watches the job keys (EtcdWatch).
#include "jobs/etcd/etcd_jobboard.h"

#include <algorithm>
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

#include "core/log.h"
#include "jobs/etcd/etcd_client.h"
#include "jobs/etcd/etcd_layout.h"
#include "jobs/etcd/etcd_watch.h"
#include "jobs/json_posting.h"

namespace caboose::jobs {
namespace {

using detail::EtcdClient;
using detail::EtcdCompare;
using detail::EtcdExtras;
using detail::EtcdKv;
using detail::EtcdOp;
using detail::EtcdRecord;
using detail::EtcdTxn;
using detail::EtcdTxnResult;

std::int64_t micros(TimePoint t) {
  return t.time_since_epoch().count();
}

TimePoint from_micros(std::int64_t us) {
  return TimePoint(std::chrono::microseconds(us));
}

std::int64_t revision_of(const std::optional<EtcdKv>& kv) {
  return kv ? kv->mod_revision : 0;
}

// A job's keys on the board and in the bin, read in one round trip.
struct Located {
  EtcdRecord board;
  EtcdRecord bin;
  std::int64_t revision = 0;  // the store's revision when read
};

class EtcdJobBoard final : public JobBoard {
 public:
  EtcdJobBoard(detail::EtcdAddress address, BoardOptions options)
      : address_(std::move(address)), options_(options), keys_(address_.path) {
    check_options(options_);
    client_ = std::make_unique<EtcdClient>(address_.endpoints);
    // The watch starts at the revision read now: nothing that happens after this is missed.
    // (Read on a key of the board's own: a user of etcd's authentication may read only those.
    // With credentials, this first call authenticates: a wrong password fails here.)
    const std::int64_t start = client_->revision(keys_.sequence()) + 1;
    watch_ = std::make_unique<detail::EtcdWatch>(
        address_.endpoints, keys_.jobs(), detail::prefix_end(keys_.jobs()), start,
        [this] {
          {
            std::lock_guard lock(watch_mu_);
            ++changes_;
          }
          changed_.notify_all();
        },
        [client = client_.get()](const std::string& refused) { return client->token(refused); });
  }

  ~EtcdJobBoard() override { close(); }

  void close() override {
    std::optional<std::int64_t> lease;
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        return;
      }
      closed_ = true;
      if (lease_id_ != 0) {
        lease = lease_id_;
      }
    }
    watch_.reset();
    if (lease) {
      try {
        client_->lease_revoke(*lease);  // the board's claims end now, as a ZooKeeper session's
      } catch (const NotFound&) {
        // expired (or revoked) already: its claims are gone
      } catch (const Error& e) {
        caboose::detail::log().warn("jobboard {}: lease not revoked at close (it expires): {}",
                                    name(), e.what());
      }
    }
  }

  Job post(std::string job_name, PostOptions options) override {
    Job job = new_job(std::move(job_name), std::move(options), options_);
    EtcdExtras extras;
    extras.uuid = job.uuid;
    extras.max_attempts = job.max_attempts;
    if (job.not_before) {
      extras.not_before = micros(*job.not_before);
    }
    EtcdClient& etcd = open();
    auto [sequence, revision] = sequence_seen();
    for (;;) {
      job.sequence = sequence + 1;
      EtcdTxn txn;
      txn.compare = {EtcdCompare::mod_revision(keys_.sequence(), revision)};
      txn.success = {
          EtcdOp::put(keys_.sequence(), std::to_string(job.sequence)),
          EtcdOp::put(keys_.data(job.sequence),
                      detail::encode_json_posting(job, detail::PostingLayout::kEtcd)),
          EtcdOp::put(keys_.extras(job.sequence), extras.dump()),
          EtcdOp::put(keys_.modified(job.sequence), detail::modified_value(job.created_on)),
          EtcdOp::put(keys_.index + job.uuid, std::to_string(job.sequence))};
      txn.failure = {EtcdOp::get(keys_.sequence())};
      const EtcdTxnResult r = etcd.txn(txn);
      if (r.succeeded) {
        remember_sequence(job.sequence, r.revision);
        remember(job.uuid, job.sequence);
        break;
      }
      // Another post took the number: go on from the counter as it is now.
      const auto& kvs = r.responses.at(0).range.kvs;
      sequence = kvs.empty() ? 0 : parse_count(kvs.front().value);
      revision = kvs.empty() ? 0 : kvs.front().mod_revision;
    }
    notifier_.notify("posted", Value{{"job_uuid", job.uuid}, {"name", job.name}});
    return job;
  }

  std::vector<Job> iterjobs(bool only_unclaimed) override {
    const TimePoint at = now();
    std::vector<Job> jobs;
    for (Job& job : list(keys_.jobs(), /*bin=*/false)) {
      if (only_unclaimed &&
          (job.state != JobState::kUnclaimed || (job.not_before && *job.not_before > at))) {
        continue;
      }
      jobs.push_back(std::move(job));
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
        std::lock_guard lock(watch_mu_);
        seen = changes_;
      }
      // Claimable now, or when (at the earliest) one becomes so with no change to the keys: a
      // not_before or a caboose lease passing.
      std::optional<TimePoint> next;
      const std::vector<Job> jobs = list(keys_.jobs(), /*bin=*/false, &next);
      const TimePoint at = now();
      for (const Job& job : jobs) {
        if (job.state == JobState::kUnclaimed) {
          if (!job.not_before || *job.not_before <= at) {
            return true;
          }
          next = next ? std::min(*next, *job.not_before) : *job.not_before;
        }
      }
      auto until = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1));
      if (next) {
        until = std::min(until, std::chrono::steady_clock::now() + (*next - now()));
      }
      std::unique_lock lock(watch_mu_);
      changed_.wait_until(lock, until, [&] { return changes_ != seen; });
      if (std::chrono::steady_clock::now() >= deadline) {
        lock.unlock();
        return !iterjobs(/*only_unclaimed=*/true).empty();
      }
    }
  }

  std::optional<Job> find(std::string_view job_uuid) override {
    const std::string uuid(job_uuid);
    const std::optional<Located> at = locate(open(), uuid);
    if (!at) {
      return std::nullopt;
    }
    if (at->board.data) {
      return to_job(at->board, /*bin=*/false);
    }
    return to_job(at->bin, /*bin=*/true);
  }

  Claim claim(std::string_view job_uuid, std::string_view who) override {
    if (who.empty()) {
      throw InvalidArgument("a claim needs a claimer's name");
    }
    const std::string uuid(job_uuid);
    EtcdClient& etcd = open();
    const Located at = on_board(etcd, uuid, "claim");
    const TimePoint time = now();
    const std::int64_t lease = etcd_lease(etcd, time);
    Claim claim{uuid, std::string(who), 0, 0, time + options_.lease};
    const EtcdTxn txn = claim_txn(at.board, claim, lease, time);
    EtcdTxnResult result;
    try {
      result = etcd.txn(txn);
    } catch (const StorageFailure&) {
      // The reply was lost: the claim may or may not have been made. Read back before telling.
      if (const std::optional<std::int64_t> token =
              claimed_after_all(etcd, uuid, at.revision, who, lease)) {
        claim.token = *token;
        return claim;
      }
      throw;
    }
    if (!result.succeeded) {
      // libcurl sends a request again, unasked, when a reused connection died before any reply
      // came: the first may have made the claim the second then finds taken. Read back.
      if (const std::optional<std::int64_t> token =
              claimed_after_all(etcd, uuid, at.revision, who, lease)) {
        claim.token = *token;
        return claim;
      }
      throw UnclaimableJob(fmt::format("job {} was claimed or changed meanwhile", uuid));
    }
    claim.token = result.revision;
    return claim;
  }

  std::vector<std::optional<Claim>> claim_many(const std::vector<std::string>& job_uuids,
                                               std::string_view who) override {
    if (who.empty()) {
      throw InvalidArgument("a claim needs a claimer's name");
    }
    std::vector<std::optional<Claim>> out(job_uuids.size());
    EtcdClient& etcd = open();
    // One round trip reads every job's keys, one claims all that can be (a nested transaction
    // each: each succeeds or fails alone).
    const std::vector<std::optional<std::int64_t>> numbers = numbers_of(etcd, job_uuids);
    EtcdTxn read;
    std::vector<std::size_t> read_for;
    std::set<std::int64_t> seen;
    for (std::size_t i = 0; i < job_uuids.size(); ++i) {
      if (numbers[i] && seen.insert(*numbers[i]).second) {
        read.success.push_back(EtcdOp::get_prefix(keys_.job(*numbers[i]) + "."));
        read_for.push_back(i);
      }
    }
    if (read_for.empty()) {
      return out;
    }
    const EtcdTxnResult listed = etcd.txn(read);
    const TimePoint time = now();
    const std::int64_t lease = etcd_lease(etcd, time);
    EtcdTxn batch;
    std::vector<std::size_t> tried;
    std::vector<Claim> claims;
    for (std::size_t k = 0; k < read_for.size(); ++k) {
      const std::size_t i = read_for[k];
      auto records =
          detail::group_records(listed.responses.at(k).range.kvs, keys_.jobs(), /*bin=*/false);
      const EtcdRecord& r = records[*numbers[i]];
      if (!r.data) {
        continue;
      }
      Claim claim{job_uuids[i], std::string(who), 0, 0, time + options_.lease};
      try {
        batch.success.push_back(EtcdOp::nested(claim_txn(r, claim, lease, time)));
      } catch (const UnclaimableJob&) {
        continue;
      }
      tried.push_back(i);
      claims.push_back(std::move(claim));
    }
    if (tried.empty()) {
      return out;
    }
    EtcdTxnResult result;
    try {
      result = etcd.txn(batch);
    } catch (const StorageFailure&) {
      // The reply was lost: read each claim back before telling.
      bool any = false;
      for (std::size_t j = 0; j < tried.size(); ++j) {
        if (const std::optional<std::int64_t> token =
                claimed_after_all(etcd, claims[j].job_uuid, listed.revision, who, lease)) {
          claims[j].token = *token;
          out[tried[j]] = claims[j];
          any = true;
        }
      }
      if (!any) {
        throw;
      }
      return out;
    }
    for (std::size_t j = 0; j < tried.size(); ++j) {
      if (result.responses.at(j).txn.at(0).succeeded) {
        claims[j].token = result.revision;
        out[tried[j]] = claims[j];
      } else if (const std::optional<std::int64_t> token =
                     claimed_after_all(etcd, claims[j].job_uuid, listed.revision, who, lease)) {
        claims[j].token = *token;  // made by a request libcurl sent again (as in claim())
        out[tried[j]] = claims[j];
      }
    }
    return out;
  }

  Claim renew(const Claim& claim) override {
    EtcdClient& etcd = open();
    const TimePoint time = now();
    const EtcdRecord r = current(etcd, claim, "renew");
    // The etcd lease first: if it is gone, so is the lock.
    if (r.lock->lease != 0 && !keep_alive(etcd, r.lock->lease, time)) {
      throw StaleClaim(
          fmt::format("cannot renew job {}: the etcd lease of the claim of '{}' "
                      "(token {}) expired",
                      claim.job_uuid, claim.owner, claim.token));
    }
    EtcdExtras extras = EtcdExtras::parse(r.extras);
    Claim renewed = claim;
    renewed.lease_until = time + options_.lease;
    extras.lease_until = micros(renewed.lease_until);
    commit(etcd, claim, r, "renew", {EtcdOp::put(keys_.extras(r.n), extras.dump())});
    return renewed;
  }

  void consume(const Claim& claim) override {
    if (const std::exception_ptr error = consume_many({claim}).front()) {
      std::rethrow_exception(error);
    }
  }

  // One round trip: a nested transaction per claim, comparing its lock's mod_revision with the
  // token, then (as TaskFlow) deleting the prefix job<N>., and the index.
  std::vector<std::exception_ptr> consume_many(const std::vector<Claim>& claims) override {
    std::vector<std::exception_ptr> out(claims.size());
    if (claims.empty()) {
      return out;
    }
    EtcdClient& etcd = open();
    std::vector<std::string> uuids;
    for (const Claim& c : claims) {
      uuids.push_back(c.job_uuid);
    }
    const std::vector<std::optional<std::int64_t>> numbers = numbers_of(etcd, uuids);
    auto gone = [](const Claim& c) {
      return std::make_exception_ptr(
          NotFound(fmt::format("cannot consume job {}: it is not on the board", c.job_uuid)));
    };
    EtcdTxn batch;
    std::vector<std::size_t> tried;
    std::set<std::int64_t> seen;
    for (std::size_t i = 0; i < claims.size(); ++i) {
      if (!numbers[i] || !seen.insert(*numbers[i]).second) {
        out[i] = gone(claims[i]);  // unknown, or consumed by an earlier entry
        continue;
      }
      const std::int64_t n = *numbers[i];
      EtcdTxn one;
      one.compare = {EtcdCompare::mod_revision(keys_.lock(n), claims[i].token)};
      one.success = {EtcdOp::remove_prefix(keys_.job(n) + "."),
                     EtcdOp::remove(keys_.index + claims[i].job_uuid)};
      one.failure = {EtcdOp::get(keys_.data(n)), EtcdOp::get(keys_.lock(n))};
      batch.success.push_back(EtcdOp::nested(std::move(one)));
      tried.push_back(i);
    }
    if (tried.empty()) {
      return out;
    }
    EtcdTxnResult result;
    try {
      result = etcd.txn(batch);
    } catch (const StorageFailure&) {
      for (const std::size_t i : tried) {
        out[i] = std::current_exception();
      }
      return out;
    }
    for (std::size_t j = 0; j < tried.size(); ++j) {
      const Claim& c = claims[tried[j]];
      const EtcdTxnResult& r = result.responses.at(j).txn.at(0);
      if (r.succeeded) {
        forget(c.job_uuid);
        notifier_.notify("removal", Value{{"job_uuid", c.job_uuid}, {"reason", "consumed"}});
      } else if (r.responses.at(0).range.kvs.empty()) {
        out[tried[j]] = gone(c);
      } else {
        const auto& lock = r.responses.at(1).range.kvs;
        out[tried[j]] = std::make_exception_ptr(StaleClaim(fmt::format(
            "cannot consume job {}: the claim of '{}' (token {}) is no longer current{}",
            c.job_uuid, c.owner, c.token,
            lock.empty()
                ? std::string(" (nobody holds it)")
                : fmt::format(" (claimed by '{}', token {})", detail::lock_owner(lock.front()),
                              lock.front().mod_revision))));
      }
    }
    return out;
  }

  void abandon(const Claim& claim, std::optional<TimePoint> not_before,
               std::optional<Failure> failure) override {
    EtcdClient& etcd = open();
    const EtcdRecord r = current(etcd, claim, "abandon");
    EtcdExtras extras = EtcdExtras::parse(r.extras);
    extras.not_before =
        not_before ? std::optional<std::int64_t>(micros(*not_before)) : std::nullopt;
    extras.lease_until.reset();
    if (failure) {
      extras.last_failure = failure->to_dict();
    }
    commit(etcd, claim, r, "abandon",
           {EtcdOp::remove(keys_.lock(r.n)), EtcdOp::put(keys_.extras(r.n), extras.dump()),
            EtcdOp::put(keys_.modified(r.n), detail::modified_value(now()))});
  }

  void release(const Claim& claim) override {
    EtcdClient& etcd = open();
    const EtcdRecord r = current(etcd, claim, "release");
    EtcdExtras extras = EtcdExtras::parse(r.extras);
    extras.not_before.reset();
    extras.lease_until.reset();
    extras.attempts = std::max<std::int64_t>(0, extras.attempts - 1);
    commit(etcd, claim, r, "release",
           {EtcdOp::remove(keys_.lock(r.n)), EtcdOp::put(keys_.extras(r.n), extras.dump()),
            EtcdOp::put(keys_.modified(r.n), detail::modified_value(now()))});
  }

  void trash(const Claim& claim, std::string reason, std::optional<Failure> failure) override {
    EtcdClient& etcd = open();
    const EtcdRecord r = current(etcd, claim, "trash");
    EtcdExtras extras = EtcdExtras::parse(r.extras);
    extras.uuid = claim.job_uuid;
    extras.trash_reason = std::move(reason);
    extras.lease_until.reset();
    if (failure) {
      extras.last_failure = failure->to_dict();
    }
    // As TaskFlow: the posting moves to /taskflow/.trash/<path>/job<N>; job<N>.* go.
    commit(etcd, claim, r, "trash",
           {EtcdOp::put(keys_.bin(r.n), r.data->value),
            EtcdOp::put(keys_.bin_extras(r.n), extras.dump()),
            EtcdOp::put(keys_.bin_modified(r.n), detail::modified_value(now())),
            EtcdOp::remove_prefix(keys_.job(r.n) + ".")});
    notifier_.notify("removal", Value{{"job_uuid", claim.job_uuid}, {"reason", "trashed"}});
  }

  std::optional<std::string> find_owner(std::string_view job_uuid) override {
    const std::optional<Located> at = locate(open(), std::string(job_uuid));
    if (!at || !at->board.data || !at->board.lock || lapsed(at->board, now())) {
      return std::nullopt;
    }
    return detail::lock_owner(*at->board.lock);
  }

  std::size_t job_count() override {
    EtcdOp op = EtcdOp::get_prefix(keys_.jobs());
    op.keys_only = true;
    std::size_t n = 0;
    for (const auto& [number, record] :
         detail::group_records(open().range(op).kvs, keys_.jobs(), /*bin=*/false)) {
      n += record.data ? 1 : 0;
    }
    return n;
  }

  std::vector<Job> trashed() override {
    std::vector<Job> jobs = list(keys_.binned(), /*bin=*/true);
    sort_in_bin_order(jobs);
    return jobs;
  }

  Job requeue(std::string_view job_uuid) override {
    const std::string uuid(job_uuid);
    EtcdClient& etcd = open();
    const std::optional<Located> at = locate(etcd, uuid);
    if (!at || !at->bin.data) {
      throw NotFound(fmt::format("job {} is not in the garbage bin", uuid));
    }
    const EtcdRecord& r = at->bin;
    EtcdExtras extras = EtcdExtras::parse(r.extras);
    extras.uuid = uuid;
    extras.attempts = 0;
    extras.not_before.reset();
    extras.lease_until.reset();
    extras.trash_reason.reset();
    Value posting = decode_json_or_null(r.data->value, kPostingLimits);
    if (!posting.is_object()) {
      throw InvalidFormat(fmt::format("job {} in the garbage bin cannot be read", uuid));
    }
    auto [sequence, revision] = sequence_seen();
    for (;;) {
      const std::int64_t n = sequence + 1;
      posting["sequence"] = n;  // TaskFlow orders by the posting's sequence
      EtcdTxn txn;
      txn.compare = {EtcdCompare::mod_revision(keys_.sequence(), revision),
                     EtcdCompare::mod_revision(keys_.bin(r.n), r.data->mod_revision)};
      txn.success = {EtcdOp::put(keys_.sequence(), std::to_string(n)),
                     EtcdOp::put(keys_.data(n), posting.dump()),
                     EtcdOp::put(keys_.extras(n), extras.dump()),
                     EtcdOp::put(keys_.modified(n), detail::modified_value(now())),
                     EtcdOp::put(keys_.index + uuid, std::to_string(n)),
                     EtcdOp::remove(keys_.bin(r.n)),
                     EtcdOp::remove(keys_.bin_extras(r.n)),
                     EtcdOp::remove(keys_.bin_modified(r.n))};
      txn.failure = {EtcdOp::get(keys_.sequence()), EtcdOp::get(keys_.bin(r.n))};
      const EtcdTxnResult result = etcd.txn(txn);
      if (result.succeeded) {
        remember_sequence(n, result.revision);
        remember(uuid, n);
        break;
      }
      if (result.responses.at(1).range.kvs.empty()) {
        throw NotFound(fmt::format("job {} is not in the garbage bin", uuid));
      }
      const auto& kvs = result.responses.at(0).range.kvs;
      sequence = kvs.empty() ? 0 : parse_count(kvs.front().value);
      revision = kvs.empty() ? 0 : kvs.front().mod_revision;
    }
    std::optional<Job> job = find(uuid);
    if (!job) {
      throw NotFound(fmt::format("job {} left the board while being requeued", uuid));
    }
    notifier_.notify("posted", Value{{"job_uuid", job->uuid}, {"name", job->name}});
    return *job;
  }

  void purge(std::string_view job_uuid) override {
    const std::string uuid(job_uuid);
    EtcdClient& etcd = open();
    const std::optional<Located> at = locate(etcd, uuid);
    if (!at || !at->bin.data) {
      throw NotFound(fmt::format("job {} is not in the garbage bin", uuid));
    }
    const std::int64_t n = at->bin.n;
    EtcdTxn txn;
    txn.compare = {EtcdCompare::mod_revision(keys_.bin(n), at->bin.data->mod_revision)};
    txn.success = {EtcdOp::remove(keys_.bin(n)), EtcdOp::remove(keys_.bin_extras(n)),
                   EtcdOp::remove(keys_.bin_modified(n)), EtcdOp::remove(keys_.index + uuid)};
    if (!etcd.txn(txn).succeeded) {
      throw NotFound(fmt::format("job {} is not in the garbage bin", uuid));
    }
    forget(uuid);
    notifier_.notify("removal", Value{{"job_uuid", uuid}, {"reason", "purged"}});
  }

  void register_entity(std::string_view entity, const Value& details) override {
    // TaskFlow's etcd board registers nothing; caboose keeps its record under .caboose.
    open().put(keys_.entities + std::string(entity),
               Value{{"details", details}, {"last_seen", format_time(now())}}.dump());
  }

  Value entities() override {
    EtcdOp op = EtcdOp::get_prefix(keys_.entities);
    op.sort_by_key = true;
    Value out = Value::array();
    for (const EtcdKv& kv : open().range(op).kvs) {
      Value record = decode_json_or_null(kv.value, kPostingLimits);
      if (!record.is_object()) {
        record = Value::object();
      }
      out.push_back(Value{{"name", kv.key.substr(keys_.entities.size())},
                          {"details", record.value("details", Value())},
                          {"last_seen", record.value("last_seen", Value())}});
    }
    return out;
  }

  const BoardOptions& options() const override { return options_; }

 private:
  std::string name() const {
    return fmt::format("etcd://{}/{}", address_.endpoints.names(), address_.path);
  }

  EtcdClient& open() {
    std::lock_guard lock(mu_);
    if (closed_) {
      throw StorageFailure(fmt::format("jobboard {} is closed", name()));
    }
    return *client_;  // thread-safe; lives as long as the board
  }

  static std::int64_t parse_count(const std::string& text) {
    try {
      return std::stoll(text);
    } catch (const std::exception&) {
      throw InvalidFormat(fmt::format("the board's sequence counter is not a number: '{}'", text));
    }
  }

  // The posting counter as last seen: (value, mod_revision), (0, 0) before any post.
  std::pair<std::int64_t, std::int64_t> sequence_seen() {
    std::lock_guard lock(mu_);
    return {sequence_, sequence_revision_};
  }

  void remember_sequence(std::int64_t value, std::int64_t revision) {
    std::lock_guard lock(mu_);
    if (revision > sequence_revision_) {
      sequence_ = value;
      sequence_revision_ = revision;
    }
  }

  void remember(const std::string& uuid, std::int64_t n) {
    std::lock_guard lock(mu_);
    number_of_[uuid] = n;
  }

  void forget(const std::string& uuid) {
    std::lock_guard lock(mu_);
    number_of_.erase(uuid);
  }

  // The transaction claiming the job whose board keys are `r` for `claim.owner` (filling in the
  // claim's attempt): the lock bound to `lease`, the extras with attempts + 1, last_modified,
  // if none of the job's keys changed since read. UnclaimableJob when it is held or not due.
  EtcdTxn claim_txn(const EtcdRecord& r, Claim& claim, std::int64_t lease, TimePoint time) const {
    EtcdExtras extras = EtcdExtras::parse(r.extras);
    if (r.lock && !lapsed(r, time)) {
      throw UnclaimableJob(fmt::format("job {} is already claimed by '{}'", claim.job_uuid,
                                       detail::lock_owner(*r.lock)));
    }
    if (extras.not_before && *extras.not_before > micros(time)) {
      throw UnclaimableJob(fmt::format("job {} is not claimable yet", claim.job_uuid));
    }
    extras.uuid = claim.job_uuid;
    extras.attempts += 1;
    extras.lease_until = micros(time + options_.lease);
    if (extras.max_attempts == 0) {
      extras.max_attempts = options_.max_attempts;  // a job TaskFlow posted
    }
    claim.attempt = extras.attempts;
    EtcdTxn txn;
    txn.compare = {EtcdCompare::mod_revision(keys_.data(r.n), revision_of(r.data)),
                   EtcdCompare::mod_revision(keys_.extras(r.n), revision_of(r.extras)),
                   EtcdCompare::mod_revision(keys_.lock(r.n), revision_of(r.lock))};
    txn.success = {EtcdOp::put(keys_.lock(r.n),
                               Value{{"owner", claim.owner}, {"lease_id", lease}}.dump(), lease),
                   EtcdOp::put(keys_.extras(r.n), extras.dump()),
                   EtcdOp::put(keys_.modified(r.n), detail::modified_value(time))};
    return txn;
  }

  // The numbers of the jobs `uuids` (nullopt for one not on the board or in the bin): cached,
  // the rest read from the index in one round trip.
  std::vector<std::optional<std::int64_t>> numbers_of(EtcdClient& etcd,
                                                      const std::vector<std::string>& uuids) {
    std::vector<std::optional<std::int64_t>> out(uuids.size());
    EtcdTxn read;
    std::vector<std::size_t> missing;
    {
      std::lock_guard lock(mu_);
      for (std::size_t i = 0; i < uuids.size(); ++i) {
        if (const auto it = number_of_.find(uuids[i]); it != number_of_.end()) {
          out[i] = it->second;
        } else {
          read.success.push_back(EtcdOp::get(keys_.index + uuids[i]));
          missing.push_back(i);
        }
      }
    }
    if (!missing.empty()) {
      const EtcdTxnResult result = etcd.txn(read);
      for (std::size_t j = 0; j < missing.size(); ++j) {
        const auto& kvs = result.responses.at(j).range.kvs;
        if (!kvs.empty()) {
          out[missing[j]] = parse_count(kvs.front().value);
        }
      }
    }
    return out;
  }

  // The keys of job `uuid` on the board and in the bin (one round trip when its number is
  // known, two when the index is read); nullopt when the job is in neither.
  std::optional<Located> locate(EtcdClient& etcd, const std::string& uuid) {
    std::optional<std::int64_t> n;
    {
      std::lock_guard lock(mu_);
      if (const auto it = number_of_.find(uuid); it != number_of_.end()) {
        n = it->second;
      }
    }
    if (!n) {
      const detail::EtcdRangeResult index = etcd.range(EtcdOp::get(keys_.index + uuid));
      if (index.kvs.empty()) {
        return std::nullopt;
      }
      n = parse_count(index.kvs.front().value);
    }
    EtcdTxn txn;
    txn.success = {EtcdOp::get_prefix(keys_.job(*n) + "."), EtcdOp::get(keys_.bin(*n)),
                   EtcdOp::get(keys_.bin_extras(*n)), EtcdOp::get(keys_.bin_modified(*n))};
    const EtcdTxnResult result = etcd.txn(txn);
    std::vector<EtcdKv> board = result.responses.at(0).range.kvs;
    std::vector<EtcdKv> bin;
    for (std::size_t i = 1; i < result.responses.size(); ++i) {
      for (const EtcdKv& kv : result.responses[i].range.kvs) {
        bin.push_back(kv);
      }
    }
    Located at;
    at.revision = result.revision;
    at.board = detail::group_records(board, keys_.jobs(), /*bin=*/false)[*n];
    at.bin = detail::group_records(bin, keys_.binned(), /*bin=*/true)[*n];
    at.board.n = at.bin.n = *n;
    if (!at.board.data && !at.bin.data) {
      forget(uuid);
      return std::nullopt;
    }
    remember(uuid, *n);
    return at;
  }

  // The job's keys when it is on the board; UnclaimableJob when trashed, NotFound when absent.
  Located on_board(EtcdClient& etcd, const std::string& uuid, std::string_view action) {
    std::optional<Located> at = locate(etcd, uuid);
    if (at && at->board.data) {
      return std::move(*at);
    }
    if (at && at->bin.data) {
      throw UnclaimableJob(fmt::format("cannot {} job {}: it is in the garbage bin", action, uuid));
    }
    throw NotFound(fmt::format("cannot {} job {}: it is not on the board", action, uuid));
  }

  // The job's keys while `claim` is current (its lock, made by this claim, is there), or
  // StaleClaim/NotFound.
  EtcdRecord current(EtcdClient& etcd, const Claim& claim, std::string_view action) {
    std::optional<Located> at = locate(etcd, claim.job_uuid);
    if (!at || !at->board.data) {
      throw NotFound(
          fmt::format("cannot {} job {}: it is not on the board", action, claim.job_uuid));
    }
    const EtcdRecord& r = at->board;
    if (!r.lock || r.lock->mod_revision != claim.token ||
        detail::lock_owner(*r.lock) != claim.owner) {
      throw StaleClaim(
          fmt::format("cannot {} job {}: the claim of '{}' (token {}) is no longer current{}",
                      action, claim.job_uuid, claim.owner, claim.token,
                      r.lock ? fmt::format(" (claimed by '{}', token {})",
                                           detail::lock_owner(*r.lock), r.lock->mod_revision)
                             : std::string(" (nobody holds it)")));
    }
    return r;
  }

  // Runs `ops` if the claim's lock and the job's extras are as read; StaleClaim otherwise.
  void commit(EtcdClient& etcd, const Claim& claim, const EtcdRecord& r, std::string_view action,
              std::vector<EtcdOp> ops) {
    EtcdTxn txn;
    txn.compare = {EtcdCompare::mod_revision(keys_.lock(r.n), claim.token),
                   EtcdCompare::mod_revision(keys_.extras(r.n), revision_of(r.extras))};
    txn.success = std::move(ops);
    if (!etcd.txn(txn).succeeded) {
      throw StaleClaim(fmt::format("cannot {} job {}: it changed meanwhile (token {})", action,
                                   claim.job_uuid, claim.token));
    }
  }

  // Whether a claim whose reply was lost was made after all: the lock is this board's (owner,
  // lease), written after `before` together with the extras. Its token if so. Reads again while
  // etcd cannot be reached, up to the lease.
  std::optional<std::int64_t> claimed_after_all(EtcdClient& etcd, const std::string& uuid,
                                                std::int64_t before, std::string_view who,
                                                std::int64_t lease) {
    const auto deadline = std::chrono::steady_clock::now() + options_.lease;
    for (;;) {
      try {
        const std::optional<Located> at = locate(etcd, uuid);
        if (!at || !at->board.lock) {
          return std::nullopt;
        }
        const EtcdKv& lock = *at->board.lock;
        if (detail::lock_owner(lock) == who && lock.lease == lease && lock.mod_revision > before &&
            at->board.extras && at->board.extras->mod_revision >= lock.mod_revision) {
          return lock.mod_revision;
        }
        return std::nullopt;
      } catch (const StorageFailure&) {
        if (std::chrono::steady_clock::now() >= deadline) {
          return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  // The etcd lease this board binds its locks to, alive until at least `at` + the lease (granted
  // or refreshed as needed).
  std::int64_t etcd_lease(EtcdClient& etcd, TimePoint at) {
    std::lock_guard lease_lock(lease_mu_);  // serialises grants; held across their round trip
    std::int64_t id = 0;
    {
      std::lock_guard lock(mu_);
      id = lease_id_;
    }
    if (id != 0 && keep_alive(etcd, id, at)) {
      return id;
    }
    const auto ttl = std::chrono::ceil<std::chrono::seconds>(2 * options_.lease);
    const auto sent = std::chrono::steady_clock::now();
    const detail::EtcdLease granted = etcd.lease_grant(std::max(ttl, std::chrono::seconds(2)));
    std::lock_guard lock(mu_);
    lease_id_ = granted.id;
    lease_alive_until_ = sent + granted.ttl;
    return granted.id;
  }

  // Keeps lease `id` alive past `at` + the lease: refreshes it unless the last refresh already
  // does. False when it is gone.
  bool keep_alive(EtcdClient& etcd, std::int64_t id, TimePoint at) {
    const auto needed = std::chrono::steady_clock::now() + (at - now()) + options_.lease;
    {
      std::lock_guard lock(mu_);
      if (id == lease_id_ && lease_alive_until_ > needed) {
        return true;
      }
    }
    const auto sent = std::chrono::steady_clock::now();
    const std::optional<std::chrono::seconds> ttl = etcd.lease_keepalive(id);
    std::lock_guard lock(mu_);
    if (id == lease_id_) {
      if (!ttl) {
        lease_id_ = 0;
        return false;
      }
      lease_alive_until_ = sent + *ttl;
    }
    return ttl.has_value();
  }

  // A caboose claim (the extras written with or after its lock) whose lease ended without a
  // renewal. TaskFlow's claims never lapse: they end with their etcd lease.
  static bool lapsed(const EtcdRecord& r, TimePoint at) {
    if (!r.lock || !r.extras || r.extras->mod_revision < r.lock->mod_revision) {
      return false;
    }
    const EtcdExtras extras = EtcdExtras::parse(r.extras);
    return extras.lease_until && *extras.lease_until <= micros(at);
  }

  // Every job under `prefix` (the board's or the bin's), in one round trip. Unreadable ones are
  // skipped, logged and recorded in skipped_. With `lapse`, the earliest end of a caboose
  // lease that holds a job now.
  std::vector<Job> list(const std::string& prefix, bool bin,
                        std::optional<TimePoint>* lapse = nullptr) {
    const detail::EtcdRangeResult range = open().range(EtcdOp::get_prefix(prefix));
    std::vector<Job> jobs;
    std::vector<std::string> problems;
    for (const auto& [n, record] : detail::group_records(range.kvs, prefix, bin)) {
      if (!record.data) {
        continue;
      }
      try {
        jobs.push_back(decode(record, bin));
        const EtcdExtras extras = EtcdExtras::parse(record.extras);
        if (lapse != nullptr && jobs.back().state == JobState::kClaimed && extras.lease_until &&
            record.extras->mod_revision >= record.lock->mod_revision) {
          const TimePoint end = from_micros(*extras.lease_until);
          *lapse = *lapse ? std::min(**lapse, end) : end;
        }
      } catch (const Error& e) {
        const EtcdExtras extras = EtcdExtras::parse(record.extras);
        problems.push_back(fmt::format("job {} (key {}): {}",
                                       extras.uuid.empty() ? "?" : extras.uuid, record.data->key,
                                       e.what()));
        caboose::detail::log().error("jobboard {}: skipping {}", name(), problems.back());
      }
    }
    std::lock_guard lock(mu_);
    skipped_ = std::move(problems);
    for (const Job& job : jobs) {
      number_of_[job.uuid] = job.sequence;
    }
    return jobs;
  }

  std::optional<Job> to_job(const EtcdRecord& record, bool bin) {
    try {
      return decode(record, bin);
    } catch (const Error& e) {
      caboose::detail::log().error("jobboard {}: cannot read job at {}: {}", name(),
                                   record.data->key, e.what());
      return std::nullopt;
    }
  }

  Job decode(const EtcdRecord& record, bool bin) const {
    Job job = detail::decode_json_posting(record.data->value);
    job.sequence = record.n;
    job.last_modified = detail::parse_modified(record.modified).value_or(job.created_on);
    const EtcdExtras extras = EtcdExtras::parse(record.extras);
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
    if (bin) {
      job.state = JobState::kTrashed;
    } else if (record.lock && !lapsed(record, now())) {
      job.state = JobState::kClaimed;
      job.owner = detail::lock_owner(*record.lock);
      if (extras.lease_until && record.extras->mod_revision >= record.lock->mod_revision) {
        job.lease_until = from_micros(*extras.lease_until);
      }
    }
    return job;
  }

  const detail::EtcdAddress address_;
  const BoardOptions options_;
  const detail::EtcdKeys keys_;
  std::unique_ptr<EtcdClient> client_;  // made by the constructor; thread-safe
  mutable std::mutex mu_;
  bool closed_ = false;                            // Guarded by mu_.
  std::int64_t sequence_ = 0;                      // Guarded by mu_: the counter as last seen,
  std::int64_t sequence_revision_ = 0;             // Guarded by mu_: and its mod_revision.
  std::map<std::string, std::int64_t> number_of_;  // Guarded by mu_: job uuid -> N.
  std::vector<std::string> skipped_;               // Guarded by mu_.
  std::int64_t lease_id_ = 0;                      // Guarded by mu_: 0 before the first claim.
  std::chrono::steady_clock::time_point lease_alive_until_;  // Guarded by mu_.
  std::mutex lease_mu_;                                      // taken before mu_, never inside it
  std::mutex watch_mu_;
  std::condition_variable changed_;
  std::uint64_t changes_ = 0;                 // Guarded by watch_mu_: watch batches seen.
  std::unique_ptr<detail::EtcdWatch> watch_;  // last: stops first
};

}  // namespace

std::unique_ptr<JobBoard> make_etcd_jobboard(std::string_view uri, BoardOptions options) {
  return std::make_unique<EtcdJobBoard>(detail::parse_etcd_uri(uri), options);
}

}  // namespace caboose::jobs
