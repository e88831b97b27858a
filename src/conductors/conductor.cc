// The conductor's loop, its dispatch of one job and the policy that decides what becomes of a
// job: as taskflow/conductors/backends/impl_executor.py (stages, events, what is consumed and
// what is abandoned), plus attempts, backoff, trash and fencing (conductor.h).
#include "caboose/conductors/conductor.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/core/failure.h"
#include "caboose/core/fault_point.h"

#include "conductors/conductor_metrics.h"
#include "conductors/running_job.h"
#include "core/log.h"

namespace caboose::conductors {

using jobs::Claim;
using jobs::Job;
using Steady = std::chrono::steady_clock;

std::chrono::milliseconds Backoff::delay(std::int64_t attempt, double unit) const {
  const int doublings = static_cast<int>(std::clamp<std::int64_t>(attempt - 1, 0, 62));
  const double full = std::min(static_cast<double>(cap.count()),
                               std::ldexp(static_cast<double>(base.count()), doublings));
  const double kept = full * (0.5 + 0.5 * std::clamp(unit, 0.0, 1.0));
  return std::chrono::milliseconds(static_cast<std::int64_t>(kept));
}

std::string_view to_string(JobOutcome outcome) {
  switch (outcome) {
    case JobOutcome::kConsumed:
      return "consumed";
    case JobOutcome::kAbandoned:
      return "abandoned";
    case JobOutcome::kTrashed:
      return "trashed";
    case JobOutcome::kReleased:
      return "released";
    case JobOutcome::kLost:
      return "lost";
  }
  return "unknown";
}

namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) {
    return "localhost";
  }
  return buf;
}

}  // namespace

std::string describe_claims(const std::vector<Claim>& claims) {
  std::string out;
  for (const Claim& c : claims) {
    out += fmt::format("{}job={} token={}", out.empty() ? "" : " ", c.job_uuid, c.token);
  }
  return out;
}

// Renews every held claim every `every`, and at once when the board says its claims are in
// doubt; loses a claim the board refuses, or whose local deadline passed without a renewal.
class Conductor::Keeper {
 public:
  Keeper(jobs::JobBoard& board, std::chrono::milliseconds lease, std::chrono::milliseconds every,
         const Clock& clock, ConductorMetrics* metrics)
      : board_(board), lease_(lease), every_(every), clock_(clock), metrics_(metrics) {
    // The board may call after the keeper is gone: the alarm outlives it.
    watch_ = board_.watch_claims([weak = std::weak_ptr<Alarm>(alarm_)] {
      if (const std::shared_ptr<Alarm> alarm = weak.lock()) {
        alarm->ring();
      }
    });
  }
  ~Keeper() { board_.unwatch_claims(watch_); }
  Keeper(const Keeper&) = delete;
  Keeper& operator=(const Keeper&) = delete;

  void add(const std::shared_ptr<Running>& running) {
    std::lock_guard lock(alarm_->mu);
    held_.push_back(running);
  }
  void remove(const std::shared_ptr<Running>& running) {
    std::lock_guard lock(alarm_->mu);
    std::erase(held_, running);
  }

 private:
  struct Alarm {
    std::mutex mu;
    std::condition_variable_any wake;
    bool rung = false;  // Guarded by mu.
    void ring() {
      {
        std::lock_guard lock(mu);
        rung = true;
      }
      wake.notify_all();
    }
  };

  void loop(std::stop_token stop) {
    std::unique_lock lock(alarm_->mu);
    for (;;) {
      alarm_->wake.wait_for(lock, stop, every_, [&] { return alarm_->rung; });
      if (stop.stop_requested()) {
        return;
      }
      alarm_->rung = false;
      const std::vector<std::shared_ptr<Running>> held = held_;
      lock.unlock();  // no lock across the board's I/O
      for (const auto& running : held) {
        renew(*running);
      }
      lock.lock();
    }
  }

  void renew(Running& running) {
    if (running.lost.load()) {
      return;
    }
    const Claim claim = running.current();
    const Steady::time_point asked = clock_.now();
    try {
      Claim renewed = board_.renew(claim);
      {
        std::lock_guard lock(running.mu);
        running.claim = std::move(renewed);
        running.deadline = asked + lease_;
      }
      if (metrics_ != nullptr) {
        metrics_->renewals.inc();
      }
    } catch (const StaleClaim& e) {
      detail::log().error("claim lost job={} token={}: {}", claim.job_uuid, claim.token, e.what());
      lose(running);
    } catch (const NotFound& e) {
      detail::log().error("claim lost job={} token={}: {}", claim.job_uuid, claim.token, e.what());
      lose(running);
    } catch (const std::exception& e) {
      if (metrics_ != nullptr) {
        metrics_->renewal_failures.inc();
      }
      if (running.valid(clock_)) {
        detail::log().warn("claim renewal failed job={}: {}; retrying", claim.job_uuid, e.what());
      } else {
        detail::log().error("claim lapsed job={}: renewals failed past the lease: {}",
                            claim.job_uuid, e.what());
        lose(running);
      }
    }
  }

  void lose(Running& running) {
    if (metrics_ != nullptr && !running.lost.load()) {
      metrics_->claims_lost.inc();
    }
    running.lose();
  }

  jobs::JobBoard& board_;
  const std::chrono::milliseconds lease_;
  const std::chrono::milliseconds every_;
  const Clock& clock_;
  ConductorMetrics* const metrics_;  // null: not measured
  const std::shared_ptr<Alarm> alarm_ = std::make_shared<Alarm>();
  std::vector<std::shared_ptr<Running>> held_;  // Guarded by alarm_->mu.
  std::uint64_t watch_ = 0;

  std::jthread thread_{[this](std::stop_token stop) { loop(stop); }};  // last: joins first
};

// A bounded pool that runs dispatched jobs (the non-blocking conductor's executor).
class Conductor::Pool {
 public:
  explicit Pool(std::size_t size) {
    threads_.reserve(size);
    for (std::size_t i = 0; i < size; ++i) {
      threads_.emplace_back([this](std::stop_token stop) { loop(stop); });
    }
  }
  ~Pool() {
    for (auto& t : threads_) {
      t.request_stop();
    }
    threads_.clear();  // joins
  }
  void submit(std::function<void()> work) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(work));
    }
    wake_.notify_one();
  }

 private:
  void loop(std::stop_token stop) {
    std::unique_lock lock(mu_);
    while (wake_.wait(lock, stop, [&] { return !queue_.empty(); })) {
      std::function<void()> work = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();  // never run a job under the lock
      work();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable_any wake_;
  std::deque<std::function<void()>> queue_;  // Guarded by mu_.
  std::vector<std::jthread> threads_;
};

// Consumes the jobs of a non-blocking conductor, all those that finished since the last round
// trip at once (JobBoard::consume_many), then emits their job_consumed (or job_lost).
class Conductor::Finisher {
 public:
  Finisher(Conductor& conductor, Keeper& keeper) : conductor_(conductor), keeper_(keeper) {}
  ~Finisher() {
    thread_.request_stop();
    thread_.join();
    flush();  // whatever came in after the thread's last round
  }

  void submit(Job job, std::shared_ptr<Running> running) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back({std::move(job), std::move(running)});
    }
    wake_.notify_one();
  }

 private:
  struct Item {
    Job job;
    std::shared_ptr<Running> running;
  };

  void loop(std::stop_token stop) {
    for (;;) {
      {
        std::unique_lock lock(mu_);
        if (!wake_.wait(lock, stop, [&] { return !queue_.empty(); })) {
          return;
        }
      }
      flush();
    }
  }

  void flush() {
    std::vector<Item> items;
    {
      std::lock_guard lock(mu_);
      items.swap(queue_);
    }
    if (items.empty()) {
      return;
    }
    std::vector<Claim> claims;
    claims.reserve(items.size());
    for (const Item& item : items) {
      claims.push_back(item.running->current());
    }
    const auto context = [&] { return describe_claims(claims); };
    fault_point("conductor.before_consume", context);
    std::vector<std::exception_ptr> errors;
    try {
      errors = conductor_.board_.consume_many(claims);
    } catch (const std::exception&) {
      errors.assign(items.size(), std::current_exception());
    }
    fault_point("conductor.after_consume", context);
    for (std::size_t i = 0; i < items.size(); ++i) {
      keeper_.remove(items[i].running);
      conductor_.consumed(items[i].job, claims[i], errors[i]);
    }
  }

  Conductor& conductor_;
  Keeper& keeper_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::vector<Item> queue_;  // Guarded by mu_.

  std::jthread thread_{[this](std::stop_token stop) { loop(stop); }};  // last: joins first
};

Conductor::Conductor(std::string name, jobs::JobBoard& board, persistence::Backend& persistence,
                     const FlowRegistry& registry, ConductorOptions options,
                     std::size_t max_simultaneous_jobs, bool inline_jobs)
    : name_(std::move(name)),
      board_(board),
      persistence_(persistence),
      registry_(registry),
      options_(std::move(options)),
      capacity_(inline_jobs ? 1 : max_simultaneous_jobs),
      inline_jobs_(inline_jobs),
      clock_(options_.clock != nullptr ? *options_.clock : system_clock()),
      rng_state_(static_cast<std::uint64_t>(Steady::now().time_since_epoch().count()) ^
                 (static_cast<std::uint64_t>(::getpid()) << 32)) {
  if (name_.empty()) {
    throw InvalidArgument("a conductor needs a name");
  }
  if (capacity_ == 0) {
    throw InvalidArgument(
        fmt::format("conductor '{}': max_simultaneous_jobs must be positive", name_));
  }
  if (options_.wait_timeout <= std::chrono::milliseconds::zero()) {
    throw InvalidArgument(fmt::format("conductor '{}': wait_timeout must be positive", name_));
  }
  if (options_.renew_every < std::chrono::milliseconds::zero() ||
      options_.backoff.base < std::chrono::milliseconds::zero() ||
      options_.backoff.cap < options_.backoff.base) {
    throw InvalidArgument(fmt::format(
        "conductor '{}': renew_every and the backoff must be non-negative, cap >= base", name_));
  }
  if (options_.metrics != nullptr) {
    metrics_ = std::make_unique<ConductorMetrics>(*options_.metrics, name_, capacity_);
  }
}

Conductor::~Conductor() = default;

BlockingConductor::BlockingConductor(std::string name, jobs::JobBoard& board,
                                     persistence::Backend& persistence,
                                     const FlowRegistry& registry, ConductorOptions options)
    : Conductor(std::move(name), board, persistence, registry, std::move(options), 1, true) {}

NonBlockingConductor::NonBlockingConductor(std::string name, jobs::JobBoard& board,
                                           persistence::Backend& persistence,
                                           const FlowRegistry& registry,
                                           std::size_t max_simultaneous_jobs,
                                           ConductorOptions options)
    : Conductor(std::move(name), board, persistence, registry, std::move(options),
                max_simultaneous_jobs, false) {}

void Conductor::connect() {
  persistence_.validate();
  (void)board_.job_count();
}

void Conductor::close() {
  board_.close();
}

Value Conductor::entity() const {
  Value metadata = options_.metadata.is_object() ? options_.metadata : Value::object();
  metadata["hostname"] = host_name();
  metadata["pid"] = static_cast<std::int64_t>(::getpid());
  return Value{{"kind", "conductor"}, {"name", name_}, {"metadata", std::move(metadata)}};
}

void Conductor::stop() {
  stopping_.store(true);
  {
    std::lock_guard lock(mu_);
    for (engine::Engine* e : engines_) {
      suspend_quietly(*e);
    }
  }
  changed_.notify_all();
}

void Conductor::suspend_quietly(engine::Engine& engine) noexcept {
  try {
    engine.suspend();
  } catch (const std::exception& e) {
    // The SUSPENDING state could not be saved: the claim was taken over and the flow fenced
    // (StaleClaim), or the store is down. The engine starts no atom all the same, and the job's
    // own run meets the same error at its next save and ends the job by it.
    detail::log().warn("cannot save the suspension of flow={}: {}", engine.storage().flow_uuid(),
                       e.what());
  }
}

bool Conductor::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return finished_; });
}

void Conductor::notify(std::string_view event, const Job& job, std::int64_t attempt,
                       Value extra) const {
  notifier_.notify_lazy(event, [&] {
    Value details{
        {"job_uuid", job.uuid}, {"job_name", job.name}, {"conductor", name_}, {"attempt", attempt}};
    for (auto& [key, value] : extra.items()) {
      details[key] = std::move(value);
    }
    return details;
  });
}

void Conductor::run(std::optional<std::size_t> max_dispatches) {
  {
    std::lock_guard lock(mu_);
    finished_ = false;
  }
  dispatching_.store(true);
  struct Finished {
    Conductor& c;
    ~Finished() {
      c.dispatching_.store(false);
      {
        std::lock_guard lock(c.mu_);
        c.finished_ = true;
      }
      c.changed_.notify_all();
    }
  } finished{*this};

  const Value me = entity();
  try {
    board_.register_entity(name_, me);
  } catch (const StorageFailure& e) {
    // The board is unreachable for now (a server restarting): the conductor waits for it below
    // as for any other request; the entity only tells people who conducts.
    detail::log().warn("cannot register conductor={} on the board: {}; going on without", name_,
                       e.what());
  }
  detail::log().info("conductor started name={} max_jobs={}", name_, capacity_);

  const auto lease = board_.options().lease;
  const auto every = options_.renew_every.count() > 0
                         ? options_.renew_every
                         : std::max(std::chrono::milliseconds(1), lease / 3);
  Keeper keeper(board_, lease, every, clock_, metrics_.get());
  if (metrics_) {
    metrics_->up.set(1);
  }
  struct Down {
    ConductorMetrics* m;
    ~Down() {
      if (m != nullptr) {
        m->up.set(0);
      }
    }
  } down{metrics_.get()};
  // Non-blocking: consumes go to a finisher that batches them (one round trip for all the jobs
  // that finished meanwhile); declared after the keeper, so it finishes before the keeper stops.
  std::unique_ptr<Finisher> finisher =
      inline_jobs_ ? nullptr : std::make_unique<Finisher>(*this, keeper);
  {
    std::lock_guard lock(mu_);
    finisher_ = finisher.get();
  }
  std::unique_ptr<Pool> pool = inline_jobs_ ? nullptr : std::make_unique<Pool>(capacity_);

  std::size_t dispatched = 0;
  std::vector<Job> snapshot;
  std::size_t cursor = 0;
  Steady::time_point listed_at{};
  bool listed = false;
  bool claimed_in_pass = false;
  bool had_claimable = false;

  while (!stopping_.load() && (!max_dispatches || dispatched < *max_dispatches)) {
    {
      std::unique_lock lock(mu_);
      // Claim when half the slots are free (or none is busy), so that one round trip claims
      // several jobs instead of one per slot freed.
      const std::size_t wanted = std::max<std::size_t>(1, capacity_ / 2);
      changed_.wait(lock, [&] {
        return stopping_.load() || in_flight_ == 0 || capacity_ - in_flight_ >= wanted;
      });
    }
    if (stopping_.load()) {
      break;
    }
    if (cursor >= snapshot.size() || clock_.now() - listed_at > options_.refresh) {
      if (cursor >= snapshot.size() && listed && !claimed_in_pass) {
        idle_wait(had_claimable);
        if (stopping_.load()) {
          break;
        }
      }
      if (metrics_) {
        metrics_->last_scan.set(
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                .count());
      }
      try {
        snapshot = board_.iterjobs(/*only_unclaimed=*/true);
      } catch (const std::exception& e) {
        detail::log().warn("cannot list the board conductor={}: {}", name_, e.what());
        snapshot.clear();
      }
      cursor = 0;
      listed_at = clock_.now();
      listed = true;
      claimed_in_pass = false;
      had_claimable = !snapshot.empty();
      continue;
    }
    // As many claimable candidates as there are free slots, claimed in one round trip.
    std::size_t free = 0;
    {
      std::lock_guard lock(mu_);
      free = capacity_ - in_flight_;
    }
    if (max_dispatches) {
      free = std::min(free, *max_dispatches - dispatched);
    }
    std::vector<Job> batch;
    std::vector<std::string> uuids;
    while (batch.size() < free && cursor < snapshot.size()) {
      Job job = std::move(snapshot[cursor++]);
      if (judge(job) == Verdict::kLeave) {
        continue;
      }
      uuids.push_back(job.uuid);
      batch.push_back(std::move(job));
    }
    if (batch.empty()) {
      continue;
    }
    const Steady::time_point asked = clock_.now();
    std::vector<std::optional<Claim>> claims;
    try {
      claims = board_.claim_many(uuids, name_);
    } catch (const std::exception& e) {
      detail::log().warn("claim failed conductor={}: {}", name_, e.what());
      if (metrics_) {
        metrics_->claim_errors.inc();
      }
      continue;
    }
    if (metrics_) {
      metrics_->claim_duration.observe(std::chrono::duration<double>(clock_.now() - asked).count());
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!claims[i]) {
        if (metrics_) {
          metrics_->claims_missed.inc();
        }
        continue;  // another conductor was first, it is not due, or it is gone
      }
      if (metrics_) {
        metrics_->claimed.inc();
        metrics_->claim_attempt.observe(static_cast<double>(claims[i]->attempt));
        metrics_->running.add(1);
      }
      ++dispatched;
      claimed_in_pass = true;
      auto running = std::make_shared<Running>(std::move(*claims[i]), asked + lease);
      keeper.add(running);
      {
        std::lock_guard lock(mu_);
        ++in_flight_;
      }
      auto work = [this, &keeper, running, job = std::move(batch[i])]() mutable {
        try {
          (void)run_job(job, running);
        } catch (const std::exception& e) {
          detail::log().error("job dispatch failed job={}: {}", job.uuid, e.what());
        }
        if (!running->deferred) {
          keeper.remove(running);  // else the finisher does, once consumed
        }
        if (metrics_) {
          metrics_->running.add(-1);
        }
        {
          std::lock_guard lock(mu_);
          --in_flight_;
        }
        changed_.notify_all();
      };
      if (pool) {
        pool->submit(std::move(work));
      } else {
        work();
      }
    }
  }
  if (max_dispatches && dispatched >= *max_dispatches) {
    detail::log().info("maximum dispatch limit reached conductor={} limit={}", name_,
                       *max_dispatches);
  }
  {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return in_flight_ == 0; });
  }
  pool.reset();
  {
    std::lock_guard lock(mu_);
    finisher_ = nullptr;
  }
  finisher.reset();  // consumes what is pending, then stops
  detail::log().info("conductor stopped name={} dispatched={}", name_, dispatched);
}

bool Conductor::defer_consume(const Job& job, Running& running) {
  std::lock_guard lock(mu_);
  if (finisher_ == nullptr) {
    return false;
  }
  running.deferred = true;
  finisher_->submit(job, running.shared_from_this());
  return true;
}

void Conductor::idle_wait(bool board_had_claimable) {
  if (!board_had_claimable) {
    try {
      (void)board_.wait(options_.wait_timeout);
      return;
    } catch (const std::exception& e) {
      detail::log().warn("cannot wait on the board conductor={}: {}", name_, e.what());
    }
  }
  // Jobs are there but none for us (unknown factories, taken): wait the timeout out, or a stop.
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, options_.wait_timeout, [&] { return stopping_.load(); });
}

}  // namespace caboose::conductors
