#include "core/output.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <stdexcept>

#include "core/sys_error.h"
#include "core/trace_dir.h"
#include "core/writer.h"

namespace rwd {

namespace {

std::vector<std::string> components(const std::string &p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < p.size()) {
    const size_t j = p.find('/', i);
    const size_t end = j == std::string::npos ? p.size() : j;
    if (end > i) out.push_back(p.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

std::string parent_of(const std::string &p) {
  const size_t s = p.rfind('/');
  return s == 0 ? "/" : p.substr(0, s);
}

std::string base_of(const std::string &p) { return p.substr(p.rfind('/') + 1); }

std::string resolved(const std::string &p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : p;
}

// Empty directory or empty file (a missing path is "empty" too).
bool is_empty(const std::string &path, const struct stat &st) {
  if (!S_ISDIR(st.st_mode)) return st.st_size == 0;
  DIR *d = ::opendir(path.c_str());
  if (!d) throw_sys("opendir", path, "cannot read " + path);
  bool empty = true;
  while (const dirent *e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") empty = false;
  }
  ::closedir(d);
  return empty;
}

}  // namespace

std::string real_path(const std::string &p) {
  std::string base;
  if (p.empty() || p[0] != '/') {
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) throw_sys("getcwd", p, "cannot resolve " + p);
    base = resolved(cwd);
  }
  std::string cur = base.empty() ? "/" : base;
  bool exists = true;
  for (const std::string &c : components(p)) {
    if (c == ".") continue;
    if (c == "..") {
      cur = parent_of(cur);  // cur holds no symbolic link: ".." is its parent
      continue;
    }
    const std::string next = cur == "/" ? "/" + c : cur + "/" + c;
    struct stat st;
    if (exists && ::lstat(next.c_str(), &st) == 0) {
      cur = resolved(next);  // a dangling link stays as named
    } else {
      exists = false;
      cur = next;
    }
  }
  return cur;
}

bool path_within(const std::string &a, const std::string &b) {
  if (a == b || b == "/") return true;
  return a.size() > b.size() && a.compare(0, b.size(), b) == 0 && a[b.size()] == '/';
}

std::vector<std::string> input_paths(const std::vector<std::string> &inputs) {
  std::vector<std::string> out;
  for (const std::string &in : inputs) {
    out.push_back(real_path(in));
    for (const std::string &dir : find_traces(in)) {
      out.push_back(real_path(dir));
      DIR *d = ::opendir(dir.c_str());
      if (!d) throw_sys("opendir", dir, "cannot open directory " + dir);
      while (const dirent *e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(real_path(dir + "/" + n));
      }
      ::closedir(d);
    }
  }
  return out;
}

void check_output_apart(const std::string &output, const std::vector<std::string> &inputs,
                        const std::string &what) {
  const std::string out = real_path(output);
  for (const std::string &in : inputs) {
    if (path_within(out, in))
      throw std::invalid_argument(what + " " + output + " is or lies inside input " + in +
                                  ": writing it would destroy the input");
    if (path_within(in, out))
      throw std::invalid_argument(what + " " + output + " contains input " + in +
                                  ": writing it would destroy the input");
  }
}

void remove_tree(const std::string &path) {
  ::nftw(
      path.c_str(),
      [](const char *p, const struct stat *, int, struct FTW *) {
        ::remove(p);
        return 0;  // go on: remove what can be removed
      },
      16, FTW_DEPTH | FTW_PHYS);
}

StagedOutput::StagedOutput(std::string path, Kind kind, bool force)
    : path_(real_path(path)), kind_(kind), force_(force) {
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0) {
    const bool dir = S_ISDIR(st.st_mode);
    if (kind == Kind::Directory && !dir)
      throw SysError(ENOTDIR, "stat", path, "output " + path + " is not a directory");
    if (kind == Kind::File && dir)
      throw SysError(EISDIR, "stat", path, "output " + path + " is a directory");
    if (!force && !is_empty(path_, st))
      throw SysError(
          EEXIST, "stat", path,
          "output " + path + " exists and is not empty (the force option, --force, replaces it)");
  } else if (errno != ENOENT) {
    throw_sys("stat", path, "cannot use output " + path);
  }
  const std::string parent = parent_of(path_);
  make_dirs(parent);
  std::string t = parent + "/." + base_of(path_) + ".tmp-XXXXXX";
  if (kind == Kind::Directory) {
    if (!::mkdtemp(&t[0])) throw_sys("mkdtemp", t, "cannot create a temporary beside " + path);
    ::chmod(t.c_str(), 0755);
  } else {
    const int fd = ::mkstemp(&t[0]);
    if (fd < 0) throw_sys("mkstemp", t, "cannot create a temporary beside " + path);
    ::fchmod(fd, 0644);
    ::close(fd);
  }
  temp_ = t;
}

StagedOutput::~StagedOutput() {
  if (!committed_) remove_tree(temp_);
}

void StagedOutput::commit() {
  struct stat st;
  const bool replace = ::stat(path_.c_str(), &st) == 0 && !is_empty(path_, st);
  if (replace && !force_)
    throw SysError(EEXIST, "rename", path_,
                   "output " + path_ + " appeared while merging and is not empty");
  if (!replace) {
    // Onto nothing, an empty directory or an empty file: one atomic rename.
    if (::rename(temp_.c_str(), path_.c_str()) != 0)
      throw_sys("rename", path_, "cannot move the output into place at " + path_);
    committed_ = true;
    return;
  }
  // Replace: the old output aside, the new one in, the old one deleted.
  std::string aside = parent_of(path_) + "/." + base_of(path_) + ".old-XXXXXX";
  if (!::mkdtemp(&aside[0])) throw_sys("mkdtemp", aside, "cannot move aside " + path_);
  const std::string old = aside + "/old";
  if (::rename(path_.c_str(), old.c_str()) != 0) {
    const int e = errno;
    ::rmdir(aside.c_str());
    throw SysError(e, "rename", path_, "cannot move aside " + path_);
  }
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::rename(old.c_str(), path_.c_str());
    ::rmdir(aside.c_str());
    throw SysError(e, "rename", path_, "cannot move the output into place at " + path_);
  }
  committed_ = true;
  remove_tree(aside);
}

}  // namespace rwd
