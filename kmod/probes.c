// SPDX-License-Identifier: GPL-2.0-only
/*
 * Probes on existing tracepoints, resolved by name at load time so one
 * source builds for every kernel from 5.10 on. Each probe turns the
 * tracepoint's arguments into one dense event (rewind/format.h).
 *
 * A probe gets the session it writes to as the tracepoint's data argument
 * (registration passes it): no RCU read of rewind_active, which would not
 * be protected on a faultable tracepoint (the system calls' in recent
 * kernels), where probes run with preemption enabled. The session outlives its probes:
 * stop unregisters them and waits (tracepoint_synchronize_unregister())
 * before the session can be freed.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/binfmts.h>
#include <linux/interrupt.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/sched.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <linux/tracepoint.h>
#include <net/ip.h>
/* The tracepoints' declarations: register_trace_<tp>() has the prototype. */
#include <trace/events/block.h>
#include <trace/events/irq.h>
#include <trace/events/net.h>
#include <trace/events/sched.h>
#include <trace/events/syscalls.h>
#include <trace/events/task.h>
#ifdef CONFIG_X86
#include <asm/trace/exceptions.h>
#endif
#include "events.h"

struct rewind_probe_def {
	const char *name;
	void *func;
	struct tracepoint *tp;
	bool registered;
};

/* A stable, NUL-free copy of a task's comm. */
static __always_inline struct rewind_str
rewind_comm(char *buf, const char *comm)
{
	struct rewind_str str;

	memcpy(buf, comm, TASK_COMM_LEN);
	buf[TASK_COMM_LEN - 1] = '\0';
	str.s = buf;
	str.len = strlen(buf);
	return str;
}

/*
 * The REWIND_HAVE_* and REWIND_*_HAS_* macros come from Kbuild's feature
 * tests, which read the headers of the kernel built for (distributions carry
 * such changes back into older versions): prev_state since 5.18, __state
 * since 5.14, block_rq_issue without its queue since 5.11 (and 5.10.y),
 * the request's disk through its queue since 5.17.
 */
#ifdef REWIND_HAVE_SCHED_SWITCH_PREV_STATE
static void probe_sched_switch(void *data, bool preempt,
			       struct task_struct *prev,
			       struct task_struct *next,
			       unsigned int prev_state)
{
#else
static void probe_sched_switch(void *data, bool preempt,
			       struct task_struct *prev,
			       struct task_struct *next)
{
#ifdef REWIND_HAVE_TASK___STATE
	unsigned int prev_state = READ_ONCE(prev->__state);
#else
	unsigned int prev_state = READ_ONCE(prev->state);
#endif
#endif
	struct rewind_ev_sched_switch e;
	struct rewind_session *s = data;

	e.prev_tid = prev->pid;
	e.prev_prio = prev->prio;
	/* Running (0) when preempted, else the TASK_REPORT bits. */
	e.prev_state = preempt ? 0 : (prev_state & TASK_REPORT);
	e.next_tid = next->pid;
	e.next_prio = next->prio;
	rewind_emit_sched_switch(s, &e);
}

#define REWIND_WAKE_PROBE(name)						\
static void probe_##name(void *data, struct task_struct *p)		\
{									\
	struct rewind_ev_##name e;					\
	struct rewind_session *s = data;				\
									\
	e.tid = p->pid;							\
	e.prio = p->prio;						\
	e.target_cpu = task_cpu(p);					\
	rewind_emit_##name(s, &e);					\
}

REWIND_WAKE_PROBE(sched_waking)
REWIND_WAKE_PROBE(sched_wakeup)
REWIND_WAKE_PROBE(sched_wakeup_new)

/*
 * sched_process_cgroup: the thread's cgroup, written after its fork and its
 * exec event, so a thread that exits before the next statedump can still be
 * put in its container. It rides on the fork and exec probe bits, with no
 * bit of its own (bits are ABI): whoever records forks and execs wants to
 * know whose they are. The two events are reserved one after the other, so
 * either may be refused alone; each refusal is counted (rewind_emit_*()).
 */
static __always_inline void rewind_emit_cgroup(struct rewind_session *s,
					       struct task_struct *t)
{
	struct rewind_ev_sched_process_cgroup e;

	e.tid = t->pid;
	e.pid = t->tgid;
	rcu_read_lock();
	e.cgroup_id = rewind_task_cgroup_id(t);
	rcu_read_unlock();
	rewind_emit_sched_process_cgroup(s, &e);
}

/*
 * The child is in its cgroup already: copy_process() runs cgroup_post_fork()
 * (which also applies CLONE_INTO_CGROUP) before the fork tracepoint fires
 * (5.10 to 6.12).
 */
static void probe_sched_process_fork(void *data, struct task_struct *parent,
				     struct task_struct *child)
{
	struct rewind_ev_sched_process_fork e;
	char comm[TASK_COMM_LEN];
	struct rewind_session *s = data;

	e.parent_tid = parent->pid;
	e.child_tid = child->pid;
	e.child_pid = child->tgid;
	e.child_comm = rewind_comm(comm, child->comm);
	rewind_emit_sched_process_fork(s, &e);
	rewind_emit_cgroup(s, child);
}

static void probe_sched_process_exec(void *data, struct task_struct *p,
				     pid_t old_pid, struct linux_binprm *bprm)
{
	struct rewind_ev_sched_process_exec e;
	char comm[TASK_COMM_LEN];
	struct rewind_session *s = data;

	e.tid = p->pid;
	e.old_tid = old_pid;
	e.comm = rewind_comm(comm, p->comm);
	e.filename.s = bprm->filename;
	/* The path is stable during exec; long ones are cut at 255 bytes. */
	e.filename.len = strnlen(bprm->filename, 255);
	rewind_emit_sched_process_exec(s, &e);
	/*
	 * A container's runtime moves its first process into the container's
	 * cgroup and then execs the entrypoint: exec is where that cgroup is
	 * first seen.
	 */
	rewind_emit_cgroup(s, p);
}

static void probe_sched_process_exit(void *data, struct task_struct *p)
{
	struct rewind_ev_sched_process_exit e;
	struct rewind_session *s = data;

	e.tid = p->pid;
	rewind_emit_sched_process_exit(s, &e);
}

static void probe_sched_migrate_task(void *data, struct task_struct *p,
				     int dest_cpu)
{
	struct rewind_ev_sched_migrate_task e;
	struct rewind_session *s = data;

	e.tid = p->pid;
	e.orig_cpu = task_cpu(p);
	e.dest_cpu = dest_cpu;
	rewind_emit_sched_migrate_task(s, &e);
}

static void probe_task_rename(void *data, struct task_struct *task,
			      const char *comm)
{
	struct rewind_ev_task_rename e;
	char buf[TASK_COMM_LEN];
	struct rewind_session *s = data;

	e.tid = task->pid;
	strscpy(buf, comm, sizeof(buf));
	e.comm.s = buf;
	e.comm.len = strlen(buf);
	rewind_emit_task_rename(s, &e);
}

static void probe_irq_handler_entry(void *data, int irq,
				    struct irqaction *action)
{
	struct rewind_ev_irq_handler_entry e;
	struct rewind_session *s = data;

	e.irq = irq;
	rewind_emit_irq_handler_entry(s, &e);
}

static void probe_irq_handler_exit(void *data, int irq,
				   struct irqaction *action, int ret)
{
	struct rewind_ev_irq_handler_exit e;
	struct rewind_session *s = data;

	e.ret = ret;
	rewind_emit_irq_handler_exit(s, &e);
}

static void probe_softirq_entry(void *data, unsigned int vec_nr)
{
	struct rewind_ev_softirq_entry e;
	struct rewind_session *s = data;

	e.vec = vec_nr;
	rewind_emit_softirq_entry(s, &e);
}

static void probe_softirq_exit(void *data, unsigned int vec_nr)
{
	struct rewind_ev_softirq_exit e;
	struct rewind_session *s = data;

	rewind_emit_softirq_exit(s, &e);
}

/*
 * The system call tracepoints may fault (recent kernels) and then call
 * probes with preemption enabled; a ring has writers on its own CPU only, so these two
 * probes disable preemption themselves (a no-op cost where it already is).
 */
static void probe_sys_enter(void *data, struct pt_regs *regs, long id)
{
	struct rewind_ev_sys_enter e;
	struct rewind_session *s = data;

	/* Numbers that do not fit (x32's high bit) are recorded as -1. */
	e.id = (id >= S16_MIN && id <= S16_MAX) ? id : -1;
	preempt_disable_notrace();
	rewind_emit_sys_enter(s, &e);
	preempt_enable_notrace();
}

static void probe_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	struct rewind_session *s = data;

	preempt_disable_notrace();
	if (likely(ret >= S16_MIN && ret <= S16_MAX)) {
		struct rewind_ev_sys_exit e = { .ret = ret };

		rewind_emit_sys_exit(s, &e);
	} else {
		struct rewind_ev_sys_exit_wide e = { .ret = ret };

		rewind_emit_sys_exit_wide(s, &e);
	}
	preempt_enable_notrace();
}

/* TCP segment identity: addresses, ports, sequence numbers, flags. */
struct rewind_tcp_id {
	u32 len;
	u32 ifindex;
	__be32 saddr4, daddr4;
	const u8 *saddr6, *daddr6;
	__be16 sport, dport;
	__be32 seq, ack_seq;
	u8 flags;
	__be16 protocol;
};

static __always_inline int rewind_tcp_parse(struct sk_buff *skb,
					    struct rewind_tcp_id *t,
					    struct iphdr *ip4,
					    struct ipv6hdr *ip6,
					    struct tcphdr *thb)
{
	int nh = skb_network_offset(skb);
	const struct tcphdr *th = NULL;

	t->len = skb->len;
	t->ifindex = skb->dev ? skb->dev->ifindex : 0;
	t->protocol = skb->protocol;
	if (nh < 0)
		return 0;
	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *iph;

		iph = skb_header_pointer(skb, nh, sizeof(*ip4), ip4);
		if (!iph || iph->version != 4 || iph->ihl < 5 ||
		    iph->protocol != IPPROTO_TCP ||
		    (iph->frag_off & htons(IP_OFFSET)))
			return 0;
		th = skb_header_pointer(skb, nh + iph->ihl * 4, sizeof(*thb),
					thb);
		if (!th)
			return 0;
		t->saddr4 = iph->saddr;
		t->daddr4 = iph->daddr;
		goto tcp;
	}
	if (skb->protocol == htons(ETH_P_IPV6)) {
		const struct ipv6hdr *ip6h;

		ip6h = skb_header_pointer(skb, nh, sizeof(*ip6), ip6);
		if (!ip6h || ip6h->nexthdr != IPPROTO_TCP)
			return 0;
		th = skb_header_pointer(skb, nh + sizeof(*ip6h), sizeof(*thb),
					thb);
		if (!th)
			return 0;
		/* Copied out: ip6h may point into the skb's head. */
		if (ip6h != ip6)
			memcpy(ip6, ip6h, sizeof(*ip6));
		t->saddr6 = ip6->saddr.s6_addr;
		t->daddr6 = ip6->daddr.s6_addr;
		goto tcp;
	}
	return 0;
tcp:
	t->sport = th->source;
	t->dport = th->dest;
	t->seq = th->seq;
	t->ack_seq = th->ack_seq;
	t->flags = ((const u8 *)th)[13];	/* CWR..FIN */
	return skb->protocol == htons(ETH_P_IP) ? 4 : 6;
}

#define REWIND_NET_PROBE(name)						\
static void probe_##name(void *data, struct sk_buff *skb)		\
{									\
	struct rewind_tcp_id t;						\
	struct iphdr ip4;						\
	struct ipv6hdr ip6;						\
	struct tcphdr th;						\
	struct rewind_session *s = data;				\
									\
	switch (rewind_tcp_parse(skb, &t, &ip4, &ip6, &th)) {		\
	case 4: {							\
		struct rewind_ev_##name##_tcp4 e = {			\
			.len = t.len, .ifindex = t.ifindex,		\
			.saddr = t.saddr4, .daddr = t.daddr4,		\
			.sport = t.sport, .dport = t.dport,		\
			.seq = t.seq, .ack_seq = t.ack_seq,		\
			.flags = t.flags,				\
		};							\
		rewind_emit_##name##_tcp4(s, &e);			\
		break;							\
	}								\
	case 6: {							\
		struct rewind_ev_##name##_tcp6 e = {			\
			.len = t.len, .ifindex = t.ifindex,		\
			.saddr = t.saddr6, .daddr = t.daddr6,		\
			.sport = t.sport, .dport = t.dport,		\
			.seq = t.seq, .ack_seq = t.ack_seq,		\
			.flags = t.flags,				\
		};							\
		rewind_emit_##name##_tcp6(s, &e);			\
		break;							\
	}								\
	default: {							\
		struct rewind_ev_##name e = {				\
			.len = t.len, .ifindex = t.ifindex,		\
			.protocol = t.protocol,				\
		};							\
		rewind_emit_##name(s, &e);				\
	}								\
	}								\
}

REWIND_NET_PROBE(net_dev_queue)
REWIND_NET_PROBE(netif_receive_skb)

static __always_inline u32 rewind_rq_dev(struct request *rq)
{
#ifdef REWIND_REQUEST_HAS_RQ_DISK
	struct gendisk *disk = rq->rq_disk;
#else
	struct gendisk *disk = rq->q->disk;
#endif
	return disk ? disk_devt(disk) : 0;
}

#ifdef REWIND_BLOCK_RQ_ISSUE_HAS_QUEUE
static void probe_block_rq_issue(void *data, struct request_queue *q,
				 struct request *rq)
#else
static void probe_block_rq_issue(void *data, struct request *rq)
#endif
{
	struct rewind_ev_block_rq_issue e;
	struct rewind_session *s = data;

	e.dev = rewind_rq_dev(rq);
	e.sector = blk_rq_pos(rq);
	e.nr_sector = blk_rq_sectors(rq);
	e.op = req_op(rq);
	rewind_emit_block_rq_issue(s, &e);
}

/* An int in 5.10, a blk_status_t by 6.1 (feature test). */
#ifdef REWIND_HAVE_BLK_RQ_COMPLETE_STATUS
static void probe_block_rq_complete(void *data, struct request *rq,
				    blk_status_t error, unsigned int nr_bytes)
#else
static void probe_block_rq_complete(void *data, struct request *rq,
				    int error, unsigned int nr_bytes)
#endif
{
	struct rewind_ev_block_rq_complete e;
	struct rewind_session *s = data;

	e.dev = rewind_rq_dev(rq);
	e.sector = blk_rq_pos(rq);
	e.nr_sector = nr_bytes >> 9;
	e.error = (__force s8)error;
	rewind_emit_block_rq_complete(s, &e);
}

static void probe_page_fault_user(void *data, unsigned long address,
				  struct pt_regs *regs,
				  unsigned long error_code)
{
	struct rewind_ev_page_fault_user e;
	struct rewind_session *s = data;

	e.address = address;
	e.error_code = error_code;
	rewind_emit_page_fault_user(s, &e);
}

/* One entry per row of REWIND_PROBE_TABLE: probe_<tracepoint> on <tracepoint>. */
#define REWIND_PROBE_DEF(bit, NAME, tp)					\
	[REWIND_PROBE_##NAME] = { .name = #tp, .func = probe_##tp },

static struct rewind_probe_def rewind_probes[REWIND_PROBE_COUNT] = {
	REWIND_PROBE_TABLE(REWIND_PROBE_DEF)
};

#ifndef CONFIG_X86
/* The x86 tracepoint's prototype, for the check below on other machines. */
static inline int
register_trace_page_fault_user(void (*probe)(void *data, unsigned long address,
					     struct pt_regs *regs,
					     unsigned long error_code),
			       void *data)
{
	return -ENOENT;
}
#endif

/*
 * Registration by name goes through an untyped pointer: nothing compares a
 * probe with its tracepoint, and a mismatch traps at run time under CFI.
 * register_trace_<tp>() is typed: passing probe_<tp> to it, inside sizeof()
 * so nothing is called or linked, fails the build with an
 * incompatible-pointer-types error (-Werror in Kbuild) unless the
 * prototypes match exactly. One check per row of REWIND_PROBE_TABLE; the
 * array itself is never used.
 */
#define REWIND_PROBE_TYPECHECK(bit, NAME, tp)				\
	[REWIND_PROBE_##NAME] = sizeof(register_trace_##tp(probe_##tp, NULL)),

static const size_t rewind_probe_typecheck[] __maybe_unused = {
	REWIND_PROBE_TABLE(REWIND_PROBE_TYPECHECK)
};

static void rewind_probe_lookup(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < REWIND_PROBE_COUNT; i++)
		if (!strcmp(tp->name, rewind_probes[i].name))
			rewind_probes[i].tp = tp;
}

/* Resolves the tracepoints this kernel has; returns how many it found. */
int rewind_probes_init(void)
{
	int i, found = 0;

	for_each_kernel_tracepoint(rewind_probe_lookup, NULL);
	for (i = 0; i < REWIND_PROBE_COUNT; i++)
		found += !!rewind_probes[i].tp;
	return found;
}

void rewind_probes_unregister(struct rewind_session *s)
{
	int i;

	for (i = 0; i < REWIND_PROBE_COUNT; i++) {
		struct rewind_probe_def *p = &rewind_probes[i];

		if (!p->registered)
			continue;
		WARN_ON_ONCE(tracepoint_probe_unregister(p->tp, p->func, s));
		p->registered = false;
	}
	/* No probe still runs on the session after this. */
	tracepoint_synchronize_unregister();
	s->probe_active = 0;
}

int rewind_probes_register(struct rewind_session *s)
{
	int i, ret;

	s->probe_active = 0;
	for (i = 0; i < REWIND_PROBE_COUNT; i++) {
		struct rewind_probe_def *p = &rewind_probes[i];

		if (!(s->probe_mask & BIT_ULL(i)) || !p->tp)
			continue;
		/* The session is the probe's data argument. */
		ret = tracepoint_probe_register(p->tp, p->func, s);
		if (ret)
			goto err_unregister;
		p->registered = true;
		s->probe_active |= BIT_ULL(i);
	}
	return 0;

err_unregister:
	rewind_probes_unregister(s);
	return ret;
}
