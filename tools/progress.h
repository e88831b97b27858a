// A progress line for long work, on standard error and only on a terminal: each update
// rewrites the line; done() ends it. Off the terminal (a pipe, a log file, --json) it prints
// nothing, so scripts see only the command's result.
#pragma once

#include <unistd.h>

#include <iostream>
#include <string>

namespace caboose::cli {

class Progress {
 public:
  explicit Progress(bool wanted = true) : on_(wanted && ::isatty(2) == 1) {}
  ~Progress() { done(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(const std::string& text) {
    if (on_) {
      std::cerr << "\r" << text << "\x1b[K" << std::flush;
      shown_ = true;
    }
  }
  void done() {
    if (shown_) {
      std::cerr << "\n" << std::flush;
      shown_ = false;
    }
  }

 private:
  const bool on_;
  bool shown_ = false;
};

}  // namespace caboose::cli
