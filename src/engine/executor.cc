#include "engine/executor.h"

#include <algorithm>
#include <atomic>
#include <utility>

namespace caboose::engine {

Completion run_job(Job& job) {
  Completion c{job.node, job.work, Value()};
  try {
    if (job.work == Work::kExecute) {
      c.outcome = job.task->execute(job.args);
    } else {
      static const FailureMap kNone;
      c.outcome = job.task->revert(job.args, job.result, job.failures ? *job.failures : kNone);
    }
  } catch (...) {
    c.outcome = Failure::capture();
  }
  return c;
}

void CompletionQueue::push(Completion c) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(c));
    wake = sleeping_;
  }
  if (wake) {
    cv_.notify_one();
  }
}

void CompletionQueue::drain(std::vector<Completion>& out, bool block) {
  std::unique_lock lock(mu_);
  if (block) {
    sleeping_ = true;
    cv_.wait(lock, [this] { return !queue_.empty(); });
    sleeping_ = false;
  }
  if (out.empty()) {
    out.swap(queue_);
  } else {
    for (Completion& c : queue_) {
      out.push_back(std::move(c));
    }
    queue_.clear();
  }
}

namespace {

class SerialExecutor final : public Executor {
 public:
  void submit(std::vector<Job>& jobs, CompletionQueue& done) override {
    for (Job& job : jobs) {
      done.push(run_job(job));
    }
    jobs.clear();
  }
  bool idle() const override { return true; }
};

class ParallelExecutor final : public Executor {
 public:
  explicit ParallelExecutor(std::size_t workers) {
    threads_.reserve(workers);
    for (std::size_t i = 0; i < workers; ++i) {
      threads_.emplace_back([this] { work(); });
    }
  }

  ~ParallelExecutor() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) {
      t.join();
    }
  }

  bool idle() const override { return outstanding_.load(std::memory_order_acquire) == 0; }

  void submit(std::vector<Job>& jobs, CompletionQueue& done) override {
    outstanding_.fetch_add(jobs.size(), std::memory_order_relaxed);
    std::size_t wake = 0;
    {
      std::lock_guard lock(mu_);
      for (Job& job : jobs) {
        jobs_.push_back({std::move(job), &done});
      }
      wake = std::min(jobs.size(), waiting_);  // busy workers take the rest when done
    }
    jobs.clear();
    for (std::size_t i = 0; i < wake; ++i) {
      cv_.notify_one();
    }
  }

 private:
  struct Pending {
    Job job;
    CompletionQueue* done;
  };

  void work() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++waiting_;
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      --waiting_;
      if (jobs_.empty()) {
        return;  // stopping, and every job submitted has run
      }
      Pending p = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      p.done->push(run_job(p.job));
      outstanding_.fetch_sub(1, std::memory_order_release);
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> jobs_;  // Guarded by mu_.
  bool stopping_ = false;     // Guarded by mu_.
  std::size_t waiting_ = 0;   // Guarded by mu_: workers asleep in cv_.wait
  std::atomic<std::size_t> outstanding_{0};
  std::vector<std::thread> threads_;
};

}  // namespace

std::unique_ptr<Executor> make_serial_executor() {
  return std::make_unique<SerialExecutor>();
}

std::unique_ptr<Executor> make_parallel_executor(std::size_t workers) {
  return std::make_unique<ParallelExecutor>(workers == 0 ? 1 : workers);
}

}  // namespace caboose::engine
