#include "core/stream_decoder.h"

#include <rewind/format.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace rwd {

namespace {

static_assert(sizeof(rewind_packet_header) == REWIND_PACKET_HEADER_SIZE, "packet header size");

constexpr uint32_t kHeader = REWIND_PACKET_HEADER_SIZE;
constexpr uint64_t kTsMask = REWIND_TS_MASK;

// The field offsets come from the format header's struct; the bytes are read one by one, so the
// host's alignment and byte order do not matter.
#define RWD_OFF(f) offsetof(rewind_packet_header, f)

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

// CTF's rule for an N-bit timestamp mapped to a 64-bit clock: if the new low bits are below the
// clock's, the counter wrapped once.
inline uint64_t update_clock(uint64_t clock, uint64_t low) {
  if ((clock & kTsMask) > low) clock += kTsMask + 1;
  return (clock & ~kTsMask) | low;
}

}  // namespace

std::vector<Value> decode_fields(const EventDesc &d, const uint8_t *p, uint32_t size) {
  std::vector<Value> out;
  decode_fields_into(d, p, size, out);
  return out;
}

int64_t field_int(const RawEvent &ev, const std::vector<Value> &v, const char *name) {
  for (size_t i = 0; i < ev.desc->fields.size() && i < v.size(); i++)
    if (ev.desc->fields[i].name == name) return int64_t(v[i].num);
  return -1;
}

std::string field_str(const RawEvent &ev, const std::vector<Value> &v, const char *name) {
  for (size_t i = 0; i < ev.desc->fields.size() && i < v.size(); i++)
    if (ev.desc->fields[i].name == name) return v[i].bytes;
  return {};
}

void decode_fields_into(const EventDesc &d, const uint8_t *p, uint32_t size,
                        std::vector<Value> &out) {
  out.resize(d.fields.size());
  const uint8_t *end = p + size;
  for (size_t i = 0; i < d.fields.size(); i++) {
    const FieldDesc &f = d.fields[i];
    const FieldTypeInfo &t = field_type_info(f.type);
    Value &v = out[i];
    v.num = 0;
    v.bytes.clear();
    if (f.size == 0) {
      const void *nul = std::memchr(p, 0, size_t(end - p));
      const size_t n = nul ? size_t(static_cast<const uint8_t *>(nul) - p) : size_t(end - p);
      v.bytes.assign(reinterpret_cast<const char *>(p), n);
      p += nul ? n + 1 : n;
      continue;
    }
    if (size_t(end - p) < f.size) break;  // never for a validated payload
    if (t.is_bytes) {
      v.bytes.assign(reinterpret_cast<const char *>(p), f.size);
    } else {
      uint64_t x = 0;
      for (uint32_t b = 0; b < f.size; b++)
        x |= uint64_t(p[b]) << (8 * (t.big_endian ? f.size - 1 - b : b));
      if (t.is_signed && f.size < 8 && (x >> (8 * f.size - 1)) & 1) x |= ~0ull << (8 * f.size);
      v.num = x;
    }
    p += f.size;
  }
}

StreamDecoder::StreamDecoder(std::string file, const uint8_t *data, size_t size, const Uuid &uuid,
                             bool strict)
    : file_(std::move(file)), data_(data), size_(size), uuid_(uuid), strict_(strict) {}

void StreamDecoder::validate_packet(size_t off) {
  Reader r(file_, data_ + off, size_ - off, off);
  if (r.left() < kHeader)
    r.fail("truncated packet header: " + std::to_string(kHeader) + " bytes needed, " +
           std::to_string(r.left()) + " left");
  const uint8_t *h = r.here();
  const uint32_t magic = load_le32(h + RWD_OFF(magic));
  if (magic != REWIND_PACKET_MAGIC)
    r.fail("bad packet magic " + hex32(magic) + " (expected " + hex32(REWIND_PACKET_MAGIC) + ")");
  Uuid u;
  std::memcpy(u.data(), h + RWD_OFF(uuid), 16);
  if (u != uuid_)
    r.fail_at(RWD_OFF(uuid), "packet uuid " + uuid_to_string(u) + " is not the trace's (" +
                                 uuid_to_string(uuid_) + ")");
  const uint32_t stream_id = load_le32(h + RWD_OFF(stream_id));
  if (stream_id != REWIND_STREAM_ID)
    r.fail_at(RWD_OFF(stream_id), "unknown stream id " + std::to_string(stream_id));
  PacketInfo p;
  p.offset = off;
  p.ts_begin = load_le64(h + RWD_OFF(timestamp_begin));
  p.ts_end = load_le64(h + RWD_OFF(timestamp_end));
  const uint32_t content_bits = load_le32(h + RWD_OFF(content_size));
  const uint32_t packet_bits = load_le32(h + RWD_OFF(packet_size));
  p.seq = load_le64(h + RWD_OFF(packet_seq_num));
  p.discarded = load_le64(h + RWD_OFF(events_discarded));
  p.cpu = load_le32(h + RWD_OFF(cpu_id));
  const size_t at_sizes = RWD_OFF(content_size);
  if (packet_bits == 0) r.fail_at(at_sizes, "zero-length packet (packet_size = 0)");
  if (content_bits % 8 || packet_bits % 8)
    r.fail_at(at_sizes, "content_size " + std::to_string(content_bits) + " or packet_size " +
                            std::to_string(packet_bits) + " is not a whole number of bytes");
  if (content_bits < kHeader * 8)
    r.fail_at(at_sizes, "content_size " + std::to_string(content_bits) +
                            " bits is smaller than the packet header");
  if (content_bits > packet_bits)
    r.fail_at(at_sizes, "content_size " + std::to_string(content_bits) +
                            " bits exceeds packet_size " + std::to_string(packet_bits) + " bits");
  p.content_bytes = content_bits / 8;
  p.packet_bytes = packet_bits / 8;
  if (p.content_bytes > r.left())
    r.fail_at(at_sizes, "content_size " + std::to_string(content_bits) + " bits (" +
                            std::to_string(p.content_bytes) +
                            " bytes) goes beyond the end of the file (" + std::to_string(r.left()) +
                            " bytes left)");
  if (p.packet_bytes > r.left())
    r.fail_at(at_sizes, "packet_size " + std::to_string(packet_bits) + " bits (" +
                            std::to_string(p.packet_bytes) +
                            " bytes) goes beyond the end of the file (" + std::to_string(r.left()) +
                            " bytes left)");
  if (p.ts_end < p.ts_begin)
    r.fail_at(RWD_OFF(timestamp_end), "timestamp_end " + std::to_string(p.ts_end) +
                                          " is before timestamp_begin " +
                                          std::to_string(p.ts_begin) + " (time going backwards)");
  if (have_prev_ && p.ts_begin < prev_end_)
    r.fail_at(RWD_OFF(timestamp_begin), "timestamp_begin " + std::to_string(p.ts_begin) +
                                            " is before the previous packet's end " +
                                            std::to_string(prev_end_) + " (time going backwards)");
  if (have_prev_ && p.seq <= prev_seq_)
    r.fail_at(RWD_OFF(packet_seq_num), "packet_seq_num " + std::to_string(p.seq) +
                                           " does not follow the previous packet's " +
                                           std::to_string(prev_seq_));
  if (have_prev_ && p.discarded < prev_discarded_)
    r.fail_at(RWD_OFF(events_discarded), "events_discarded " + std::to_string(p.discarded) +
                                             " is below the previous packet's " +
                                             std::to_string(prev_discarded_));
  if (stats_.cpu >= 0 && p.cpu != uint64_t(stats_.cpu))
    r.fail_at(RWD_OFF(cpu_id), "cpu_id " + std::to_string(p.cpu) + " in a stream of cpu " +
                                   std::to_string(stats_.cpu));

  // The events: [header, payload]... up to content_size. The hot loop checks with plain
  // comparisons; the messages are built off the hot path (Reader's wording).
  const uint8_t *const base = data_ + off;
  const size_t end = p.content_bytes;
  const std::vector<EventDesc> &table = event_table();
  const auto truncated = [&](size_t at, const std::string &what, size_t need) {
    Reader e(file_, base, end, off);
    e.seek(at);
    e.need(need, what.c_str());  // throws: need > what is left
    throw std::logic_error("unreachable");
  };
  slots_.clear();
  uint64_t clock = p.ts_begin;
  size_t pos = kHeader;
  while (pos < end) {
    Slot s;
    const size_t hpos = pos;
    s.header_pos = off + hpos;
    if (end - pos < REWIND_HDR_COMPACT) truncated(pos, "event header", REWIND_HDR_COMPACT);
    const uint32_t w = load_le32(base + pos);
    uint32_t id = w & ((1u << REWIND_ID_BITS) - 1);
    if (id == REWIND_ID_EXTENDED) {
      pos = hpos + 1;  // the extended fields start at the header's second byte
      if (end - pos < REWIND_HDR_EXTENDED - 1)
        truncated(pos, "extended event header", REWIND_HDR_EXTENDED - 1);
      id = load_le32(base + pos);
      const uint64_t ts = load_le64(base + pos + 4);
      pos += REWIND_HDR_EXTENDED - 1;
      if (ts < clock)
        r.fail_at(hpos, "event timestamp " + std::to_string(ts) + " is before the previous one " +
                            std::to_string(clock) + " (time going backwards)");
      clock = ts;
    } else {
      pos += REWIND_HDR_COMPACT;
      clock = update_clock(clock, w >> REWIND_ID_BITS);
    }
    if (id >= table.size() || !table[id].valid())
      r.fail_at(hpos, "event id " + std::to_string(id) + " out of range (the table has " +
                          std::to_string(table.size()) + " events)");
    const EventDesc &d = table[id];
    if (clock > p.ts_end)
      r.fail_at(hpos, "event timestamp " + std::to_string(clock) +
                          " is after its packet's timestamp_end " + std::to_string(p.ts_end));
    s.ts = clock;
    s.id = id;
    s.payload_pos = off + pos;
    if (!d.has_strings) {
      if (end - pos < d.fixed_size) truncated(pos, d.name, d.fixed_size);
      pos += d.fixed_size;
    } else {
      for (const FieldDesc &f : d.fields) {
        if (f.size) {
          if (end - pos < f.size) truncated(pos, d.name, f.size);
          pos += f.size;
        } else {
          const void *nul = std::memchr(base + pos, 0, end - pos);
          if (!nul) r.fail_at(pos, f.name + ": string without its terminating NUL");
          pos = size_t(static_cast<const uint8_t *>(nul) - base) + 1;
        }
      }
    }
    s.size = uint32_t(off + pos - s.payload_pos);
    slots_.push_back(s);
  }
  p.events = uint32_t(slots_.size());
  packet_ = p;
}

size_t StreamDecoder::resync(size_t from) const {
  uint8_t magic[4];
  store_le32(magic, REWIND_PACKET_MAGIC);
  for (size_t i = from; i + kHeader <= size_; i++) {
    const void *m = std::memchr(data_ + i, magic[0], size_ - kHeader + 1 - i);
    if (!m) break;
    i = size_t(static_cast<const uint8_t *>(m) - data_);
    if (std::memcmp(data_ + i, magic, 4) == 0 &&
        std::memcmp(data_ + i + RWD_OFF(uuid), uuid_.data(), 16) == 0)
      return i;
  }
  return size_;
}

StreamDecoder::Item StreamDecoder::next() {
  if (in_packet_ && slot_ < slots_.size()) {
    const Slot &s = slots_[slot_++];
    event_.desc = &event_table()[s.id];
    event_.ts = s.ts;
    event_.cpu = packet_.cpu;
    event_.payload = data_ + s.payload_pos;
    event_.size = s.size;
    event_.offset = s.header_pos;
    stats_.events++;
    return Item::Event;
  }
  in_packet_ = false;
  while (pos_ < size_) {
    try {
      validate_packet(pos_);
    } catch (const DecodeError &err) {
      if (strict_) throw;
      damage_.push_back({file_, err.offset(), err.reason()});
      stats_.damaged_packets++;
      // Skip the packet if its own size can be trusted, else look for the next header.
      const uint8_t *h = data_ + pos_;
      size_t next = pos_ + 1;
      if (size_ - pos_ >= kHeader && load_le32(h) == REWIND_PACKET_MAGIC) {
        const uint64_t bytes = load_le32(h + RWD_OFF(packet_size)) / 8;
        if (bytes >= kHeader && bytes <= size_ - pos_) next = pos_ + bytes;
      }
      next = resync(next);
      stats_.damaged_bytes += next - pos_;
      pos_ = next;
      continue;
    }
    if (have_prev_) stats_.lost_packets += packet_.seq - prev_seq_ - 1;
    if (stats_.packets == 0) {
      stats_.first_seq = packet_.seq;
      stats_.discarded_first = packet_.discarded;
      stats_.first_ts = packet_.ts_begin;
      stats_.cpu = packet_.cpu;
    }
    stats_.packets++;
    stats_.last_seq = packet_.seq;
    stats_.discarded_last = packet_.discarded;
    stats_.last_ts = packet_.ts_end;
    have_prev_ = true;
    prev_end_ = packet_.ts_end;
    prev_seq_ = packet_.seq;
    prev_discarded_ = packet_.discarded;
    pos_ += packet_.packet_bytes;
    in_packet_ = true;
    slot_ = 0;
    return Item::Packet;
  }
  return Item::End;
}

void StreamDecoder::skip_packet_events(std::vector<uint64_t> &by_id, uint64_t &first_ts,
                                       uint64_t &last_ts) {
  if (!in_packet_) return;
  for (; slot_ < slots_.size(); slot_++) {
    const Slot &s = slots_[slot_];
    by_id[s.id]++;
    first_ts = std::min(first_ts, s.ts);
    last_ts = std::max(last_ts, s.ts);
    stats_.events++;
  }
}

bool StreamDecoder::next_event(RawEvent &ev) {
  for (;;) {
    const Item it = next();
    if (it == Item::End) return false;
    if (it == Item::Event) {
      ev = event_;
      return true;
    }
  }
}

}  // namespace rwd
