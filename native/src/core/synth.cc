#include "core/synth.h"

#include <rewind/format.h>

#include <functional>

#include "core/writer.h"

namespace rwd {

namespace {

// xorshift64*: fast, deterministic, good enough for a workload shape.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

Value num(uint64_t v) { return Value{v, {}}; }

}  // namespace

uint64_t write_synthetic_trace(const std::string &dir, const SynthOptions &o) {
  WriterOptions wo;
  wo.meta = default_meta(o.hostname);
  wo.meta.clock.set_offset_ns(o.clock_offset_ns);
  // Deterministic per (seed, hostname): the same options give the same bytes.
  Rng ids{o.seed ^ std::hash<std::string>()(o.hostname) ^ 0x5bd1e995};
  for (auto &b : wo.meta.uuid) b = uint8_t(ids.next() >> 56);
  wo.meta.uuid[6] = uint8_t((wo.meta.uuid[6] & 0x0f) | 0x40);
  wo.meta.uuid[8] = uint8_t((wo.meta.uuid[8] & 0x3f) | 0x80);
  Uuid boot;
  for (auto &b : boot) b = uint8_t(ids.next() >> 56);
  wo.meta.clock.uuid = uuid_to_string(boot);
  wo.packet_size = o.packet_size;
  TraceWriter w(dir, wo);
  uint64_t total = 0;
  for (uint32_t cpu = 0; cpu < o.cpus; cpu++) {
    Rng rng{o.seed * 0x9e3779b97f4a7c15ull + cpu + 1};
    uint64_t ts = o.start_ns + cpu * 37;
    int64_t current = 1000 + cpu;
    const auto emit = [&](uint32_t id, std::vector<Value> v) {
      w.event(cpu, id, ts, v);
      total++;
    };
    emit(REWIND_EV_STATEDUMP_CPU, {num(cpu), num(uint64_t(current))});
    for (uint64_t n = 1; n < o.events_per_cpu;) {
      ts += 200 + rng.below(3000) + (rng.below(5000) == 0 ? (1ull << 27) + rng.below(1u << 20) : 0);
      const uint64_t pick = rng.below(100);
      if (pick < 30) {  // a syscall, maybe with a page fault
        emit(REWIND_EV_SYS_ENTER, {num(rng.below(300))});
        ts += 100 + rng.below(2000);
        if (rng.below(4) == 0) {
          emit(REWIND_EV_PAGE_FAULT_USER,
               {num(0x7f0000000000ull + (rng.next() & 0xffffff000ull)), num(6)});
          ts += 50;
          n++;
        }
        emit(REWIND_EV_SYS_EXIT, {num(rng.below(100))});
        n += 2;
      } else if (pick < 55) {  // wake someone, switch
        const int64_t next = 1000 + int64_t(rng.below(200));
        emit(REWIND_EV_SCHED_WAKING, {num(uint64_t(next)), num(120), num(cpu)});
        ts += 300;
        emit(REWIND_EV_SCHED_SWITCH,
             {num(uint64_t(current)), num(120), num(rng.below(2)), num(uint64_t(next)), num(120)});
        current = next;
        n += 2;
      } else if (pick < 75) {  // an interrupt with a softirq after it
        emit(REWIND_EV_IRQ_HANDLER_ENTRY, {num(10 + rng.below(20))});
        ts += 500 + rng.below(1000);
        emit(REWIND_EV_IRQ_HANDLER_EXIT, {num(1)});
        ts += 100;
        emit(REWIND_EV_SOFTIRQ_ENTRY, {num(rng.below(10))});
        ts += 1000 + rng.below(4000);
        emit(REWIND_EV_SOFTIRQ_EXIT, {});
        n += 4;
      } else if (pick < 90) {  // network traffic
        emit(REWIND_EV_NETIF_RECEIVE_SKB_TCP4,
             {num(60 + rng.below(1400)), num(2), num(0x0a000001), num(0x0a000002), num(443),
              num(30000 + rng.below(1000)), num(rng.next() & 0xffffffff),
              num(rng.next() & 0xffffffff), num(0x18)});
        n++;
      } else if (pick < 99) {  // block I/O
        emit(REWIND_EV_BLOCK_RQ_ISSUE, {num(0x800010), num(rng.below(1u << 30)), num(8), num(1)});
        n++;
      } else {  // process lifecycle
        const uint64_t child = 5000 + rng.below(10000);
        emit(REWIND_EV_SCHED_PROCESS_FORK,
             {num(uint64_t(current)), num(child), num(child), Value{0, "worker"}});
        ts += 10000;
        emit(REWIND_EV_SCHED_PROCESS_EXEC,
             {num(child), num(child), Value{0, "sh"}, Value{0, "/bin/sh"}});
        n += 2;
      }
    }
  }
  w.close();
  return total;
}

}  // namespace rwd
