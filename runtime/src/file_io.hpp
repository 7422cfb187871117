// Internal: small POSIX file helpers for the flat-file side. Files other programs read
// (reject reports, exports) appear only complete: written to a hidden temporary file
// in the same directory, fsynced, renamed, and the directory fsynced.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "waybill/status.hpp"

namespace waybill::runtime::fileio {

/// The whole file, or an error when it is larger than `max_bytes`
/// (payload_too_large) or cannot be read.
Result<std::string> read_file(const std::string& path, uint64_t max_bytes);

/// A file that becomes visible under its name only on commit().
class AtomicFile {
 public:
  AtomicFile() = default;
  ~AtomicFile();  // an uncommitted file is removed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status open(const std::string& path);
  /// Buffered; flushed in 1 MiB pieces.
  Status append(std::string_view data);
  /// Flush, fsync, rename onto the final name, fsync the directory.
  Status commit();

 private:
  Status flush();
  std::string path_, tmp_, buffer_;
  int fd_ = -1;
};

/// Writes `content` to `path` atomically (see AtomicFile).
Status write_atomically(const std::string& path, std::string_view content);
/// rename(2) plus fsync of both directories, so the move survives a crash.
Status move_durably(const std::string& from, const std::string& to);
Status fsync_dir(const std::string& dir);
/// A name in `dir` that is still free: `name`, else "stem.1.ext", "stem.2.ext", ...
/// (bounded), else one made unique by the time. For files moved into processed/.
std::string free_name(const std::string& dir, const std::string& name);

}  // namespace waybill::runtime::fileio
