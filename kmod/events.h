/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Event writers generated from the table in rewind/format.h: for each event
 * a payload struct, its size, its serializer and rewind_emit_<name>().
 */
#ifndef REWIND_EVENTS_H
#define REWIND_EVENTS_H

#include <linux/preempt.h>
#include <linux/string.h>
#include "ring.h"

/* A string field: the caller guarantees no NUL in s[0..len). */
struct rewind_str {
	const char *s;
	u32 len;
};

#define RW_CTYPE_U8 u8
#define RW_CTYPE_U16 u16
#define RW_CTYPE_U32 u32
#define RW_CTYPE_U64 u64
#define RW_CTYPE_S8 s8
#define RW_CTYPE_S16 s16
#define RW_CTYPE_S32 s32
#define RW_CTYPE_S64 s64
#define RW_CTYPE_X64 u64
#define RW_CTYPE_BE16 __be16
#define RW_CTYPE_BE32 __be32
#define RW_CTYPE_IP4 __be32
#define RW_CTYPE_IP6 const u8 *
#define RW_CTYPE_STR struct rewind_str
#define RW_CTYPE_SYSCALL s16

static __always_inline char *rw_put_U8(char *p, u8 v)
{
	*p = v;
	return p + 1;
}

static __always_inline char *rw_put_U16(char *p, u16 v)
{
	put_unaligned_le16(v, p);
	return p + 2;
}

static __always_inline char *rw_put_U32(char *p, u32 v)
{
	put_unaligned_le32(v, p);
	return p + 4;
}

static __always_inline char *rw_put_U64(char *p, u64 v)
{
	put_unaligned_le64(v, p);
	return p + 8;
}

#define rw_put_S8(p, v) rw_put_U8(p, (u8)(v))
#define rw_put_S16(p, v) rw_put_U16(p, (u16)(v))
#define rw_put_SYSCALL(p, v) rw_put_S16(p, v)
#define rw_put_S32(p, v) rw_put_U32(p, (u32)(v))
#define rw_put_S64(p, v) rw_put_U64(p, (u64)(v))
#define rw_put_X64(p, v) rw_put_U64(p, v)

/* Network byte order fields are copied as they are. */
static __always_inline char *rw_put_BE16(char *p, __be16 v)
{
	memcpy(p, &v, 2);
	return p + 2;
}

static __always_inline char *rw_put_BE32(char *p, __be32 v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

#define rw_put_IP4(p, v) rw_put_BE32(p, v)

static __always_inline char *rw_put_IP6(char *p, const u8 *v)
{
	memcpy(p, v, 16);
	return p + 16;
}

static __always_inline char *rw_put_STR(char *p, struct rewind_str v)
{
	memcpy(p, v.s, v.len);
	p[v.len] = '\0';
	return p + v.len + 1;
}

#define RW_SIZE_STR(v) ((v).len + 1)
#define RW_SIZE_U8(v) 1
#define RW_SIZE_U16(v) 2
#define RW_SIZE_U32(v) 4
#define RW_SIZE_U64(v) 8
#define RW_SIZE_S8(v) 1
#define RW_SIZE_S16(v) 2
#define RW_SIZE_SYSCALL(v) 2
#define RW_SIZE_S32(v) 4
#define RW_SIZE_S64(v) 8
#define RW_SIZE_X64(v) 8
#define RW_SIZE_BE16(v) 2
#define RW_SIZE_BE32(v) 4
#define RW_SIZE_IP4(v) 4
#define RW_SIZE_IP6(v) 16

#define RW_NONE(...)

/* struct rewind_ev_<name> */
#define RW_EV_STRUCT(ID, name, num) struct rewind_ev_##name {
#define RW_F_STRUCT(T, f) RW_CTYPE_##T f;
#define RW_END_STRUCT() };
REWIND_EVENTS(RW_EV_STRUCT, RW_F_STRUCT, RW_END_STRUCT)

/* rewind_size_<name>() */
#define RW_EV_SIZE(ID, name, num)					\
	static __always_inline u32					\
	rewind_size_##name(const struct rewind_ev_##name *e)		\
	{ u32 n = 0;
#define RW_F_SIZE(T, f) n += RW_SIZE_##T(e->f);
#define RW_END_SIZE() return n; }
REWIND_EVENTS(RW_EV_SIZE, RW_F_SIZE, RW_END_SIZE)

/* rewind_write_<name>() */
#define RW_EV_WRITE(ID, name, num)					\
	static __always_inline void					\
	rewind_write_##name(char *p, const struct rewind_ev_##name *e)	\
	{
#define RW_F_WRITE(T, f) p = rw_put_##T(p, e->f);
#define RW_END_WRITE() }
REWIND_EVENTS(RW_EV_WRITE, RW_F_WRITE, RW_END_WRITE)

/*
 * rewind_emit_<name>(): 0, or the refusal (already counted). Preemption is
 * disabled here too: most tracepoints already do it, faultable ones (syscalls
 * on recent kernels) call probes preemptible.
 */
#define RW_EV_EMIT(ID, name, num)					\
	static __always_inline int					\
	rewind_emit_##name(struct rewind_session *s,			\
			   const struct rewind_ev_##name *e)		\
	{								\
		struct rewind_wctx c;					\
		int ret;						\
									\
		preempt_disable_notrace();				\
		ret = rewind_reserve(s, &c, REWIND_EV_##ID,		\
				     rewind_size_##name(e));		\
		if (!ret) {						\
			rewind_write_##name(c.p, e);			\
			rewind_commit(s, &c);				\
		}							\
		preempt_enable_notrace();				\
		return ret;						\
	}
REWIND_EVENTS(RW_EV_EMIT, RW_NONE, RW_NONE)

#endif /* REWIND_EVENTS_H */
