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

/* Probes (tracepoints) a session can enable: bit numbers of probe_mask. */
enum rewind_probe {
	REWIND_PROBE_SCHED_SWITCH = 0,
	REWIND_PROBE_SCHED_WAKING = 1,
	REWIND_PROBE_SCHED_WAKEUP = 2,
	REWIND_PROBE_SCHED_WAKEUP_NEW = 3,
	REWIND_PROBE_SCHED_PROCESS_FORK = 4,
	REWIND_PROBE_SCHED_PROCESS_EXEC = 5,
	REWIND_PROBE_SCHED_PROCESS_EXIT = 6,
	REWIND_PROBE_SCHED_MIGRATE_TASK = 7,
	REWIND_PROBE_TASK_RENAME = 8,
	REWIND_PROBE_IRQ_HANDLER_ENTRY = 9,
	REWIND_PROBE_IRQ_HANDLER_EXIT = 10,
	REWIND_PROBE_SOFTIRQ_ENTRY = 11,
	REWIND_PROBE_SOFTIRQ_EXIT = 12,
	REWIND_PROBE_SYS_ENTER = 13,
	REWIND_PROBE_SYS_EXIT = 14,
	REWIND_PROBE_NET_DEV_QUEUE = 15,
	REWIND_PROBE_NETIF_RECEIVE_SKB = 16,
	REWIND_PROBE_BLOCK_RQ_ISSUE = 17,
	REWIND_PROBE_BLOCK_RQ_COMPLETE = 18,
	REWIND_PROBE_PAGE_FAULT_USER = 19,
	REWIND_PROBE_COUNT = 20
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
	REWIND_TEST_TIMER_STOP = 2,	/* emitted = events from timers */
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
