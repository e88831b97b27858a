// A child process for a test (a `caboose conductor`, say): started with fork/exec, its standard
// output and error written to a file, killed with the test process even when that dies first
// (PR_SET_PDEATHSIG), and SIGKILLed and reaped by the destructor if still running (or stopped).
// Waiting for it uses a pidfd, not polling.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace caboose::testing {

class ChildProcess {
 public:
  // `env`: "NAME=value" entries added to (or replacing) the test's environment.
  ChildProcess(std::vector<std::string> argv, std::string output_path,
               std::vector<std::string> env = {})
      : output_path_(std::move(output_path)) {
    std::vector<char*> args;
    for (std::string& a : argv) {
      args.push_back(a.data());
    }
    args.push_back(nullptr);
    // Built before the fork: the child only execs (the test may have threads).
    std::vector<char*> envp;
    for (std::string& e : env) {
      envp.push_back(e.data());
    }
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      const std::string_view name = entry.substr(0, entry.find('='));
      bool replaced = false;
      for (const std::string& mine : env) {
        replaced = replaced || std::string_view(mine).substr(0, mine.find('=')) == name;
      }
      if (!replaced) {
        envp.push_back(*e);
      }
    }
    envp.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) {
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = ::open(output_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) {
        _exit(126);
      }
      ::execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  }
  ~ChildProcess() {
    if (!status_) {
      ::kill(pid_, SIGKILL);  // ends a stopped (SIGSTOP) process too
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (pidfd_ >= 0) {
      ::close(pidfd_);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }

  // Waits up to `timeout` for the process to end; its wait status, or nullopt if still running.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (status_) {
      return status_;
    }
    pollfd p{pidfd_, POLLIN, 0};
    if (pidfd_ >= 0 && ::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
      return std::nullopt;
    }
    int status = 0;
    if (::waitpid(pid_, &status, pidfd_ >= 0 ? 0 : WNOHANG) == pid_) {
      status_ = status;
    }
    return status_;
  }

  // What it printed so far.
  std::string output() const {
    std::ifstream in(output_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::string output_path_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> status_;
};

// Polls `predicate` (cheap reads of shared state) until it holds or `timeout` passes.
template <class Predicate>
bool wait_until(Predicate predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace caboose::testing
