#include "caboose/persistence/dir_backend.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "caboose/core/errors.h"

#include "persistence/json_text.h"

namespace caboose::persistence {
namespace {

namespace fs = std::filesystem;

constexpr int kLayoutVersion = 1;
constexpr const char* kMetadata = "metadata";
constexpr const char* kOrder = "caboose_order";
// Not in books/: TaskFlow takes every entry there for a book.
constexpr const char* kBookOrder = "caboose_book_order";

[[noreturn]] void fail(const std::string& what, const fs::path& path) {
  throw StorageFailure(fmt::format("{} '{}': {}", what, path.string(), std::strerror(errno)));
}

// Closes `fd` keeping errno (for a failure being reported).
void close_keeping_errno(int fd) {
  const int saved = errno;
  ::close(fd);
  errno = saved;
}

// Runs `body`, turning std::filesystem's errors (a stat, a listing or a removal that failed with
// EIO, EACCES, ...) into the StorageFailure every backend reports, so that callers can tell a
// failing disk from a missing or malformed record.
template <class Body>
decltype(auto) io(const fs::path& root, Body&& body) {
  try {
    return body();
  } catch (const fs::filesystem_error& e) {
    std::throw_with_nested(
        StorageFailure(fmt::format("directory backend '{}': {}", root.string(), e.what())));
  }
}

// Writes `text` to `path` atomically and durably: a temporary file in the same directory,
// fsync, rename over `path`, fsync of the directory. Throws StorageFailure with the errno's text
// when a step fails (ENOSPC, EIO, ...); `path` then holds its old content or, when only the
// directory's fsync failed, the new one, never a part of either.
void write_atomically(const fs::path& path, const std::string& text) {
  static std::atomic<unsigned> counter{0};
  const fs::path tmp = path.parent_path() / fmt::format(".{}.tmp.{}.{}", path.filename().string(),
                                                        ::getpid(), counter.fetch_add(1));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    fail("cannot create", tmp);
  }
  auto give_up = [&](const char* what) {
    close_keeping_errno(fd);
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail(what, tmp);
  };
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      give_up("cannot write");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    give_up("cannot sync");
  }
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail("cannot close", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail("cannot replace", path);
  }
  const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    fail("cannot open the directory of", path);
  }
  if (::fsync(dir) != 0) {
    close_keeping_errno(dir);
    fail("cannot sync the directory of", path);
  }
  ::close(dir);
}

// The whole content of `path`, or nullopt when it does not exist. Throws StorageFailure with the
// errno's text when it cannot be opened or read (a failing read is never taken for a short or
// missing record).
std::optional<std::string> read_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    fail("cannot open", path);
  }
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      close_keeping_errno(fd);
      fail("cannot read", path);
    }
    if (n == 0) {
      break;
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

class DirBackend final : public Backend {
 public:
  explicit DirBackend(const std::string& path) {
    std::error_code ec;
    root_ = fs::absolute(path, ec);
    if (ec) {
      throw StorageFailure(fmt::format("bad directory path '{}': {}", path, ec.message()));
    }
    upgrade();
  }

  ~DirBackend() override { close(); }

  void upgrade() override {
    return io(root_, [&] {
      std::lock_guard lock(mu_);
      std::error_code ec;
      for (const char* folder : {"books", "flow_details", "atom_details", "caboose_fences"}) {
        fs::create_directories(root_ / folder, ec);
        if (ec) {
          throw StorageFailure(
              fmt::format("cannot create '{}': {}", (root_ / folder).string(), ec.message()));
        }
      }
      open_lock();
      FileLock guard(lock_fd_, LOCK_EX);
      const int version = layout_version();
      if (version > kLayoutVersion) {
        throw StorageFailure(fmt::format(
            "directory '{}' has caboose layout version {}, newer than this caboose knows ({}): "
            "upgrade caboose",
            root_.string(), version, kLayoutVersion));
      }
      if (version < kLayoutVersion) {
        write_atomically(root_ / "caboose_schema", std::to_string(kLayoutVersion));
      }
    });
  }

  void validate() override {
    return io(root_, [&] {
      std::lock_guard lock(mu_);
      for (const char* folder : {"books", "flow_details", "atom_details", "caboose_fences"}) {
        if (!fs::is_directory(root_ / folder)) {
          throw StorageFailure(fmt::format("directory '{}' has no folder '{}': run upgrade() first",
                                           root_.string(), folder));
        }
      }
      if (layout_version() > kLayoutVersion) {
        throw StorageFailure(
            fmt::format("directory '{}' has a newer caboose layout", root_.string()));
      }
    });
  }

  void close() override {
    std::lock_guard lock(mu_);
    if (lock_fd_ >= 0) {
      ::close(lock_fd_);
      lock_fd_ = -1;
    }
    closed_ = true;
  }

  FenceToken fence(std::string_view flow_uuid, FenceToken token) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_EX);
      require_flow(flow_uuid);
      const FenceToken now_in_force = std::max(fence_of(flow_uuid), token);
      write_atomically(root_ / "caboose_fences" / std::string(flow_uuid),
                       std::to_string(now_in_force));
      return now_in_force;
    });
  }

  FenceToken current_fence(std::string_view flow_uuid) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_SH);
      require_flow(flow_uuid);
      return fence_of(flow_uuid);
    });
  }

  LogBook get_logbook(std::string_view book_uuid, bool lazy) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_SH);
      return read_book(book_uuid, lazy);
    });
  }

  std::vector<LogBook> get_logbooks(bool lazy) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_SH);
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(root_ / "books")) {
        if (entry.is_directory() && fs::exists(entry.path() / kMetadata)) {
          found.push_back(entry.path().filename().string());
        }
      }
      std::vector<LogBook> books;
      for (const std::string& uuid : in_order(found, root_ / kBookOrder)) {
        books.push_back(read_book(uuid, lazy));
      }
      return books;
    });
  }

  std::vector<FlowDetail> get_flows_for_book(std::string_view book_uuid) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_SH);
      return read_book(book_uuid, /*lazy=*/false).flows;
    });
  }

  FlowDetail get_flow_details(std::string_view flow_uuid, bool lazy) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_SH);
      return read_flow(flow_uuid, lazy);
    });
  }

  AtomDetail get_atom_details(std::string_view atom_uuid) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_SH);
      return read_atom(atom_uuid);
    });
  }

  std::vector<AtomDetail> get_atoms_for_flow(std::string_view flow_uuid) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_SH);
      return read_flow(flow_uuid, /*lazy=*/false).atoms;
    });
  }

  void destroy_logbook(std::string_view book_uuid) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_EX);
      const fs::path book_dir = object_dir("books", book_uuid);
      if (!fs::exists(book_dir / kMetadata)) {
        throw NotFound(fmt::format("no logbook {}", book_uuid));
      }
      for (const std::string& flow : children(book_dir)) {
        const fs::path flow_dir = object_dir("flow_details", flow);
        for (const std::string& atom : children(flow_dir)) {
          fs::remove_all(object_dir("atom_details", atom));
          atom_flow_.erase(atom);
        }
        fs::remove_all(flow_dir);
        fs::remove(root_ / "caboose_fences" / flow);
      }
      fs::remove_all(book_dir);
    });
  }

  void clear_all() override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_EX);
      for (const char* folder : {"books", "flow_details", "atom_details", "caboose_fences"}) {
        for (const auto& entry : fs::directory_iterator(root_ / folder)) {
          fs::remove_all(entry.path());
        }
      }
      atom_flow_.clear();
    });
  }

 protected:
  LogBook do_save_logbook(const LogBook& book, std::optional<FenceToken> token) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_EX);
      for (const FlowDetail& flow : book.flows) {  // checked before anything is written
        if (token && fs::exists(object_dir("flow_details", flow.uuid) / kMetadata)) {
          check_fence(flow.uuid, fence_of(flow.uuid), token);
        }
      }
      const fs::path dir = object_dir("books", book.uuid);
      LogBook fields = book;
      fields.flows.clear();
      if (fs::exists(dir / kMetadata)) {
        LogBook stored = read_book(book.uuid, /*lazy=*/true);
        stored.merge(fields);
        fields = std::move(stored);
      } else {
        make_object_dir(dir);
        append_line(root_ / kBookOrder, book.uuid);
      }
      for (const FlowDetail& flow : book.flows) {
        const std::optional<std::string> owner = book_of_flow(flow.uuid);
        if (owner && *owner != book.uuid) {
          throw StorageFailure(fmt::format("flow detail {} belongs to logbook {}, not {}",
                                           flow.uuid, *owner, book.uuid));
        }
      }
      write_atomically(dir / kMetadata, detail::python_json(fields.to_dict(/*marshal_time=*/true)));
      for (const FlowDetail& flow : book.flows) {
        save_flow(flow);
        link_child(dir, "flow_details", flow.uuid);
      }
      return read_book(book.uuid, /*lazy=*/false);
    });
  }

  void do_update_flow_details(const FlowDetail& flow, std::optional<FenceToken> token) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_EX);
      if (!fs::exists(object_dir("flow_details", flow.uuid) / kMetadata) ||
          !book_of_flow(flow.uuid)) {
        throw NotFound(
            fmt::format("flow detail {} is not stored (save its logbook first)", flow.uuid));
      }
      if (token) {
        check_fence(flow.uuid, fence_of(flow.uuid), token);
      }
      save_flow(flow);
    });
  }

  void do_update_atom_details(const AtomDetail& atom, std::optional<FenceToken> token) override {
    return io(root_, [&] {
      auto guard = lock_for(LOCK_EX);
      const fs::path dir = object_dir("atom_details", atom.uuid);
      if (!fs::exists(dir / kMetadata)) {
        throw NotFound(fmt::format("atom detail {} ('{}') is not stored", atom.uuid, atom.name));
      }
      if (token) {
        const std::optional<std::string> flow = flow_of_atom(atom.uuid);
        if (flow) {
          check_fence(*flow, fence_of(*flow), token);
        }
      }
      AtomDetail stored = read_atom(atom.uuid);
      stored.merge(atom);
      write_atom(stored);
    });
  }

 private:
  // An advisory lock on the root, held for one call: shared to read, exclusive to write.
  class FileLock {
   public:
    FileLock(int fd, int mode) : fd_(fd) {
      while (::flock(fd_, mode) != 0) {
        if (errno != EINTR) {
          throw StorageFailure(fmt::format("cannot lock: {}", std::strerror(errno)));
        }
      }
    }
    ~FileLock() { ::flock(fd_, LOCK_UN); }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

   private:
    int fd_;
  };

  // Held for one call: the in-process mutex, then the lock on the root.
  class Guard {
   public:
    Guard(DirBackend& b, int mode) : in_process_(b.mu_), across_processes_(b.lock_fd(), mode) {}

   private:
    std::unique_lock<std::mutex> in_process_;
    FileLock across_processes_;
  };

  Guard lock_for(int mode) { return Guard(*this, mode); }

  // Under mu_: the root's lock file, opened on first use.
  int lock_fd() {
    if (closed_) {
      throw StorageFailure(fmt::format("directory backend '{}' is closed", root_.string()));
    }
    open_lock();
    return lock_fd_;
  }

  void open_lock() {
    if (lock_fd_ >= 0) {
      return;
    }
    const fs::path file = root_ / ".caboose.lock";
    lock_fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) {
      fail("cannot open", file);
    }
  }

  int layout_version() const {
    const std::optional<std::string> text = read_file(root_ / "caboose_schema");
    if (!text) {
      return 0;
    }
    try {
      return std::stoi(*text);
    } catch (const std::exception&) {
      throw InvalidFormat(
          fmt::format("'{}' holds no version: '{}'", (root_ / "caboose_schema").string(), *text));
    }
  }

  fs::path object_dir(const char* folder, std::string_view uuid) const {
    if (uuid.empty() || uuid.find('/') != std::string_view::npos || uuid == "." || uuid == "..") {
      throw InvalidArgument(fmt::format("'{}' cannot name a stored object", uuid));
    }
    return root_ / folder / std::string(uuid);
  }

  static void make_object_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      throw StorageFailure(fmt::format("cannot create '{}': {}", dir.string(), ec.message()));
    }
    const fs::path lock = dir / "lock";
    if (!fs::exists(lock)) {
      std::ofstream touch(lock);
      if (!touch) {
        fail("cannot create", lock);
      }
    }
  }

  // The children of a book or flow directory (its symlinks), in the order they were added.
  static std::vector<std::string> children(const fs::path& dir) {
    std::vector<std::string> linked;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.is_symlink()) {
        linked.push_back(entry.path().filename().string());
      }
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      throw StorageFailure(fmt::format("cannot list '{}': {}", dir.string(), ec.message()));
    }
    return in_order(linked, dir / kOrder);
  }

  // `present` ordered as listed in `order_file` (one uuid per line), the ones it does not list
  // (added by another program) after them, by name.
  static std::vector<std::string> in_order(const std::vector<std::string>& present,
                                           const fs::path& order_file) {
    const std::vector<std::string>& linked = present;
    std::vector<std::string> ordered;
    if (const std::optional<std::string> order = read_file(order_file)) {
      std::istringstream in(*order);
      for (std::string uuid; std::getline(in, uuid);) {
        if (std::find(linked.begin(), linked.end(), uuid) != linked.end() &&
            std::find(ordered.begin(), ordered.end(), uuid) == ordered.end()) {
          ordered.push_back(uuid);
        }
      }
    }
    std::vector<std::string> rest;  // linked by another program (Python TaskFlow): by name
    for (const std::string& uuid : linked) {
      if (std::find(ordered.begin(), ordered.end(), uuid) == ordered.end()) {
        rest.push_back(uuid);
      }
    }
    std::sort(rest.begin(), rest.end());
    ordered.insert(ordered.end(), rest.begin(), rest.end());
    return ordered;
  }

  void link_child(const fs::path& parent, const char* folder, const std::string& uuid) {
    const fs::path link = parent / uuid;
    std::error_code ec;
    if (fs::is_symlink(link, ec)) {
      return;
    }
    fs::create_symlink(object_dir(folder, uuid), link, ec);
    if (ec) {
      throw StorageFailure(fmt::format("cannot link '{}': {}", link.string(), ec.message()));
    }
    append_line(parent / kOrder, uuid);
  }

  // Appends one line durably. A crash or a failed write (ENOSPC) may leave a partial last line;
  // readers skip it, and the next append starts a new line after it.
  static void append_line(const fs::path& file, const std::string& line) {
    const int fd = ::open(file.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      fail("cannot open", file);
    }
    std::string text = line + "\n";
    struct stat st {};
    char last = '\n';
    if (::fstat(fd, &st) != 0 || (st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) != 1)) {
      close_keeping_errno(fd);
      fail("cannot read the end of", file);
    }
    if (last != '\n') {
      text.insert(text.begin(), '\n');
    }
    errno = 0;
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    if (!ok) {
      if (errno == 0) {
        errno = ENOSPC;  // a short write: the disk had room for part of the line only
      }
      close_keeping_errno(fd);
      fail("cannot append to", file);
    }
    ::close(fd);
  }

  Value read_json(const fs::path& file, const std::string& what) const {
    const std::optional<std::string> text = read_file(file);
    if (!text) {
      throw NotFound(fmt::format("no {}", what));
    }
    return detail::parse_stored_json(*text, fmt::format("{} ('{}')", what, file.string()));
  }

  LogBook read_book(std::string_view uuid, bool lazy) {
    const fs::path dir = object_dir("books", uuid);
    LogBook book = LogBook::from_dict(read_json(dir / kMetadata, fmt::format("logbook {}", uuid)));
    if (!lazy) {
      for (const std::string& flow : children(dir)) {
        book.flows.push_back(read_flow(flow, /*lazy=*/false));
      }
    }
    return book;
  }

  FlowDetail read_flow(std::string_view uuid, bool lazy) {
    const fs::path dir = object_dir("flow_details", uuid);
    FlowDetail flow =
        FlowDetail::from_dict(read_json(dir / kMetadata, fmt::format("flow detail {}", uuid)));
    if (!lazy) {
      for (const std::string& atom : children(dir)) {
        flow.atoms.push_back(read_atom(atom));
        atom_flow_[atom] = flow.uuid;
      }
    }
    return flow;
  }

  AtomDetail read_atom(std::string_view uuid) {
    const std::string what = fmt::format("atom detail {}", uuid);
    const fs::path file = object_dir("atom_details", uuid) / kMetadata;
    const std::optional<std::string> text = read_file(file);
    if (!text) {
      throw NotFound(fmt::format("no {}", what));
    }
    return detail::parse_atom_record(*text, fmt::format("{} ('{}')", what, file.string()));
  }

  void write_atom(const AtomDetail& atom) {
    write_atomically(object_dir("atom_details", atom.uuid) / kMetadata, detail::atom_record(atom));
  }

  void save_flow(const FlowDetail& flow) {
    const fs::path dir = object_dir("flow_details", flow.uuid);
    if (!fs::exists(dir / kMetadata)) {
      make_object_dir(dir);
    }
    for (const AtomDetail& atom : flow.atoms) {
      const std::optional<std::string> owner = flow_of_atom(atom.uuid);
      if (owner && *owner != flow.uuid) {
        throw StorageFailure(fmt::format("atom detail {} belongs to flow detail {}, not {}",
                                         atom.uuid, *owner, flow.uuid));
      }
    }
    write_atomically(dir / kMetadata, detail::python_json(flow.to_dict()));
    for (const AtomDetail& atom : flow.atoms) {
      const fs::path atom_dir = object_dir("atom_details", atom.uuid);
      if (fs::exists(atom_dir / kMetadata)) {
        AtomDetail stored = read_atom(atom.uuid);
        stored.merge(atom);
        write_atom(stored);
      } else {
        make_object_dir(atom_dir);
        write_atom(atom);
      }
      link_child(dir, "atom_details", atom.uuid);
      atom_flow_[atom.uuid] = flow.uuid;
    }
  }

  // The book whose directory links the flow, if any.
  std::optional<std::string> book_of_flow(const std::string& flow_uuid) {
    for (const auto& entry : fs::directory_iterator(root_ / "books")) {
      if (fs::is_symlink(entry.path() / flow_uuid)) {
        return entry.path().filename().string();
      }
    }
    return std::nullopt;
  }

  // The flow whose directory links the atom, if any (cached: atoms never move).
  std::optional<std::string> flow_of_atom(const std::string& atom_uuid) {
    if (const auto it = atom_flow_.find(atom_uuid); it != atom_flow_.end()) {
      return it->second;
    }
    for (const auto& entry : fs::directory_iterator(root_ / "flow_details")) {
      if (fs::is_symlink(entry.path() / atom_uuid)) {
        const std::string flow = entry.path().filename().string();
        atom_flow_[atom_uuid] = flow;
        return flow;
      }
    }
    return std::nullopt;
  }

  void require_flow(std::string_view flow_uuid) {
    if (!fs::exists(object_dir("flow_details", flow_uuid) / kMetadata)) {
      throw NotFound(fmt::format("no flow detail {}", flow_uuid));
    }
  }

  FenceToken fence_of(std::string_view flow_uuid) {
    const fs::path file = root_ / "caboose_fences" / std::string(flow_uuid);
    const std::optional<std::string> text = read_file(file);
    if (!text) {
      return 0;
    }
    try {
      return std::stoll(*text);
    } catch (const std::exception&) {
      throw InvalidFormat(fmt::format("fence file '{}' holds '{}'", file.string(), *text));
    }
  }

  fs::path root_;
  std::mutex mu_;
  int lock_fd_ = -1;                                        // Guarded by mu_.
  bool closed_ = false;                                     // Guarded by mu_.
  std::unordered_map<std::string, std::string> atom_flow_;  // Guarded by mu_.
};

}  // namespace

std::unique_ptr<Backend> make_dir_backend(const std::string& path) {
  return std::make_unique<DirBackend>(path);
}

}  // namespace caboose::persistence
