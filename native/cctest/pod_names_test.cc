// Pods named in the merge (core/pod_names): which events name a thread's cgroup, the process_pod
// payload, a node's thread -> pod state across the window's edge, and the CTF and Chrome outputs
// of a merge given pod names (re-read with the core's own decoder here; babeltrace2 judges the
// same outputs in test/native/naming.test.ts).
#include "core/pod_names.h"

#include <gtest/gtest.h>
#include <rewind/format.h>

#include <fstream>
#include <sstream>

#include "core/chrome_sink.h"
#include "core/ctf_sink.h"
#include "core/merge.h"
#include "test_util.h"

using namespace rwd;
using namespace rwd_test;

namespace {

const PodName kWeb{"shop", "web-1", "nginx", "11111111-2222-3333-4444-555555555555"};
const PodName kDbPod{"shop", "db-0", "", "66666666-7777-8888-9999-aaaaaaaaaaaa"};

// A RawEvent over a payload encoded by the writer (kept alive by the returned string).
struct Ev {
  std::string payload;
  RawEvent raw;
  Ev(uint32_t id, const std::vector<Value> &v) {
    payload = encode_fields(*find_event(id), v);
    raw.desc = find_event(id);
    raw.payload = reinterpret_cast<const uint8_t *>(payload.data());
    raw.size = uint32_t(payload.size());
  }
};

Ev statedump(int32_t tid, int32_t pid, uint64_t cgroup, const std::string &comm) {
  return Ev(REWIND_EV_STATEDUMP_PROCESS, {snum(tid), snum(pid), snum(1), str(comm), num(0), num(0),
                                          num(cgroup), num(1), num(2), num(3)});
}
Ev cgroup_ev(int32_t tid, int32_t pid, uint64_t cgroup) {
  return Ev(REWIND_EV_SCHED_PROCESS_CGROUP, {snum(tid), snum(pid), num(cgroup)});
}

std::shared_ptr<const PodNameTable> table() {
  return std::make_shared<const PodNameTable>(
      PodNameTable{{100, kWeb}, {0xFFFFFFFFFFFFFFFFull, kDbPod}});
}

std::string read_all(const std::string &path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class Collect : public MergeSink {
 public:
  struct Row {
    uint32_t node, cpu, id;
    uint64_t ts;
    std::vector<Value> v;
  };
  std::vector<Row> rows;
  void event(const MergedEvent &e) override {
    rows.push_back({e.node, e.ev->cpu, e.ev->desc->id, e.ev->ts,
                    decode_fields(*e.ev->desc, e.ev->payload, e.ev->size)});
  }
};

// One node: a statedump at 100/110 naming tids 7 (cgroup 100) and 8 (cgroup max), a fork+cgroup
// of tid 9 (cgroup 100) at 500 on CPU 1, tid 8 moved to an unnamed cgroup at 600, and wakeups.
void write_node(const std::string &dir, const std::string &host) {
  WriterOptions o;
  o.meta = test_meta(host, 1000000000000);
  o.packet_size = 256;
  TraceWriter w(dir, o);
  w.event(
      0, REWIND_EV_STATEDUMP_PROCESS, 100,
      {snum(7), snum(7), snum(1), str("nginx"), num(0), num(0), num(100), num(1), num(2), num(3)});
  w.event(0, REWIND_EV_STATEDUMP_PROCESS, 110,
          {snum(8), snum(8), snum(1), str("postgres"), num(0), num(0), num(0xFFFFFFFFFFFFFFFFull),
           num(1), num(2), num(3)});
  w.event(0, REWIND_EV_SCHED_WAKING, 300, {snum(7), num(120), num(0)});
  w.event(1, REWIND_EV_SCHED_PROCESS_CGROUP, 500, {snum(9), snum(7), num(100)});
  w.event(1, REWIND_EV_SCHED_SWITCH, 550, {snum(0), num(120), num(0), snum(9), num(120)});
  w.event(0, REWIND_EV_SCHED_PROCESS_CGROUP, 600, {snum(8), snum(8), num(42)});
  w.event(0, REWIND_EV_SCHED_WAKING, 700, {snum(8), num(120), num(0)});
  w.close();
}

std::vector<Collect::Row> pods_of(const std::vector<Collect::Row> &rows) {
  std::vector<Collect::Row> out;
  for (const auto &r : rows)
    if (r.id == REWIND_EV_PROCESS_POD) out.push_back(r);
  return out;
}

}  // namespace

TEST(PodNames, NamingEventsAreStatedumpAndCgroupChanges) {
  ThreadCgroup t;
  const Ev sd = statedump(7, 6, 100, "nginx");
  ASSERT_TRUE(naming_event(sd.raw, t));
  EXPECT_EQ(t.tid, 7);
  EXPECT_EQ(t.pid, 6);
  EXPECT_EQ(t.cgroup_id, 100u);
  const Ev cg = cgroup_ev(-1, 9, 0xFFFFFFFFFFFFFFFFull);
  ASSERT_TRUE(naming_event(cg.raw, t));
  EXPECT_EQ(t.tid, -1);
  EXPECT_EQ(t.cgroup_id, 0xFFFFFFFFFFFFFFFFull);
  const Ev other = Ev(REWIND_EV_SCHED_PROCESS_EXIT, {snum(7)});
  EXPECT_FALSE(naming_event(other.raw, t));
}

TEST(PodNames, ProcessPodPayloadFollowsTheTable) {
  const std::string p = process_pod_payload({7, 6, 100}, kWeb);
  const std::vector<Value> v =
      decode_fields(*find_event(REWIND_EV_PROCESS_POD), reinterpret_cast<const uint8_t *>(p.data()),
                    uint32_t(p.size()));
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(int32_t(v[0].num), 7);
  EXPECT_EQ(int32_t(v[1].num), 6);
  EXPECT_EQ(v[2].num, 100u);
  EXPECT_EQ(v[3].bytes, "shop");
  EXPECT_EQ(v[4].bytes, "web-1");
  EXPECT_EQ(v[5].bytes, "nginx");
  EXPECT_EQ(v[6].bytes, kWeb.pod_uid);
  EXPECT_EQ(pod_label(kWeb), "shop/web-1/nginx");
  EXPECT_EQ(pod_label(kDbPod), "shop/db-0");
}

TEST(PodNames, ThreadPodsFollowTheLatestNaming) {
  ThreadPods none;
  EXPECT_FALSE(none.active());
  ThreadPods p(table());
  ASSERT_TRUE(p.active());
  // Before the window: 7 in a named cgroup, 8 too but then moved out, 9 named last.
  p.skipped(statedump(7, 7, 100, "a").raw);
  p.skipped(statedump(8, 8, 0xFFFFFFFFFFFFFFFFull, "b").raw);
  p.skipped(cgroup_ev(8, 8, 5).raw);
  p.skipped(cgroup_ev(9, 7, 0xFFFFFFFFFFFFFFFFull).raw);
  ASSERT_NE(p.pod_of(7), nullptr);
  EXPECT_EQ(*p.pod_of(7), kWeb);
  EXPECT_EQ(p.pod_of(8), nullptr);
  // In the window: 9 renamed by a written event supersedes its skipped one.
  ThreadCgroup t;
  const PodName *n = p.written(cgroup_ev(9, 7, 100).raw, t);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(*n, kWeb);
  EXPECT_EQ(t.tid, 9);
  const auto pending = p.take_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].first.tid, 7);
  EXPECT_EQ(*pending[0].second, kWeb);
  EXPECT_TRUE(p.take_pending().empty());  // once
  EXPECT_EQ(p.written(cgroup_ev(7, 7, 3).raw, t), nullptr);
  EXPECT_EQ(p.pod_of(7), nullptr);
}

TEST(PodNames, CtfOutputNamesThreadsAfterTheirNamingEvents) {
  TempDir tmp;
  write_node(tmp / "a", "node-a");
  MergeOptions o = strict_options();
  o.pod_names["node-a"] = *table();
  CtfSink ctf(tmp / "out");
  const MergeResult r = merge_traces({{tmp / "a", "", 0}}, {&ctf}, o);
  EXPECT_EQ(r.events, 7u);
  EXPECT_EQ(ctf.pod_events(), std::vector<uint64_t>{3});
  Collect c;
  merge_traces({{tmp / "out", "", 0}}, {&c}, strict_options());
  ASSERT_EQ(c.rows.size(), 10u);
  // Each process_pod right after its naming event, same CPU, same time.
  const std::vector<uint32_t> ids = {REWIND_EV_STATEDUMP_PROCESS,    REWIND_EV_PROCESS_POD,
                                     REWIND_EV_STATEDUMP_PROCESS,    REWIND_EV_PROCESS_POD,
                                     REWIND_EV_SCHED_WAKING,         REWIND_EV_SCHED_PROCESS_CGROUP,
                                     REWIND_EV_PROCESS_POD,          REWIND_EV_SCHED_SWITCH,
                                     REWIND_EV_SCHED_PROCESS_CGROUP, REWIND_EV_SCHED_WAKING};
  std::vector<uint32_t> got;
  for (const auto &row : c.rows) got.push_back(row.id);
  EXPECT_EQ(got, ids);
  const auto pods = pods_of(c.rows);
  ASSERT_EQ(pods.size(), 3u);
  EXPECT_EQ(pods[0].ts, 100u);
  EXPECT_EQ(pods[0].v[4].bytes, "web-1");
  EXPECT_EQ(pods[1].ts, 110u);
  EXPECT_EQ(pods[1].v[2].num, 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(pods[1].v[4].bytes, "db-0");
  EXPECT_EQ(pods[1].v[5].bytes, "");
  EXPECT_EQ(pods[2].ts, 500u);
  EXPECT_EQ(pods[2].cpu, 1u);
  EXPECT_EQ(int32_t(pods[2].v[0].num), 9);
}

TEST(PodNames, AWindowThatCutsTheStatedumpStillNames) {
  TempDir tmp;
  write_node(tmp / "a", "node-a");
  MergeOptions o = strict_options();
  o.pod_names["node-a"] = *table();
  o.from_ns = 1000000000000 + 200;  // after the statedump
  CtfSink ctf(tmp / "out");
  const MergeResult r = merge_traces({{tmp / "a", "", 0}}, {&ctf}, o);
  EXPECT_EQ(r.events, 5u);
  Collect c;
  merge_traces({{tmp / "out", "", 0}}, {&c}, strict_options());
  const auto pods = pods_of(c.rows);
  // tids 7 and 8 at the first event written (waking at 300), then 9 at its cgroup event.
  ASSERT_EQ(pods.size(), 3u);
  EXPECT_EQ(c.rows[0].id, uint32_t(REWIND_EV_PROCESS_POD));
  EXPECT_EQ(int32_t(pods[0].v[0].num), 7);
  EXPECT_EQ(pods[0].ts, 300u);
  EXPECT_EQ(int32_t(pods[1].v[0].num), 8);
  EXPECT_EQ(pods[1].ts, 300u);
  EXPECT_EQ(int32_t(pods[2].v[0].num), 9);
  EXPECT_EQ(c.rows.size(), 5u + 3u);
}

TEST(PodNames, WithoutNamesPacketsAreCopiedAndNothingIsAdded) {
  TempDir tmp;
  write_node(tmp / "a", "node-a");
  CtfSink ctf(tmp / "out");
  merge_traces({{tmp / "a", "", 0}}, {&ctf}, strict_options());
  EXPECT_TRUE(ctf.takes_packets());
  Collect c;
  merge_traces({{tmp / "out", "", 0}}, {&c}, strict_options());
  EXPECT_EQ(c.rows.size(), 7u);
  EXPECT_TRUE(pods_of(c.rows).empty());
}

TEST(PodNames, AnUnknownNodeIsAnError) {
  TempDir tmp;
  write_node(tmp / "a", "node-a");
  MergeOptions o = strict_options();
  o.pod_names["node-b"] = *table();
  Collect c;
  try {
    merge_traces({{tmp / "a", "", 0}}, {&c}, o);
    FAIL() << "no error";
  } catch (const std::invalid_argument &e) {
    EXPECT_STREQ(e.what(),
                 "a pod names table names node \"node-b\", which no input is (nodes: node-a)");
  }
}

TEST(PodNames, ChromeTasksCarryTheirPod) {
  TempDir tmp;
  write_node(tmp / "a", "node-a");
  MergeOptions o = strict_options();
  o.pod_names["node-a"] = *table();
  o.from_ns = 1000000000000 + 200;
  {
    ChromeSink chrome(tmp / "t.json");
    merge_traces({{tmp / "a", "", 0}}, {&chrome}, o);
  }
  const std::string json = read_all(tmp / "t.json");
  // tid 9 was forked (cgroup event) in the window and switched in at 550; no comm known.
  EXPECT_NE(json.find("\"name\":\"tid 9 (shop/web-1/nginx)\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"namespace\":\"shop\",\"pod\":\"web-1\",\"container\":\"nginx\""),
            std::string::npos);
}

namespace {

// The lines (one event each) of a Chrome JSON file that mention one of the given ids.
std::vector<std::string> lines_with(const std::string &json, const std::string &needle) {
  std::vector<std::string> out;
  std::istringstream in(json);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == ',') line.pop_back();
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

// One node for the pod threads' tracks. Before the window (200): a statedump names tid 7 nginx
// (web-1's nginx container), 8 postgres (db-0, pod-level) and 5 cron (no pod). In it: 7 runs on
// CPU 0 then CPU 1, execs as nginx-w, and is moved to db-0; 8 runs on CPU 1 and is switched in
// on CPU 0 while CPU 1 never switched it out (a lost switch); both still run at the end.
void write_pod_threads(const std::string &dir) {
  WriterOptions o;
  o.meta = test_meta("node-a", 1000000000000);
  TraceWriter w(dir, o);
  const auto sd = [&](uint64_t ts, int32_t tid, const char *comm, uint64_t cgroup) {
    w.event(0, REWIND_EV_STATEDUMP_PROCESS, ts,
            {snum(tid), snum(tid), snum(1), str(comm), num(0), num(0), num(cgroup), num(1), num(2),
             num(3)});
  };
  const auto sw = [&](uint32_t cpu, uint64_t ts, int32_t prev, int32_t next) {
    w.event(cpu, REWIND_EV_SCHED_SWITCH, ts, {snum(prev), num(120), num(0), snum(next), num(120)});
  };
  sd(100, 7, "nginx", 100);
  sd(110, 8, "postgres", 0xFFFFFFFFFFFFFFFFull);
  sd(120, 5, "cron", 42);
  sw(0, 300, 0, 7);
  sw(0, 400, 7, 5);
  sw(1, 450, 0, 7);
  w.event(1, REWIND_EV_SCHED_PROCESS_EXEC, 500, {snum(7), snum(7), str("nginx-w"), str("/x")});
  sw(1, 600, 7, 8);
  sw(0, 650, 5, 8);
  w.event(0, REWIND_EV_SCHED_PROCESS_CGROUP, 700, {snum(7), snum(7), num(0xFFFFFFFFFFFFFFFFull)});
  sw(1, 800, 8, 7);
  w.close();
}

}  // namespace

TEST(PodNames, ChromePodThreadsGetTracksInAProcessPerPod) {
  TempDir tmp;
  write_pod_threads(tmp / "a");
  MergeOptions o = strict_options();
  o.pod_names["node-a"] = *table();
  o.from_ns = 1000000000000 + 200;
  ChromeSink chrome(tmp / "t.json", true);  // times from the first event
  merge_traces({{tmp / "a", "", 0}}, {&chrome}, o);
  EXPECT_EQ(chrome.pod_threads(), 3u);
  EXPECT_EQ(chrome.thread_slices(), 5u);
  const std::string json = read_all(tmp / "t.json");
  const std::string web = "\"pid\":1073741824", db = "\"pid\":1073741825";
  const std::string web_args =
      "\"tid\":7,\"namespace\":\"shop\",\"pod\":\"web-1\",\"container\":\"nginx\","
      "\"pod_uid\":\"11111111-2222-3333-4444-555555555555\"";
  const std::string db_args =
      "\"namespace\":\"shop\",\"pod\":\"db-0\",\"container\":\"\","
      "\"pod_uid\":\"66666666-7777-8888-9999-aaaaaaaaaaaa\"";
  // Everything on the pods' processes (pid 0x40000000 + k), in the order written.
  const std::vector<std::string> want = {
      // Named before the window: at the first event in it, in tid order.
      "{\"name\":\"process_name\",\"ph\":\"M\"," + web +
          ",\"tid\":1073741824,\"args\":{\"name\":\"shop/web-1 (node-a)\"}}",
      "{\"name\":\"process_labels\",\"ph\":\"M\"," + web +
          ",\"tid\":1073741824,\"args\":{\"labels\":\"uid 11111111-2222-3333-4444-555555555555\"}}",
      "{\"name\":\"process_sort_index\",\"ph\":\"M\"," + web +
          ",\"tid\":1073741824,\"args\":{\"sort_index\":1}}",
      "{\"name\":\"thread_sort_index\",\"ph\":\"M\"," + web +
          ",\"tid\":2147483648,\"args\":{\"sort_index\":7}}",
      "{\"name\":\"thread_name\",\"ph\":\"M\"," + web +
          ",\"tid\":2147483648,\"args\":{\"name\":\"nginx 7 [nginx]\"}}",
      "{\"name\":\"process_name\",\"ph\":\"M\"," + db +
          ",\"tid\":1073741825,\"args\":{\"name\":\"shop/db-0 (node-a)\"}}",
      "{\"name\":\"process_labels\",\"ph\":\"M\"," + db +
          ",\"tid\":1073741825,\"args\":{\"labels\":\"uid 66666666-7777-8888-9999-aaaaaaaaaaaa\"}}",
      "{\"name\":\"process_sort_index\",\"ph\":\"M\"," + db +
          ",\"tid\":1073741825,\"args\":{\"sort_index\":2}}",
      "{\"name\":\"thread_sort_index\",\"ph\":\"M\"," + db +
          ",\"tid\":2147483649,\"args\":{\"sort_index\":8}}",
      "{\"name\":\"thread_name\",\"ph\":\"M\"," + db +
          ",\"tid\":2147483649,\"args\":{\"name\":\"postgres 8\"}}",
      // 7's slices on CPU 0 and CPU 1, copied onto its track; its exec renames the track.
      "{\"name\":\"nginx 7 (shop/web-1/nginx)\",\"cat\":\"sched\",\"ph\":\"X\"," + web +
          ",\"tid\":2147483648,\"ts\":0.000,\"dur\":0.100,\"args\":{" + web_args + ",\"cpu\":0}}",
      "{\"name\":\"thread_name\",\"ph\":\"M\"," + web +
          ",\"tid\":2147483648,\"args\":{\"name\":\"nginx-w 7 [nginx]\"}}",
      "{\"name\":\"nginx 7 (shop/web-1/nginx)\",\"cat\":\"sched\",\"ph\":\"X\"," + web +
          ",\"tid\":2147483648,\"ts\":0.150,\"dur\":0.150,\"args\":{" + web_args + ",\"cpu\":1}}",
      // 8 switched in on CPU 0 while still on CPU 1: the copy from CPU 1 ends there.
      "{\"name\":\"postgres 8 (shop/db-0)\",\"cat\":\"sched\",\"ph\":\"X\"," + db +
          ",\"tid\":2147483649,\"ts\":0.300,\"dur\":0.050,\"args\":{\"tid\":8," + db_args +
          ",\"cpu\":1}}",
      // 7 moved to db-0: a new track there.
      "{\"name\":\"thread_sort_index\",\"ph\":\"M\"," + db +
          ",\"tid\":2147483650,\"args\":{\"sort_index\":7}}",
      "{\"name\":\"thread_name\",\"ph\":\"M\"," + db +
          ",\"tid\":2147483650,\"args\":{\"name\":\"nginx-w 7\"}}",
      // Still running at the end: closed at their CPU's last event, marked unfinished.
      "{\"name\":\"nginx-w 7 (shop/db-0)\",\"cat\":\"sched\",\"ph\":\"X\"," + db +
          ",\"tid\":2147483650,\"ts\":0.500,\"dur\":0.000,\"args\":{\"tid\":7," + db_args +
          ",\"cpu\":1,\"unfinished\":true}}",
      "{\"name\":\"postgres 8 (shop/db-0)\",\"cat\":\"sched\",\"ph\":\"X\"," + db +
          ",\"tid\":2147483649,\"ts\":0.350,\"dur\":0.050,\"args\":{\"tid\":8," + db_args +
          ",\"cpu\":0,\"unfinished\":true}}",
  };
  EXPECT_EQ(lines_with(json, "\"pid\":10737418"), want) << json;
  // The CPU tracks are as before: the node's process, a track per CPU, the same slices (cron,
  // without a pod, only there).
  EXPECT_EQ(lines_with(json, "\"thread_name\"").size(), 2u + 4u);
  EXPECT_EQ(
      lines_with(json, "\"name\":\"cron 5\",\"cat\":\"sched\",\"ph\":\"X\",\"pid\":1,\"tid\":0")
          .size(),
      1u);
  EXPECT_EQ(lines_with(json,
                       "\"name\":\"nginx 7 (shop/web-1/nginx)\",\"cat\":\"sched\","
                       "\"ph\":\"X\",\"pid\":1,")
                .size(),
            2u);
  EXPECT_EQ(chrome.spans(), 6u);  // 7, 5, 7, 8 (cut at 800), 8 and 7 unfinished
}

TEST(PodNames, ChromeWithoutPodNamesHasNoPodTracks) {
  TempDir tmp;
  write_pod_threads(tmp / "a");
  ChromeSink chrome(tmp / "t.json");
  merge_traces({{tmp / "a", "", 0}}, {&chrome}, strict_options());
  EXPECT_EQ(chrome.pod_threads(), 0u);
  EXPECT_EQ(chrome.thread_slices(), 0u);
  const std::string json = read_all(tmp / "t.json");
  EXPECT_TRUE(lines_with(json, "\"pid\":10737418").empty()) << json;
  EXPECT_TRUE(lines_with(json, "\"tid\":21474836").empty()) << json;
}

TEST(PodNames, ChromeCpuTracksStayBelowThePodRanges) {
  // No kernel has CPU 2^30 + 5, but a packet header can say so: its track is folded below 2^30.
  TempDir tmp;
  {
    WriterOptions o;
    o.meta = test_meta("n", 0);
    TraceWriter w(tmp / "a", o);
    w.event(0x40000005u, REWIND_EV_SCHED_WAKEUP, 10, {snum(7), num(120), num(0)});
  }
  ChromeSink chrome(tmp / "t.json");
  merge_traces({{tmp / "a", "", 0}}, {&chrome}, MergeOptions{});
  const std::string json = read_all(tmp / "t.json");
  EXPECT_NE(json.find("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":5,\"args\":{"
                      "\"name\":\"CPU 1073741829\"}}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"name\":\"sched_wakeup\",\"cat\":\"event\",\"ph\":\"i\",\"s\":\"t\","
                      "\"pid\":1,\"tid\":5,"),
            std::string::npos)
      << json;
}
