#include "core/names.h"

#include <rewind/format.h>

#include <vector>

namespace rwd {

namespace {

struct SyscallEntry {
  int64_t id;
  const char *name;
};

// The list the module's metadata names sys_enter's id with (rewind/syscalls.h).
constexpr SyscallEntry kSyscalls[] = {
#define RWD_X_SYSCALL(nr, name) {nr, #name},
    REWIND_SYSCALLS(RWD_X_SYSCALL)
#undef RWD_X_SYSCALL
};

// By number; the numbers are dense (x86-64 has a few holes, left null).
const std::vector<const char *> &syscalls_by_id() {
  static const std::vector<const char *> table = [] {
    std::vector<const char *> t;
    for (const SyscallEntry &e : kSyscalls) {
      if (size_t(e.id) >= t.size()) t.resize(size_t(e.id) + 1, nullptr);
      t[size_t(e.id)] = e.name;
    }
    return t;
  }();
  return table;
}

const char *const kSoftirqs[] = {"HI",       "TIMER",   "NET_TX", "NET_RX",  "BLOCK",
                                 "IRQ_POLL", "TASKLET", "SCHED",  "HRTIMER", "RCU"};

}  // namespace

const char *syscall_name(int64_t id) {
  const std::vector<const char *> &t = syscalls_by_id();
  return id >= 0 && uint64_t(id) < t.size() ? t[size_t(id)] : nullptr;
}

std::string syscall_label(int64_t id) {
  const char *name = syscall_name(id);
  return name ? std::string(name) : "syscall " + std::to_string(id);
}

GivenName name_given(const RawEvent &ev, const std::vector<Value> &v) {
  switch (ev.desc->id) {
    case REWIND_EV_STATEDUMP_PROCESS:
    case REWIND_EV_SCHED_PROCESS_EXEC:
    case REWIND_EV_TASK_RENAME:
      return {GivenName::Kind::Thread, field_int(ev, v, "tid"), field_str(ev, v, "comm")};
    case REWIND_EV_SCHED_PROCESS_FORK:
      return {GivenName::Kind::Thread, field_int(ev, v, "child_tid"),
              field_str(ev, v, "child_comm")};
    case REWIND_EV_STATEDUMP_IRQ:
      return {GivenName::Kind::Irq, field_int(ev, v, "irq"), field_str(ev, v, "name")};
    default:
      return {};
  }
}

const char *softirq_name(int64_t vec) {
  return vec >= 0 && vec < int64_t(sizeof kSoftirqs / sizeof *kSoftirqs) ? kSoftirqs[vec] : nullptr;
}

}  // namespace rwd
