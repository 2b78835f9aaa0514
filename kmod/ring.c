// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-CPU rings: allocation, the sub-buffer switch (slow path), flush, the
 * snapshot reader and statistics. The fast path is in ring.h; DESIGN.md
 * explains why each barrier is where it is. When rings exist and who may
 * touch them is the session's business (session.c).
 */
#include <linux/cpu.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include "ring.h"

static struct rewind_packet_header *rewind_pkt(struct rewind_session *s,
					       struct rewind_ring *r,
					       unsigned long pos)
{
	return (struct rewind_packet_header *)(r->mem + (pos & (s->buf_size - 1)));
}

static unsigned long rewind_sb_index(struct rewind_session *s,
				     unsigned long pos)
{
	return (pos >> s->sb_order) & (s->nr_sb - 1);
}

static u64 rewind_lost_total(struct rewind_ring *r)
{
	return local_read(&r->lost_full) + local_read(&r->lost_nesting) +
	       local_read(&r->lost_wrap) + local_read(&r->lost_too_big);
}

/*
 * Called from the reserve loop when the event does not fit in the open
 * packet (or no packet is open). Decides, without side effects other than
 * counting a refusal, where the new packet begins. Returns 0 (*o_ev set),
 * 1 (retry: the offset moved under us) or a refusal, already counted.
 */
int rewind_switch_check(struct rewind_session *s, struct rewind_ring *r,
			unsigned long o_old, u32 slot, unsigned long *o_ev,
			u64 *lost)
{
	unsigned long off = o_old & s->sb_mask;
	unsigned long begin = off ? (o_old & ~s->sb_mask) + s->sb_size : o_old;
	unsigned long lap = begin >> s->buf_order;
	unsigned long idx = rewind_sb_index(s, begin);

	if (unlikely(REWIND_PACKET_HEADER_SIZE + slot >= s->sb_size)) {
		local_inc(&r->lost_too_big);
		return -E2BIG;
	}
	/*
	 * The previous lap of this sub-buffer must be fully committed: a
	 * writer we interrupted may still be filling it (we wrapped the whole
	 * ring while nested). Refuse rather than overwrite a slot in use.
	 */
	if (unlikely((unsigned long)local_read(&r->sb[idx].commit) !=
		     lap * s->sb_size))
		goto refuse_wrap;
	/*
	 * Discard mode: the reader must have freed the sub-buffer. Acquire
	 * pairs with the reader's release: its copy is done before we reuse.
	 */
	if (s->mode == REWIND_MODE_DISCARD &&
	    begin - (unsigned long)atomic_long_read_acquire(&r->consumed) >=
	    s->buf_size)
		goto refuse_full;
	*o_ev = begin + REWIND_PACKET_HEADER_SIZE;
	/*
	 * events_discarded of the packet we close, read before our claim:
	 * writers nested after the claim close later packets with counts at
	 * least as high, so the field never decreases along the stream.
	 */
	*lost = rewind_lost_total(r);
	return 0;

	/*
	 * A writer that interrupted us since we read o_old may have opened
	 * the packet we looked at (its header is already counted): our view
	 * is stale, not the ring. Retry instead of refusing.
	 */
refuse_wrap:
	if ((unsigned long)local_read(&r->offset) != o_old)
		return 1;
	local_inc(&r->lost_wrap);
	return -EAGAIN;
refuse_full:
	if ((unsigned long)local_read(&r->offset) != o_old)
		return 1;
	local_inc(&r->lost_full);
	return -ENOSPC;
}

/* Close the packet at pkt, which holds off bytes; we own its padding. */
static void rewind_close_packet(struct rewind_session *s, struct rewind_ring *r,
				unsigned long pkt, unsigned long off, u64 ts,
				u64 lost)
{
	struct rewind_packet_header *h = rewind_pkt(s, r, pkt);

	h->timestamp_end = ts;
	h->content_size = (u32)off * 8;
	h->events_discarded = lost;
	/* Packet end fields before the commit that completes the packet. */
	smp_wmb();
	local_add(s->sb_size - off, &r->sb[rewind_sb_index(s, pkt)].commit);
}

/*
 * After a successful claim that crossed a boundary: close the old packet
 * (if one was open) and write the header of the one beginning at begin.
 */
void rewind_switch(struct rewind_session *s, struct rewind_ring *r,
		   unsigned long o_old, unsigned long begin, u64 ts, u64 lost)
{
	unsigned long off = o_old & s->sb_mask;
	struct rewind_packet_header *h;

	if (off)
		rewind_close_packet(s, r, o_old & ~s->sb_mask, off, ts, lost);
	if (s->mode == REWIND_MODE_OVERWRITE && begin >= s->buf_size)
		local_inc(&r->overwritten);
	local_inc(&r->switches);
	/*
	 * Our claim of the new lap is visible before any of its bytes
	 * change (pairs with the smp_rmb() before the reader re-reads the
	 * offset after a copy).
	 */
	smp_wmb();
	/*
	 * Only the fields the closer never writes: writers nested between our
	 * claim and this point may already have filled and closed the packet
	 * (timestamp_end, content_size, events_discarded are theirs).
	 */
	h = rewind_pkt(s, r, begin);
	h->magic = REWIND_PACKET_MAGIC;
	memcpy(h->uuid, s->uuid, sizeof(h->uuid));
	h->stream_id = REWIND_STREAM_ID;
	h->timestamp_begin = ts;
	h->packet_size = s->sb_size * 8;
	h->packet_seq_num = begin >> s->sb_order;
	h->cpu_id = r->cpu;
	/* Header bytes before the commit that counts them. */
	smp_wmb();
	local_add(REWIND_PACKET_HEADER_SIZE,
		  &r->sb[rewind_sb_index(s, begin)].commit);
}

/* Close the open packet, on the ring's own CPU (or with it offline). */
static void rewind_flush_ring(struct rewind_session *s, struct rewind_ring *r)
{
	unsigned long o_old, off;
	u64 ts, lost;

	do {
		o_old = local_read(&r->offset);
		off = o_old & s->sb_mask;
		if (!off)
			return;
		ts = rewind_clock();
		lost = rewind_lost_total(r);
		/* Claims the rest of the packet as padding. */
	} while (local_cmpxchg(&r->offset, o_old,
			       (o_old & ~s->sb_mask) + s->sb_size) != o_old);
	rewind_close_packet(s, r, o_old & ~s->sb_mask, off, ts, lost);
}

static void rewind_flush_ipi(void *info)
{
	struct rewind_session *s = info;

	rewind_flush_ring(s, s->rings[smp_processor_id()]);
}

void rewind_flush_all(struct rewind_session *s)
{
	unsigned int cpu;

	cpus_read_lock();
	for_each_possible_cpu(cpu) {
		if (cpu_online(cpu))
			smp_call_function_single(cpu, rewind_flush_ipi, s, 1);
		else
			rewind_flush_ring(s, s->rings[cpu]);
	}
	cpus_read_unlock();
}

/*
 * Is the packet at pos (lap pos >> buf_order) complete now? Readers call
 * it before copying; rewind_untouched() after.
 */
static bool rewind_complete(struct rewind_session *s, struct rewind_ring *r,
			    unsigned long pos)
{
	unsigned long cc = local_read(&r->sb[rewind_sb_index(s, pos)].commit);

	/* Commit count before the bytes it covers (pairs with commit). */
	smp_rmb();
	return cc == ((pos >> s->buf_order) + 1) * s->sb_size;
}

static bool rewind_untouched(struct rewind_session *s, struct rewind_ring *r,
			     unsigned long pos)
{
	/* Our copy before the offset re-read (pairs with rewind_switch). */
	smp_rmb();
	return (unsigned long)local_read(&r->offset) <= pos + s->buf_size;
}

/*
 * First position worth reading, and the end (the open packet's start). An
 * open packet has already taken its sub-buffer's previous lap (counted in
 * overwritten when it opened): the window is then the nr_sb - 1 packets
 * before it, not a packet the reader would find overwritten and count in
 * skipped on every snapshot.
 */
static void rewind_window(struct rewind_session *s, struct rewind_ring *r,
			  unsigned long *first, unsigned long *end)
{
	unsigned long o = local_read(&r->offset);
	unsigned long head = o & ~s->sb_mask;
	unsigned long span = (o & s->sb_mask) ? s->buf_size - s->sb_size :
						s->buf_size;
	unsigned long start = head >= span ? head - span : 0;

	if (s->mode == REWIND_MODE_DISCARD)
		start = max(start,
			    (unsigned long)atomic_long_read(&r->consumed));
	*first = start;
	*end = head;
}

long rewind_snapshot_cpu(struct rewind_session *s, struct rewind_snapshot *req)
{
	struct rewind_ring *r;
	char __user *dst = u64_to_user_ptr(req->addr);
	unsigned long pos, first, end, done = 0;
	u64 room = req->len;

	if (req->cpu >= nr_cpu_ids || !cpu_possible(req->cpu))
		return -EINVAL;
	if (req->flags & ~REWIND_SNAPSHOT_CONSUME)
		return -EINVAL;
	r = s->rings[req->cpu];
	req->bytes = 0;
	req->packets = 0;
	req->skipped = 0;
	req->first_seq = 0;
	req->last_seq = 0;
	rewind_window(s, r, &first, &end);
	done = first;
	for (pos = first; pos < end; pos += s->sb_size) {
		struct rewind_packet_header *h = rewind_pkt(s, r, pos);
		u32 len;

		if (!rewind_complete(s, r, pos)) {
			/* Still being committed (a writer we flushed past). */
			if (rewind_untouched(s, r, pos))
				break;
			goto drop_older;
		}
		len = READ_ONCE(h->content_size) / 8;
		if (len < REWIND_PACKET_HEADER_SIZE || len > s->sb_size)
			len = s->sb_size;	/* torn: rejected below */
		if (len > room)
			break;
		if (copy_to_user(dst, h, len))
			return -EFAULT;
		if (!rewind_untouched(s, r, pos))
			goto drop_older;
		/* The copy is the packet's content only. */
		if (put_user(len * 8, (u32 __user *)(dst +
			     offsetof(struct rewind_packet_header, packet_size))))
			return -EFAULT;
		if (!req->packets)
			req->first_seq = pos >> s->sb_order;
		req->last_seq = pos >> s->sb_order;
		req->packets++;
		req->bytes += len;
		dst += len;
		room -= len;
		done = pos + s->sb_size;
		continue;
drop_older:
		/*
		 * The writer lapped us at pos. Packets copied before it are
		 * older than a hole: drop them too, so the copy is one
		 * contiguous window ending at the flush point.
		 */
		req->skipped += req->packets + 1;
		req->packets = 0;
		req->bytes = 0;
		dst = u64_to_user_ptr(req->addr);
		room = req->len;
	}
	/* Our reads of the copied packets are done before writers reuse them. */
	if ((req->flags & REWIND_SNAPSHOT_CONSUME) &&
	    s->mode == REWIND_MODE_DISCARD)
		atomic_long_set_release(&r->consumed, done);
	return 0;
}

void rewind_ring_stats(struct rewind_session *s, unsigned int cpu,
		       struct rewind_stats *st)
{
	struct rewind_ring *r = s->rings[cpu];
	unsigned long pos, first, end;

	st->online = cpu_online(cpu);
	st->events_written = local_read(&r->events);
	st->bytes_written = local_read(&r->bytes);
	st->lost_full = local_read(&r->lost_full);
	st->lost_nesting = local_read(&r->lost_nesting);
	st->lost_wrap = local_read(&r->lost_wrap);
	st->lost_too_big = local_read(&r->lost_too_big);
	st->packets_overwritten = local_read(&r->overwritten);
	st->subbuf_switches = local_read(&r->switches);
	st->write_pos = local_read(&r->offset);
	st->consumed_pos = atomic_long_read(&r->consumed);
	st->oldest_timestamp = 0;
	rewind_window(s, r, &first, &end);
	/* The open packet counts too: its begin is still in the ring. */
	if ((unsigned long)st->write_pos & s->sb_mask)
		end += s->sb_size;
	for (pos = first; pos < end; pos += s->sb_size) {
		u64 ts = READ_ONCE(rewind_pkt(s, r, pos)->timestamp_begin);

		if (pos + s->sb_size < end && !rewind_complete(s, r, pos))
			continue;
		if (rewind_untouched(s, r, pos)) {
			st->oldest_timestamp = ts;
			break;
		}
	}
}

void rewind_ring_free(struct rewind_ring *r)
{
	if (!r)
		return;
	vfree(r->mem);
	kfree(r->sb);
	kfree(r);
}

/* One CPU's ring for the geometry of s, on that CPU's node. */
struct rewind_ring *rewind_ring_alloc(struct rewind_session *s,
				      unsigned int cpu)
{
	struct rewind_ring *r;

	r = kzalloc_node(sizeof(*r), GFP_KERNEL, cpu_to_node(cpu));
	if (!r)
		return NULL;
	r->cpu = cpu;
	r->sb = kcalloc_node(s->nr_sb, sizeof(*r->sb), GFP_KERNEL,
			     cpu_to_node(cpu));
	if (!r->sb)
		goto err_free_ring;
	r->mem = vmalloc_user(s->buf_size);
	if (!r->mem)
		goto err_free_sb;
	local_set(&r->offset, 0);
	atomic_long_set(&r->consumed, 0);
	return r;

err_free_sb:
	kfree(r->sb);
err_free_ring:
	kfree(r);
	return NULL;
}
