// Executors: where the engine runs tasks' execute() and revert(). The engine thread prepares
// a Job (the task, its arguments, what a revert needs), submits it, and later collects its
// Completion from a CompletionQueue; it never blocks on a running task. The serial executor
// runs each job at once on the submitting thread; the parallel one on a bounded pool of worker
// threads. Jobs run user code only: every state change and save stays on the engine thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "caboose/atoms/task.h"
#include "caboose/core/failure.h"
#include "caboose/core/value.h"

#include "engine/compiler.h"

namespace caboose::engine {

enum class Work : std::uint8_t { kExecute, kRevert };

struct Job {
  NodeId node = 0;
  Work work = Work::kExecute;
  Task* task = nullptr;
  Value args;
  Outcome result;                              // revert: what execute ended with
  std::shared_ptr<const FailureMap> failures;  // revert: the flow's failures
};

struct Completion {
  NodeId node = 0;
  Work work = Work::kExecute;
  Outcome outcome;  // the returned value, or what was thrown
};

// Runs the job's user code, capturing what it throws.
Completion run_job(Job& job);

// Completions from any thread to the engine thread.
class CompletionQueue {
 public:
  void push(Completion c);
  // Moves every queued completion into `out`; blocks until there is one when `block`.
  void drain(std::vector<Completion>& out, bool block);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Completion> queue_;  // Guarded by mu_.
  bool sleeping_ = false;          // Guarded by mu_: the engine waits, a push must wake it.
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs the jobs (now or later, on some threads), pushing each one's completion to `done`.
  // Leaves `jobs` empty.
  virtual void submit(std::vector<Job>& jobs, CompletionQueue& done) = 0;
  // Whether every job submitted has completed (its completion pushed). Only the submitting
  // thread may rely on it staying true until it submits again.
  virtual bool idle() const = 0;
};

[[nodiscard]] std::unique_ptr<Executor> make_serial_executor();
// `workers` threads (at least 1), started now and joined by the destructor once every
// submitted job has completed.
[[nodiscard]] std::unique_ptr<Executor> make_parallel_executor(std::size_t workers);

}  // namespace caboose::engine
