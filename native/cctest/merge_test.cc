// The k-way merge: global time order across nodes and CPUs, clock correction, the unified CTF
// output re-read equal to its input, the summary's counts.
#include "core/merge.h"

#include <gtest/gtest.h>
#include <rewind/format.h>

#include "core/chrome_sink.h"
#include "core/ctf_sink.h"
#include "core/sys_error.h"
#include "core/trace_dir.h"
#include "test_util.h"

using namespace rwd;
using namespace rwd_test;

namespace {

class Collect : public MergeSink {
 public:
  struct Row {
    uint32_t node, cpu, id;
    int64_t t;
    uint64_t ts;
    std::vector<Value> v;
  };
  std::vector<Row> rows;
  uint64_t packets = 0;
  void packet(uint32_t, uint32_t, const PacketInfo &) override { packets++; }
  void event(const MergedEvent &e) override {
    rows.push_back({e.node, e.ev->cpu, e.ev->desc->id, e.time_ns, e.ev->ts,
                    decode_fields(*e.ev->desc, e.ev->payload, e.ev->size)});
  }
};

// Node trace: two CPUs, events every `step` ns from `start`, alternating CPUs.
void write_node(const std::string &dir, const std::string &host, int64_t offset, uint64_t start,
                uint64_t step, int n, uint8_t uuid_salt = 0) {
  WriterOptions o;
  o.meta = test_meta(host, offset);
  o.meta.uuid[0] ^= uuid_salt;  // another trace of the same host
  o.packet_size = 512;
  TraceWriter w(dir, o);
  for (int i = 0; i < n; i++)
    w.event(uint32_t(i % 2), REWIND_EV_SCHED_WAKING, start + uint64_t(i) * step,
            {snum(i), num(120), num(uint64_t(i % 2))});
}

}  // namespace

TEST(Merge, InterleavesNodesByCorrectedTime) {
  TempDir tmp;
  // Node a's clock starts at epoch 1000 s, node b's at 1000 s + 5 ns; b is corrected by -10 ns.
  write_node(tmp / "a", "node-a", 1000000000000, 0, 100, 200);
  write_node(tmp / "b", "node-b", 1000000000005, 50, 100, 200);
  Collect c;
  const MergeResult r =
      merge_traces({{tmp / "a", "", 0}, {tmp / "b", "", -10}}, {&c}, MergeOptions{});
  ASSERT_EQ(c.rows.size(), 400u);
  EXPECT_EQ(r.events, 400u);
  ASSERT_EQ(r.nodes.size(), 2u);
  EXPECT_EQ(r.nodes[1].name, "node-b");
  EXPECT_EQ(r.nodes[1].origin_ns, 1000000000000 - 5);
  for (size_t i = 1; i < c.rows.size(); i++) ASSERT_LE(c.rows[i - 1].t, c.rows[i].t) << i;
  // b's events land 45 ns after a's: a, b, a, b...
  EXPECT_EQ(c.rows[0].node, 0u);
  EXPECT_EQ(c.rows[1].node, 1u);
  EXPECT_EQ(c.rows[1].t, 1000000000000 + 45);
  EXPECT_EQ(r.per_node[0].by_type().at("sched_waking"), 200u);
  EXPECT_GT(c.packets, 4u);
  EXPECT_EQ(r.nodes[1].correction_ns, -10);
  EXPECT_EQ(r.per_node[0].events + r.per_node[1].events, 400u);
}

TEST(Merge, UnifiedTraceReadsBackEqual) {
  TempDir tmp;
  write_node(tmp / "a", "node-a", 1000000000000, 0, 70000000, 100);  // > 2^27 ns gaps too
  write_node(tmp / "b", "node-b", 1000000000000, 3, 1000, 300);
  Collect before;
  const MergeResult rb =
      merge_traces({{tmp / "a", "", 0}, {tmp / "b", "", 250}}, {&before}, MergeOptions{});
  CtfSink ctf(tmp / "out");
  merge_traces({{tmp / "a", "", 0}, {tmp / "b", "", 250}}, {&ctf}, MergeOptions{});
  EXPECT_EQ(find_traces(tmp / "out").size(), 2u);
  auto t = Trace::open(tmp / "out/node-b");
  EXPECT_EQ(t->meta().hostname(), "node-b");
  EXPECT_EQ(t->meta().clock.offset_ns(), 1000000000000 + 250);
  // The merged output, merged again with no correction, gives the same events at the same times.
  Collect after;
  const MergeResult r = merge_traces({{tmp / "out", "", 0}}, {&after}, strict_options());
  ASSERT_EQ(after.rows.size(), before.rows.size());
  for (size_t i = 0; i < after.rows.size(); i++) {
    ASSERT_EQ(after.rows[i].t, before.rows[i].t) << i;
    ASSERT_EQ(after.rows[i].ts, before.rows[i].ts) << i;
    ASSERT_EQ(after.rows[i].v, before.rows[i].v) << i;
    ASSERT_EQ(r.nodes[after.rows[i].node].name, rb.nodes[before.rows[i].node].name) << i;
  }
}

TEST(Merge, TimeWindowKeepsOnlyItsEvents) {
  TempDir tmp;
  write_node(tmp / "a", "node-a", 0, 0, 10, 100);
  Collect c;
  MergeOptions o;
  o.from_ns = 100;
  o.to_ns = 199;
  merge_traces({{tmp / "a", "", 0}}, {&c}, o);
  ASSERT_EQ(c.rows.size(), 10u);
  EXPECT_EQ(c.rows.front().t, 100);
  EXPECT_EQ(c.rows.back().t, 190);
}

static std::string merge_error(const std::vector<MergeInput> &inputs) {
  try {
    merge_traces(inputs, {}, MergeOptions{});
  } catch (const std::invalid_argument &e) {
    return e.what();
  }
  return "";
}

TEST(Merge, DuplicateNodeNamesAreAnErrorNamingBothInputs) {
  TempDir tmp;
  write_node(tmp / "a", "same", 0, 0, 10, 4);
  write_node(tmp / "b", "same", 0, 0, 10, 4, 1);
  EXPECT_EQ(merge_error({{tmp / "a", "", 0}, {tmp / "b", "", 0}}),
            "two inputs are node \"same\": " + tmp / "a" + " and " + tmp / "b" +
                " (give one of them another node name)");
  // Named apart by the caller, they merge.
  const MergeResult r =
      merge_traces({{tmp / "a", "", 0}, {tmp / "b", "other", 0}}, {}, MergeOptions{});
  EXPECT_EQ(r.nodes[1].name, "other");
  EXPECT_THROW(merge_traces({{tmp / "nothing", "", 0}}, {}, MergeOptions{}), SysError);
}

TEST(Merge, CarriesTheFullNodeNameIntoTheUnifiedTrace) {
  TempDir tmp;
  write_node(tmp / "a", "truncated-by-the-module", 0, 0, 10, 4);
  const std::string full = std::string(kMaxNodeName - 4, 'n') + ".k8s";  // 253 bytes
  CtfSink ctf(tmp / "out");
  const MergeResult r = merge_traces({{tmp / "a", full, 0}}, {&ctf}, MergeOptions{});
  EXPECT_EQ(r.nodes[0].name, full);
  auto t = Trace::open(tmp / "out" + "/" + full);
  EXPECT_EQ(t->meta().hostname(), full);
}

TEST(Merge, RefusesNodeNamesTheTraceCannotCarry) {
  TempDir tmp;
  write_node(tmp / "a", "ok", 0, 0, 10, 4);
  const std::string too_long(kMaxNodeName + 1, 'n');
  EXPECT_NE(
      merge_error({{tmp / "a", too_long, 0}}).find("is not usable: " + std::string(kNodeNameRule)),
      std::string::npos);
  for (const char *bad : {"a\"b", "line\nbreak", "-lead", "trail.", "sp ace", "..", "é"})
    EXPECT_FALSE(valid_node_name(bad)) << bad;
  for (const char *good : {"a", "node-a", "ip-10-0-0-1.ec2.internal", "Node_2"})
    EXPECT_TRUE(valid_node_name(good)) << good;
  // A name that comes from the trace: the message says to name the input.
  write_node(tmp / "q", "bad\"host", 0, 0, 10, 4);
  EXPECT_NE(merge_error({{tmp / "q", "", 0}}).find("give the input a node name"),
            std::string::npos);
}

TEST(ChromeSink, NestsSyscallsAndInterruptsInsideSlices) {
  TempDir tmp;
  {
    WriterOptions o;
    o.meta = test_meta("n", 0);
    TraceWriter w(tmp / "a", o);
    w.event(0, REWIND_EV_STATEDUMP_PROCESS, 1,
            {snum(42), snum(42), snum(1), str("worker"), num(0), num(0), num(0), num(0), num(0),
             num(0)});
    w.event(0, REWIND_EV_SCHED_SWITCH, 10, {snum(0), num(120), num(0), snum(42), num(120)});
    w.event(0, REWIND_EV_SYS_ENTER, 20, {snum(0)});
    w.event(0, REWIND_EV_IRQ_HANDLER_ENTRY, 30, {num(11)});
    w.event(0, REWIND_EV_SOFTIRQ_ENTRY, 35, {num(3)});
    w.event(0, REWIND_EV_SOFTIRQ_EXIT, 36, {});
    w.event(0, REWIND_EV_IRQ_HANDLER_EXIT, 40, {num(1)});
    w.event(0, REWIND_EV_SCHED_SWITCH, 50, {snum(42), num(120), num(1), snum(0), num(120)});
    w.event(0, REWIND_EV_SCHED_SWITCH, 60, {snum(0), num(120), num(0), snum(42), num(120)});
    w.event(0, REWIND_EV_SYS_EXIT, 70, {snum(5)});
    w.event(0, REWIND_EV_SCHED_WAKEUP, 75, {snum(7), num(120), num(0)});
  }
  // Times from the first event (at 1 ns): the slice at 10 ns starts at 0.009 us.
  ChromeSink relative(tmp / "r.json", true);
  merge_traces({{tmp / "a", "", 0}}, {&relative}, MergeOptions{});
  const std::string rel = read_file(tmp / "r.json", 1 << 20);
  EXPECT_NE(rel.find("\"name\":\"worker 42\",\"cat\":\"sched\",\"ph\":\"X\",\"pid\":1,\"tid\":0,"
                     "\"ts\":0.009,\"dur\":0.040"),
            std::string::npos)
      << rel;
  EXPECT_NE(rel.find("],\"otherData\":{\"rewind_time\":\"since_first_event\","
                     "\"rewind_first_event_unix_ns\":\"1\"}}"),
            std::string::npos)
      << rel;
  // A window without events has no first event to name.
  ChromeSink empty(tmp / "e.json", true);
  MergeOptions none;
  none.from_ns = 1000;
  merge_traces({{tmp / "a", "", 0}}, {&empty}, none);
  EXPECT_NE(read_file(tmp / "e.json", 1 << 20)
                .find("],\"otherData\":{\"rewind_time\":\"since_first_event\"}}"),
            std::string::npos);
  // By default Unix-epoch time (the clock's origin here is the epoch itself): 0.010 us.
  ChromeSink chrome(tmp / "t.json");
  merge_traces({{tmp / "a", "", 0}}, {&chrome}, MergeOptions{});
  // slices: worker 42 [10,50], read [20,50], irq [30,40], softirq [35,36], worker 42 [60,75],
  // read (cont.) [60,70]
  EXPECT_EQ(chrome.spans(), 6u);
  EXPECT_EQ(chrome.instants(), 1u);
  const std::string json = read_file(tmp / "t.json", 1 << 20);
  EXPECT_NE(json.find("\"name\":\"worker 42\",\"cat\":\"sched\",\"ph\":\"X\",\"pid\":1,\"tid\":0,"
                      "\"ts\":0.010,\"dur\":0.040"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("],\"otherData\":{\"rewind_time\":\"unix_epoch\"}}"), std::string::npos)
      << json;
  // System call 0 is x86-64's read; its span reopened after the switch keeps the name.
  EXPECT_NE(json.find("\"name\":\"read\",\"cat\":\"syscall\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"name\":\"read (cont.)\""), std::string::npos) << json;
  EXPECT_EQ(json.find("\"name\":\"syscall "), std::string::npos) << json;
  EXPECT_NE(json.find("\"name\":\"softirq NET_RX\""), std::string::npos);
  EXPECT_NE(json.find("\"ret\":5"), std::string::npos);
  EXPECT_EQ(json.find("\"dur\":-"), std::string::npos);
}

TEST(ChromeSink, StatedumpOpensSlicesOnOtherCpusWithoutNegativeDurations) {
  TempDir tmp;
  {
    WriterOptions o;
    o.meta = test_meta("n", 0);
    TraceWriter w(tmp / "a", o);
    // CPU 0 reports that tid 9 runs on CPU 3, which records nothing afterwards.
    w.event(0, REWIND_EV_STATEDUMP_CPU, 100, {num(3), snum(9)});
    w.event(0, REWIND_EV_SCHED_WAKEUP, 200, {snum(7), num(120), num(0)});
  }
  ChromeSink chrome(tmp / "t.json", true);  // times from the first event
  merge_traces({{tmp / "a", "", 0}}, {&chrome}, MergeOptions{});
  const std::string json = read_file(tmp / "t.json", 1 << 20);
  EXPECT_EQ(chrome.spans(), 1u);
  EXPECT_NE(
      json.find(
          "\"name\":\"tid "
          "9\",\"cat\":\"sched\",\"ph\":\"X\",\"pid\":1,\"tid\":3,\"ts\":0.000,\"dur\":0.000"),
      std::string::npos)
      << json;
  EXPECT_EQ(json.find("\"dur\":-"), std::string::npos);
}

TEST(Merge, BothCtfPathsGiveTheSameEvents) {
  // Whole packets (no window) and event by event (a window): both outputs read back equal to
  // what the merge handed out.
  TempDir tmp;
  write_node(tmp / "a", "node-a", 1000000000000, 0, 1000, 300);
  CtfSink whole(tmp / "whole");
  Collect all;
  merge_traces({{tmp / "a", "", 7}}, {&whole}, MergeOptions{});
  merge_traces({{tmp / "a", "", 7}}, {&all}, MergeOptions{});
  Collect reread;
  merge_traces({{tmp / "whole", "", 0}}, {&reread}, strict_options());
  ASSERT_EQ(reread.rows.size(), all.rows.size());
  for (size_t i = 0; i < all.rows.size(); i++) ASSERT_EQ(reread.rows[i].t, all.rows[i].t) << i;

  MergeOptions window;
  window.from_ns = all.rows[50].t;
  window.to_ns = all.rows[149].t;
  CtfSink part(tmp / "part");
  merge_traces({{tmp / "a", "", 7}}, {&part}, window);
  Collect reread_part;
  merge_traces({{tmp / "part", "", 0}}, {&reread_part}, strict_options());
  ASSERT_EQ(reread_part.rows.size(), 100u);
  for (size_t i = 0; i < 100; i++) {
    ASSERT_EQ(reread_part.rows[i].t, all.rows[50 + i].t) << i;
    ASSERT_EQ(reread_part.rows[i].v, all.rows[50 + i].v) << i;
  }
}
