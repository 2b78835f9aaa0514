// Output (b) of the merge: Chrome Trace Event JSON, which the Perfetto UI and chrome://tracing
// open. A process per node, a thread (track) per CPU. Spans are complete ("X") events kept on a
// per-CPU stack, so they nest by construction: a task's slice (sched_switch to sched_switch)
// holds its syscalls; irq and softirq spans sit on top of whatever they interrupted. Closing a
// span closes every span above it first; a syscall cut by a context switch is closed there and
// reopened ("read (cont.)") when its task runs again. Other events are instants on the CPU's
// track. System calls are named (core/names.h: "read", "syscall 1023" for a number without a
// name), interrupts by the statedump's IRQ names, tasks by the comm the trace gave them.
//
// Time: "ts" is Unix-epoch time in microseconds with nanosecond digits, so exports of different
// traces line up; the top-level "otherData" says so ({"rewind_time": "unix_epoch"}). Viewers that
// read numbers as doubles (Perfetto's JSON importer, chrome://tracing) hold a Unix-epoch
// microsecond only to 0.25 us, and Perfetto's nanoseconds to 256 ns; with relative_time, "ts"
// counts from the first event instead, exact in any viewer, and "otherData" gives that event's
// Unix-epoch time ({"rewind_time": "since_first_event", "rewind_first_event_unix_ns": "..."}).
//
// Pods (NodeInfo::pod_names): a task whose pod is known is named with it on the CPU tracks,
// "nginx 1234 (shop/web-1/nginx)", its slices carrying namespace, pod, container and pod_uid as
// arguments. It also gets a track of its own, in a process per pod and node — what the Perfetto
// UI lists by name: process "shop/web-1 (node-1)" (process_name, process_labels with the pod uid,
// process_sort_index after the nodes), thread "nginx 1234 [nginx]" (comm, tid, container; no
// brackets for a pod-level cgroup; thread_name, renamed when its comm or container changes). Its
// task slices are copied there (same name and arguments, plus the CPU), so the track shows when
// it runs; what runs inside a slice (syscalls, interrupts) stays on the CPU tracks. Every thread
// named by a pod gets its track as soon as the pod is known, even if it never runs in the window;
// a thread that moves to another pod gets a new track under that pod. Threads without a known
// pod get no track of their own (the JSON stays small). Names and pods given by events before the
// window's start (skipped) count too.
//
// Ids. Chrome's pid and tid are numbers; Perfetto reads them as uint32, keys a thread by (tid,
// pid) but, in some versions, applies a thread_name to the latest thread with that tid alone. So
// the ranges below never overlap, and each pod thread's tid is used once in the whole output:
//   pid 1 .. N               the nodes, in input order (N inputs)
//   pid 0x40000000 + k       a pod on a node, k = 0, 1, ... in order of first appearance; its
//                            metadata events use tid = pid (Perfetto's main thread; no slices)
//   tid = CPU number         a node's CPU track ("CPU 3"; the same tid in each node's process,
//                            with the same name). A CPU id at or above 2^30, which no kernel has
//                            but a crafted packet header could carry, is folded below 2^30.
//   tid 0x80000000 + j       a pod's thread on a node, j = 0, 1, ... in order of first appearance
// The ids depend only on the events' order, so they are stable within one output and the same
// for the same inputs and options.
#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/merge.h"

namespace rwd {

class ChromeSink : public MergeSink {
 public:
  // path "-": standard output. relative_time: "ts" from the first event (above).
  explicit ChromeSink(std::string path, bool relative_time = false);
  ~ChromeSink() override;
  void begin(const std::vector<NodeInfo> &nodes, const std::vector<StreamInfo> &streams) override;
  void event(const MergedEvent &e) override;
  void skipped(const MergedEvent &e) override;
  void end() override;
  uint64_t spans() const { return spans_; }  // on the CPU tracks
  uint64_t instants() const { return instants_; }
  uint64_t thread_slices() const { return thread_slices_; }  // copies on pod threads' tracks
  uint64_t pod_threads() const { return next_thread_; }      // pod threads' tracks

  // The id ranges (above).
  static constexpr uint32_t kPodPidBase = 0x40000000u;
  static constexpr uint32_t kThreadTidBase = 0x80000000u;

 private:
  enum class Kind { Task, Syscall, Irq, Softirq };
  struct Span {
    Kind kind;
    std::string name;
    int64_t start;
    int64_t tid;
    std::string args;  // JSON object members, without braces
    int64_t id = -1;   // a syscall's number
  };
  struct Cpu {
    std::vector<Span> stack;
    int64_t current_tid = -1;
    int64_t last = 0;
  };
  // A pod thread's own track, under its pod's process.
  struct ThreadTrack {
    uint32_t pid;
    uint32_t tid;
    std::string name;  // the thread_name last written
  };
  // A pod thread's slice while it runs, to be copied onto its track when it ends.
  struct Run {
    uint32_t cpu;
    uint32_t pid, tid;  // the track's ids
    int64_t start;
    std::string name, args;
  };
  struct Node {
    std::unordered_map<uint32_t, Cpu> cpus;
    std::unordered_map<int64_t, std::string> comm;
    std::unordered_map<int64_t, int64_t> in_syscall;  // tid -> syscall number, while blocked in it
    std::unordered_map<uint32_t, std::string> irq_names;
    ThreadPods pods;
    std::map<std::string, uint32_t> pod_pids;  // pod uid (else namespace/pod) -> pid
    std::map<std::pair<int64_t, uint32_t>, ThreadTrack> tracks;  // (tid, pod pid) -> track
    std::unordered_map<int64_t, Run> runs;                       // tid -> its slice running
  };

  Cpu &cpu_state(uint32_t node, uint32_t cpu);
  void push(uint32_t node, uint32_t cpu, Span s);
  void pop_to(uint32_t node, uint32_t cpu, Kind kind, int64_t t, const std::string &extra);
  void close_span(uint32_t node, uint32_t cpu, const Span &s, int64_t t, const std::string &extra);
  void switch_to(uint32_t node, uint32_t cpu, int64_t tid, int64_t t);
  std::string task_name(uint32_t node, int64_t tid) const;
  std::string task_args(uint32_t node, int64_t tid) const;
  // Keeps the names (comm, irq) an event gives; true if it is one of those events.
  // `tid` is set to the thread whose comm it gives.
  bool learn_names(Node &n, const RawEvent &ev, const std::vector<Value> &v, int64_t &tid);
  // The pod thread's track (created and named on first use, renamed if its name changed), or
  // nullptr for a thread without a known pod.
  const ThreadTrack *name_thread(uint32_t node, int64_t tid);
  void run_starts(uint32_t node, uint32_t cpu, int64_t tid, int64_t t, const Span &slice);
  void run_ends(uint32_t node, int64_t tid, int64_t t, const std::string &extra);
  void emit(const std::string &json);
  void ts_field(std::string &o, const char *key, int64_t from, int64_t to) const;

  std::string path_;
  FILE *f_ = nullptr;
  bool first_ = true;
  bool relative_time_;
  bool have_base_ = false;  // base_ set (always, for Unix-epoch time: 0)
  int64_t base_ = 0;        // what "ts" counts from, Unix-epoch ns
  std::vector<Node> nodes_;
  std::vector<std::string> node_names_;
  uint64_t spans_ = 0, instants_ = 0, thread_slices_ = 0;
  uint32_t next_pod_ = 0, next_thread_ = 0;  // the next k and j (ids above)
  std::vector<Value> values_;                // reused per event
  std::string line_;
};

}  // namespace rwd
