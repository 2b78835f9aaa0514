// A bounds-checked little-endian reader over bytes that are not trusted. Every read checks the
// remaining length first and throws a DecodeError naming the file and the absolute byte offset;
// nothing here can read outside [data, data + size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rwd {

// A corrupt or truncated input: the message names the file and the byte offset.
class DecodeError : public std::runtime_error {
 public:
  DecodeError(const std::string &file, uint64_t offset, const std::string &what)
      : std::runtime_error(file + ": at byte " + std::to_string(offset) + ": " + what),
        file_(file),
        offset_(offset),
        reason_(what) {}
  const std::string &file() const { return file_; }
  uint64_t offset() const { return offset_; }
  const std::string &reason() const { return reason_; }

 private:
  std::string file_;
  uint64_t offset_;
  std::string reason_;
};

inline uint16_t load_le16(const uint8_t *p) { return uint16_t(p[0] | p[1] << 8); }
inline uint32_t load_le32(const uint8_t *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t load_le64(const uint8_t *p) {
  return load_le32(p) | uint64_t(load_le32(p + 4)) << 32;
}
inline uint16_t load_be16(const uint8_t *p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t load_be32(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
inline void store_le16(uint8_t *p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
inline void store_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = uint8_t(v >> (8 * i));
}
inline void store_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = uint8_t(v >> (8 * i));
}
inline void store_be16(uint8_t *p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline void store_be32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = uint8_t(v >> (8 * (3 - i)));
}

class Reader {
 public:
  // base: the absolute file offset of data[0], for messages.
  Reader(const std::string &file, const uint8_t *data, size_t size, uint64_t base = 0)
      : file_(file), data_(data), size_(size), base_(base) {}

  size_t pos() const { return pos_; }
  size_t size() const { return size_; }
  size_t left() const { return size_ - pos_; }
  uint64_t offset() const { return base_ + pos_; }
  const uint8_t *here() const { return data_ + pos_; }

  [[noreturn]] void fail(const std::string &what) const {
    throw DecodeError(file_, offset(), what);
  }
  [[noreturn]] void fail_at(size_t pos, const std::string &what) const {
    throw DecodeError(file_, base_ + pos, what);
  }

  void need(size_t n, const char *what) const {
    if (n > left())
      fail(std::string(what) + " truncated: " + std::to_string(n) + " bytes needed, " +
           std::to_string(left()) + " left");
  }
  void seek(size_t pos) {
    if (pos > size_) fail("seek beyond the end");
    pos_ = pos;
  }
  void skip(size_t n, const char *what) {
    need(n, what);
    pos_ += n;
  }
  const uint8_t *bytes(size_t n, const char *what) {
    need(n, what);
    const uint8_t *p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint8_t u8(const char *what) { return *bytes(1, what); }
  uint16_t u16(const char *what) { return load_le16(bytes(2, what)); }
  uint32_t u32(const char *what) { return load_le32(bytes(4, what)); }
  uint64_t u64(const char *what) { return load_le64(bytes(8, what)); }

  // A NUL-terminated string; the terminator must lie within the reader's bounds.
  std::string_view cstr(const char *what) {
    const void *nul = std::memchr(data_ + pos_, 0, left());
    if (!nul) fail(std::string(what) + ": string without its terminating NUL");
    const size_t n = static_cast<const uint8_t *>(nul) - (data_ + pos_);
    std::string_view s(reinterpret_cast<const char *>(data_ + pos_), n);
    pos_ += n + 1;
    return s;
  }

 private:
  const std::string &file_;
  const uint8_t *data_;
  size_t size_;
  uint64_t base_;
  size_t pos_ = 0;
};

}  // namespace rwd
