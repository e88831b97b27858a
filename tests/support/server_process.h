// Starting and stopping the private servers tests use (Redis, ZooKeeper, etcd, PostgreSQL): a
// fork/exec whose arguments are built before the fork (a test may have threads: the child only
// execs), that dies with the test process, then a wait until it answers.
#pragma once

#include <pwd.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace caboose::testing {

struct ServerCommand {
  std::vector<std::string> argv;  // argv[0]: the program's absolute path
  std::string output;             // stdout and stderr are appended to this file
  int death_signal = SIGKILL;     // what it gets when the test process dies (PR_SET_PDEATHSIG)
  const passwd* user = nullptr;   // when set, the child runs as this user (root's tests)
};

// Forks and execs the command; its PID. Throws std::runtime_error when fork fails.
pid_t spawn_server(const ServerCommand& command);

enum class ServerStart { kReady, kExited, kTimedOut };

// Polls ready() every `poll` until it answers true (kReady), the process exits first (kExited,
// reaped: a port taken between the probe and the bind, say, and the caller picks another), or
// `timeout` passes (kTimedOut: the process is SIGKILLed and reaped).
ServerStart await_server(pid_t pid, const std::function<bool()>& ready,
                         std::chrono::milliseconds timeout,
                         std::chrono::milliseconds poll = std::chrono::milliseconds(50));

// Sends `signal` to the server and reaps it; past `grace` (when not zero) SIGKILLs it. pid
// becomes -1. Nothing when pid is not positive.
void stop_server(pid_t& pid, int signal = SIGKILL,
                 std::chrono::milliseconds grace = std::chrono::milliseconds(0)) noexcept;

// "<what>; <file>:\n<its text>" (at most `bytes` of it: its start and its end), for an error
// that must say why a server would not start once its directory is gone.
std::string with_output(const std::string& what, const std::string& file, std::size_t bytes = 3000);

// Waits for the process to end; its exit status, or 128 + the signal that ended it.
int wait_exit(pid_t pid);

}  // namespace caboose::testing
