#include "reliability/store_check.h"

#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <sqlite3.h>

#include "caboose/core/value.h"
#include "caboose/persistence/fetch.h"

namespace caboose::reliability {
namespace {

namespace fs = std::filesystem;

std::string sqlite_problems(const std::string& file) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return fmt::format("cannot open {}\n", file);
  }
  std::string result;
  sqlite3_exec(
      db, "PRAGMA integrity_check",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) += values[0] != nullptr ? values[0] : "";
        return 0;
      },
      &result, nullptr);
  sqlite3_close(db);
  return result == "ok" ? "" : fmt::format("integrity_check of {}: {}\n", file, result);
}

std::string dir_problems(const fs::path& root) {
  std::string problems;
  std::size_t records = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.is_symlink()) {
      continue;
    }
    const std::string name = entry.path().filename().string();
    const bool fence = entry.path().parent_path().filename() == "caboose_fences";
    if (name != "metadata" && !fence) {
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    ++records;
    if (fence) {
      const std::string t = text.str();
      if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos) {
        problems += fmt::format("fence {} holds '{}'\n", entry.path().string(), t);
      }
    } else if (!Value::accept(text.str())) {
      problems += fmt::format("record {} is not JSON ({} bytes)\n", entry.path().string(),
                              text.str().size());
    }
  }
  if (records == 0) {
    problems += fmt::format("no records under {}\n", root.string());
  }
  try {
    auto backend = persistence::fetch("dir://" + root.string());
    for (const auto& book : backend->get_logbooks(/*lazy=*/false)) {
      static_cast<void>(book);
    }
  } catch (const std::exception& e) {
    problems += fmt::format("cannot read the store back: {}\n", e.what());
  }
  return problems;
}

}  // namespace

std::string store_problems(const std::string& uri) {
  if (const std::string_view prefix = "sqlite:///"; uri.starts_with(prefix)) {
    std::string file = uri.substr(prefix.size());
    return sqlite_problems(file.substr(0, file.find('?')));
  }
  if (const std::string_view prefix = "dir://"; uri.starts_with(prefix)) {
    return dir_problems(uri.substr(prefix.size()));
  }
  return fmt::format("no check for the store {}\n", uri);
}

}  // namespace caboose::reliability
