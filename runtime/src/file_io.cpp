#include "file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace waybill::runtime::fileio {

namespace {

constexpr size_t kFlushBytes = 1 << 20;

Status io_error(const std::string& what, const std::string& path) {
  return {Code::internal, what + " " + path + ": " + std::strerror(errno)};
}

std::string parent_of(const std::string& path) {
  auto p = std::filesystem::path(path).parent_path().string();
  return p.empty() ? "." : p;
}

}  // namespace

Result<std::string> read_file(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return io_error("cannot stat", path);
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return Status{Code::payload_too_large, "is larger than " + std::to_string(max_bytes) + " bytes"};
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return io_error("cannot read", path);
    }
    if (n == 0) break;  // shrank while reading: take what is there
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  ::close(fd);
  return out;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

Status AtomicFile::open(const std::string& path) {
  path_ = path;
  auto p = std::filesystem::path(path);
  tmp_ = (p.parent_path() / ("." + p.filename().string() + ".tmp")).string();
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return io_error("cannot create", tmp_);
  return {};
}

Status AtomicFile::append(std::string_view data) {
  buffer_.append(data);
  return buffer_.size() >= kFlushBytes ? flush() : Status{};
}

Status AtomicFile::flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot write", tmp_);
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
  return {};
}

Status AtomicFile::commit() {
  if (fd_ < 0) return {Code::internal, "file not open: " + path_};
  if (auto st = flush(); !st.ok()) return st;
  if (::fsync(fd_) != 0) return io_error("cannot fsync", tmp_);
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    auto st = io_error("cannot rename onto", path_);
    ::unlink(tmp_.c_str());
    return st;
  }
  return fsync_dir(parent_of(path_));
}

Status write_atomically(const std::string& path, std::string_view content) {
  AtomicFile f;
  if (auto st = f.open(path); !st.ok()) return st;
  if (auto st = f.append(content); !st.ok()) return st;
  return f.commit();
}

Status move_durably(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return io_error("cannot move " + from + " to", to);
  if (auto st = fsync_dir(parent_of(to)); !st.ok()) return st;
  return fsync_dir(parent_of(from));
}

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("cannot fsync directory", dir);
  return {};
}

std::string free_name(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / name, ec)) return name;
  auto stem = fs::path(name).stem().string(), ext = fs::path(name).extension().string();
  for (int i = 1; i < 1000; ++i) {
    std::string candidate = stem + "." + std::to_string(i) + ext;
    if (!fs::exists(fs::path(dir) / candidate, ec)) return candidate;
  }
  return stem + "." + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + ext;
}

}  // namespace waybill::runtime::fileio
