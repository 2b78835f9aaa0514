// SPDX-License-Identifier: GPL-2.0-only
/*
 * The session layer: the one session, its state machine, and the operations
 * the ABI layer (device.c) and module init/exit call. The rings themselves
 * are ring.c's; this file decides when they exist, when probes write to
 * them and who may read them.
 *
 *   EMPTY ---configure---> CONFIGURED ---start---> TRACING
 *                          CONFIGURED <---stop---- TRACING
 *   CONFIGURED ---configure---> CONFIGURED (new rings; -EBUSY while TRACING)
 *   any ---module exit---> EMPTY
 *
 * Every entry point works on kernel copies of the ioctl structs: its caller
 * copies arguments in before and results out after. rewind_mutex is never
 * held while user memory is touched: a copy to user memory can fault and
 * take mmap_lock, and ->mmap runs under mmap_lock (DESIGN.md, race 14). So
 * the snapshot's packets are copied on a reference to the session (kref),
 * and the metadata text is handed out as a private copy.
 */
#include <linux/ctype.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uuid.h>
#include <linux/vmalloc.h>
#include "rewind.h"

struct rewind_session __rcu *rewind_active;

/*
 * Serializes control operations (configure, start, stop, statedump, flush,
 * stats, metadata, test timers): none of them interleave. Never held while
 * user memory is touched, and never taken by ->mmap (race 14).
 */
static DEFINE_MUTEX(rewind_mutex);
/*
 * The current session. Changes with rewind_mutex and rewind_session_lock
 * both held; rewind_session_get() reads it under the spinlock alone, for
 * the paths that must not take the mutex (->mmap, the snapshot copy).
 */
static DEFINE_SPINLOCK(rewind_session_lock);
static struct rewind_session *rewind_session;

static int rewind_config_check(const struct rewind_config *cfg, u32 *sb_size,
			       u32 *nr_sb)
{
	u64 total;
	int i;

	*sb_size = cfg->subbuf_size ? cfg->subbuf_size : REWIND_DEFAULT_SUBBUF;
	*nr_sb = cfg->num_subbufs ? cfg->num_subbufs : REWIND_DEFAULT_NR_SUBBUF;
	if (!is_power_of_2(*sb_size) || *sb_size < PAGE_SIZE ||
	    *sb_size > REWIND_MAX_SUBBUF)
		return -EINVAL;
	if (!is_power_of_2(*nr_sb) || *nr_sb < 2 ||
	    *nr_sb > REWIND_MAX_NR_SUBBUF)
		return -EINVAL;
	if (cfg->mode > REWIND_MODE_DISCARD || cfg->flags)
		return -EINVAL;
	if (cfg->probe_mask & ~REWIND_PROBES_ALL)
		return -EINVAL;
	if (memchr_inv(cfg->reserved, 0, sizeof(cfg->reserved)))
		return -EINVAL;
	if (!memchr(cfg->hostname, '\0', sizeof(cfg->hostname)))
		return -EINVAL;
	for (i = 0; cfg->hostname[i]; i++)
		if (!isalnum(cfg->hostname[i]) && !strchr("._-", cfg->hostname[i]))
			return -EINVAL;	/* it goes into the TSDL text */
	total = (u64)*sb_size * *nr_sb;
	if (total > REWIND_MAX_RING)
		return -EINVAL;
	/* All rings together stay under a quarter of RAM. */
	if (total * num_possible_cpus() > ((u64)totalram_pages() << PAGE_SHIFT) / 4)
		return -ENOMEM;
	return 0;
}

static struct rewind_session *rewind_session_create(const struct rewind_config *cfg)
{
	struct rewind_session *s;
	unsigned int cpu;
	u32 sb_size, nr_sb;
	int ret;

	ret = rewind_config_check(cfg, &sb_size, &nr_sb);
	if (ret)
		return ERR_PTR(ret);
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return ERR_PTR(-ENOMEM);
	kref_init(&s->ref);
	mutex_init(&s->read_mutex);
	s->sb_size = sb_size;
	s->sb_order = ilog2(sb_size);
	s->nr_sb = nr_sb;
	s->sb_mask = sb_size - 1;
	s->buf_size = (unsigned long)sb_size * nr_sb;
	s->buf_order = ilog2(s->buf_size);
	s->mode = cfg->mode;
	s->probe_mask = cfg->probe_mask;
	generate_random_uuid(s->uuid);
	snprintf(s->uuid_str, sizeof(s->uuid_str), "%pUb", s->uuid);
	strscpy(s->hostname, cfg->hostname, sizeof(s->hostname));
	s->rings = kcalloc(nr_cpu_ids, sizeof(*s->rings), GFP_KERNEL);
	if (!s->rings) {
		ret = -ENOMEM;
		goto err_free_session;
	}
	for_each_possible_cpu(cpu) {
		s->rings[cpu] = rewind_ring_alloc(s, cpu);
		if (!s->rings[cpu]) {
			ret = -ENOMEM;
			goto err_free_rings;
		}
	}
	ret = rewind_metadata_build(s, true);
	if (ret)
		goto err_free_rings;
	return s;

err_free_rings:
	for_each_possible_cpu(cpu)
		rewind_ring_free(s->rings[cpu]);
	kfree(s->rings);
err_free_session:
	kfree(s);
	return ERR_PTR(ret);
}

/* The last reference is gone: no probe, copy or mmap uses the rings. */
static void rewind_session_release(struct kref *ref)
{
	struct rewind_session *s = container_of(ref, struct rewind_session, ref);
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		rewind_ring_free(s->rings[cpu]);
	kfree(s->rings);
	kvfree(s->metadata);
	kfree(s);
}

static void rewind_session_put(struct rewind_session *s)
{
	kref_put(&s->ref, rewind_session_release);
}

/*
 * A reference to the current session without rewind_mutex, or -ENODEV.
 * The session stays allocated until rewind_session_put(), even if a
 * configure replaces it meanwhile; it may stop tracing, which a reader
 * does not notice.
 */
static struct rewind_session *rewind_session_get(void)
{
	struct rewind_session *s;

	spin_lock(&rewind_session_lock);
	s = rewind_session;
	if (s)
		kref_get(&s->ref);
	spin_unlock(&rewind_session_lock);
	return s ? s : ERR_PTR(-ENODEV);
}

/* Makes s (or none) current. Called with rewind_mutex held. */
static void rewind_session_publish(struct rewind_session *s)
{
	spin_lock(&rewind_session_lock);
	rewind_session = s;
	spin_unlock(&rewind_session_lock);
}

/* CONFIGURED -> TRACING. Called with rewind_mutex held. */
static int rewind_start_locked(struct rewind_session *s)
{
	int ret;

	if (s->tracing)
		return -EBUSY;
	/* The clock offset is measured when tracing starts (and on request). */
	ret = rewind_metadata_build(s, true);
	if (ret)
		return ret;
	/*
	 * For the test hooks, which read it (probes get s as their data
	 * argument); published before anything writes.
	 */
	rcu_assign_pointer(rewind_active, s);
	ret = rewind_probes_register(s);
	if (ret) {
		RCU_INIT_POINTER(rewind_active, NULL);
		synchronize_rcu();
		return ret;
	}
	s->tracing = true;
	return 0;
}

/* TRACING -> CONFIGURED. Called with rewind_mutex held. */
static void rewind_stop_locked(struct rewind_session *s)
{
	if (!s->tracing)
		return;
	RCU_INIT_POINTER(rewind_active, NULL);
	/* Waits for every probe in flight (tracepoint_synchronize_unregister). */
	rewind_probes_unregister(s);
	s->tracing = false;
}

/*
 * Any state -> EMPTY. Called with rewind_mutex held. The module's reference
 * goes last, after tracing stopped: copies and mappings still running keep
 * the rings until they are done.
 */
static void rewind_teardown_locked(void)
{
	struct rewind_session *s = rewind_session;

	/* Test timers may run without a session: always stop them. */
	rewind_test_stop();
	if (!s)
		return;
	rewind_stop_locked(s);
	rewind_session_publish(NULL);
	rewind_session_put(s);
}

/*
 * Takes rewind_mutex for an operation that needs rings: returns the
 * session with the mutex held, or an error with it released.
 */
static struct rewind_session *rewind_lock_session(void)
{
	if (mutex_lock_interruptible(&rewind_mutex))
		return ERR_PTR(-ERESTARTSYS);
	if (!rewind_session) {
		mutex_unlock(&rewind_mutex);
		return ERR_PTR(-ENODEV);
	}
	return rewind_session;
}

static void rewind_unlock_session(void)
{
	mutex_unlock(&rewind_mutex);
}

/* Module load with autostart=1: every probe, default sizes, overwrite. */
int rewind_session_autostart(void)
{
	struct rewind_config cfg = { .probe_mask = REWIND_PROBES_ALL };
	struct rewind_session *s;
	int ret;

	s = rewind_session_create(&cfg);
	if (IS_ERR(s))
		return PTR_ERR(s);
	mutex_lock(&rewind_mutex);
	rewind_session_publish(s);
	ret = rewind_start_locked(s);
	mutex_unlock(&rewind_mutex);
	return ret;
}

/* Module exit (and a failed init): stop tracing and free the session. */
void rewind_session_exit(void)
{
	mutex_lock(&rewind_mutex);
	rewind_teardown_locked();
	mutex_unlock(&rewind_mutex);
}

int rewind_session_configure(const struct rewind_config *cfg)
{
	struct rewind_session *s;
	int ret = 0;

	if (mutex_lock_interruptible(&rewind_mutex))
		return -ERESTARTSYS;
	if (rewind_session && rewind_session->tracing) {
		ret = -EBUSY;
		goto out_unlock;
	}
	s = rewind_session_create(cfg);
	if (IS_ERR(s)) {
		ret = PTR_ERR(s);
		goto out_unlock;
	}
	rewind_teardown_locked();
	rewind_session_publish(s);
out_unlock:
	mutex_unlock(&rewind_mutex);
	return ret;
}

int rewind_session_start(void)
{
	struct rewind_session *s = rewind_lock_session();
	int ret;

	if (IS_ERR(s))
		return PTR_ERR(s);
	ret = rewind_start_locked(s);
	rewind_unlock_session();
	return ret;
}

int rewind_session_stop(void)
{
	struct rewind_session *s = rewind_lock_session();

	if (IS_ERR(s))
		return PTR_ERR(s);
	rewind_test_stop();
	rewind_stop_locked(s);
	rewind_unlock_session();
	return 0;
}

int rewind_session_statedump(void)
{
	struct rewind_session *s = rewind_lock_session();

	if (IS_ERR(s))
		return PTR_ERR(s);
	rewind_statedump(s);
	rewind_unlock_session();
	return 0;
}

int rewind_session_flush(void)
{
	struct rewind_session *s = rewind_lock_session();

	if (IS_ERR(s))
		return PTR_ERR(s);
	rewind_flush_all(s);
	rewind_unlock_session();
	return 0;
}

/* Needs no rings: an EMPTY session reports its state and the module's. */
int rewind_session_info(struct rewind_info *info)
{
	struct rewind_session *s;

	if (mutex_lock_interruptible(&rewind_mutex))
		return -ERESTARTSYS;
	s = rewind_session;
	info->abi_version = REWIND_ABI_VERSION;
	info->nr_cpu_ids = nr_cpu_ids;
	info->test_hooks = rewind_test_hooks;
	info->state = REWIND_STATE_EMPTY;
	if (s) {
		info->state = s->tracing ? REWIND_STATE_TRACING :
					   REWIND_STATE_CONFIGURED;
		info->subbuf_size = s->sb_size;
		info->num_subbufs = s->nr_sb;
		info->mode = s->mode;
		info->probe_mask = s->probe_mask;
		info->probe_active = s->probe_active;
		info->mmap_stride = s->buf_size;
		info->metadata_len = s->metadata_len;
	}
	mutex_unlock(&rewind_mutex);
	return 0;
}

/* st->cpu in; everything else out. */
int rewind_session_stats(struct rewind_stats *st)
{
	struct rewind_session *s = rewind_lock_session();
	u32 cpu = st->cpu;
	int ret = 0;

	if (IS_ERR(s))
		return PTR_ERR(s);
	if (cpu >= nr_cpu_ids || !cpu_possible(cpu)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	memset(st, 0, sizeof(*st));
	st->cpu = cpu;
	rewind_ring_stats(s, cpu, st);
out_unlock:
	rewind_unlock_session();
	return ret;
}

/*
 * md->size out; if md->len holds the text, *text is a private copy of it
 * (md->size bytes; the caller copies it out, then kvfree()s it), else NULL.
 * A copy, because the text is rebuilt (start, REMEASURE) and user memory is
 * not touched under the mutex. The caller has checked the flags (REMEASURE
 * needs a controller).
 */
int rewind_session_metadata(struct rewind_metadata *md, char **text)
{
	struct rewind_session *s = rewind_lock_session();
	int ret = 0;

	*text = NULL;
	if (IS_ERR(s))
		return PTR_ERR(s);
	if (md->flags & REWIND_METADATA_REMEASURE) {
		ret = rewind_metadata_build(s, true);
		if (ret)
			goto out_unlock;
	}
	md->size = s->metadata_len;
	if (md->len >= s->metadata_len) {
		*text = kvmalloc(s->metadata_len, GFP_KERNEL);
		if (!*text) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		memcpy(*text, s->metadata, s->metadata_len);
	}
out_unlock:
	rewind_unlock_session();
	return ret;
}

/* Step 1 of the snapshot protocol (DESIGN.md): statedump, then flush. */
int rewind_session_prepare(const struct rewind_prepare *p)
{
	struct rewind_session *s = rewind_lock_session();

	if (IS_ERR(s))
		return PTR_ERR(s);
	if (!(p->flags & REWIND_PREPARE_NO_STATEDUMP))
		rewind_statedump(s);
	rewind_flush_all(s);
	rewind_unlock_session();
	return 0;
}

/*
 * Step 2: one CPU's window into req->addr. The copy may fault (and wait on
 * mmap_lock, or on userfaultfd for ever): it runs on a reference, without
 * rewind_mutex, so configure, stop and mmap go on meanwhile (race 14).
 * Copies of one session take turns: a CONSUME copy moves the window of the
 * next one.
 */
int rewind_session_snapshot(struct rewind_snapshot *req)
{
	struct rewind_session *s = rewind_session_get();
	int ret;

	if (IS_ERR(s))
		return PTR_ERR(s);
	if (mutex_lock_interruptible(&s->read_mutex)) {
		ret = -ERESTARTSYS;
		goto out_put;
	}
	ret = rewind_snapshot_cpu(s, req);
	mutex_unlock(&s->read_mutex);
out_put:
	rewind_session_put(s);
	return ret;
}

/*
 * Test timers start and stop under the mutex, like the teardown that stops
 * them; they need no session (they emit into whatever is tracing).
 */
int rewind_session_test_timers(struct rewind_test *req)
{
	int ret;

	if (mutex_lock_interruptible(&rewind_mutex))
		return -ERESTARTSYS;
	ret = rewind_test_ioctl(req);
	mutex_unlock(&rewind_mutex);
	return ret;
}

/*
 * mmap offset n * mmap_stride + x maps CPU n's ring from byte x. Called
 * with mmap_lock held for writing, so it takes a reference, never
 * rewind_mutex (race 14). The pages hold their own references, so a
 * mapping outliving a reconfigure keeps stale data, never freed memory.
 */
int rewind_session_mmap(struct vm_area_struct *vma)
{
	struct rewind_session *s = rewind_session_get();
	unsigned long pages, cpu, pgoff, len = vma->vm_end - vma->vm_start;
	int ret = -EINVAL;

	if (IS_ERR(s))
		return PTR_ERR(s);
	pages = s->buf_size >> PAGE_SHIFT;
	cpu = vma->vm_pgoff / pages;
	pgoff = vma->vm_pgoff % pages;
	if (cpu >= nr_cpu_ids || !cpu_possible(cpu))
		goto out_put;
	if (len > s->buf_size || (len >> PAGE_SHIFT) > pages - pgoff)
		goto out_put;
	ret = remap_vmalloc_range(vma, s->rings[cpu]->mem, pgoff);
out_put:
	rewind_session_put(s);
	return ret;
}
