// A failed system call, with its identity kept: errno, the call (or ioctl) that failed and the path
// it was about. The device and file code throw it; the binding turns it into a JavaScript error
// with code ('ENOENT'), errno, syscall and path, so callers branch on the cause, not on text.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace rwd {

class SysError : public std::runtime_error {
 public:
  // what(): "<message>: <strerror(err)>", e.g. "cannot open /dev/x: No such file or directory".
  SysError(int err, std::string syscall, std::string path, const std::string &message)
      : std::runtime_error(message + ": " + std::strerror(err)),
        err_(err),
        syscall_(std::move(syscall)),
        path_(std::move(path)) {}

  int err() const { return err_; }
  // The system call or ioctl: "open", "mmap", "REWIND_IOC_CONFIGURE"...
  const std::string &syscall() const { return syscall_; }
  const std::string &path() const { return path_; }
  // The errno's symbolic name ("ENOENT"), or "" if the C library does not know it.
  const char *code() const {
    const char *name = strerrorname_np(err_);
    return name ? name : "";
  }

 private:
  int err_;
  std::string syscall_;
  std::string path_;
};

// Throws SysError for the current errno.
[[noreturn]] inline void throw_sys(const std::string &syscall, const std::string &path,
                                   const std::string &message) {
  throw SysError(errno, syscall, path, message);
}

}  // namespace rwd
