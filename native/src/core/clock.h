// The node's clocks read back to back, for the controller's offset estimate (GET /v1/clock on the
// agent). The trace clock is the module's: CLOCK_MONOTONIC (ktime_get_mono_fast_ns, ring.h).
#pragma once

#include <time.h>

#include <cstdint>
#include <vector>

namespace rwd {

struct ClockSample {
  uint64_t monotonic_ns;  // midpoint of the two monotonic reads around the realtime read
  uint64_t realtime_ns;   // CLOCK_REALTIME, ns since the Unix epoch
  uint64_t spread_ns;     // time between the two monotonic reads: the pair's uncertainty
};

inline uint64_t read_clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// `count` samples, each a realtime read bracketed by two monotonic reads (as the module measures
// its own offset, metadata.c): the caller keeps the tightest.
inline std::vector<ClockSample> clock_samples(unsigned count) {
  std::vector<ClockSample> out;
  out.reserve(count);
  for (unsigned i = 0; i < count; i++) {
    const uint64_t m0 = read_clock_ns(CLOCK_MONOTONIC);
    const uint64_t rt = read_clock_ns(CLOCK_REALTIME);
    const uint64_t m1 = read_clock_ns(CLOCK_MONOTONIC);
    out.push_back({m0 + (m1 - m0) / 2, rt, m1 - m0});
  }
  return out;
}

}  // namespace rwd
