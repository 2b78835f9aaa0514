// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test hooks (module parameter test_hooks=1 only): events carrying a per-CPU,
 * per-context sequence number and a checksum, emitted from process context
 * and from per-CPU hrtimers (softirq and hardirq context, so writers nest
 * three deep), to prove the rings never tear, reorder or silently drop.
 */
#include <linux/cpu.h>
#include <linux/hrtimer.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include "events.h"

/* Per CPU: one timer expiring in hardirq context, one in softirq context. */
struct rewind_test_timer {
	struct hrtimer hard;
	struct hrtimer soft;
	u64 period_ns;
	u32 burst;
	u64 emitted_hard;	/* each written only by its own timer */
	u64 emitted_soft;
	bool armed;
};

static DEFINE_PER_CPU(struct rewind_test_timer, rewind_test_timers);

static u32 rewind_test_ctx(void)
{
	if (in_nmi())
		return REWIND_CTX_NMI;
	if (in_hardirq())
		return REWIND_CTX_HARDIRQ;
	if (in_serving_softirq())
		return REWIND_CTX_SOFTIRQ;
	return REWIND_CTX_TASK;
}

/*
 * Preemption disabled: one context of one CPU emits at a time. Writes to the
 * tracing session like a probe does (RCU-sched reader of rewind_active).
 */
static int rewind_test_emit_one(void)
{
	struct rewind_session *s = rcu_dereference_sched(rewind_active);
	static const char tag[] = "abcdefghijklmnopqrstuvwxyz";
	struct rewind_ev_rewind_test e;
	unsigned int cpu = smp_processor_id();
	u32 ctx = rewind_test_ctx();

	if (!s)
		return -ENODEV;
	/*
	 * A context cannot interrupt itself, so numbers are taken in the
	 * same order as slots are reserved; a refused event leaves a gap.
	 */
	e.seq = s->rings[cpu]->test_seq[ctx]++;
	e.cpu = cpu;
	e.ctx = ctx;
	e.checksum = rewind_test_checksum(e.seq, cpu, ctx);
	e.tag.s = tag;
	e.tag.len = REWIND_TEST_TAG_LEN(e.seq);
	return rewind_emit_rewind_test(s, &e);
}

static void rewind_test_burst(struct rewind_test_timer *t, u64 *emitted)
{
	u32 i;

	for (i = 0; i < t->burst; i++)
		if (!rewind_test_emit_one())
			(*emitted)++;
}

static enum hrtimer_restart rewind_test_hard_tick(struct hrtimer *timer)
{
	struct rewind_test_timer *t =
		container_of(timer, struct rewind_test_timer, hard);

	rewind_test_burst(t, &t->emitted_hard);
	hrtimer_forward_now(timer, ns_to_ktime(t->period_ns));
	return HRTIMER_RESTART;
}

static enum hrtimer_restart rewind_test_soft_tick(struct hrtimer *timer)
{
	struct rewind_test_timer *t =
		container_of(timer, struct rewind_test_timer, soft);

	rewind_test_burst(t, &t->emitted_soft);
	hrtimer_forward_now(timer, ns_to_ktime(t->period_ns));
	return HRTIMER_RESTART;
}

static void rewind_test_arm(void *info)
{
	struct rewind_test_timer *t = this_cpu_ptr(&rewind_test_timers);

	hrtimer_start(&t->hard, ns_to_ktime(t->period_ns),
		      HRTIMER_MODE_REL_PINNED_HARD);
	hrtimer_start(&t->soft, ns_to_ktime(t->period_ns + t->period_ns / 2),
		      HRTIMER_MODE_REL_PINNED_SOFT);
}

void rewind_test_stop(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		struct rewind_test_timer *t = per_cpu_ptr(&rewind_test_timers, cpu);

		if (t->armed) {
			hrtimer_cancel(&t->hard);
			hrtimer_cancel(&t->soft);
			t->armed = false;
		}
	}
}

static u64 rewind_test_timer_count(void)
{
	unsigned int cpu;
	u64 n = 0;

	for_each_possible_cpu(cpu) {
		struct rewind_test_timer *t = per_cpu_ptr(&rewind_test_timers, cpu);

		n += t->emitted_hard + t->emitted_soft;
	}
	return n;
}

/* Process context, without rewind_mutex: snapshots run meanwhile. */
long rewind_test_emit(struct rewind_test *req)
{
	u64 i;

	if (!rewind_test_hooks)
		return -EPERM;
	if (req->count > (1ULL << 32))
		return -EINVAL;
	req->emitted = 0;
	for (i = 0; i < req->count; i++) {
		preempt_disable();
		if (!rewind_test_emit_one())
			req->emitted++;
		preempt_enable();
		if (!(i & 1023)) {
			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
		}
	}
	return 0;
}

/* Timer operations, with rewind_mutex held. */
long rewind_test_ioctl(struct rewind_test *req)
{
	unsigned int cpu;

	if (!rewind_test_hooks)
		return -EPERM;
	switch (req->op) {
	case REWIND_TEST_TIMER_START:
		if (req->period_ns < 10000 || req->period_ns > NSEC_PER_SEC ||
		    !req->burst || req->burst > 1000)
			return -EINVAL;
		rewind_test_stop();
		cpus_read_lock();
		for_each_online_cpu(cpu) {
			struct rewind_test_timer *t =
				per_cpu_ptr(&rewind_test_timers, cpu);

			hrtimer_init(&t->hard, CLOCK_MONOTONIC,
				     HRTIMER_MODE_REL_PINNED_HARD);
			t->hard.function = rewind_test_hard_tick;
			hrtimer_init(&t->soft, CLOCK_MONOTONIC,
				     HRTIMER_MODE_REL_PINNED_SOFT);
			t->soft.function = rewind_test_soft_tick;
			t->period_ns = req->period_ns;
			t->burst = req->burst;
			t->emitted_hard = 0;
			t->emitted_soft = 0;
			t->armed = true;
			smp_call_function_single(cpu, rewind_test_arm, NULL, 1);
		}
		cpus_read_unlock();
		return 0;
	case REWIND_TEST_TIMER_STOP:
		rewind_test_stop();
		req->emitted = rewind_test_timer_count();
		return 0;
	default:
		return -EINVAL;
	}
}
