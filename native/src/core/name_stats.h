// What `rewind-trace stats` shows by name, per node: the system calls entered (by number, named
// by core/names.h), the interrupt handlers run (named by the trace's statedump_irq events), and
// the threads by CPU time (named by the comm the statedump, fork, exec and rename events gave
// them, and by their pod when the trace's process_pod events say it). A merge sink: it sees the
// events in time order, so a name given before an event names it, and one given later (a thread
// renamed) replaces it — the last name is the one shown.
//
// CPU time: from a sched_switch to a thread until the next sched_switch on that CPU, or until
// the CPU's last event. The time before a CPU's first switch is given to the thread the
// statedump found running there (statedump_cpu), if any; otherwise it is not counted.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/merge.h"

namespace rwd {

struct ThreadUse {
  int64_t tid = 0;
  std::string comm;          // "" when no event named it
  std::string pod;           // "namespace/pod" from process_pod; "" when unknown
  uint64_t switches_in = 0;  // sched_switch events that ran it
  int64_t cpu_ns = 0;        // CPU time in the window
};

struct NodeNames {
  std::map<int64_t, uint64_t> syscalls;            // number -> sys_enter events
  std::map<uint32_t, uint64_t> irqs;               // irq -> irq_handler_entry events
  std::map<uint32_t, std::string> irq_names;       // irq -> the statedump's name
  std::unordered_map<int64_t, ThreadUse> threads;  // by tid (0, the idle task, left out)
};

class NameStatsSink : public MergeSink {
 public:
  void begin(const std::vector<NodeInfo> &nodes, const std::vector<StreamInfo> &) override;
  void event(const MergedEvent &e) override;
  void skipped(const MergedEvent &e) override;  // names given before the window hold in it
  void end() override;
  const std::vector<NodeNames> &nodes() const { return names_; }

 private:
  struct Cpu {
    int64_t tid = -1;  // running since `since`; -1: not known yet
    int64_t since = 0;
    int64_t last = 0;  // the CPU's latest event
  };
  ThreadUse &thread(uint32_t node, int64_t tid);
  void learn(uint32_t node, const RawEvent &ev, const std::vector<Value> &v);
  void run(uint32_t node, uint32_t cpu, int64_t tid, int64_t t);

  std::vector<NodeNames> names_;
  std::vector<std::map<uint32_t, Cpu>> cpus_;  // per node, per CPU
  std::vector<Value> values_;                  // reused per event
};

}  // namespace rwd
