#include "core/trace_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace rwd {

namespace {

std::string sys_error(const std::string &what, const std::string &path) {
  return what + " " + path + ": " + std::strerror(errno);
}

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

bool is_dir(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> list_dir(const std::string &dir) {
  DIR *d = ::opendir(dir.c_str());
  if (!d) throw std::runtime_error(sys_error("cannot open directory", dir));
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
  if (fd < 0) throw std::runtime_error(sys_error("cannot open", path));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw std::runtime_error(sys_error("cannot stat", path));
  }
  size_ = size_t(st.st_size);
  if (size_ > 0) {
    map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map_ == MAP_FAILED) {
      map_ = nullptr;
      ::close(fd);
      throw std::runtime_error(sys_error("cannot map", path));
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

std::unique_ptr<Trace> Trace::open(const std::string &dir) {
  auto t = std::unique_ptr<Trace>(new Trace());
  t->dir_ = dir;
  const std::string meta_path = dir + "/metadata";
  if (!is_regular(meta_path))
    throw std::runtime_error(dir + ": not a Rewind trace (no metadata file)");
  t->meta_ = parse_metadata(meta_path, read_file(meta_path, 64u << 20));
  for (const std::string &name : list_dir(dir)) {
    const std::string path = dir + "/" + name;
    if (name == "metadata" || !is_regular(path)) continue;
    t->files_.emplace_back(path);
    t->paths_.push_back(path);
  }
  return t;
}

StreamDecoder Trace::decoder(size_t i, bool strict) const {
  return StreamDecoder(paths_[i], files_[i].data(), files_[i].size(), meta_.uuid, strict);
}

std::vector<std::string> find_traces(const std::string &root) {
  if (is_regular(root + "/metadata")) return {root};
  if (!is_dir(root)) throw std::runtime_error(root + ": no such directory");
  std::vector<std::string> out;
  for (const std::string &name : list_dir(root)) {
    const std::string path = root + "/" + name;
    if (is_dir(path)) {
      auto sub = find_traces(path);
      out.insert(out.end(), sub.begin(), sub.end());
    }
  }
  return out;
}

}  // namespace rwd
