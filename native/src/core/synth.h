// A synthetic but plausible kernel workload written with the userspace writer, for benchmarks and
// tests without the module: per CPU, tasks switching, waking each other, making syscalls, taking
// interrupts and softirqs, with realistic gaps (some beyond 2^27 ns). Deterministic per seed.
#pragma once

#include <cstdint>
#include <string>

namespace rwd {

struct SynthOptions {
  std::string hostname = "synthetic";
  uint32_t cpus = 2;
  uint64_t events_per_cpu = 100000;
  uint64_t seed = 1;
  int64_t clock_offset_ns = 1700000000000000000;
  uint64_t start_ns = 1000000000;  // clock value of the first event
  uint32_t packet_size = 65536;
};

// Writes the trace; returns the number of events written.
uint64_t write_synthetic_trace(const std::string &dir, const SynthOptions &o);

}  // namespace rwd
