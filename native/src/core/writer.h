// Writes Rewind CTF traces from userspace: the packets the module writes (same header, same event
// headers, payloads laid out by the format header's table) and the metadata the module generates.
// Tests and benchmarks use it to have real-format traces without the module; the merge uses it to
// re-emit validated packets.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/event_table.h"
#include "core/metadata.h"
#include "core/stream_decoder.h"

namespace rwd {

// Serializes field values per the event's descriptor; throws std::invalid_argument naming the
// event and field when a value does not fit its type or a string holds a NUL.
std::string encode_fields(const EventDesc &d, const std::vector<Value> &values);

// One stream file (one CPU).
class StreamWriter {
 public:
  // capacity: packet size in bytes when packets are cut automatically (0: the caller cuts them
  // with begin_packet/end_packet, and a packet grows as needed).
  StreamWriter(const std::string &path, const Uuid &uuid, uint32_t cpu, uint32_t capacity);
  ~StreamWriter();
  StreamWriter(const StreamWriter &) = delete;
  StreamWriter &operator=(const StreamWriter &) = delete;

  void begin_packet(uint64_t ts_begin, uint64_t seq, uint64_t discarded);
  // Timestamps must not decrease within a stream (std::invalid_argument otherwise).
  void event(uint32_t id, uint64_t ts, const uint8_t *payload, size_t size);
  void end_packet(uint64_t ts_end);
  // Appends a complete packet (content bytes, already validated), with uuid patched in and
  // packet_size set to its content size.
  void raw_packet(const uint8_t *content, size_t size, const Uuid &uuid);
  // Events refused so far on this CPU (events_discarded of the following packets).
  void set_discarded(uint64_t n) { discarded_ = n; }
  // cpu_id of the packets begun from now on.
  void set_cpu(uint32_t cpu) { cpu_ = cpu; }
  void close();
  uint64_t bytes_written() const { return written_; }

 private:
  void flush_packet();
  std::string path_;
  Uuid uuid_;
  uint32_t cpu_;
  uint32_t capacity_;
  FILE *f_ = nullptr;
  std::vector<uint8_t> buf_;
  bool open_ = false;
  uint64_t ts_begin_ = 0, ts_end_ = 0, last_ts_ = 0, seq_ = 0, next_seq_ = 0, discarded_ = 0;
  uint64_t written_ = 0;
};

struct WriterOptions {
  TraceMeta meta;                // uuid, env (hostname), clock
  uint32_t packet_size = 65536;  // bytes per packet when cut automatically
};

// A whole trace directory: metadata plus stream_<cpu> files.
class TraceWriter {
 public:
  TraceWriter(const std::string &dir, WriterOptions opts);
  ~TraceWriter();

  StreamWriter &stream(uint32_t cpu);
  void event(uint32_t cpu, uint32_t id, uint64_t ts, const std::vector<Value> &values);
  void close();
  const std::string &dir() const { return dir_; }

 private:
  std::string dir_;
  WriterOptions opts_;
  std::map<uint32_t, std::unique_ptr<StreamWriter>> streams_;
};

// Creates dir and its parents (like mkdir -p); throws naming the path.
void make_dirs(const std::string &dir);
// Writes a whole file (replacing it); throws naming the path.
void write_file(const std::string &path, const std::string &contents);

}  // namespace rwd
