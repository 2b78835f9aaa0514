/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR MIT */
/*
 * Rewind /dev/rewind ioctl and mmap ABI. Permanent: new commands are added,
 * existing ones never change. Every struct is made of naturally aligned
 * __u32/__u64 fields, pointers travel as __u64, and reserved space must be 0.
 */
#ifndef _UAPI_REWIND_H
#define _UAPI_REWIND_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define REWIND_ABI_VERSION	1
#define REWIND_DEVICE		"/dev/rewind"
#define REWIND_IOC_MAGIC	0xE7

/*
 * Probes (tracepoints) a session can enable: X(bit, NAME, tracepoint) for
 * each bit of probe_mask. The one list of probes: the enum below, the
 * module's probe table, rewindctl and native/ are generated from it, and the
 * TypeScript types are tested against it. Bits are permanent: append only.
 */
#define REWIND_PROBE_TABLE(X)						\
	X(0, SCHED_SWITCH, sched_switch)				\
	X(1, SCHED_WAKING, sched_waking)				\
	X(2, SCHED_WAKEUP, sched_wakeup)				\
	X(3, SCHED_WAKEUP_NEW, sched_wakeup_new)			\
	X(4, SCHED_PROCESS_FORK, sched_process_fork)			\
	X(5, SCHED_PROCESS_EXEC, sched_process_exec)			\
	X(6, SCHED_PROCESS_EXIT, sched_process_exit)			\
	X(7, SCHED_MIGRATE_TASK, sched_migrate_task)			\
	X(8, TASK_RENAME, task_rename)					\
	X(9, IRQ_HANDLER_ENTRY, irq_handler_entry)			\
	X(10, IRQ_HANDLER_EXIT, irq_handler_exit)			\
	X(11, SOFTIRQ_ENTRY, softirq_entry)				\
	X(12, SOFTIRQ_EXIT, softirq_exit)				\
	X(13, SYS_ENTER, sys_enter)					\
	X(14, SYS_EXIT, sys_exit)					\
	X(15, NET_DEV_QUEUE, net_dev_queue)				\
	X(16, NETIF_RECEIVE_SKB, netif_receive_skb)			\
	X(17, BLOCK_RQ_ISSUE, block_rq_issue)				\
	X(18, BLOCK_RQ_COMPLETE, block_rq_complete)			\
	X(19, PAGE_FAULT_USER, page_fault_user)

#define REWIND_PROBE_ENUMERATOR(bit, NAME, tp) REWIND_PROBE_##NAME = bit,
#define REWIND_PROBE_ONE(bit, NAME, tp) + 1

enum rewind_probe {
	REWIND_PROBE_TABLE(REWIND_PROBE_ENUMERATOR)
	REWIND_PROBE_COUNT = 0 REWIND_PROBE_TABLE(REWIND_PROBE_ONE)
};

#define REWIND_PROBES_ALL	((1ULL << REWIND_PROBE_COUNT) - 1)

/* REWIND_IOC_ABI_VERSION */
struct rewind_abi {
	__u32 version;		/* out: REWIND_ABI_VERSION */
	__u32 format_version;	/* out: wire format (rewind/format.h) */
	__u64 reserved[3];
};

enum rewind_mode {
	REWIND_MODE_OVERWRITE = 0,	/* flight recorder: oldest packet reused */
	REWIND_MODE_DISCARD = 1,	/* keep the oldest, refuse when full */
};

/* REWIND_IOC_CONFIGURE: (re)allocates the rings; refused while tracing. */
struct rewind_config {
	__u32 subbuf_size;	/* bytes, power of two, >= PAGE_SIZE; 0: default */
	__u32 num_subbufs;	/* power of two, >= 2; 0: default */
	__u32 mode;		/* enum rewind_mode */
	__u32 flags;		/* 0 */
	__u64 probe_mask;	/* bits of enum rewind_probe */
	char hostname[64];	/* NUL-terminated; "" = the kernel's nodename */
	__u64 reserved[4];
};

enum rewind_state {
	REWIND_STATE_EMPTY = 0,		/* no rings */
	REWIND_STATE_CONFIGURED = 1,	/* rings, not tracing */
	REWIND_STATE_TRACING = 2,
};

/* REWIND_IOC_GET_INFO */
struct rewind_info {
	__u32 abi_version;
	__u32 state;		/* enum rewind_state */
	__u32 nr_cpu_ids;	/* CPUs are 0..nr_cpu_ids-1 */
	__u32 subbuf_size;
	__u32 num_subbufs;
	__u32 mode;
	__u64 probe_mask;	/* requested */
	__u64 probe_active;	/* registered (tracepoint found) */
	__u64 mmap_stride;	/* mmap offset of CPU n is n * mmap_stride */
	__u64 metadata_len;	/* bytes */
	__u64 test_hooks;	/* 1 if the test_hooks module parameter is on */
	__u64 reserved[7];
};

/* REWIND_IOC_GET_STATS: per CPU, all counters since configure. */
struct rewind_stats {
	__u32 cpu;		/* in */
	__u32 online;		/* out */
	__u64 events_written;
	__u64 bytes_written;	/* event bytes, headers included */
	__u64 lost_full;	/* discard mode: no free sub-buffer */
	__u64 lost_nesting;	/* nested deeper than the limit */
	__u64 lost_wrap;	/* next sub-buffer still being committed */
	__u64 lost_too_big;	/* event larger than a sub-buffer */
	__u64 packets_overwritten;
	__u64 subbuf_switches;	/* packets opened */
	__u64 oldest_timestamp;	/* ns, clock monotonic; 0: empty */
	__u64 write_pos;	/* bytes, free-running */
	__u64 consumed_pos;	/* bytes, free-running (discard mode) */
	__u64 reserved[5];
};

/*
 * The 64-bit counters of struct rewind_stats, in struct order from
 * events_written on: X(field, help). The one list of them: native/'s device,
 * its binding, rewindctl's JSON and the agent's metrics are generated from it;
 * REWIND_STATS_CHECK_ONE and REWIND_STATS_CHECK_SIZE below pin it to the
 * struct.
 */
#define REWIND_STATS_COUNTERS(X)					\
	X(events_written, "Events written into the ring")		\
	X(bytes_written, "Event bytes written, headers included")	\
	X(lost_full, "Events refused: no free sub-buffer (discard mode)") \
	X(lost_nesting, "Events refused: nested deeper than the limit")	\
	X(lost_wrap, "Events refused: next sub-buffer still being committed") \
	X(lost_too_big, "Events refused: larger than a sub-buffer")	\
	X(packets_overwritten, "Packets overwritten by newer ones")	\
	X(subbuf_switches, "Packets opened")				\
	X(oldest_timestamp, "Clock (monotonic ns) of the oldest event held; 0 when empty") \
	X(write_pos, "Write position in bytes, free-running")		\
	X(consumed_pos, "Consumed position in bytes, free-running (discard mode)")

#define REWIND_STATS_INDEX(field, help) REWIND_STATS_INDEX_##field,
enum rewind_stats_index {
	REWIND_STATS_COUNTERS(REWIND_STATS_INDEX)
	REWIND_STATS_NR_COUNTERS
};

/*
 * Expands to one assertion per counter (assert: _Static_assert in C,
 * static_assert in C++; offsetof from the caller's headers): each table
 * entry sits where the struct puts it, after cpu and online.
 */
#define REWIND_STATS_CHECK_ONE(assert, field)				\
	assert(offsetof(struct rewind_stats, field) ==			\
	       8 + 8 * REWIND_STATS_INDEX_##field, #field " out of order")

/*
 * With the per-field checks, proves that no counter of the struct is missing
 * from the table: cpu and online, the counters, then only reserved space.
 */
#define REWIND_STATS_CHECK_SIZE(assert)					\
	assert(sizeof(struct rewind_stats) ==				\
	       8 + 8 * REWIND_STATS_NR_COUNTERS +			\
	       sizeof(((struct rewind_stats *)0)->reserved),		\
	       "a counter of struct rewind_stats is not in the table")

/* REWIND_IOC_GET_METADATA: CTF 1.8 TSDL text. */
struct rewind_metadata {
	__u64 addr;		/* user buffer */
	__u64 len;		/* its size */
	__u32 flags;		/* REWIND_METADATA_* */
	__u32 reserved0;
	__u64 size;		/* out: metadata length (copied if len allows) */
	__u64 reserved[4];
};

#define REWIND_METADATA_REMEASURE	(1u << 0)	/* re-read the clock offset */

/* REWIND_IOC_SNAPSHOT_PREPARE: statedump + flush of every CPU. */
struct rewind_prepare {
	__u32 flags;		/* REWIND_PREPARE_* */
	__u32 reserved0;
	__u64 reserved[3];
};

#define REWIND_PREPARE_NO_STATEDUMP	(1u << 0)

/*
 * REWIND_IOC_SNAPSHOT_CPU: copy one CPU's complete packets, oldest first,
 * into addr. A packet is copied only if it was complete before and untouched
 * after the copy; others are skipped and counted. packet_size of each copied
 * packet is trimmed to its content.
 */
struct rewind_snapshot {
	__u32 cpu;		/* in */
	__u32 flags;		/* in: REWIND_SNAPSHOT_* */
	__u64 addr;		/* in: user buffer */
	__u64 len;		/* in: its size (mmap_stride always suffices) */
	__u64 bytes;		/* out */
	__u64 packets;		/* out: copied */
	__u64 skipped;		/* out: overwritten or incomplete */
	__u64 first_seq;	/* out: packet_seq_num of the first copied */
	__u64 last_seq;		/* out: and of the last */
	__u64 reserved[4];
};

#define REWIND_SNAPSHOT_CONSUME	(1u << 0)	/* discard mode: free the copy */

/* REWIND_IOC_TEST: only with the test_hooks module parameter. */
struct rewind_test {
	__u32 op;		/* enum rewind_test_op */
	__u32 burst;		/* events per timer tick */
	__u64 count;		/* REWIND_TEST_EMIT: events on this CPU */
	__u64 period_ns;	/* REWIND_TEST_TIMER_START */
	__u64 emitted;		/* out: events written */
	__u64 reserved[4];
};

enum rewind_test_op {
	REWIND_TEST_EMIT = 0,		/* process context, current CPU */
	REWIND_TEST_TIMER_START = 1,	/* softirq + hardirq, every online CPU */
	REWIND_TEST_TIMER_STOP = 2,	/* emitted = events from timers (and NMIs) */
	/*
	 * TIMER_START, and each hardirq tick also sends an NMI to the next
	 * online CPU, whose handler emits burst events (x86; -EOPNOTSUPP
	 * elsewhere). TIMER_STOP stops both.
	 */
	REWIND_TEST_NMI_START = 3,
};

#define REWIND_IOC_ABI_VERSION	_IOR(REWIND_IOC_MAGIC, 0x00, struct rewind_abi)
#define REWIND_IOC_CONFIGURE	_IOW(REWIND_IOC_MAGIC, 0x01, struct rewind_config)
#define REWIND_IOC_START	_IO(REWIND_IOC_MAGIC, 0x02)
#define REWIND_IOC_STOP		_IO(REWIND_IOC_MAGIC, 0x03)
#define REWIND_IOC_STATEDUMP	_IO(REWIND_IOC_MAGIC, 0x04)
#define REWIND_IOC_FLUSH	_IO(REWIND_IOC_MAGIC, 0x05)
#define REWIND_IOC_GET_INFO	_IOR(REWIND_IOC_MAGIC, 0x06, struct rewind_info)
#define REWIND_IOC_GET_STATS	_IOWR(REWIND_IOC_MAGIC, 0x07, struct rewind_stats)
#define REWIND_IOC_GET_METADATA	_IOWR(REWIND_IOC_MAGIC, 0x08, struct rewind_metadata)
#define REWIND_IOC_SNAPSHOT_PREPARE _IOW(REWIND_IOC_MAGIC, 0x09, struct rewind_prepare)
#define REWIND_IOC_SNAPSHOT_CPU	_IOWR(REWIND_IOC_MAGIC, 0x0a, struct rewind_snapshot)
#define REWIND_IOC_TEST		_IOWR(REWIND_IOC_MAGIC, 0x0b, struct rewind_test)

#endif /* _UAPI_REWIND_H */
