// The trace the fuzz seeds are cut from (make_seeds.cc) and whose uuid the target expects.
#pragma once

#include "core/metadata.h"

namespace rwd_fuzz {

inline rwd::TraceMeta seed_meta() {
  rwd::TraceMeta m;
  rwd::parse_uuid("f022f022-0000-4000-8000-000000000001", m.uuid);
  m.set_env("hostname", "fuzz");
  m.clock.set_offset_ns(1700000000000000000);
  return m;
}

}  // namespace rwd_fuzz
