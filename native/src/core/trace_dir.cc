#include "core/trace_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <rewind/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/sys_error.h"

namespace rwd {

namespace {

// "stream_2" < "stream_10": digit runs compare by value.
bool natural_less(const std::string &a, const std::string &b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (isdigit(static_cast<unsigned char>(a[i])) && isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i, je = j;
      while (ie < a.size() && isdigit(static_cast<unsigned char>(a[ie]))) ie++;
      while (je < b.size() && isdigit(static_cast<unsigned char>(b[je]))) je++;
      std::string x = a.substr(i, ie - i), y = b.substr(j, je - j);
      x.erase(0, std::min(x.find_first_not_of('0'), x.size()));
      y.erase(0, std::min(y.find_first_not_of('0'), y.size()));
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      i++;
      j++;
    }
  }
  return a.size() - i < b.size() - j;
}

bool is_regular(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A directory itself, not a symbolic link to one.
bool is_real_dir(const std::string &path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> list_dir(const std::string &dir) {
  DIR *d = ::opendir(dir.c_str());
  if (!d) throw_sys("opendir", dir, "cannot open directory " + dir);
  std::vector<std::string> names;
  while (const dirent *e = ::readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end(), natural_less);
  return names;
}

}  // namespace

MappedFile::MappedFile(const std::string &path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_sys("open", path, "cannot open " + path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw SysError(e, "fstat", path, "cannot stat " + path);
  }
  size_ = size_t(st.st_size);
  if (size_ > 0) {
    map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map_ == MAP_FAILED) {
      const int e = errno;
      map_ = nullptr;
      ::close(fd);
      throw SysError(e, "mmap", path, "cannot map " + path);
    }
    ::madvise(map_, size_, MADV_SEQUENTIAL);
    data_ = static_cast<const uint8_t *>(map_);
  }
  ::close(fd);
}

MappedFile::MappedFile(MappedFile &&o) noexcept { *this = std::move(o); }

MappedFile &MappedFile::operator=(MappedFile &&o) noexcept {
  if (this != &o) {
    if (map_) ::munmap(map_, size_);
    data_ = o.data_;
    size_ = o.size_;
    map_ = o.map_;
    o.data_ = nullptr;
    o.size_ = 0;
    o.map_ = nullptr;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (map_) ::munmap(map_, size_);
}

std::string read_file(const std::string &path, size_t max_bytes) {
  MappedFile f(path);
  if (f.size() > max_bytes)
    throw std::runtime_error(path + ": larger than " + std::to_string(max_bytes) + " bytes");
  return std::string(reinterpret_cast<const char *>(f.data()), f.size());
}

namespace {

// Why a file named like a stream cannot be one, or "" if it can: the module leaves no stream file
// for a CPU without packets, and a fifo or a directory is nothing to read (stat, not open: a fifo
// would block).
std::string stream_file_problem(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::string("cannot stat: ") + std::strerror(errno);
  if (S_ISFIFO(st.st_mode)) return "not a regular file (a fifo)";
  if (S_ISDIR(st.st_mode)) return "not a regular file (a directory)";
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_size == 0) return "empty stream file (no packets)";
  return {};
}

}  // namespace

std::unique_ptr<Trace> Trace::open(const std::string &dir, bool strict) {
  auto t = std::unique_ptr<Trace>(new Trace());
  t->dir_ = dir;
  const std::string meta_path = dir + "/" REWIND_TRACE_METADATA;
  if (!is_regular(meta_path))
    throw std::runtime_error(dir + ": not a Rewind trace (no metadata file)");
  t->meta_ = parse_metadata(meta_path, read_file(meta_path, 64u << 20));
  for (const std::string &name : list_dir(dir)) {
    const std::string path = dir + "/" + name;
    if (name == REWIND_TRACE_METADATA) continue;
    if (name.rfind(REWIND_TRACE_STREAM_PREFIX, 0) == 0) {
      const std::string problem = stream_file_problem(path);
      if (!problem.empty()) {
        if (strict) throw DecodeError(path, 0, problem);
        t->damage_.push_back({path, 0, problem});
        continue;
      }
    }
    if (!is_regular(path)) continue;
    t->files_.emplace_back(path);
    t->paths_.push_back(path);
  }
  return t;
}

StreamDecoder Trace::decoder(size_t i, bool strict) const {
  return StreamDecoder(paths_[i], files_[i].data(), files_[i].size(), meta_.uuid, strict);
}

namespace {

// Searching never follows a symbolic link to a directory (two `x -> .` links would make it
// endless, and unpacked archives are not trusted), and gives up below kMaxTraceDepth.
void find_traces_in(const std::string &root, const std::string &dir, int depth,
                    std::vector<std::string> &out) {
  for (const std::string &name : list_dir(dir)) {
    const std::string path = dir + "/" + name;
    if (!is_real_dir(path)) continue;
    if (is_regular(path + "/" REWIND_TRACE_METADATA)) {
      out.push_back(path);
      continue;
    }
    if (depth == kMaxTraceDepth)
      throw std::runtime_error(root + ": directories nested deeper than " +
                               std::to_string(kMaxTraceDepth) + " levels (" + path +
                               "); give the trace directories themselves");
    find_traces_in(root, path, depth + 1, out);
  }
}

}  // namespace

std::vector<std::string> find_traces(const std::string &root) {
  if (is_regular(root + "/" REWIND_TRACE_METADATA)) return {root};
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) throw_sys("stat", root, "cannot read traces in " + root);
  if (!S_ISDIR(st.st_mode)) throw SysError(ENOTDIR, "stat", root, "cannot read traces in " + root);
  std::vector<std::string> out;
  find_traces_in(root, root, 1, out);
  return out;
}

}  // namespace rwd
