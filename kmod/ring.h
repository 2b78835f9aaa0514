/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The write fast path: reserve a slot on this CPU's ring, write, commit.
 * Callers run with preemption disabled (tracepoint probes always do).
 */
#ifndef REWIND_RING_H
#define REWIND_RING_H

#include <linux/timekeeping.h>
#include <linux/smp.h>
#ifdef REWIND_HAVE_LINUX_UNALIGNED_H	/* Kbuild feature test */
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif
#include "rewind.h"

struct rewind_wctx {
	struct rewind_ring *r;
	unsigned long pos;	/* absolute position of the event header */
	u32 slot;		/* header + payload bytes */
	char *p;		/* where the payload goes */
};

static __always_inline u64 rewind_clock(void)
{
	return ktime_get_mono_fast_ns();
}

static __always_inline u32 rewind_header_size(u32 id, u64 ts, u64 last)
{
	if (likely(id < REWIND_ID_EXTENDED && !((ts - last) >> REWIND_TS_BITS)))
		return REWIND_HDR_COMPACT;
	return REWIND_HDR_EXTENDED;
}

static __always_inline int rewind_reserve(struct rewind_session *s,
					  struct rewind_wctx *c, u32 id,
					  u32 len)
{
	struct rewind_ring *r = s->rings[smp_processor_id()];
	unsigned long o_old, o_ev, o_new, off;
	char *p;
	u64 ts, lost = 0;
	u32 hsz;
	bool sw;
	int ret;

	/*
	 * Nesting depth: task, softirq, hardirq, NMI. Interrupts that nest
	 * here restore the count before we resume, so local ops suffice.
	 */
	if (unlikely(local_inc_return(&r->nesting) > REWIND_MAX_NESTING)) {
		local_inc(&r->lost_nesting);
		local_dec(&r->nesting);
		return -EBUSY;
	}
	for (;;) {
		o_old = local_read(&r->offset);
		/*
		 * Clock read after the offset read and before the cmpxchg: a
		 * nested writer in between changes the offset and we retry,
		 * so timestamps increase in slot order on this CPU.
		 */
		ts = rewind_clock();
		hsz = rewind_header_size(id, ts, READ_ONCE(r->last_ts));
		off = o_old & s->sb_mask;
		/* ">=": an event never ends exactly on a boundary (DESIGN). */
		sw = unlikely(!off || off + hsz + len >= s->sb_size);
		if (sw) {
			ret = rewind_switch_check(s, r, o_old, hsz + len, &o_ev,
						  &lost);
			if (unlikely(ret > 0))
				continue;	/* o_old is stale */
			if (ret) {
				local_dec(&r->nesting);
				return ret;
			}
		} else {
			o_ev = o_old;
		}
		o_new = o_ev + hsz + len;
		/* Claims [o_ev, o_new) against writers nested on this CPU. */
		if (local_cmpxchg(&r->offset, o_old, o_new) == o_old)
			break;
	}
	/*
	 * May be overwritten by an older value from the context we
	 * interrupted: an older last_ts only forces a wider header.
	 */
	WRITE_ONCE(r->last_ts, ts);
	if (sw)
		rewind_switch(s, r, o_old, o_ev - REWIND_PACKET_HEADER_SIZE, ts,
			      lost);
	/*
	 * The claim is visible before our bytes: a snapshot reader that saw
	 * the old offset after its copy saw none of them (pairs with the
	 * smp_rmb() in rewind_snapshot_cpu()).
	 */
	smp_wmb();
	p = r->mem + (o_ev & (s->buf_size - 1));
	if (hsz == REWIND_HDR_COMPACT) {
		put_unaligned_le32(id | ((u32)ts << REWIND_ID_BITS), p);
	} else {
		*p = REWIND_ID_EXTENDED;
		put_unaligned_le32(id, p + 1);
		put_unaligned_le64(ts, p + 5);
	}
	c->r = r;
	c->pos = o_ev;
	c->slot = hsz + len;
	c->p = p + hsz;
	return 0;
}

static __always_inline void rewind_commit(struct rewind_session *s,
					  struct rewind_wctx *c)
{
	struct rewind_ring *r = c->r;
	unsigned long idx = (c->pos >> s->sb_order) & (s->nr_sb - 1);

	/*
	 * Event bytes before the count that declares them complete (pairs
	 * with the smp_rmb() after the commit read in the snapshot reader).
	 */
	smp_wmb();
	local_add(c->slot, &r->sb[idx].commit);
	local_inc(&r->events);
	local_add(c->slot, &r->bytes);
	local_dec(&r->nesting);
}

#endif /* REWIND_RING_H */
