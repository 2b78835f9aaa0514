// Names people read instead of numbers: x86-64 system calls (the kernel's own numbering, shipped
// as rewind/syscalls.h: native/tools/gen-syscalls.js says where it comes from) and the
// kernel's softirq vectors. IRQ and thread names are not fixed: they come from each trace's
// statedump and its fork, exec and rename events (core/name_stats.h, core/chrome_sink.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/stream_decoder.h"

namespace rwd {

// A name an event gives (statedump_process, fork, exec, rename: a thread's comm; statedump_irq:
// an IRQ's name), or kind None. The one list of naming events the outputs share.
struct GivenName {
  enum class Kind { None, Thread, Irq } kind = Kind::None;
  int64_t id = -1;  // the tid or the irq
  std::string name;
};
GivenName name_given(const RawEvent &ev, const std::vector<Value> &v);

// The system call's name ("read"), or nullptr for a number x86-64 does not have (yet).
const char *syscall_name(int64_t id);

// "read", or "syscall 1023" for a number without a name.
std::string syscall_label(int64_t id);

// The softirq vector's name as /proc/softirqs prints it ("NET_RX"), or nullptr.
const char *softirq_name(int64_t vec);

}  // namespace rwd
