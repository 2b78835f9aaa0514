// Decodes one stream file (one CPU's packets) of a Rewind CTF trace. The bytes are not trusted:
// each packet is validated completely (header, every event header, every payload) before any of
// its events is handed out, so a damaged packet is either an error (strict) naming the file and
// byte offset, or skipped whole and counted (lenient). Progress is guaranteed: every step moves
// forward by at least one byte, so no input can loop forever.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/event_table.h"
#include "core/metadata.h"
#include "core/reader.h"

namespace rwd {

// A field's value: integers (sign-extended, two's complement in num), strings and byte arrays
// (in bytes).
struct Value {
  uint64_t num = 0;
  std::string bytes;
  bool operator==(const Value &o) const { return num == o.num && bytes == o.bytes; }
};

struct PacketInfo {
  uint64_t offset = 0;  // in the file
  uint64_t ts_begin = 0, ts_end = 0;
  uint64_t content_bytes = 0, packet_bytes = 0;
  uint64_t seq = 0, discarded = 0;
  uint32_t cpu = 0;
  uint32_t events = 0;
};

struct RawEvent {
  const EventDesc *desc = nullptr;
  uint64_t ts = 0;  // clock cycles (ns since the clock's origin)
  uint32_t cpu = 0;
  const uint8_t *payload = nullptr;
  uint32_t size = 0;    // payload bytes
  uint64_t offset = 0;  // file offset of the event header
};

struct Damage {
  std::string file;
  uint64_t offset;
  std::string reason;
  std::string message() const {
    return file + ": at byte " + std::to_string(offset) + ": " + reason;
  }
};

struct StreamStats {
  uint64_t packets = 0;          // valid packets read
  uint64_t damaged_packets = 0;  // skipped (lenient)
  uint64_t damaged_bytes = 0;
  uint64_t events = 0;
  uint64_t lost_packets = 0;  // gaps in packet_seq_num
  uint64_t first_seq = 0, last_seq = 0;
  uint64_t discarded_first = 0, discarded_last = 0;  // events_discarded of first/last packet
  uint64_t first_ts = 0, last_ts = 0;                // of the packets read
  int64_t cpu = -1;
};

// Decodes a payload's field values (the payload was validated by the decoder).
std::vector<Value> decode_fields(const EventDesc &d, const uint8_t *payload, uint32_t size);
// The same into out, reusing its storage (the exporters decode every event).
void decode_fields_into(const EventDesc &d, const uint8_t *payload, uint32_t size,
                        std::vector<Value> &out);
// A decoded field by name, for the sinks that follow a few fields of a few events: as an integer
// (-1 when the event has no such field), as a string ("" when none).
int64_t field_int(const RawEvent &ev, const std::vector<Value> &v, const char *name);
std::string field_str(const RawEvent &ev, const std::vector<Value> &v, const char *name);

class StreamDecoder {
 public:
  enum class Item { Packet, Event, End };

  // data must stay valid while the decoder lives. strict: the first damage throws DecodeError.
  StreamDecoder(std::string file, const uint8_t *data, size_t size, const Uuid &uuid, bool strict);

  // The next item: a packet's beginning (packet() is the new packet; announced even if it holds
  // no event) or an event (event()). End when the file is done.
  Item next();
  // Only events: skips packet announcements.
  bool next_event(RawEvent &ev);

  const PacketInfo &packet() const { return packet_; }
  // The current packet's bytes (content_size of them), valid while the decoder lives.
  const uint8_t *packet_data() const { return data_ + packet_.offset; }
  // Skips the current packet's remaining events, counting them per id into by_id and widening
  // [first_ts, last_ts] (the fast path when no one needs events one by one).
  void skip_packet_events(std::vector<uint64_t> &by_id, uint64_t &first_ts, uint64_t &last_ts);
  const RawEvent &event() const { return event_; }
  const StreamStats &stats() const { return stats_; }
  const std::vector<Damage> &damage() const { return damage_; }
  const std::string &file() const { return file_; }

 private:
  struct Slot {
    uint64_t ts;
    uint64_t payload_pos;  // file offsets
    uint64_t header_pos;
    uint32_t id;
    uint32_t size;
  };
  // Validates the packet at off into packet_ and slots_; throws DecodeError.
  void validate_packet(size_t off);
  // Finds the next offset after `from` that looks like a packet header of this trace.
  size_t resync(size_t from) const;

  std::string file_;
  const uint8_t *data_;
  size_t size_;
  Uuid uuid_;
  bool strict_;
  size_t pos_ = 0;  // next packet's offset
  bool have_prev_ = false;
  uint64_t prev_end_ = 0, prev_seq_ = 0, prev_discarded_ = 0;
  PacketInfo packet_;
  RawEvent event_;
  std::vector<Slot> slots_;
  size_t slot_ = 0;
  bool in_packet_ = false;
  StreamStats stats_;
  std::vector<Damage> damage_;
};

}  // namespace rwd
