// CTF 1.8 metadata (TSDL) of a Rewind trace: generated from the format header's TSDL pieces
// exactly as the module assembles them, and parsed back (the few values a reader needs, plus a
// check that every event declaration matches this build's event table).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rwd {

using Uuid = std::array<uint8_t, 16>;

std::string uuid_to_string(const Uuid &u);
// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; false if malformed.
bool parse_uuid(std::string_view s, Uuid &out);
// A random (version 4) uuid.
Uuid random_uuid();

inline constexpr uint64_t kNsPerSecond = 1000000000ull;

struct ClockDesc {
  std::string name = "monotonic";
  std::string uuid;  // the host's boot_id; may be empty
  std::string description = "Monotonic Clock";
  uint64_t freq = kNsPerSecond;
  int64_t offset_s = 0;  // seconds from the Unix epoch to clock value 0
  uint64_t offset = 0;   // plus this many cycles (ns)
  bool absolute = true;

  // The clock's origin on the Unix epoch, in ns.
  int64_t offset_ns() const { return offset_s * int64_t(kNsPerSecond) + int64_t(offset); }
  void set_offset_ns(int64_t ns);  // normalized: 0 <= offset < 1e9
};

struct EnvEntry {
  std::string key;
  std::string value;
  bool is_string = true;  // else an integer literal
};

struct TraceMeta {
  Uuid uuid{};
  std::vector<EnvEntry> env;
  ClockDesc clock;

  // env.hostname, or "" if absent.
  std::string hostname() const;
  void set_env(const std::string &key, const std::string &value, bool is_string = true);
};

// Metadata as the module writes it for a host: random trace uuid, random clock uuid (a stand-in
// for boot_id), env as the module's (hostname, domain, sysname, tracer_*, rewind_format), clock
// offset 0 (set it with clock.set_offset_ns).
TraceMeta default_meta(const std::string &hostname);

// The TSDL text: trace, env, clock, the format header's type aliases, stream and events.
std::string generate_metadata(const TraceMeta &meta);

// Parses TSDL text of a Rewind trace. Throws DecodeError (naming file and byte offset) on a
// syntax error, on packetized metadata, on a byte order, frequency or event table that this
// build does not read.
TraceMeta parse_metadata(const std::string &file, std::string_view text);

}  // namespace rwd
