/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Rewind wire format: the one definition of what the kernel writes into its
 * rings, from which the module writes events and generates the CTF 1.8
 * (TSDL) metadata, and which userspace decoders (native/,
 * test/kmod/snapshot-check.c) include.
 *
 * Includable from the kernel, from C99 and from C++17 userspace: no kernel
 * types outside the __KERNEL__ guard, fixed-width integers only.
 *
 * Everything is little-endian and byte-packed (CTF align = 8 bits), except
 * fields whose type says "be" (network byte order, copied as is from packets).
 *
 * Changing anything here changes the format: bump REWIND_FORMAT_VERSION.
 * native/'s decoder accepts only metadata whose event list is this table,
 * so a trace is never misread by a decoder that does not know its events.
 */
#ifndef REWIND_FORMAT_H
#define REWIND_FORMAT_H

#ifdef __KERNEL__
#include <linux/types.h>
typedef __u8 rw_u8;
typedef __u16 rw_u16;
typedef __u32 rw_u32;
typedef __u64 rw_u64;
#else
#include <stdint.h>
typedef uint8_t rw_u8;
typedef uint16_t rw_u16;
typedef uint32_t rw_u32;
typedef uint64_t rw_u64;
#endif

/*
 * 1: events 0..30.
 * 2: sched_process_cgroup (31), written by the fork and exec probes.
 * 3: process_pod (32), written only by userspace (the merge), never by the
 *    module; a version of its own all the same, because decoders accept only
 *    metadata whose event list is exactly this table.
 */
#define REWIND_FORMAT_VERSION	4

/*
 * A trace on disk is a directory: the TSDL text in REWIND_TRACE_METADATA and
 * one stream file per CPU, REWIND_TRACE_STREAM_PREFIX followed by the CPU
 * number in decimal. The one place this layout is spelled.
 */
#define REWIND_TRACE_METADATA		"metadata"
#define REWIND_TRACE_STREAM_PREFIX	"stream_"

/* ---- Packet: one per sub-buffer, header at offset 0 ------------------- */

#define REWIND_PACKET_MAGIC	0xC1FC1FC1u
#define REWIND_STREAM_ID	0u

/*
 * CTF packet header + packet context, 68 bytes. Every field sits at its
 * natural alignment from the (page aligned) start of the sub-buffer, so the
 * struct is packed only to pin its size.
 */
struct rewind_packet_header {
	rw_u32 magic;			/*  0: REWIND_PACKET_MAGIC */
	rw_u8 uuid[16];			/*  4: trace uuid (per session) */
	rw_u32 stream_id;		/* 20: REWIND_STREAM_ID */
	rw_u64 timestamp_begin;		/* 24: clock at packet open (ns) */
	rw_u64 timestamp_end;		/* 32: clock at packet close (ns) */
	rw_u32 content_size;		/* 40: bits used, header included */
	rw_u32 packet_size;		/* 44: bits of the packet */
	rw_u64 packet_seq_num;		/* 48: write position / sub-buffer size */
	rw_u64 events_discarded;	/* 56: refused events so far on this CPU */
	rw_u32 cpu_id;			/* 64 */
} __attribute__((packed));

#define REWIND_PACKET_HEADER_SIZE	68u

/* ---- Event header ------------------------------------------------------ */

/*
 * Compact: one little-endian 32-bit word, id in bits 0..4, the low 27 bits
 * of the timestamp in bits 5..31. Used when id < 31 and less than 2^27 ns
 * passed since the previous event (or packet begin) of the stream.
 *
 * Extended: one byte holding 31, then a 32-bit id and a 64-bit timestamp:
 * 13 bytes. Same layout as LTTng's compact header, so CTF readers that know
 * LTTng traces read it unchanged.
 */
#define REWIND_ID_BITS		5u
#define REWIND_TS_BITS		27u
#define REWIND_TS_MASK		((1u << REWIND_TS_BITS) - 1u)
#define REWIND_ID_EXTENDED	31u
#define REWIND_HDR_COMPACT	4u
#define REWIND_HDR_EXTENDED	13u

#include "syscalls.h"

/* ---- Field types -------------------------------------------------------- */

/*
 * REWIND_FIELD_TYPES(X): X(TYPE, bytes, TSDL type name, TSDL suffix)
 * bytes == 0 means a NUL-terminated string (CTF "string"). SYSCALL is an
 * int16_t that the metadata declares a CTF enumeration of the x86-64 system
 * call names (syscalls.h), so babeltrace2 and Trace Compass print the name
 * beside the number; its bytes are an int16_t's.
 */
#define REWIND_FIELD_TYPES(X)				\
	X(U8, 1, "uint8_t", "")				\
	X(U16, 2, "uint16_t", "")			\
	X(U32, 4, "uint32_t", "")			\
	X(U64, 8, "uint64_t", "")			\
	X(S8, 1, "int8_t", "")				\
	X(S16, 2, "int16_t", "")			\
	X(S32, 4, "int32_t", "")			\
	X(S64, 8, "int64_t", "")			\
	X(X64, 8, "uint64_hex_t", "")			\
	X(BE16, 2, "be16_t", "")			\
	X(BE32, 4, "be32_t", "")			\
	X(IP4, 4, "ip4_t", "")				\
	X(IP6, 16, "uint8_t", "[16]")			\
	X(STR, 0, "string", "")				\
	X(SYSCALL, 2, "syscall_id_t", "")

enum rewind_field_type {
#define REWIND_X_FT_ENUM(T, B, N, S) REWIND_FT_##T,
	REWIND_FIELD_TYPES(REWIND_X_FT_ENUM)
#undef REWIND_X_FT_ENUM
	REWIND_FT_COUNT
};

#define REWIND_X_FT_SIZE(T, B, N, S) REWIND_FT_SIZE_##T = B,
enum rewind_field_size { REWIND_FIELD_TYPES(REWIND_X_FT_SIZE) };
#undef REWIND_X_FT_SIZE

/* ---- The event table ---------------------------------------------------- */

/*
 * REWIND_EVENTS(EV, F, END): one EV(ID, name, number) per event, then one
 * F(TYPE, field) per payload field in wire order, then END(). Numbers are the
 * event ids on the wire; 0..30 get the 4-byte header, so the frequent events
 * come first. Append only; never renumber.
 *
 * Dense on purpose: names (comm) are carried only by statedump, fork, exec
 * and rename; sys_exit and irq/softirq exits leave out what their entry said
 * (exits do not nest on one CPU for irq/softirq; the syscall number is in the
 * thread's sys_enter); sys_exit carries a 16-bit return value unless it does
 * not fit, then sys_exit_wide a 64-bit one.
 *
 * sched_process_cgroup names the cgroup v2 id of a thread (the inode number
 * of its directory under /sys/fs/cgroup; 0 without CONFIG_CGROUPS) when it is
 * forked and when it execs, so a thread that exits before the next statedump
 * can still be put in its container. A new event rather than a field added
 * to fork or exec: events are never changed. Its id (31) and any later one
 * always take the 13-byte extended header.
 *
 * process_pod names the Kubernetes pod (and container; "" for a pod-level
 * cgroup) of a thread. The module never writes it: the kernel knows cgroups,
 * not pods. The merge writes it into the unified trace after each
 * statedump_process or sched_process_cgroup whose cgroup_id the controller
 * resolved, at the same timestamp, so CTF readers show the pod by the thread.
 */
#define REWIND_EVENTS(EV, F, END)					\
	EV(SCHED_SWITCH, sched_switch, 0)				\
		F(S32, prev_tid) F(U8, prev_prio) F(U8, prev_state)	\
		F(S32, next_tid) F(U8, next_prio) END()			\
	EV(SCHED_WAKING, sched_waking, 1)				\
		F(S32, tid) F(U8, prio) F(U16, target_cpu) END()	\
	EV(SCHED_WAKEUP, sched_wakeup, 2)				\
		F(S32, tid) F(U8, prio) F(U16, target_cpu) END()	\
	EV(SCHED_WAKEUP_NEW, sched_wakeup_new, 3)			\
		F(S32, tid) F(U8, prio) F(U16, target_cpu) END()	\
	EV(SYS_ENTER, sys_enter, 4)					\
		F(SYSCALL, id) END()					\
	EV(SYS_EXIT, sys_exit, 5)					\
		F(S16, ret) END()					\
	EV(SYS_EXIT_WIDE, sys_exit_wide, 6)				\
		F(S64, ret) END()					\
	EV(IRQ_HANDLER_ENTRY, irq_handler_entry, 7)			\
		F(U32, irq) END()					\
	EV(IRQ_HANDLER_EXIT, irq_handler_exit, 8)			\
		F(U8, ret) END()					\
	EV(SOFTIRQ_ENTRY, softirq_entry, 9)				\
		F(U8, vec) END()					\
	EV(SOFTIRQ_EXIT, softirq_exit, 10)				\
		END()							\
	EV(SCHED_MIGRATE_TASK, sched_migrate_task, 11)			\
		F(S32, tid) F(U16, orig_cpu) F(U16, dest_cpu) END()	\
	EV(SCHED_PROCESS_FORK, sched_process_fork, 12)			\
		F(S32, parent_tid) F(S32, child_tid) F(S32, child_pid)	\
		F(STR, child_comm) END()				\
	EV(SCHED_PROCESS_EXEC, sched_process_exec, 13)			\
		F(S32, tid) F(S32, old_tid) F(STR, comm)		\
		F(STR, filename) END()					\
	EV(SCHED_PROCESS_EXIT, sched_process_exit, 14)			\
		F(S32, tid) END()					\
	EV(TASK_RENAME, task_rename, 15)				\
		F(S32, tid) F(STR, comm) END()				\
	EV(NET_DEV_QUEUE, net_dev_queue, 16)				\
		F(U32, len) F(U32, ifindex) F(BE16, protocol) END()	\
	EV(NET_DEV_QUEUE_TCP4, net_dev_queue_tcp4, 17)			\
		F(U32, len) F(U32, ifindex) F(IP4, saddr) F(IP4, daddr)	\
		F(BE16, sport) F(BE16, dport) F(BE32, seq)		\
		F(BE32, ack_seq) F(U8, flags) END()			\
	EV(NETIF_RECEIVE_SKB, netif_receive_skb, 18)			\
		F(U32, len) F(U32, ifindex) F(BE16, protocol) END()	\
	EV(NETIF_RECEIVE_SKB_TCP4, netif_receive_skb_tcp4, 19)		\
		F(U32, len) F(U32, ifindex) F(IP4, saddr) F(IP4, daddr)	\
		F(BE16, sport) F(BE16, dport) F(BE32, seq)		\
		F(BE32, ack_seq) F(U8, flags) END()			\
	EV(NET_DEV_QUEUE_TCP6, net_dev_queue_tcp6, 20)			\
		F(U32, len) F(U32, ifindex) F(IP6, saddr) F(IP6, daddr)	\
		F(BE16, sport) F(BE16, dport) F(BE32, seq)		\
		F(BE32, ack_seq) F(U8, flags) END()			\
	EV(NETIF_RECEIVE_SKB_TCP6, netif_receive_skb_tcp6, 21)		\
		F(U32, len) F(U32, ifindex) F(IP6, saddr) F(IP6, daddr)	\
		F(BE16, sport) F(BE16, dport) F(BE32, seq)		\
		F(BE32, ack_seq) F(U8, flags) END()			\
	EV(BLOCK_RQ_ISSUE, block_rq_issue, 22)				\
		F(U32, dev) F(U64, sector) F(U32, nr_sector) F(U8, op)	\
		END()							\
	EV(BLOCK_RQ_COMPLETE, block_rq_complete, 23)			\
		F(U32, dev) F(U64, sector) F(U32, nr_sector)		\
		F(S8, error) END()					\
	EV(PAGE_FAULT_USER, page_fault_user, 24)			\
		F(X64, address) F(U16, error_code) END()		\
	EV(TEST_EVENT, rewind_test, 25)					\
		F(U64, seq) F(U32, checksum) F(U16, cpu) F(U8, ctx)	\
		F(STR, tag) END()					\
	EV(STATEDUMP_START, statedump_start, 26)			\
		F(U16, nr_cpus) END()					\
	EV(STATEDUMP_PROCESS, statedump_process, 27)			\
		F(S32, tid) F(S32, pid) F(S32, ppid) F(STR, comm)	\
		F(U8, state) F(U16, cpu) F(U64, cgroup_id)		\
		F(U32, pid_ns) F(U32, mnt_ns) F(U32, net_ns) END()	\
	EV(STATEDUMP_IRQ, statedump_irq, 28)				\
		F(U32, irq) F(STR, name) END()				\
	EV(STATEDUMP_CPU, statedump_cpu, 29)				\
		F(U16, cpu) F(S32, current_tid) END()			\
	EV(STATEDUMP_END, statedump_end, 30)				\
		F(U32, nr_threads) END()				\
	EV(SCHED_PROCESS_CGROUP, sched_process_cgroup, 31)		\
		F(S32, tid) F(S32, pid) F(U64, cgroup_id) END()		\
	EV(PROCESS_POD, process_pod, 32)				\
		F(S32, tid) F(S32, pid) F(U64, cgroup_id)		\
		F(STR, namespace) F(STR, pod) F(STR, container)		\
		F(STR, pod_uid) END()

enum rewind_event_id {
#define REWIND_X_ID(ID, name, num) REWIND_EV_##ID = num,
#define REWIND_X_NONE(...)
	REWIND_EVENTS(REWIND_X_ID, REWIND_X_NONE, REWIND_X_NONE)
#undef REWIND_X_ID
	REWIND_EV_COUNT
};

/*
 * A flat descriptor table a decoder walks: for each event one entry with
 * kind REWIND_DESC_EVENT (name, id), its fields (kind REWIND_DESC_FIELD),
 * then one REWIND_DESC_END. Plain aggregate: valid C99 and C++17.
 */
enum rewind_desc_kind { REWIND_DESC_EVENT, REWIND_DESC_FIELD, REWIND_DESC_END };

struct rewind_desc {
	rw_u8 kind;
	rw_u8 type;		/* enum rewind_field_type, fields only */
	rw_u16 id;		/* event id, events only */
	const char *name;
};

#define REWIND_X_DESC_EV(ID, name, num) { REWIND_DESC_EVENT, 0, num, #name },
#define REWIND_X_DESC_F(T, name) { REWIND_DESC_FIELD, REWIND_FT_##T, 0, #name },
#define REWIND_X_DESC_END() { REWIND_DESC_END, 0, 0, 0 },
#define REWIND_DESC_TABLE_INIT \
	{ REWIND_EVENTS(REWIND_X_DESC_EV, REWIND_X_DESC_F, REWIND_X_DESC_END) }

/* ---- TSDL ------------------------------------------------------------- */

/* The type aliases every event's fields use (the metadata preamble). */
#define REWIND_TSDL_TYPEALIASES						\
	"typealias integer { size = 5; align = 1; signed = false; } := uint5_t;\n" \
	"typealias integer { size = 8; align = 8; signed = false; } := uint8_t;\n" \
	"typealias integer { size = 16; align = 8; signed = false; } := uint16_t;\n" \
	"typealias integer { size = 32; align = 8; signed = false; } := uint32_t;\n" \
	"typealias integer { size = 64; align = 8; signed = false; } := uint64_t;\n" \
	"typealias integer { size = 8; align = 8; signed = true; } := int8_t;\n" \
	"typealias integer { size = 16; align = 8; signed = true; } := int16_t;\n" \
	"typealias integer { size = 32; align = 8; signed = true; } := int32_t;\n" \
	"typealias integer { size = 64; align = 8; signed = true; } := int64_t;\n" \
	"typealias integer { size = 64; align = 8; signed = false; base = 16; } := uint64_hex_t;\n" \
	"typealias integer { size = 16; align = 8; signed = false; byte_order = be; } := be16_t;\n" \
	"typealias integer { size = 32; align = 8; signed = false; byte_order = be; } := be32_t;\n" \
	"typealias integer { size = 32; align = 8; signed = false; byte_order = be; base = 16; } := ip4_t;\n" \
	"typealias enum : int16_t {\n"					\
	REWIND_SYSCALLS(REWIND_TSDL_SYSCALL)					\
	"} := syscall_id_t;\n"

/* One mapping of the syscall_id_t enumeration: "name" = number. */
#define REWIND_TSDL_SYSCALL(nr, name) "\t\"" #name "\" = " #nr ",\n"

/* Needs uint27/uint64_clock_monotonic_t, declared after the clock block. */
#define REWIND_TSDL_STREAM						\
	"struct packet_context {\n"					\
	"\tuint64_clock_monotonic_t timestamp_begin;\n"			\
	"\tuint64_clock_monotonic_t timestamp_end;\n"			\
	"\tuint32_t content_size;\n"					\
	"\tuint32_t packet_size;\n"					\
	"\tuint64_t packet_seq_num;\n"					\
	"\tuint64_t events_discarded;\n"				\
	"\tuint32_t cpu_id;\n"						\
	"};\n\n"							\
	"struct event_header_compact {\n"				\
	"\tenum : uint5_t { compact = 0 ... 30, extended = 31 } id;\n"	\
	"\tvariant <id> {\n"						\
	"\t\tstruct { uint27_clock_monotonic_t timestamp; } compact;\n"	\
	"\t\tstruct { uint32_t id; uint64_clock_monotonic_t timestamp; } extended;\n" \
	"\t} v;\n"							\
	"} align(8);\n\n"						\
	"stream {\n"							\
	"\tid = 0;\n"							\
	"\tevent.header := struct event_header_compact;\n"		\
	"\tpacket.context := struct packet_context;\n"			\
	"};\n\n"

#define REWIND_TSDL_EV(ID, name, num)					\
	"event {\n\tname = \"" #name "\";\n\tid = " #num ";\n"		\
	"\tstream_id = 0;\n\tfields := struct {\n"
#define REWIND_TSDL_F(T, name) "\t\t" REWIND_TSDL_T_##T " " #name REWIND_TSDL_S_##T ";\n"
#define REWIND_TSDL_END() "\t};\n};\n\n"

#define REWIND_TSDL_T_U8 "uint8_t"
#define REWIND_TSDL_T_U16 "uint16_t"
#define REWIND_TSDL_T_U32 "uint32_t"
#define REWIND_TSDL_T_U64 "uint64_t"
#define REWIND_TSDL_T_S8 "int8_t"
#define REWIND_TSDL_T_S16 "int16_t"
#define REWIND_TSDL_T_S32 "int32_t"
#define REWIND_TSDL_T_S64 "int64_t"
#define REWIND_TSDL_T_X64 "uint64_hex_t"
#define REWIND_TSDL_T_BE16 "be16_t"
#define REWIND_TSDL_T_BE32 "be32_t"
#define REWIND_TSDL_T_IP4 "ip4_t"
#define REWIND_TSDL_T_IP6 "uint8_t"
#define REWIND_TSDL_T_STR "string"
#define REWIND_TSDL_T_SYSCALL "syscall_id_t"
#define REWIND_TSDL_S_U8 ""
#define REWIND_TSDL_S_U16 ""
#define REWIND_TSDL_S_U32 ""
#define REWIND_TSDL_S_U64 ""
#define REWIND_TSDL_S_S8 ""
#define REWIND_TSDL_S_S16 ""
#define REWIND_TSDL_S_S32 ""
#define REWIND_TSDL_S_S64 ""
#define REWIND_TSDL_S_X64 ""
#define REWIND_TSDL_S_BE16 ""
#define REWIND_TSDL_S_BE32 ""
#define REWIND_TSDL_S_IP4 ""
#define REWIND_TSDL_S_IP6 "[16]"
#define REWIND_TSDL_S_STR ""
#define REWIND_TSDL_S_SYSCALL ""

/* Every event declaration, as one string literal. */
#define REWIND_TSDL_EVENTS \
	REWIND_EVENTS(REWIND_TSDL_EV, REWIND_TSDL_F, REWIND_TSDL_END)

/* ---- Test events --------------------------------------------------------- */

/* ctx field of rewind_test: the context that emitted it. */
enum rewind_test_ctx {
	REWIND_CTX_TASK = 0,
	REWIND_CTX_SOFTIRQ = 1,
	REWIND_CTX_HARDIRQ = 2,
	REWIND_CTX_NMI = 3,
	REWIND_CTX_COUNT = 4
};

/* tag field of rewind_test: the first REWIND_TEST_TAG_LEN(seq) letters a, b, c... */
#define REWIND_TEST_TAG_LEN(seq) ((rw_u32)((seq) % 13u))

/* checksum field of rewind_test: a 64-to-32 mix of (seq, cpu, ctx). */
static inline rw_u32 rewind_test_checksum(rw_u64 seq, rw_u32 cpu, rw_u32 ctx)
{
	rw_u64 x = seq ^ ((rw_u64)cpu << 40) ^ ((rw_u64)ctx << 56) ^
		   0x9e3779b97f4a7c15ull;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (rw_u32)x;
}

#endif /* REWIND_FORMAT_H */
