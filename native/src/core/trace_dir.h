// A Rewind trace on disk: a directory holding REWIND_TRACE_METADATA (TSDL text) and one stream
// file per CPU (REWIND_TRACE_STREAM_PREFIX + cpu), as format.h names them.
// Stream files are mapped read-only, so decoding costs page cache, not heap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/metadata.h"
#include "core/stream_decoder.h"

namespace rwd {

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string &path);  // throws SysError naming the path
  MappedFile(MappedFile &&o) noexcept;
  MappedFile &operator=(MappedFile &&o) noexcept;
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  ~MappedFile();
  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  void *map_ = nullptr;
};

class Trace {
 public:
  // Reads and checks dir/metadata and lists the stream files (every regular file but
  // `metadata` and hidden ones, in natural order: stream_2 before stream_10). A file named like a
  // stream (stream_N) that is empty, a fifo or a directory is damage: a DecodeError when strict,
  // else listed in damage() and left out.
  static std::unique_ptr<Trace> open(const std::string &dir, bool strict = false);

  const std::string &dir() const { return dir_; }
  const TraceMeta &meta() const { return meta_; }
  size_t stream_count() const { return paths_.size(); }
  const std::string &stream_path(size_t i) const { return paths_[i]; }
  StreamDecoder decoder(size_t i, bool strict) const;
  // Stream files left out (lenient open), each with its reason.
  const std::vector<Damage> &damage() const { return damage_; }

 private:
  std::string dir_;
  TraceMeta meta_;
  std::vector<std::string> paths_;
  std::vector<MappedFile> files_;
  std::vector<Damage> damage_;
};

// How deep find_traces looks under its root (a unified trace's node directories are at depth 1).
inline constexpr int kMaxTraceDepth = 8;

// The trace directories under root (root itself if it holds `metadata`), sorted; a unified
// trace holds one per node. root may be a symbolic link; below it, links to directories are not
// followed, and a search deeper than kMaxTraceDepth levels is an error naming root.
std::vector<std::string> find_traces(const std::string &root);

// Whole file contents; throws std::runtime_error naming the path.
std::string read_file(const std::string &path, size_t max_bytes);

}  // namespace rwd
