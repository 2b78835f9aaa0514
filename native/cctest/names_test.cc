// Names instead of numbers (core/names.h) and what `stats` counts by name (core/name_stats.h).
#include "core/names.h"

#include <gtest/gtest.h>
#include <rewind/format.h>

#include "core/name_stats.h"
#include "core/writer.h"
#include "test_util.h"

using namespace rwd;
using namespace rwd_test;

TEST(SyscallNames, FollowTheKernelsX8664Numbering) {
  // Numbers from arch/x86/entry/syscalls/syscall_64.tbl.
  EXPECT_STREQ(syscall_name(0), "read");
  EXPECT_STREQ(syscall_name(1), "write");
  EXPECT_STREQ(syscall_name(59), "execve");
  EXPECT_STREQ(syscall_name(202), "futex");
  EXPECT_STREQ(syscall_name(231), "exit_group");
  EXPECT_STREQ(syscall_name(262), "newfstatat");
  EXPECT_STREQ(syscall_name(435), "clone3");
  EXPECT_EQ(syscall_name(-1), nullptr);
  EXPECT_EQ(syscall_name(1023), nullptr);
  EXPECT_EQ(syscall_label(262), "newfstatat");
  EXPECT_EQ(syscall_label(1023), "syscall 1023");
  EXPECT_EQ(syscall_label(-7), "syscall -7");
}

TEST(SoftirqNames, AreTheKernelsVectors) {
  EXPECT_STREQ(softirq_name(0), "HI");
  EXPECT_STREQ(softirq_name(3), "NET_RX");
  EXPECT_STREQ(softirq_name(9), "RCU");
  EXPECT_EQ(softirq_name(10), nullptr);
  EXPECT_EQ(softirq_name(-1), nullptr);
}

TEST(NameStatsSink, CountsSyscallsIrqsAndThreadsByName) {
  TempDir tmp;
  {
    WriterOptions o;
    o.meta = test_meta("n", 0);
    TraceWriter w(tmp / "a", o);
    auto process = [&](uint64_t ts, int64_t tid, const char *comm) {
      w.event(0, REWIND_EV_STATEDUMP_PROCESS, ts,
              {snum(tid), snum(tid), snum(1), str(comm), num(0), num(0), num(0), num(0), num(0),
               num(0)});
    };
    process(1, 42, "worker");
    process(2, 43, "old-name");
    w.event(0, REWIND_EV_STATEDUMP_IRQ, 3, {num(11), str("virtio0-requests")});
    w.event(0, REWIND_EV_STATEDUMP_CPU, 4, {num(0), snum(43)});
    w.event(0, REWIND_EV_SYS_ENTER, 5, {snum(262)});
    w.event(0, REWIND_EV_TASK_RENAME, 8, {snum(43), str("new-name")});
    w.event(0, REWIND_EV_SCHED_SWITCH, 10, {snum(43), num(120), num(0), snum(42), num(120)});
    w.event(0, REWIND_EV_SYS_ENTER, 20, {snum(0)});
    w.event(0, REWIND_EV_IRQ_HANDLER_ENTRY, 30, {num(11)});
    w.event(0, REWIND_EV_IRQ_HANDLER_EXIT, 31, {num(1)});
    w.event(0, REWIND_EV_IRQ_HANDLER_ENTRY, 32, {num(14)});
    w.event(0, REWIND_EV_IRQ_HANDLER_EXIT, 33, {num(1)});
    w.event(0, REWIND_EV_SYS_ENTER, 40, {snum(0)});
    w.event(0, REWIND_EV_SYS_ENTER, 41, {snum(1023)});
    w.event(0, REWIND_EV_SCHED_SWITCH, 50, {snum(42), num(120), num(1), snum(0), num(120)});
    w.event(0, REWIND_EV_SCHED_SWITCH, 60, {snum(0), num(120), num(0), snum(42), num(120)});
    w.event(0, REWIND_EV_PROCESS_POD, 61,
            {snum(42), snum(42), num(7), str("shop"), str("web-1"), str("nginx"), str("uid")});
    w.event(0, REWIND_EV_SCHED_WAKEUP, 75, {snum(7), num(120), num(0)});
  }
  NameStatsSink names;
  merge_traces({{tmp / "a", "", 0}}, {&names}, MergeOptions{});
  ASSERT_EQ(names.nodes().size(), 1u);
  const NodeNames &n = names.nodes()[0];
  EXPECT_EQ(n.syscalls, (std::map<int64_t, uint64_t>{{0, 2}, {262, 1}, {1023, 1}}));
  EXPECT_EQ(n.irqs, (std::map<uint32_t, uint64_t>{{11, 1}, {14, 1}}));
  EXPECT_EQ(n.irq_names.at(11), "virtio0-requests");
  EXPECT_EQ(n.irq_names.count(14), 0u);
  // worker ran [10,50] and [60,75] (the CPU's last event); new-name, found running by the
  // statedump at 4, until the switch at 10. The idle task (0) is not a thread here.
  const ThreadUse &worker = n.threads.at(42);
  EXPECT_EQ(worker.comm, "worker");
  EXPECT_EQ(worker.pod, "shop/web-1");
  EXPECT_EQ(worker.switches_in, 2u);
  EXPECT_EQ(worker.cpu_ns, 55);
  const ThreadUse &renamed = n.threads.at(43);
  EXPECT_EQ(renamed.comm, "new-name");
  EXPECT_EQ(renamed.switches_in, 0u);
  EXPECT_EQ(renamed.cpu_ns, 6);
  EXPECT_EQ(n.threads.count(0), 0u);
}

TEST(NameStatsSink, KeepsNamesGivenBeforeTheWindow) {
  TempDir tmp;
  {
    WriterOptions o;
    o.meta = test_meta("n", 0);
    TraceWriter w(tmp / "a", o);
    w.event(0, REWIND_EV_STATEDUMP_IRQ, 1, {num(11), str("eth0")});
    w.event(0, REWIND_EV_SCHED_PROCESS_FORK, 2, {snum(1), snum(50), snum(50), str("child")});
    w.event(0, REWIND_EV_SCHED_SWITCH, 100, {snum(0), num(120), num(0), snum(50), num(120)});
    w.event(0, REWIND_EV_IRQ_HANDLER_ENTRY, 110, {num(11)});
    w.event(0, REWIND_EV_SCHED_WAKEUP, 120, {snum(7), num(120), num(0)});
  }
  NameStatsSink names;
  MergeOptions window;
  window.from_ns = 50;
  merge_traces({{tmp / "a", "", 0}}, {&names}, window);
  const NodeNames &n = names.nodes()[0];
  EXPECT_EQ(n.irq_names.at(11), "eth0");
  EXPECT_EQ(n.irqs.at(11), 1u);
  EXPECT_EQ(n.threads.at(50).comm, "child");
  EXPECT_EQ(n.threads.at(50).cpu_ns, 20);
}
