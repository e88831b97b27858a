#include "caboose/core/uuid.h"

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace caboose {
namespace {

TEST(UuidTest, VersionFourAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string u = make_uuid();
    ASSERT_TRUE(is_uuid(u)) << u;
    EXPECT_EQ(u[14], '4') << u;
    EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(is_uuid("not-a-uuid"));
  EXPECT_FALSE(is_uuid("0f1e2d3c-4b5a-4697-8877-66554433221g"));
}

TEST(UuidTest, ForkedProcessesDoNotRepeatTheParentsUuids) {
  (void)make_uuid();  // the parent's generator is seeded before the fork
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  constexpr int kChildren = 3;
  for (int c = 0; c < kChildren; ++c) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string u = make_uuid() + "\n";
      _exit(write(fds[1], u.data(), u.size()) == static_cast<ssize_t>(u.size()) ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  close(fds[1]);
  std::string all;
  char buffer[512];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) {
    all.append(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  std::set<std::string> uuids{make_uuid()};
  for (std::size_t at = 0, end; (end = all.find('\n', at)) != std::string::npos; at = end + 1) {
    uuids.insert(all.substr(at, end - at));
  }
  EXPECT_EQ(uuids.size(), static_cast<std::size_t>(kChildren + 1)) << all;
}

}  // namespace
}  // namespace caboose
