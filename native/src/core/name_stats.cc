#include "core/name_stats.h"

#include <rewind/format.h>

#include "core/names.h"
#include "core/stream_decoder.h"

namespace rwd {

void NameStatsSink::begin(const std::vector<NodeInfo> &nodes, const std::vector<StreamInfo> &) {
  names_.assign(nodes.size(), NodeNames());
  cpus_.assign(nodes.size(), {});
}

ThreadUse &NameStatsSink::thread(uint32_t node, int64_t tid) {
  ThreadUse &u = names_[node].threads[tid];
  u.tid = tid;
  return u;
}

// Names an event gives: a thread's comm or pod, an IRQ's name.
void NameStatsSink::learn(uint32_t node, const RawEvent &ev, const std::vector<Value> &v) {
  if (ev.desc->id == REWIND_EV_PROCESS_POD) {
    const int64_t tid = field_int(ev, v, "tid");
    if (tid > 0)
      thread(node, tid).pod = field_str(ev, v, "namespace") + "/" + field_str(ev, v, "pod");
    return;
  }
  const GivenName given = name_given(ev, v);
  if (given.kind == GivenName::Kind::Thread && given.id > 0)
    thread(node, given.id).comm = given.name;
  if (given.kind == GivenName::Kind::Irq) names_[node].irq_names[uint32_t(given.id)] = given.name;
}

// `tid` runs on the CPU from `t`: what ran before is charged up to it.
void NameStatsSink::run(uint32_t node, uint32_t cpu, int64_t tid, int64_t t) {
  Cpu &c = cpus_[node][cpu];
  if (c.tid > 0 && t > c.since) thread(node, c.tid).cpu_ns += t - c.since;
  c.tid = tid;
  c.since = t;
}

void NameStatsSink::skipped(const MergedEvent &me) {
  const RawEvent &ev = *me.ev;
  decode_fields_into(*ev.desc, ev.payload, ev.size, values_);
  learn(me.node, ev, values_);
}

void NameStatsSink::event(const MergedEvent &me) {
  const RawEvent &ev = *me.ev;
  const uint32_t node = me.node;
  std::vector<Value> &v = values_;
  decode_fields_into(*ev.desc, ev.payload, ev.size, v);
  learn(node, ev, v);
  Cpu &c = cpus_[node][ev.cpu];
  c.last = me.time_ns;
  switch (ev.desc->id) {
    case REWIND_EV_SYS_ENTER:
      names_[node].syscalls[field_int(ev, v, "id")]++;
      return;
    case REWIND_EV_IRQ_HANDLER_ENTRY:
      names_[node].irqs[uint32_t(field_int(ev, v, "irq"))]++;
      return;
    case REWIND_EV_SCHED_SWITCH: {
      const int64_t next = field_int(ev, v, "next_tid");
      if (next > 0) thread(node, next).switches_in++;
      run(node, ev.cpu, next, me.time_ns);
      return;
    }
    case REWIND_EV_STATEDUMP_CPU: {
      // Who runs on that CPU at the snapshot's start, if no switch said it yet.
      Cpu &other = cpus_[node][uint32_t(field_int(ev, v, "cpu"))];
      if (other.tid == -1) {
        other.tid = field_int(ev, v, "current_tid");
        other.since = me.time_ns;
      }
      return;
    }
    default:
      return;
  }
}

void NameStatsSink::end() {
  for (uint32_t node = 0; node < cpus_.size(); node++)
    for (auto &kv : cpus_[node]) run(node, kv.first, -1, kv.second.last);
}

}  // namespace rwd
