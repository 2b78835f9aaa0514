// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test hooks (module parameter test_hooks=1 only): events carrying a per-CPU,
 * per-context sequence number and a checksum, emitted from process context,
 * from per-CPU hrtimers (softirq and hardirq context) and, on x86, from an
 * NMI handler (the hardirq ticks send NMIs to the next CPU, as the kernel's
 * NMI selftest does), so writers nest four deep, to prove the rings never
 * tear, reorder or silently drop.
 */
#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include "events.h"
#ifdef CONFIG_X86_LOCAL_APIC
#include <asm/apic.h>
#include <asm/nmi.h>
#endif

/* Per CPU: one timer expiring in hardirq context, one in softirq context. */
struct rewind_test_timer {
	struct hrtimer hard;
	struct hrtimer soft;
	u64 period_ns;
	u32 burst;
	u64 emitted_hard;	/* each written only by its own timer */
	u64 emitted_soft;
	u64 emitted_nmi;	/* written only by this CPU's NMI handler */
	bool armed;
	bool nmi;		/* each hardirq tick sends an NMI */
};

static DEFINE_PER_CPU(struct rewind_test_timer, rewind_test_timers);

static u32 rewind_test_ctx(void)
{
	if (in_nmi())
		return REWIND_CTX_NMI;
	if (hardirq_count())	/* in_hardirq(), which 5.10 lacks */
		return REWIND_CTX_HARDIRQ;
	if (in_serving_softirq())
		return REWIND_CTX_SOFTIRQ;
	return REWIND_CTX_TASK;
}

/*
 * Preemption disabled: one context of one CPU emits at a time. Writes to the
 * tracing session, as an RCU-sched reader of rewind_active (probes get the
 * session as their data argument instead).
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

#ifdef CONFIG_X86_LOCAL_APIC
/*
 * 1 while an NMI this module sent to the CPU has not been handled. The
 * handler claims an NMI only if it finds the flag set, so it leaves other
 * sources' NMIs alone but while one of ours is on its way (DESIGN.md, "Test
 * hooks"); the sender sends only when it set the
 * flag from 0, so two of ours never merge into one (an NMI the handler did
 * not claim would be reported as unknown).
 */
static DEFINE_PER_CPU(atomic_t, rewind_test_nmi_pending);
static bool rewind_test_nmi_registered;	/* under rewind_mutex */

static int rewind_test_nmi(unsigned int type, struct pt_regs *regs)
{
	struct rewind_test_timer *t = this_cpu_ptr(&rewind_test_timers);

	if (!atomic_xchg(this_cpu_ptr(&rewind_test_nmi_pending), 0))
		return NMI_DONE;
	rewind_test_burst(t, &t->emitted_nmi);
	return NMI_HANDLED;
}

/* From a hardirq tick: an NMI to the next online CPU (itself if alone). */
static void rewind_test_send_nmi(void)
{
	unsigned int cpu = cpumask_next(smp_processor_id(), cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	/* Full barrier: the flag is set before the IPI can arrive. */
	if (!atomic_cmpxchg(per_cpu_ptr(&rewind_test_nmi_pending, cpu), 0, 1))
		apic->send_IPI_mask(cpumask_of(cpu), NMI_VECTOR);
}

static int rewind_test_nmi_register(void)
{
	int ret = register_nmi_handler(NMI_LOCAL, rewind_test_nmi, 0,
				       "rewind_test");

	rewind_test_nmi_registered = !ret;
	return ret;
}

/*
 * After the timers stopped: an NMI a last tick sent may still be on its
 * way; wait (100 ms at most) until every one was handled, so none arrives
 * with no handler to claim it. Unregistering waits for running handlers.
 */
static void rewind_test_nmi_unregister(void)
{
	unsigned int cpu, i;

	if (!rewind_test_nmi_registered)
		return;
	for_each_possible_cpu(cpu)
		for (i = 0; i < 1000 &&
		     atomic_read(per_cpu_ptr(&rewind_test_nmi_pending, cpu)); i++)
			usleep_range(100, 200);
	unregister_nmi_handler(NMI_LOCAL, "rewind_test");
	rewind_test_nmi_registered = false;
	for_each_possible_cpu(cpu)
		atomic_set(per_cpu_ptr(&rewind_test_nmi_pending, cpu), 0);
}
#else
static void rewind_test_send_nmi(void)
{
}

static int rewind_test_nmi_register(void)
{
	return -EOPNOTSUPP;
}

static void rewind_test_nmi_unregister(void)
{
}
#endif

static enum hrtimer_restart rewind_test_hard_tick(struct hrtimer *timer)
{
	struct rewind_test_timer *t =
		container_of(timer, struct rewind_test_timer, hard);

	if (t->nmi)
		rewind_test_send_nmi();
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

static void rewind_test_timer_init(struct hrtimer *timer,
				   enum hrtimer_restart (*fn)(struct hrtimer *),
				   enum hrtimer_mode mode)
{
#ifdef REWIND_HAVE_HRTIMER_SETUP	/* Kbuild feature test */
	hrtimer_setup(timer, fn, CLOCK_MONOTONIC, mode);
#else
	hrtimer_init(timer, CLOCK_MONOTONIC, mode);
	timer->function = fn;
#endif
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
	rewind_test_nmi_unregister();
}

static u64 rewind_test_timer_count(void)
{
	unsigned int cpu;
	u64 n = 0;

	for_each_possible_cpu(cpu) {
		struct rewind_test_timer *t = per_cpu_ptr(&rewind_test_timers, cpu);

		n += t->emitted_hard + t->emitted_soft + t->emitted_nmi;
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
	int ret;

	if (!rewind_test_hooks)
		return -EPERM;
	switch (req->op) {
	case REWIND_TEST_TIMER_START:
	case REWIND_TEST_NMI_START:
		if (req->period_ns < 10000 || req->period_ns > NSEC_PER_SEC ||
		    !req->burst || req->burst > 1000)
			return -EINVAL;
		rewind_test_stop();
		if (req->op == REWIND_TEST_NMI_START) {
			ret = rewind_test_nmi_register();
			if (ret)
				return ret;
		}
		cpus_read_lock();
		for_each_online_cpu(cpu) {
			struct rewind_test_timer *t =
				per_cpu_ptr(&rewind_test_timers, cpu);

			rewind_test_timer_init(&t->hard, rewind_test_hard_tick,
					       HRTIMER_MODE_REL_PINNED_HARD);
			rewind_test_timer_init(&t->soft, rewind_test_soft_tick,
					       HRTIMER_MODE_REL_PINNED_SOFT);
			t->period_ns = req->period_ns;
			t->burst = req->burst;
			t->emitted_hard = 0;
			t->emitted_soft = 0;
			t->emitted_nmi = 0;
			t->nmi = req->op == REWIND_TEST_NMI_START;
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
