// Runs a shell command for a test (the Python peer, say): its standard output and error, and
// a test failure naming the command and its output when it exits non-zero.
#pragma once

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace caboose::testing {

inline std::string run_command(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
  if (!pipe) {
    throw std::runtime_error("cannot run " + command);
  }
  std::string out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get())) {
    out.append(buffer, n);
  }
  EXPECT_EQ(pclose(pipe.release()), 0) << command << "\n" << out;
  return out;
}

}  // namespace caboose::testing
