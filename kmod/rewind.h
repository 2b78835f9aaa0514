/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Rewind kernel flight recorder: the session, the per-CPU rings and the
 * interfaces between the module's files. See DESIGN.md for the contract.
 */
#ifndef REWIND_H
#define REWIND_H

#include <linux/types.h>
#include <linux/cgroup.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <asm/local.h>
#include <rewind/format.h>
#include <uapi/rewind.h>

struct vm_area_struct;

#define REWIND_MAX_NESTING	4
#define REWIND_DEFAULT_SUBBUF	(64u * 1024)
#define REWIND_DEFAULT_NR_SUBBUF 16u
#define REWIND_MAX_SUBBUF	(16u * 1024 * 1024)
#define REWIND_MAX_NR_SUBBUF	1024u
#define REWIND_MAX_RING		(256ul * 1024 * 1024)

/* Per sub-buffer control word, outside the mmap'ed data. */
struct rewind_subbuf {
	/*
	 * Bytes committed into this sub-buffer, free-running over laps: lap L
	 * is complete when it reaches (L + 1) * subbuf_size. Only this CPU's
	 * writers add to it; readers read it remotely.
	 */
	local_t commit;
};

/* One CPU's ring: written only on that CPU, read from anywhere. */
struct rewind_ring {
	local_t offset;		/* next write position, bytes, free-running */
	local_t nesting;	/* writers active on this CPU right now */
	u64 last_ts;		/* timestamp of a recently reserved event */
	atomic_long_t consumed;	/* discard mode: first position not yet freed */
	struct rewind_subbuf *sb;
	char *mem;		/* vmalloc_user: nr_subbuf * subbuf_size */
	unsigned int cpu;
	u64 test_seq[REWIND_CTX_COUNT];	/* test hooks, per context */
	local_t events;
	local_t bytes;
	local_t lost_full;
	local_t lost_nesting;
	local_t lost_wrap;
	local_t lost_too_big;
	local_t overwritten;
	local_t switches;
};

struct rewind_session {
	/*
	 * Held by the module while the session is current, and by each copy
	 * or mmap in progress: the rings are freed by the last put (race 14).
	 */
	struct kref ref;
	/* Serializes the snapshot copies of this session (CONSUME moves). */
	struct mutex read_mutex;
	u32 sb_size;
	u32 sb_order;
	u32 nr_sb;
	u32 buf_order;
	unsigned long sb_mask;	/* sb_size - 1 */
	unsigned long buf_size;	/* sb_size * nr_sb */
	u32 mode;		/* enum rewind_mode */
	u64 probe_mask;
	u64 probe_active;
	bool tracing;
	u8 uuid[16];
	char uuid_str[37];
	char boot_id[37];
	char hostname[65];
	s64 clock_offset_ns;	/* realtime - monotonic */
	char *metadata;
	size_t metadata_len;
	struct rewind_ring **rings;	/* [nr_cpu_ids], NULL if not possible */
};

/*
 * The tracing session, for the test hooks; NULL when not tracing (session.c).
 * Probes get the session as their tracepoint data argument instead.
 */
extern struct rewind_session __rcu *rewind_active;
extern bool rewind_test_hooks;

/* ring.c: the rings of a session (never its lifecycle: that is session.c) */
struct rewind_ring *rewind_ring_alloc(struct rewind_session *s,
				      unsigned int cpu);
void rewind_ring_free(struct rewind_ring *r);
int rewind_switch_check(struct rewind_session *s, struct rewind_ring *r,
			unsigned long o_old, u32 slot, unsigned long *o_ev,
			u64 *lost);
void rewind_switch(struct rewind_session *s, struct rewind_ring *r,
		   unsigned long o_old, unsigned long begin, u64 ts, u64 lost);
void rewind_flush_all(struct rewind_session *s);
long rewind_snapshot_cpu(struct rewind_session *s, struct rewind_snapshot *req);
void rewind_ring_stats(struct rewind_session *s, unsigned int cpu,
		       struct rewind_stats *st);

/*
 * session.c: the one session and its state machine. Each call works on
 * kernel copies of the ioctl structs, which the ABI layer (device.c) copies
 * in and out around it. No call holds rewind_mutex while it touches user
 * memory: the snapshot copies on a reference to the session instead.
 */
int rewind_session_autostart(void);
void rewind_session_exit(void);
int rewind_session_configure(const struct rewind_config *cfg);
int rewind_session_start(void);
int rewind_session_stop(void);
int rewind_session_statedump(void);
int rewind_session_flush(void);
int rewind_session_info(struct rewind_info *info);
int rewind_session_stats(struct rewind_stats *st);
int rewind_session_metadata(struct rewind_metadata *md, char **text);
int rewind_session_prepare(const struct rewind_prepare *p);
int rewind_session_snapshot(struct rewind_snapshot *req);
int rewind_session_test_timers(struct rewind_test *req);
int rewind_session_mmap(struct vm_area_struct *vma);

/* probes.c */
int rewind_probes_init(void);
int rewind_probes_register(struct rewind_session *s);
void rewind_probes_unregister(struct rewind_session *s);

/* statedump.c */
void rewind_statedump(struct rewind_session *s);

/*
 * A task's cgroup v2 id, as statedump_process and sched_process_cgroup carry
 * it: the inode number of its cgroup's directory under /sys/fs/cgroup, 0
 * without CONFIG_CGROUPS. The caller holds rcu_read_lock(): a task's css_set
 * is replaced when it migrates and freed after a grace period.
 */
static inline u64 rewind_task_cgroup_id(struct task_struct *t)
{
#ifdef CONFIG_CGROUPS
	return cgroup_id(task_dfl_cgroup(t));
#else
	return 0;
#endif
}

/* metadata.c */
int rewind_metadata_build(struct rewind_session *s, bool remeasure);

/* testhooks.c */
long rewind_test_emit(struct rewind_test *req);
long rewind_test_ioctl(struct rewind_test *req);
void rewind_test_stop(void);

/* device.c: the ABI layer */
int rewind_device_init(void);
void rewind_device_exit(void);

#endif /* REWIND_H */
