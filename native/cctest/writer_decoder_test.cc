// Writer and decoder against each other: every field type, both event header forms, the 27-bit
// timestamp wrap, automatic packet cuts.
#include <gtest/gtest.h>
#include <rewind/format.h>

#include "core/trace_dir.h"
#include "core/writer.h"
#include "test_util.h"

using namespace rwd;
using namespace rwd_test;

namespace {

struct Ev {
  uint32_t cpu, id;
  uint64_t ts;
  std::vector<Value> values;
};

std::vector<Ev> decode_all(const std::string &dir) {
  auto t = Trace::open(dir);
  std::vector<Ev> out;
  for (size_t i = 0; i < t->stream_count(); i++) {
    StreamDecoder d = t->decoder(i, true);
    RawEvent e;
    while (d.next_event(e))
      out.push_back({e.cpu, e.desc->id, e.ts, decode_fields(*e.desc, e.payload, e.size)});
  }
  return out;
}

}  // namespace

TEST(Writer, RoundTripsEveryFieldTypeAndBothHeaders) {
  TempDir tmp;
  const std::string dir = tmp / "t";
  std::string ip6(16, '\0');
  for (int i = 0; i < 16; i++) ip6[i] = char(0xf0 + i);
  std::vector<Ev> in = {
      {0, REWIND_EV_SCHED_SWITCH, 1000, {snum(-5), num(120), num(1), snum(42), num(99)}},
      {0, REWIND_EV_SYS_EXIT_WIDE, 1001, {snum(-1234567890123LL)}},
      {0,
       REWIND_EV_NETIF_RECEIVE_SKB_TCP6,
       1002,
       {num(1500), num(2), str(ip6), str(ip6), num(443), num(51000), num(0xdeadbeef),
        num(0x01020304), num(0x12)}},
      {0,
       REWIND_EV_NET_DEV_QUEUE_TCP4,
       1003,
       {num(60), num(1), num(0x0a000001), num(0xc0a80101), num(80), num(1234), num(1), num(2),
        num(0x10)}},
      {0, REWIND_EV_PAGE_FAULT_USER, 1003, {num(0x7fffdeadbeefull), num(6)}},
      // More than 2^27 ns later: an extended header.
      {0,
       REWIND_EV_SCHED_PROCESS_EXEC,
       1003 + (1ull << 27) + 5,
       {snum(7), snum(7), str("bash"), str("/usr/bin/bash")}},
      // Exactly at the wrap of the 27 low bits.
      {0, REWIND_EV_SYS_ENTER, ((1003 + (1ull << 27)) | REWIND_TS_MASK) + 1, {snum(-1)}},
      {1,
       REWIND_EV_STATEDUMP_PROCESS,
       5,
       {snum(1), snum(1), snum(0), str("systemd"), num(1), num(1), num(0xffffffffffffffffull),
        num(4026531836u), num(4026531840u), num(4026531992u)}},
      {1, REWIND_EV_SOFTIRQ_EXIT, 6, {}},
  };
  {
    WriterOptions o;
    o.meta = test_meta("node-a");
    TraceWriter w(dir, o);
    for (const Ev &e : in) w.event(e.cpu, e.id, e.ts, e.values);
    w.close();
  }
  const std::vector<Ev> out = decode_all(dir);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); i++) {
    SCOPED_TRACE(i);
    EXPECT_EQ(out[i].cpu, in[i].cpu);
    EXPECT_EQ(out[i].id, in[i].id);
    EXPECT_EQ(out[i].ts, in[i].ts);
    EXPECT_EQ(out[i].values, in[i].values);
  }
}

TEST(Writer, CutsPacketsAndKeepsSequenceNumbers) {
  TempDir tmp;
  WriterOptions o;
  o.meta = test_meta("node-b");
  o.packet_size = 256;
  {
    TraceWriter w(tmp / "t", o);
    for (uint64_t i = 0; i < 1000; i++)
      w.event(0, REWIND_EV_SYS_ENTER, 1000 + i * 100000, {snum(int64_t(i % 400))});
  }
  auto t = Trace::open(tmp / "t");
  StreamDecoder d = t->decoder(0, true);
  RawEvent e;
  uint64_t n = 0;
  while (d.next_event(e)) {
    EXPECT_EQ(e.ts, 1000 + n * 100000);
    n++;
  }
  EXPECT_EQ(n, 1000u);
  EXPECT_GT(d.stats().packets, 20u);
  EXPECT_EQ(d.stats().lost_packets, 0u);
  EXPECT_EQ(d.stats().first_seq, 0u);
  EXPECT_EQ(d.stats().last_seq, d.stats().packets - 1);
}

TEST(Writer, RefusesValuesThatDoNotFit) {
  const EventDesc &d = *find_event(REWIND_EV_SCHED_SWITCH);
  EXPECT_THROW(encode_fields(d, {snum(1), num(256), num(0), snum(1), num(1)}),
               std::invalid_argument);
  EXPECT_THROW(encode_fields(d, {snum(1)}), std::invalid_argument);
  const EventDesc &r = *find_event(REWIND_EV_TASK_RENAME);
  EXPECT_THROW(encode_fields(r, {snum(1), str(std::string("a\0b", 3))}), std::invalid_argument);
}

TEST(Writer, RefusesTimeGoingBackwards) {
  TempDir tmp;
  WriterOptions o;
  o.meta = test_meta("node-c");
  TraceWriter w(tmp / "t", o);
  w.event(0, REWIND_EV_SOFTIRQ_EXIT, 100, {});
  EXPECT_THROW(w.event(0, REWIND_EV_SOFTIRQ_EXIT, 99, {}), std::invalid_argument);
}
