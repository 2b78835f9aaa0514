// SPDX-License-Identifier: GPL-2.0-only
/*
 * Statedump: what a snapshot needs to name what it shows, written into the
 * rings between statedump_start and statedump_end: every thread, every IRQ
 * action, and from each online CPU the task it was running.
 */
#include <linux/cgroup.h>
#include <linux/cpu.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/irqdesc.h>
#include <linux/nsproxy.h>
#include <linux/pid_namespace.h>
#include <linux/proc_ns.h>
#include <linux/sched/signal.h>
#include <linux/version.h>
#include <net/net_namespace.h>
#include "events.h"

static u32 rewind_mnt_ns_inum(struct nsproxy *ns)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 11, 0)
	/*
	 * struct mnt_namespace is private to fs/; since 5.11 its first
	 * member is its struct ns_common.
	 */
	return ns->mnt_ns ? ((struct ns_common *)ns->mnt_ns)->inum : 0;
#else
	return 0;
#endif
}

static void rewind_dump_thread(struct rewind_session *s, struct task_struct *t)
{
	struct rewind_ev_statedump_process e;
	struct pid_namespace *pidns;
	struct nsproxy *ns;
	char comm[TASK_COMM_LEN];

	e.tid = t->pid;
	e.pid = t->tgid;
	e.ppid = task_tgid_nr(rcu_dereference(t->real_parent));
	memcpy(comm, t->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = '\0';
	e.comm.s = comm;
	e.comm.len = strlen(comm);
	e.state = task_state_index(t);
	e.cpu = task_cpu(t);
	e.cgroup_id = rewind_task_cgroup_id(t);
	pidns = task_active_pid_ns(t);
	e.pid_ns = pidns ? pidns->ns.inum : 0;
	e.mnt_ns = 0;
	e.net_ns = 0;
	/* nsproxy is stable under task_lock (exit clears it). */
	task_lock(t);
	ns = t->nsproxy;
	if (ns) {
		e.mnt_ns = rewind_mnt_ns_inum(ns);
		e.net_ns = ns->net_ns ? ns->net_ns->ns.inum : 0;
	}
	task_unlock(t);
	preempt_disable();
	rewind_emit_statedump_process(s, &e);
	preempt_enable();
}

static void rewind_dump_irqs(struct rewind_session *s)
{
	unsigned int irq;

	for (irq = 0; irq < nr_irqs; irq++) {
		struct irqaction *action;
		struct irq_data *data;
		struct irq_desc *desc;
		unsigned long flags;

		/* Sparse IRQ descriptors are freed after an RCU grace period. */
		rcu_read_lock();
		data = irq_get_irq_data(irq);
		if (!data) {
			rcu_read_unlock();
			continue;
		}
		desc = irq_data_to_desc(data);
		/* desc->lock keeps the action list from changing under us. */
		raw_spin_lock_irqsave(&desc->lock, flags);
		for (action = desc->action; action; action = action->next) {
			struct rewind_ev_statedump_irq e;

			e.irq = irq;
			e.name.s = action->name ? action->name : "";
			e.name.len = strnlen(e.name.s, 63);
			rewind_emit_statedump_irq(s, &e);
		}
		raw_spin_unlock_irqrestore(&desc->lock, flags);
		rcu_read_unlock();
	}
}

static void rewind_dump_cpu_ipi(void *info)
{
	struct rewind_session *s = info;
	struct rewind_ev_statedump_cpu e;

	e.cpu = smp_processor_id();
	e.current_tid = current->pid;
	rewind_emit_statedump_cpu(s, &e);
}

void rewind_statedump(struct rewind_session *s)
{
	struct task_struct *p, *t;
	unsigned int cpu;
	u32 nr = 0;

	{
		struct rewind_ev_statedump_start e = {
			.nr_cpus = num_online_cpus(),
		};

		preempt_disable();
		rewind_emit_statedump_start(s, &e);
		preempt_enable();
	}
	rcu_read_lock();
	for_each_process_thread(p, t) {
		rewind_dump_thread(s, t);
		nr++;
	}
	rcu_read_unlock();
	rewind_dump_irqs(s);
	cpus_read_lock();
	for_each_online_cpu(cpu)
		smp_call_function_single(cpu, rewind_dump_cpu_ipi, s, 1);
	cpus_read_unlock();
	{
		struct rewind_ev_statedump_end e = { .nr_threads = nr };

		preempt_disable();
		rewind_emit_statedump_end(s, &e);
		preempt_enable();
	}
}
