// Hand-made corrupt traces: each damage gets its own clear error naming the file and the byte
// offset (strict), or its packet is skipped and counted while the good packets are still read
// (lenient).
#include <gtest/gtest.h>
#include <rewind/format.h>

#include <cstddef>
#include <functional>

#include "core/reader.h"
#include "core/trace_dir.h"
#include "core/writer.h"
#include "test_util.h"

using namespace rwd;
using namespace rwd_test;

namespace {

// A stream of 3 packets (256-byte capacity) of sys_enter events, returned as bytes.
struct Fixture {
  TempDir tmp;
  std::string bytes;
  std::vector<size_t> packets;  // offsets
  Fixture() {
    WriterOptions o;
    o.meta = test_meta("dmg");
    o.packet_size = 256;
    {
      TraceWriter w(tmp / "t", o);
      for (int i = 0; i < 100; i++) w.event(0, REWIND_EV_SYS_ENTER, 1000 + i * 10, {snum(i)});
    }
    bytes = read_file(tmp / "t/stream_0", 1 << 20);
    for (size_t off = 0; off < bytes.size();) {
      packets.push_back(off);
      off += load_le32(reinterpret_cast<const uint8_t *>(bytes.data()) + off +
                       offsetof(rewind_packet_header, packet_size)) /
             8;
    }
  }
  uint8_t *at(size_t off) { return reinterpret_cast<uint8_t *>(&bytes[off]); }
  void put32(size_t pkt, size_t field, uint32_t v) { store_le32(at(packets[pkt] + field), v); }
  void put64(size_t pkt, size_t field, uint64_t v) { store_le64(at(packets[pkt] + field), v); }
  // Decodes the (modified) bytes; returns the strict error, or "" if none.
  std::string strict_error() {
    write_file(tmp / "t/stream_0", bytes);
    auto t = Trace::open(tmp / "t");
    StreamDecoder d = t->decoder(0, true);
    RawEvent e;
    try {
      while (d.next_event(e)) {
      }
    } catch (const DecodeError &err) {
      return err.what();
    }
    return "";
  }
  StreamStats lenient(uint64_t *events) {
    write_file(tmp / "t/stream_0", bytes);
    auto t = Trace::open(tmp / "t");
    StreamDecoder d = t->decoder(0, false);
    RawEvent e;
    *events = 0;
    while (d.next_event(e)) ++*events;
    return d.stats();
  }
  std::string file() const { return tmp / "t/stream_0"; }
};

constexpr size_t kContent = offsetof(rewind_packet_header, content_size);
constexpr size_t kPacket = offsetof(rewind_packet_header, packet_size);

}  // namespace

TEST(Damage, FixtureIsClean) {
  Fixture f;
  ASSERT_GE(f.packets.size(), 3u);
  EXPECT_EQ(f.strict_error(), "");
}

TEST(Damage, TruncatedPacket) {
  Fixture f;
  f.bytes.resize(f.packets[2] + 100);
  EXPECT_EQ(f.strict_error(),
            f.file() + ": at byte " + std::to_string(f.packets[2] + kContent) + ": content_size " +
                std::to_string(load_le32(f.at(f.packets[2] + kContent))) + " bits (" +
                std::to_string(load_le32(f.at(f.packets[2] + kContent)) / 8) +
                " bytes) goes beyond the end of the file (100 bytes left)");
}

TEST(Damage, TruncatedPacketHeader) {
  Fixture f;
  f.bytes.resize(f.packets[2] + 30);
  EXPECT_EQ(f.strict_error(), f.file() + ": at byte " + std::to_string(f.packets[2]) +
                                  ": truncated packet header: 68 bytes needed, 30 left");
}

TEST(Damage, WrongMagic) {
  Fixture f;
  f.put32(1, 0, 0xdeadbeef);
  EXPECT_EQ(f.strict_error(), f.file() + ": at byte " + std::to_string(f.packets[1]) +
                                  ": bad packet magic 0xdeadbeef (expected 0xc1fc1fc1)");
  uint64_t events = 0;
  const StreamStats s = f.lenient(&events);
  EXPECT_EQ(s.damaged_packets, 1u);
  EXPECT_EQ(s.packets, f.packets.size() - 1);
  EXPECT_GT(events, 0u);
  EXPECT_LT(events, 100u);
}

TEST(Damage, ContentSizeBeyondFile) {
  Fixture f;
  f.put32(0, kContent, 1u << 30);
  f.put32(0, kPacket, 1u << 30);
  const std::string e = f.strict_error();
  EXPECT_NE(e.find(f.file() + ": at byte " + std::to_string(kContent) +
                   ": content_size 1073741824 "
                   "bits (134217728 bytes) goes beyond the end of the file"),
            std::string::npos)
      << e;
  uint64_t events = 0;
  const StreamStats s = f.lenient(&events);  // resynchronizes on the next packet's header
  EXPECT_EQ(s.damaged_packets, 1u);
  EXPECT_EQ(s.packets, f.packets.size() - 1);
}

TEST(Damage, ContentSizeAbovePacketSize) {
  Fixture f;
  f.put32(1, kContent, load_le32(f.at(f.packets[1] + kPacket)) + 8);
  EXPECT_NE(f.strict_error().find("exceeds packet_size"), std::string::npos);
}

TEST(Damage, ZeroLengthPacket) {
  Fixture f;
  f.put32(1, kPacket, 0);
  EXPECT_EQ(f.strict_error(), f.file() + ": at byte " + std::to_string(f.packets[1] + kContent) +
                                  ": zero-length packet (packet_size = 0)");
  uint64_t events = 0;
  EXPECT_EQ(f.lenient(&events).damaged_packets, 1u);
}

TEST(Damage, EventIdOutOfRange) {
  Fixture f;
  // The second packet's first event header: compact id 30 is valid, so use the extended form
  // with id 4000 by rewriting the first byte to 31 and the next four to the id.
  const size_t ev = f.packets[1] + REWIND_PACKET_HEADER_SIZE;
  f.at(ev)[0] = REWIND_ID_EXTENDED;
  store_le32(f.at(ev + 1), 4000);
  EXPECT_EQ(f.strict_error(), f.file() + ": at byte " + std::to_string(ev) +
                                  ": event id 4000 out of range (the table has " +
                                  std::to_string(REWIND_EV_COUNT) + " events)");
}

TEST(Damage, TimestampsGoingBackwards) {
  Fixture f;
  // Packet 2 begins before packet 1 ends.
  f.put64(2, offsetof(rewind_packet_header, timestamp_begin), 5);
  const std::string e = f.strict_error();
  EXPECT_EQ(e, f.file() + ": at byte " +
                   std::to_string(f.packets[2] + offsetof(rewind_packet_header, timestamp_begin)) +
                   ": timestamp_begin 5 is before the previous packet's end " +
                   std::to_string(load_le64(
                       f.at(f.packets[1] + offsetof(rewind_packet_header, timestamp_end)))) +
                   " (time going backwards)");
  Fixture g;
  g.put64(0, offsetof(rewind_packet_header, timestamp_end), 10);
  EXPECT_NE(g.strict_error().find("timestamp_end 10 is before timestamp_begin 1000 (time going "
                                  "backwards)"),
            std::string::npos);
}

TEST(Damage, ExtendedTimestampGoingBackwards) {
  Fixture f;
  const size_t ev = f.packets[0] + REWIND_PACKET_HEADER_SIZE + 4 + 2;  // second event
  uint8_t *p = f.at(ev);
  const uint32_t id = load_le32(p) & 31;
  p[0] = REWIND_ID_EXTENDED;  // overwrites the rest of the packet's layout: check the message only
  store_le32(p + 1, id);
  store_le64(p + 5, 999);
  const std::string e = f.strict_error();
  EXPECT_NE(e.find(f.file() + ": at byte " + std::to_string(ev) +
                   ": event timestamp 999 is before the previous one 1000 (time going backwards)"),
            std::string::npos)
      << e;
}

TEST(Damage, UnterminatedStringAndTruncatedEvent) {
  TempDir tmp;
  WriterOptions o;
  o.meta = test_meta("s");
  {
    TraceWriter w(tmp / "t", o);
    w.event(0, REWIND_EV_TASK_RENAME, 10, {snum(1), str("abc")});
  }
  std::string b = read_file(tmp / "t/stream_0", 1 << 20);
  b.back() = 'x';  // the NUL
  write_file(tmp / "t/stream_0", b);
  auto t = Trace::open(tmp / "t");
  StreamDecoder d = t->decoder(0, true);
  RawEvent e;
  try {
    d.next_event(e);
    FAIL() << "no error";
  } catch (const DecodeError &err) {
    EXPECT_EQ(std::string(err.what()), tmp / "t/stream_0" + ": at byte " +
                                           std::to_string(REWIND_PACKET_HEADER_SIZE + 4 + 4) +
                                           ": comm: string without its terminating NUL");
  }
}

TEST(Damage, PacketUuidOfAnotherTrace) {
  Fixture f;
  f.at(f.packets[1] + offsetof(rewind_packet_header, uuid))[0] ^= 0xff;
  EXPECT_NE(f.strict_error().find("is not the trace's"), std::string::npos);
}

TEST(Damage, GarbageNeverLoops) {
  Fixture f;
  for (size_t i = 0; i < f.bytes.size(); i += 7) f.bytes[i] = char(i * 31);
  uint64_t events = 0;
  const StreamStats s = f.lenient(&events);
  EXPECT_GE(s.damaged_packets, 1u);
  EXPECT_NE(f.strict_error(), "");
}
