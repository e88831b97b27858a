#include "support/server_process.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

namespace caboose::testing {

pid_t spawn_server(const ServerCommand& command) {
  // Everything the child needs, built before the fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  args.reserve(command.argv.size() + 1);
  for (const std::string& a : command.argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  const char* output = command.output.c_str();
  const passwd* user = command.user;
  const int death_signal = command.death_signal;

  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    if (user != nullptr && (::setgroups(0, nullptr) != 0 || ::setgid(user->pw_gid) != 0 ||
                            ::setuid(user->pw_uid) != 0)) {
      _exit(126);
    }
    // Dies with the test process even when that is killed (no destructor runs then).
    ::prctl(PR_SET_PDEATHSIG, death_signal);
    const int fd = ::open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || ::dup2(fd, STDOUT_FILENO) < 0 || ::dup2(fd, STDERR_FILENO) < 0) {
      _exit(126);
    }
    ::execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

ServerStart await_server(pid_t pid, const std::function<bool()>& ready,
                         std::chrono::milliseconds timeout, std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return ServerStart::kExited;
    }
    if (ready()) {
      return ServerStart::kReady;
    }
    std::this_thread::sleep_for(poll);
  }
  ::kill(pid, SIGKILL);
  wait_exit(pid);
  return ServerStart::kTimedOut;
}

void stop_server(pid_t& pid, int signal, std::chrono::milliseconds grace) noexcept {
  if (pid <= 0) {
    return;
  }
  ::kill(pid, signal);
  if (grace.count() > 0) {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid, SIGKILL);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  wait_exit(pid);
  pid = -1;
}

std::string with_output(const std::string& what, const std::string& file, std::size_t bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return what + " (" + file + " could not be read)";
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() <= bytes) {
    return what + "; " + file + ":\n" + text;
  }
  // The start says what failed (a fatal message before its stack), the end what came last.
  return what + "; " + file + " (its start and end):\n" + text.substr(0, bytes / 2) + "\n...\n" +
         text.substr(text.size() - bytes / 2);
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return -1;  // already reaped
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace caboose::testing
