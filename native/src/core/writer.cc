#include "core/writer.h"

#include <rewind/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#include "core/reader.h"
#include "core/sys_error.h"

namespace rwd {

namespace {

constexpr uint32_t kHeader = REWIND_PACKET_HEADER_SIZE;

// A failed call of the C library's file functions: errno if they set one, else EIO.
[[noreturn]] void io_fail(const char *syscall, const std::string &what, const std::string &path) {
  throw SysError(errno ? errno : EIO, syscall, path, what + " " + path);
}

}  // namespace

void make_dirs(const std::string &dir) {
  std::string cur;
  size_t i = 0;
  while (i <= dir.size()) {
    const size_t j = dir.find('/', i);
    cur = dir.substr(0, j == std::string::npos ? dir.size() : j);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      io_fail("mkdir", "cannot create directory", cur);
    if (j == std::string::npos) break;
    i = j + 1;
  }
}

void write_file(const std::string &path, const std::string &contents) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f) io_fail("open", "cannot create", path);
  const bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
  if (std::fclose(f) != 0 || !ok) io_fail("write", "cannot write", path);
}

std::string encode_fields(const EventDesc &d, const std::vector<Value> &values) {
  if (values.size() != d.fields.size())
    throw std::invalid_argument(d.name + ": " + std::to_string(d.fields.size()) +
                                " fields expected, " + std::to_string(values.size()) + " given");
  std::string out;
  out.reserve(d.fixed_size + 16);
  for (size_t i = 0; i < values.size(); i++) {
    const FieldDesc &f = d.fields[i];
    const FieldTypeInfo &t = field_type_info(f.type);
    const Value &v = values[i];
    if (f.size == 0) {
      if (v.bytes.find('\0') != std::string::npos)
        throw std::invalid_argument(d.name + "." + f.name + ": a string cannot hold a NUL");
      out += v.bytes;
      out += '\0';
      continue;
    }
    if (t.is_bytes) {
      if (v.bytes.size() != f.size)
        throw std::invalid_argument(d.name + "." + f.name + ": " + std::to_string(f.size) +
                                    " bytes expected, " + std::to_string(v.bytes.size()) +
                                    " given");
      out += v.bytes;
      continue;
    }
    if (f.size < 8) {
      const uint64_t bits = 8ull * f.size;
      const bool fits = t.is_signed ? (int64_t(v.num) >= -(int64_t(1) << (bits - 1)) &&
                                       int64_t(v.num) < (int64_t(1) << (bits - 1)))
                                    : v.num < (1ull << bits);
      if (!fits)
        throw std::invalid_argument(d.name + "." + f.name + ": value does not fit " + t.name);
    }
    for (uint32_t b = 0; b < f.size; b++)
      out += char(v.num >> (8 * (t.big_endian ? f.size - 1 - b : b)));
  }
  return out;
}

StreamWriter::StreamWriter(const std::string &path, const Uuid &uuid, uint32_t cpu,
                           uint32_t capacity)
    : path_(path), uuid_(uuid), cpu_(cpu), capacity_(capacity) {
  if (capacity && capacity < kHeader + REWIND_HDR_EXTENDED)
    throw std::invalid_argument("packet size " + std::to_string(capacity) + " is too small");
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) io_fail("open", "cannot create", path);
}

StreamWriter::~StreamWriter() {
  if (f_) std::fclose(f_);
}

void StreamWriter::begin_packet(uint64_t ts_begin, uint64_t seq, uint64_t discarded) {
  if (open_) end_packet(ts_begin);
  if (ts_begin < last_ts_)
    throw std::invalid_argument(path_ + ": packet begins at " + std::to_string(ts_begin) +
                                ", before the previous event " + std::to_string(last_ts_));
  buf_.assign(kHeader, 0);
  ts_begin_ = ts_end_ = last_ts_ = ts_begin;
  seq_ = seq;
  next_seq_ = seq + 1;
  discarded_ = discarded;
  open_ = true;
}

void StreamWriter::event(uint32_t id, uint64_t ts, const uint8_t *payload, size_t size) {
  if (ts < last_ts_)
    throw std::invalid_argument(path_ + ": event at " + std::to_string(ts) +
                                " is before the previous one " + std::to_string(last_ts_));
  if (!open_) begin_packet(ts, next_seq_, discarded_);
  bool compact = id < REWIND_ID_EXTENDED && ((ts - last_ts_) >> REWIND_TS_BITS) == 0;
  size_t slot = (compact ? REWIND_HDR_COMPACT : REWIND_HDR_EXTENDED) + size;
  if (capacity_ && buf_.size() + slot > capacity_) {
    if (kHeader + REWIND_HDR_EXTENDED + size > capacity_)
      throw std::invalid_argument(path_ + ": a " + std::to_string(size) +
                                  "-byte event does not fit a packet of " +
                                  std::to_string(capacity_) + " bytes");
    // Like the module: the event that does not fit closes the packet and opens the next.
    end_packet(ts);
    begin_packet(ts, next_seq_, discarded_);
    compact = id < REWIND_ID_EXTENDED;
    slot = (compact ? REWIND_HDR_COMPACT : REWIND_HDR_EXTENDED) + size;
  }
  const size_t at = buf_.size();
  buf_.resize(at + slot);
  uint8_t *p = buf_.data() + at;
  if (compact) {
    store_le32(p, id | uint32_t(ts << REWIND_ID_BITS));
    p += REWIND_HDR_COMPACT;
  } else {
    p[0] = REWIND_ID_EXTENDED;
    store_le32(p + 1, id);
    store_le64(p + 5, ts);
    p += REWIND_HDR_EXTENDED;
  }
  if (size) std::memcpy(p, payload, size);
  last_ts_ = ts;
}

void StreamWriter::end_packet(uint64_t ts_end) {
  if (!open_) return;
  ts_end_ = std::max(ts_end, last_ts_);
  flush_packet();
  open_ = false;
}

void StreamWriter::flush_packet() {
  if (buf_.size() > UINT32_MAX / 8)
    throw std::invalid_argument(path_ + ": packet larger than 512 MiB");
  uint8_t *h = buf_.data();
  store_le32(h + offsetof(rewind_packet_header, magic), REWIND_PACKET_MAGIC);
  std::memcpy(h + offsetof(rewind_packet_header, uuid), uuid_.data(), 16);
  store_le32(h + offsetof(rewind_packet_header, stream_id), REWIND_STREAM_ID);
  store_le64(h + offsetof(rewind_packet_header, timestamp_begin), ts_begin_);
  store_le64(h + offsetof(rewind_packet_header, timestamp_end), ts_end_);
  // Trimmed like a snapshot's packets: packet_size == content_size.
  store_le32(h + offsetof(rewind_packet_header, content_size), uint32_t(buf_.size() * 8));
  store_le32(h + offsetof(rewind_packet_header, packet_size), uint32_t(buf_.size() * 8));
  store_le64(h + offsetof(rewind_packet_header, packet_seq_num), seq_);
  store_le64(h + offsetof(rewind_packet_header, events_discarded), discarded_);
  store_le32(h + offsetof(rewind_packet_header, cpu_id), cpu_);
  if (std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size())
    io_fail("write", "cannot write", path_);
  written_ += buf_.size();
}

void StreamWriter::raw_packet(const uint8_t *content, size_t size, const Uuid &uuid) {
  if (open_) throw std::logic_error(path_ + ": raw packet while a packet is open");
  if (size < kHeader || size > UINT32_MAX / 8)
    throw std::invalid_argument(path_ + ": bad raw packet");
  uint8_t h[kHeader];
  std::memcpy(h, content, kHeader);
  std::memcpy(h + offsetof(rewind_packet_header, uuid), uuid.data(), 16);
  store_le32(h + offsetof(rewind_packet_header, packet_size), uint32_t(size * 8));
  if (std::fwrite(h, 1, kHeader, f_) != kHeader ||
      std::fwrite(content + kHeader, 1, size - kHeader, f_) != size - kHeader)
    io_fail("write", "cannot write", path_);
  written_ += size;
}

void StreamWriter::close() {
  if (!f_) return;
  end_packet(last_ts_);
  FILE *f = f_;
  f_ = nullptr;
  if (std::fclose(f) != 0) io_fail("close", "cannot write", path_);
}

TraceWriter::TraceWriter(const std::string &dir, WriterOptions opts)
    : dir_(dir), opts_(std::move(opts)) {
  make_dirs(dir);
  write_file(dir + "/" REWIND_TRACE_METADATA, generate_metadata(opts_.meta));
}

TraceWriter::~TraceWriter() {
  try {
    close();
  } catch (...) {
  }
}

StreamWriter &TraceWriter::stream(uint32_t cpu) {
  auto &s = streams_[cpu];
  if (!s)
    s = std::make_unique<StreamWriter>(dir_ + "/" REWIND_TRACE_STREAM_PREFIX + std::to_string(cpu),
                                       opts_.meta.uuid, cpu, opts_.packet_size);
  return *s;
}

void TraceWriter::event(uint32_t cpu, uint32_t id, uint64_t ts, const std::vector<Value> &values) {
  const EventDesc *d = find_event(id);
  if (!d) throw std::invalid_argument("unknown event id " + std::to_string(id));
  const std::string payload = encode_fields(*d, values);
  stream(cpu).event(id, ts, reinterpret_cast<const uint8_t *>(payload.data()), payload.size());
}

void TraceWriter::close() {
  for (auto &s : streams_) s.second->close();
}

}  // namespace rwd
