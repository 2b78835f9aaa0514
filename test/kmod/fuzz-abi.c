// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz-abi: the structured fuzz of /dev/rewind. Beside fuzz.c's random
 * numbers (most of which stop at -ENOTTY), it sends every known command with
 * valid, boundary and hostile arguments (sizes, counts, masks, reserved
 * fields, NULL, unmapped, read-only, kernel, unaligned and page-straddling
 * pointers, lengths that overflow), from the writing and from a read-only
 * descriptor, and counts where each call ended.
 *
 *   fuzz-abi PHASE CALLS SEED [THREADS]
 *       PHASE: unconfigured | configured | tracing | stopped | snapshot
 *       (tracing, with a thread taking snapshots meanwhile) | concurrent
 *       (tracing, THREADS fuzzing threads sharing the writing descriptor,
 *       each with a read-only one of its own)
 *   fuzz-abi mmap
 *       every offset and length class of mmap, read-only and writable
 *   fuzz-abi hold [close]
 *       map CPU 0's ring, print "held", sleep until killed (with "close",
 *       the descriptor is closed and only the mapping holds the file)
 *
 * Where a call ended is told from its result alone, because the layers
 * return disjoint errors (kmod/DESIGN.md, "ABI"):
 *   decode   -ENOTTY, or -EPERM for a control command on a read-only
 *            descriptor: the ioctl table refused it, no handler ran;
 *   handler  anything else: the command's handler in device.c ran;
 *   session  0, or an error only the session layer returns (-ENODEV,
 *            -EBUSY, -ENOMEM, -EINTR): the call got past the handler's
 *            copies and checks into session.c. (-EINVAL and -EFAULT come
 *            from both layers and count as handler only: a lower bound.)
 * The state is kept: after a call that changed it (START, STOP), the fuzzer
 * puts it back, and never sends CONFIGURE a valid argument while the device
 * is unconfigured.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "rewind-dev.h"

const char *const rewind_prog = "fuzz-abi";

#define MAX_ERRNO 140

static const struct {
	const char *name;
	unsigned long cmd;
	bool observer;
} cmds[] = {
	{ "ABI_VERSION", REWIND_IOC_ABI_VERSION, true },
	{ "CONFIGURE", REWIND_IOC_CONFIGURE, false },
	{ "START", REWIND_IOC_START, false },
	{ "STOP", REWIND_IOC_STOP, false },
	{ "STATEDUMP", REWIND_IOC_STATEDUMP, false },
	{ "FLUSH", REWIND_IOC_FLUSH, false },
	{ "GET_INFO", REWIND_IOC_GET_INFO, true },
	{ "GET_STATS", REWIND_IOC_GET_STATS, true },
	{ "GET_METADATA", REWIND_IOC_GET_METADATA, true },
	{ "SNAPSHOT_PREPARE", REWIND_IOC_SNAPSHOT_PREPARE, false },
	{ "SNAPSHOT_CPU", REWIND_IOC_SNAPSHOT_CPU, false },
	{ "TEST", REWIND_IOC_TEST, true },
};

#define NR_CMDS ARRAY_SIZE(cmds)

enum { RW, RO, NR_FDS };

struct tally {
	unsigned long errs[NR_CMDS][NR_FDS][MAX_ERRNO + 1];
	unsigned long decode[NR_CMDS][NR_FDS];
	unsigned long handler[NR_CMDS][NR_FDS];
	unsigned long session[NR_CMDS][NR_FDS];
	unsigned long variants;	/* known number, other size or direction */
	unsigned long variants_enotty;
};

static struct tally total;
static pthread_mutex_t total_lock = PTHREAD_MUTEX_INITIALIZER;
static long page;
static int rw_fd;
static __u32 want_state;
static __u32 nr_cpus;
static __u64 stride;
static size_t big_len;	/* a snapshot's size when the phase began */
static volatile int stop_snapshots;

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/*
 * Where the kernel writes a snapshot or the metadata: big_len bytes, one
 * more for the unaligned address, CANARY bytes the kernel must leave alone
 * (it never writes past the length it is given), then a PROT_NONE guard.
 * A length larger than the buffer is a lie the kernel may believe: its
 * writes then fault in the guard (EFAULT) instead of running into whatever
 * memory follows (the loader's data, once, in a CI run).
 */
#define CANARY 64

struct out_buf {
	unsigned char *p;
	size_t cap;	/* writable bytes before the guard */
};

static void out_buf_map(struct out_buf *b)
{
	b->cap = (big_len + 1 + CANARY + page - 1) / page * page;
	b->p = mmap(NULL, b->cap + page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->p == MAP_FAILED || mprotect(b->p + b->cap, page, PROT_NONE))
		die("mmap");
}

/* Per thread: a page for the argument, then a PROT_NONE guard page. */
struct worker {
	uint64_t rng;
	unsigned char *pair;
	unsigned char *ro_page;	/* read-only, holds a plausible struct */
	struct out_buf out;	/* this thread's alone: its canary is its own */
	int ro_fd;
	unsigned long calls;
	struct tally t;
};

static __u64 pick(uint64_t *s, const __u64 *v, size_t n)
{
	return v[rnd(s) % n];
}

#define PICK(s, ...) ({						\
	const __u64 _v[] = { __VA_ARGS__ };				\
	pick(s, _v, ARRAY_SIZE(_v));					\
})

/* An address for a buffer the kernel writes: valid, or one of the bad ones. */
static __u64 out_addr(struct worker *w)
{
	switch (rnd(&w->rng) % 8) {
	case 0:
		return 0;
	case 1:
		return (uintptr_t)(w->pair + page);	/* unmapped */
	case 2:
		return (uintptr_t)w->ro_page;
	case 3:
		return 0xffff888000000000ull;	/* kernel */
	case 4:
		return (uintptr_t)(w->pair + page - 16);	/* straddles */
	default:
		return (uintptr_t)w->out.p + (rnd(&w->rng) % 4 ? 0 : 1);
	}
}

static __u64 out_len(struct worker *w)
{
	return PICK(&w->rng, 0, 1, 67, 68, 4096, stride, big_len, big_len,
		    big_len, big_len + 1, 1ull << 62, ~0ull,
		    ~0ull - (uintptr_t)w->out.p + 2);	/* addr + len wraps */
}

static __u32 cpu_arg(struct worker *w)
{
	return PICK(&w->rng, 0, 0, 1, 1, nr_cpus - 1, nr_cpus, nr_cpus + 1,
		    0x7fffffff, 0xffffffff, rnd(&w->rng));
}

/* Reserved space: zero, except sometimes (a hostile caller). */
static void reserved(struct worker *w, void *p, size_t n)
{
	memset(p, 0, n);
	if (rnd(&w->rng) % 6 == 0)
		((unsigned char *)p)[rnd(&w->rng) % n] = 1 + rnd(&w->rng) % 255;
}

/* Fills struct arg of command c; returns false if it must not be sent. */
static bool fill(struct worker *w, size_t c, unsigned char *a)
{
	uint64_t *s = &w->rng;

	memset(a, 0, 512);
	switch (cmds[c].cmd) {
	case REWIND_IOC_CONFIGURE: {
		struct rewind_config *cfg = (void *)a;
		bool valid = rnd(s) % 2;

		cfg->subbuf_size = valid ? PICK(s, 0, 4096, 8192, 16384) :
			PICK(s, 1, 4095, 4097, 1u << 31, 0xffffffff, 3 << 12,
			     rnd(s));
		cfg->num_subbufs = valid ? PICK(s, 0, 2, 4, 8) :
			PICK(s, 1, 3, 1u << 20, 1u << 31, 0xffffffff, rnd(s));
		cfg->mode = valid ? rnd(s) % 2 : PICK(s, 2, 0xffffffff);
		cfg->flags = valid ? 0 : PICK(s, 0, 1, 0x80000000);
		cfg->probe_mask = valid ? rnd(s) & REWIND_PROBES_ALL :
			PICK(s, ~0ull, REWIND_PROBES_ALL + 1, 1ull << 63);
		if (valid)
			strcpy(cfg->hostname, "fuzz-abi");
		else	/* unterminated, or characters TSDL cannot hold */
			memset(cfg->hostname, PICK(s, 'a', '"', '\n', 0xff),
			       sizeof(cfg->hostname) - (rnd(s) % 2));
		reserved(w, cfg->reserved, sizeof(cfg->reserved));
		if (!valid && rnd(s) % 3 == 0)	/* one bad field only */
			memset(cfg, 0, offsetof(struct rewind_config, hostname));
		/* Never leave the unconfigured state. */
		return want_state != REWIND_STATE_EMPTY ||
		       (!valid && (cfg->subbuf_size & (cfg->subbuf_size - 1)));
	}
	case REWIND_IOC_GET_STATS:
		((struct rewind_stats *)a)->cpu = cpu_arg(w);
		return true;
	case REWIND_IOC_GET_METADATA: {
		struct rewind_metadata *md = (void *)a;

		md->addr = out_addr(w);
		md->len = out_len(w);
		md->flags = PICK(s, 0, 0, 0, REWIND_METADATA_REMEASURE, 2,
				 0xffffffff);
		md->reserved0 = rnd(s) % 8 ? 0 : 1;
		reserved(w, md->reserved, sizeof(md->reserved));
		return true;
	}
	case REWIND_IOC_SNAPSHOT_PREPARE: {
		struct rewind_prepare *p = (void *)a;

		p->flags = PICK(s, 0, REWIND_PREPARE_NO_STATEDUMP,
				REWIND_PREPARE_NO_STATEDUMP, 2, 0xffffffff);
		p->reserved0 = rnd(s) % 8 ? 0 : 1;
		reserved(w, p->reserved, sizeof(p->reserved));
		return true;
	}
	case REWIND_IOC_SNAPSHOT_CPU: {
		struct rewind_snapshot *r = (void *)a;

		r->cpu = cpu_arg(w);
		r->flags = PICK(s, 0, 0, REWIND_SNAPSHOT_CONSUME, 2,
				0xffffffff);
		r->addr = out_addr(w);
		r->len = out_len(w);
		r->bytes = rnd(s);	/* out fields: garbage in is fine */
		reserved(w, r->reserved, sizeof(r->reserved));
		return true;
	}
	case REWIND_IOC_TEST: {
		struct rewind_test *t = (void *)a;

		t->op = PICK(s, REWIND_TEST_EMIT, REWIND_TEST_EMIT,
			     REWIND_TEST_TIMER_START, REWIND_TEST_TIMER_STOP,
			     REWIND_TEST_NMI_START, 4, 0xffffffff);
		t->count = PICK(s, 0, 1, 100, 4096, 1ull << 32,
				(1ull << 32) + 1, ~0ull);
		t->period_ns = PICK(s, 0, 9999, 10000, 1000000, 1000000000,
				    1000000001, ~0ull);
		t->burst = PICK(s, 0, 1, 4, 1000, 1001, 0xffffffff);
		t->emitted = rnd(s);
		reserved(w, t->reserved, sizeof(t->reserved));
		/*
		 * Accepted arguments are kept gentle: 4 billion events, or
		 * 1000 events per 10 us on every CPU, are the caller's DoS of
		 * a test-only interface, not a finding (and would stall a
		 * TCG guest for minutes).
		 */
		if (t->op == REWIND_TEST_EMIT && t->count <= (1ull << 32) &&
		    t->count > 4096)
			return false;
		if ((t->op == REWIND_TEST_TIMER_START ||
		     t->op == REWIND_TEST_NMI_START) &&
		    t->period_ns >= 10000 && t->period_ns <= 1000000000 &&
		    t->burst && t->burst <= 1000) {
			if (t->period_ns < 1000000)
				t->period_ns = 1000000;
			if (t->burst > 4)
				t->burst = 4;
		}
		return true;
	}
	default:	/* ABI_VERSION, GET_INFO: out only; the rest: no argument */
		return true;
	}
}

/* The pointer handed to ioctl for a struct of size n. */
static void *arg_ptr(struct worker *w, unsigned char *a, size_t n)
{
	switch (rnd(&w->rng) % 12) {
	case 0:
		return NULL;
	case 1:
		return w->pair + page;	/* unmapped */
	case 2:
		return w->pair + page - n / 2;	/* straddles the guard */
	case 3:
		return (void *)0xffffffff81000000ul;	/* kernel */
	case 4: {	/* read-only memory holding the same struct */
		if (mprotect(w->ro_page, page, PROT_READ | PROT_WRITE))
			die("mprotect");
		memcpy(w->ro_page, a, n);
		if (mprotect(w->ro_page, page, PROT_READ))
			die("mprotect");
		return w->ro_page;
	}
	case 5:	/* unaligned */
		memmove(a + 3, a, n);
		return a + 3;
	default:
		return a;
	}
}

/*
 * Sets the canary after the buffer a GET_METADATA or SNAPSHOT_CPU argument
 * names, when that buffer is this thread's and leaves room for it; returns
 * where it is, or NULL.
 */
static unsigned char *set_canary(struct worker *w, size_t c,
				 const unsigned char *a)
{
	__u64 addr, len, start = (uintptr_t)w->out.p;

	if (cmds[c].cmd == REWIND_IOC_GET_METADATA) {
		const struct rewind_metadata *md = (const void *)a;

		addr = md->addr;
		len = md->len;
	} else if (cmds[c].cmd == REWIND_IOC_SNAPSHOT_CPU) {
		const struct rewind_snapshot *r = (const void *)a;

		addr = r->addr;
		len = r->len;
	} else {
		return NULL;
	}
	if (addr < start || addr - start > 1 ||
	    len > w->out.cap - CANARY - (addr - start))
		return NULL;
	memset(w->out.p + (addr - start) + len, 0xa5, CANARY);
	return w->out.p + (addr - start) + len;
}

static void check_canary(const unsigned char *canary, size_t c)
{
	size_t i;

	for (i = 0; canary && i < CANARY; i++) {
		if (canary[i] != 0xa5) {
			fprintf(stderr, "fuzz-abi: %s wrote past the length "
				"it was given\n", cmds[c].name);
			exit(1);
		}
	}
}

static __u32 dev_state(void)
{
	struct rewind_info info = { 0 };

	if (ioctl(rw_fd, REWIND_IOC_GET_INFO, &info))
		die("GET_INFO");
	return info.state;
}

/* Puts the state the phase fuzzes back after a START or a STOP. */
static void restore_state(void)
{
	__u32 st = dev_state();

	if (st == want_state)
		return;
	if (want_state == REWIND_STATE_TRACING && st == REWIND_STATE_CONFIGURED)
		ioctl(rw_fd, REWIND_IOC_START);
	else if (want_state == REWIND_STATE_CONFIGURED &&
		 st == REWIND_STATE_TRACING)
		ioctl(rw_fd, REWIND_IOC_STOP);
}

static void one_call(struct worker *w)
{
	unsigned char *a = w->pair + page - 512 - 8;
	size_t c = rnd(&w->rng) % NR_CMDS;
	int which = rnd(&w->rng) % 3 ? RW : RO;
	int fd = which == RW ? rw_fd : w->ro_fd;
	unsigned long cmd = cmds[c].cmd;
	size_t n = _IOC_SIZE(cmd);
	unsigned char *canary;
	int err;

	if (!fill(w, c, a))
		return;
	if (rnd(&w->rng) % 10 == 0) {	/* the same number, other shape */
		unsigned long other;

		do {
			other = _IOC(rnd(&w->rng) % 4, REWIND_IOC_MAGIC,
				     _IOC_NR(cmd), PICK(&w->rng, 0, 8, n - 8,
							n + 8, 4096));
		} while (other == cmd);
		w->t.variants++;
		if (ioctl(fd, other, a) < 0 && errno == ENOTTY)
			w->t.variants_enotty++;
		return;
	}
	w->calls++;
	canary = set_canary(w, c, a);
	err = ioctl(fd, cmd, n ? arg_ptr(w, a, n) : NULL) < 0 ? errno : 0;
	check_canary(canary, c);
	if (err > MAX_ERRNO)
		err = MAX_ERRNO;
	w->t.errs[c][which][err]++;
	if (err == ENOTTY || (err == EPERM && which == RO && !cmds[c].observer))
		w->t.decode[c][which]++;
	else
		w->t.handler[c][which]++;
	if (!err || err == ENODEV || err == EBUSY || err == ENOMEM ||
	    err == EINTR)
		w->t.session[c][which]++;
	if (cmd == REWIND_IOC_START || cmd == REWIND_IOC_STOP ||
	    cmd == REWIND_IOC_CONFIGURE)
		restore_state();
}

static void add_tally(const struct tally *t)
{
	const unsigned long *src = (const unsigned long *)t;
	unsigned long *dst = (unsigned long *)&total;
	size_t i;

	pthread_mutex_lock(&total_lock);
	for (i = 0; i < sizeof(*t) / sizeof(long); i++)
		dst[i] += src[i];
	pthread_mutex_unlock(&total_lock);
}

struct run {
	unsigned long calls;
	uint64_t seed;
};

static void *fuzz_thread(void *p)
{
	struct run *r = p;
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		die("calloc");
	w->rng = r->seed ? r->seed : 1;
	w->pair = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->ro_page = mmap(NULL, page, PROT_READ,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->pair == MAP_FAILED || w->ro_page == MAP_FAILED ||
	    mprotect(w->pair + page, page, PROT_NONE))
		die("mmap");
	out_buf_map(&w->out);
	w->ro_fd = dev_open(false);
	while (w->calls < r->calls)
		one_call(w);
	close(w->ro_fd);
	add_tally(&w->t);
	munmap(w->pair, 2 * page);
	munmap(w->ro_page, page);
	munmap(w->out.p, w->out.cap + page);
	free(w);
	return NULL;
}

/* The "snapshot" phase: prepare + copy every CPU, again and again. */
static void *snapshot_thread(void *p)
{
	unsigned long *n = p;
	struct out_buf buf;

	out_buf_map(&buf);
	while (!stop_snapshots) {
		struct rewind_prepare prep = { .flags = 0 };
		__u32 cpu;

		if (ioctl(rw_fd, REWIND_IOC_SNAPSHOT_PREPARE, &prep))
			continue;
		for (cpu = 0; cpu < nr_cpus; cpu++) {
			struct rewind_snapshot req = {
				.cpu = cpu, .addr = (uintptr_t)buf.p,
				.len = big_len,
			};

			if (!ioctl(rw_fd, REWIND_IOC_SNAPSHOT_CPU, &req))
				(*n)++;
		}
		usleep(1000);	/* leave the fuzzing thread some of a TCG guest */
	}
	munmap(buf.p, buf.cap + page);
	return NULL;
}

static const char *errname(int e)
{
	static char buf[MAX_ERRNO + 1][16];

	if (!e)
		return "ok";
	if (e == MAX_ERRNO)
		return "other";
	/* strerrorname_np is glibc 2.32+, Debian 12 has 2.36 */
	return strerrorname_np(e) ?: (snprintf(buf[e], 16, "E%d", e), buf[e]);
}

static void print_tally(const char *phase, unsigned long snapshots)
{
	static const char *const fdname[NR_FDS] = { "rw", "ro" };
	size_t c, f, e;

	printf("{\"phase\":\"%s\",\"snapshots\":%lu,\"variants\":%lu,"
	       "\"variants_enotty\":%lu,\"commands\":{", phase, snapshots,
	       total.variants, total.variants_enotty);
	for (c = 0; c < NR_CMDS; c++) {
		printf("%s\"%s\":{", c ? "," : "", cmds[c].name);
		for (f = 0; f < NR_FDS; f++) {
			bool first = true;

			printf("%s\"%s\":{\"decode\":%lu,\"handler\":%lu,"
			       "\"session\":%lu,\"errno\":{", f ? "," : "",
			       fdname[f], total.decode[c][f],
			       total.handler[c][f], total.session[c][f]);
			for (e = 0; e <= MAX_ERRNO; e++) {
				if (!total.errs[c][f][e])
					continue;
				printf("%s\"%s\":%lu", first ? "" : ",",
				       errname(e), total.errs[c][f][e]);
				first = false;
			}
			printf("}}");
		}
		printf("}");
	}
	printf("}}\n");
}

static int cmd_fuzz(const char *phase, unsigned long calls, uint64_t seed,
		    unsigned int threads)
{
	struct rewind_info info = { 0 };
	pthread_t tid[64], snap;
	struct run runs[64];
	unsigned long snapshots = 0;
	bool snapshotting = !strcmp(phase, "snapshot");
	unsigned int i;

	if (!strcmp(phase, "unconfigured"))
		want_state = REWIND_STATE_EMPTY;
	else if (!strcmp(phase, "configured") || !strcmp(phase, "stopped"))
		want_state = REWIND_STATE_CONFIGURED;
	else if (snapshotting || !strcmp(phase, "tracing") ||
		 !strcmp(phase, "concurrent"))
		want_state = REWIND_STATE_TRACING;
	else
		return fprintf(stderr, "fuzz-abi: unknown phase %s\n", phase), 2;
	if (threads < 1 || threads > 64)
		return 2;
	rw_fd = dev_open(true);
	if (dev_state() != want_state)
		return fprintf(stderr, "fuzz-abi: device is in state %u, not %u\n",
			       dev_state(), want_state), 1;
	if (ioctl(rw_fd, REWIND_IOC_GET_INFO, &info))
		die("GET_INFO");
	nr_cpus = info.nr_cpu_ids;
	stride = info.mmap_stride;
	big_len = stride ? stride : 1 << 20;
	if (snapshotting && pthread_create(&snap, NULL, snapshot_thread,
					   &snapshots))
		die("pthread_create");
	for (i = 0; i < threads; i++) {
		runs[i].calls = calls / threads;
		runs[i].seed = seed + i * 0x9e3779b97f4a7c15ull;
		if (pthread_create(&tid[i], NULL, fuzz_thread, &runs[i]))
			die("pthread_create");
	}
	for (i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	stop_snapshots = 1;
	if (snapshotting)
		pthread_join(snap, NULL);
	/* Timers a TEST call may have left running. */
	{
		struct rewind_test t = { .op = REWIND_TEST_TIMER_STOP };

		ioctl(rw_fd, REWIND_IOC_TEST, &t);
	}
	restore_state();
	print_tally(phase, snapshots);
	return dev_state() == want_state ? 0 : 1;
}

/* mmap: every offset class (each CPU, inside, past the ring, past the
 * last CPU, unaligned, huge) and length class, read-only and writable. */
static int cmd_mmap(void)
{
	struct rewind_info info = { 0 };
	unsigned long ok = 0, refused = 0, read_pages = 0, tries = 0;
	int fd = dev_open(false);
	__u64 ring, offs[16], lens[8];
	size_t o, l, p, no = 0;

	if (ioctl(fd, REWIND_IOC_GET_INFO, &info))
		die("GET_INFO");
	ring = (__u64)info.subbuf_size * info.num_subbufs;
	offs[no++] = 0;
	offs[no++] = page;
	offs[no++] = ring - page;
	offs[no++] = ring;
	offs[no++] = info.mmap_stride - page;
	offs[no++] = info.mmap_stride;
	offs[no++] = (__u64)(info.nr_cpu_ids - 1) * info.mmap_stride;
	offs[no++] = (__u64)info.nr_cpu_ids * info.mmap_stride;
	offs[no++] = 1;	/* unaligned */
	offs[no++] = 0x7ffffffffffff000ull;
	offs[no++] = ~0ull & ~(page - 1ull);
	lens[0] = 0;
	lens[1] = 1;
	lens[2] = page;
	lens[3] = ring;
	lens[4] = ring + page;
	lens[5] = info.mmap_stride + page;
	lens[6] = 1ull << 40;
	lens[7] = ~0ull - page;
	for (o = 0; o < no; o++)
		for (l = 0; l < ARRAY_SIZE(lens); l++)
			for (p = 0; p < 3; p++) {
				static const int prots[] = {
					PROT_READ, PROT_READ | PROT_WRITE,
					PROT_READ | PROT_EXEC,
				};
				unsigned char *m;
				size_t i;

				tries++;
				m = mmap(NULL, lens[l], prots[p], MAP_SHARED,
					 fd, (off_t)offs[o]);
				if (m == MAP_FAILED) {
					refused++;
					continue;
				}
				ok++;
				if (p) {	/* write or exec was granted */
					fprintf(stderr, "fuzz-abi: mapped with prot %d\n",
						prots[p]);
					return 1;
				}
				for (i = 0; i < lens[l]; i += page, read_pages++)
					(void)*(volatile unsigned char *)(m + i);
				if (!mprotect(m, lens[l], PROT_READ | PROT_WRITE)) {
					fprintf(stderr, "fuzz-abi: mprotect gave write\n");
					return 1;
				}
				munmap(m, lens[l]);
			}
	printf("{\"tries\":%lu,\"mapped\":%lu,\"refused\":%lu,\"pages_read\":%lu}\n",
	       tries, ok, refused, read_pages);
	return 0;
}

static void __attribute__((noreturn)) cmd_hold(bool close_fd)
{
	int fd = dev_open(false);
	void *m = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		die("mmap");
	if (close_fd)
		close(fd);
	printf("held\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	page = sysconf(_SC_PAGESIZE);
	if (argc >= 2 && !strcmp(argv[1], "mmap"))
		return cmd_mmap();
	if (argc >= 2 && !strcmp(argv[1], "hold"))
		cmd_hold(argc > 2 && !strcmp(argv[2], "close"));
	if (argc < 4) {
		fprintf(stderr, "Usage: fuzz-abi PHASE CALLS SEED [THREADS]\n"
			"       fuzz-abi mmap\n       fuzz-abi hold [close]\n");
		return 2;
	}
	return cmd_fuzz(argv[1], parse_num(argv[2]), parse_num(argv[3]),
			argc > 4 ? parse_num(argv[4]) : 1);
}
