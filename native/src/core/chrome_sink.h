// Output (b) of the merge: Chrome Trace Event JSON, which the Perfetto UI and chrome://tracing
// open. A process per node, a thread (track) per CPU. Spans are complete ("X") events kept on a
// per-CPU stack, so they nest by construction: a task's slice (sched_switch to sched_switch)
// holds its syscalls; irq and softirq spans sit on top of whatever they interrupted. Closing a
// span closes every span above it first; a syscall cut by a context switch is closed there and
// reopened ("(cont.)") when its task runs again. Other events are instants on the CPU's track.
#pragma once

#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/merge.h"

namespace rwd {

class ChromeSink : public MergeSink {
 public:
  explicit ChromeSink(std::string path);  // "-": standard output
  ~ChromeSink() override;
  void begin(const std::vector<NodeInfo> &nodes, const std::vector<StreamInfo> &streams) override;
  void event(const MergedEvent &e) override;
  void end() override;
  uint64_t spans() const { return spans_; }
  uint64_t instants() const { return instants_; }

 private:
  enum class Kind { Task, Syscall, Irq, Softirq };
  struct Span {
    Kind kind;
    std::string name;
    int64_t start;
    int64_t tid;
    std::string args;  // JSON object members, without braces
  };
  struct Cpu {
    std::vector<Span> stack;
    int64_t current_tid = -1;
    int64_t last = 0;
  };
  struct Node {
    std::unordered_map<uint32_t, Cpu> cpus;
    std::unordered_map<int64_t, std::string> comm;
    std::unordered_map<int64_t, int64_t> in_syscall;  // tid -> syscall id, while blocked in it
    std::unordered_map<uint32_t, std::string> irq_names;
  };

  Cpu &cpu_state(uint32_t node, uint32_t cpu);
  void push(uint32_t node, uint32_t cpu, Span s);
  void pop_to(uint32_t node, uint32_t cpu, Kind kind, int64_t t, const std::string &extra);
  void close_span(uint32_t node, uint32_t cpu, const Span &s, int64_t t, const std::string &extra);
  void switch_to(uint32_t node, uint32_t cpu, int64_t tid, int64_t t);
  std::string task_name(uint32_t node, int64_t tid) const;
  void emit(const std::string &json);
  void ts_field(std::string &o, const char *key, int64_t from, int64_t to) const;

  std::string path_;
  FILE *f_ = nullptr;
  bool first_ = true;
  bool have_base_ = false;
  int64_t base_ = 0;
  std::vector<Node> nodes_;
  std::vector<std::string> node_names_;
  uint64_t spans_ = 0, instants_ = 0;
  std::vector<Value> values_;  // reused per event
  std::string line_;
};

}  // namespace rwd
