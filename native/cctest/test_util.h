// Helpers shared by the core tests: temporary directories and small traces built with the writer.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "core/merge.h"
#include "core/metadata.h"
#include "core/writer.h"

namespace rwd_test {

// A fresh directory under $TMPDIR, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/rwd-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) std::abort();
    path_ = buf.data();
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string &path() const { return path_; }
  std::string operator/(const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline rwd::TraceMeta test_meta(const std::string &host, int64_t offset_ns = 1700000000000000000) {
  rwd::TraceMeta m;
  rwd::parse_uuid("0badc0de-1234-4abc-8def-0123456789ab", m.uuid);
  // Distinct per host name: the merge refuses the same trace uuid twice.
  uint64_t h = 1469598103934665603u;  // FNV-1a
  for (unsigned char c : host) h = (h ^ c) * 1099511628211u;
  for (int i = 0; i < 8; i++) m.uuid[8 + i] = static_cast<uint8_t>(h >> (8 * i));
  m.set_env("hostname", host);
  m.set_env("domain", "kernel");
  m.set_env("tracer_name", "rewind");
  m.clock.uuid = "11111111-2222-4333-8444-555555555555";
  m.clock.set_offset_ns(offset_ns);
  return m;
}

// Strict reading: the first damage is an error.
inline rwd::MergeOptions strict_options() {
  rwd::MergeOptions o;
  o.strict = true;
  return o;
}

inline rwd::Value num(uint64_t v) { return rwd::Value{v, {}}; }
inline rwd::Value snum(int64_t v) { return rwd::Value{static_cast<uint64_t>(v), {}}; }
inline rwd::Value str(const std::string &s) { return rwd::Value{0, s}; }

}  // namespace rwd_test
