// SPDX-License-Identifier: GPL-2.0-only
/*
 * rewindctl: operate the Rewind flight recorder (/dev/rewind).
 *
 *   rewindctl info
 *   rewindctl configure|start [--subbuf-size B] [--subbufs N]
 *             [--mode overwrite|discard] [--probes all|none|a,b,...]
 *             [--hostname H]
 *   rewindctl stop | statedump | flush | stats | metadata [--remeasure]
 *   rewindctl snapshot DIR [--no-statedump] [--consume]
 *   rewindctl check DIR            decode a snapshot, verify it, print JSON
 *   rewindctl snapshot-loop DIR SECONDS   snapshot and check continuously
 *   rewindctl test-emit N [--cpu C] [--seconds S]
 *   rewindctl test-timer start PERIOD_NS BURST | test-timer stop
 *
 * Output meant for programs is one JSON object on stdout.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rewind/format.h"
#include "uapi/rewind.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const probe_names[REWIND_PROBE_COUNT] = {
	"sched_switch", "sched_waking", "sched_wakeup", "sched_wakeup_new",
	"sched_process_fork", "sched_process_exec", "sched_process_exit",
	"sched_migrate_task", "task_rename", "irq_handler_entry",
	"irq_handler_exit", "softirq_entry", "softirq_exit", "sys_enter",
	"sys_exit", "net_dev_queue", "netif_receive_skb", "block_rq_issue",
	"block_rq_complete", "page_fault_user",
};

static const struct rewind_desc desc_table[] = REWIND_DESC_TABLE_INIT;

static int dev_fd = -1;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "rewindctl: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: rewindctl info|configure|start|stop|statedump|flush|stats|metadata\n"
		"       rewindctl snapshot DIR [--no-statedump] [--consume]\n"
		"       rewindctl check DIR\n"
		"       rewindctl snapshot-loop DIR SECONDS\n"
		"       rewindctl test-emit N [--cpu C] [--seconds S]\n"
		"       rewindctl test-timer start PERIOD_NS BURST | stop\n");
	exit(2);
}

static void dev_open(bool control)
{
	int i;

	if (!control) {
		dev_fd = open(REWIND_DEVICE, O_RDONLY | O_CLOEXEC);
		if (dev_fd < 0)
			die("open " REWIND_DEVICE);
		return;
	}
	/* The device admits one opener: wait briefly for another rewindctl. */
	for (i = 0; i < 200; i++) {
		dev_fd = open(REWIND_DEVICE, O_RDWR | O_CLOEXEC);
		if (dev_fd >= 0 || errno != EBUSY)
			break;
		usleep(10000);
	}
	if (dev_fd < 0)
		die("open " REWIND_DEVICE);
}

static void xioctl(unsigned long cmd, void *arg, const char *what)
{
	if (ioctl(dev_fd, cmd, arg) < 0)
		die(what);
}

static void get_info(struct rewind_info *info)
{
	memset(info, 0, sizeof(*info));
	xioctl(REWIND_IOC_GET_INFO, info, "GET_INFO");
}

static unsigned long long parse_num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end || !*s) {
		fprintf(stderr, "rewindctl: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static __u64 parse_probes(const char *s)
{
	char *copy, *tok, *save;
	__u64 mask = 0;
	int i;

	if (!strcmp(s, "all"))
		return REWIND_PROBES_ALL;
	if (!strcmp(s, "none"))
		return 0;
	copy = strdup(s);
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < REWIND_PROBE_COUNT; i++)
			if (!strcmp(tok, probe_names[i]))
				break;
		if (i == REWIND_PROBE_COUNT) {
			fprintf(stderr, "rewindctl: unknown probe '%s'\n", tok);
			exit(2);
		}
		mask |= 1ULL << i;
	}
	free(copy);
	return mask;
}

static void print_mask(const char *key, __u64 mask)
{
	int i, first = 1;

	printf("\"%s\":[", key);
	for (i = 0; i < REWIND_PROBE_COUNT; i++)
		if (mask & (1ULL << i)) {
			printf("%s\"%s\"", first ? "" : ",", probe_names[i]);
			first = 0;
		}
	printf("]");
}

static int cmd_info(void)
{
	struct rewind_info info;
	struct rewind_abi abi = { 0 };

	xioctl(REWIND_IOC_ABI_VERSION, &abi, "ABI_VERSION");
	get_info(&info);
	printf("{\"abi\":%u,\"format\":%u,\"state\":%u,\"nr_cpu_ids\":%u,"
	       "\"subbuf_size\":%u,\"num_subbufs\":%u,\"mode\":\"%s\","
	       "\"mmap_stride\":%llu,\"metadata_len\":%llu,\"test_hooks\":%llu,",
	       abi.version, abi.format_version, info.state, info.nr_cpu_ids,
	       info.subbuf_size, info.num_subbufs,
	       info.mode ? "discard" : "overwrite",
	       (unsigned long long)info.mmap_stride,
	       (unsigned long long)info.metadata_len,
	       (unsigned long long)info.test_hooks);
	print_mask("probes", info.probe_mask);
	printf(",");
	print_mask("active", info.probe_active);
	printf("}\n");
	return 0;
}

static int cmd_configure(int argc, char **argv, bool start)
{
	struct rewind_config cfg;
	struct rewind_info info;
	bool given = false;
	int i;

	memset(&cfg, 0, sizeof(cfg));
	cfg.probe_mask = REWIND_PROBES_ALL;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (i + 1 >= argc)
			usage();
		given = true;
		if (!strcmp(a, "--subbuf-size")) {
			cfg.subbuf_size = parse_num(argv[++i]);
		} else if (!strcmp(a, "--subbufs")) {
			cfg.num_subbufs = parse_num(argv[++i]);
		} else if (!strcmp(a, "--mode")) {
			i++;
			if (!strcmp(argv[i], "overwrite"))
				cfg.mode = REWIND_MODE_OVERWRITE;
			else if (!strcmp(argv[i], "discard"))
				cfg.mode = REWIND_MODE_DISCARD;
			else
				usage();
		} else if (!strcmp(a, "--probes")) {
			cfg.probe_mask = parse_probes(argv[++i]);
		} else if (!strcmp(a, "--hostname")) {
			snprintf(cfg.hostname, sizeof(cfg.hostname), "%s",
				 argv[++i]);
		} else {
			usage();
		}
	}
	get_info(&info);
	if (!start || given || info.state == REWIND_STATE_EMPTY) {
		if (info.state == REWIND_STATE_TRACING)
			xioctl(REWIND_IOC_STOP, NULL, "STOP");
		xioctl(REWIND_IOC_CONFIGURE, &cfg, "CONFIGURE");
	}
	if (start)
		xioctl(REWIND_IOC_START, NULL, "START");
	return cmd_info();
}

static int cmd_stats(void)
{
	struct rewind_info info;
	unsigned int cpu;
	unsigned long long tot[10] = { 0 };
	int first = 1;

	get_info(&info);
	printf("{\"cpus\":[");
	for (cpu = 0; cpu < info.nr_cpu_ids; cpu++) {
		struct rewind_stats st;

		memset(&st, 0, sizeof(st));
		st.cpu = cpu;
		if (ioctl(dev_fd, REWIND_IOC_GET_STATS, &st) < 0) {
			if (errno == EINVAL)
				continue;
			die("GET_STATS");
		}
		printf("%s{\"cpu\":%u,\"online\":%u,\"events_written\":%llu,"
		       "\"bytes_written\":%llu,\"lost_full\":%llu,"
		       "\"lost_nesting\":%llu,\"lost_wrap\":%llu,"
		       "\"lost_too_big\":%llu,\"packets_overwritten\":%llu,"
		       "\"subbuf_switches\":%llu,\"oldest_timestamp\":%llu,"
		       "\"write_pos\":%llu,\"consumed_pos\":%llu}",
		       first ? "" : ",", st.cpu, st.online,
		       (unsigned long long)st.events_written,
		       (unsigned long long)st.bytes_written,
		       (unsigned long long)st.lost_full,
		       (unsigned long long)st.lost_nesting,
		       (unsigned long long)st.lost_wrap,
		       (unsigned long long)st.lost_too_big,
		       (unsigned long long)st.packets_overwritten,
		       (unsigned long long)st.subbuf_switches,
		       (unsigned long long)st.oldest_timestamp,
		       (unsigned long long)st.write_pos,
		       (unsigned long long)st.consumed_pos);
		first = 0;
		tot[0] += st.events_written;
		tot[1] += st.bytes_written;
		tot[2] += st.lost_full;
		tot[3] += st.lost_nesting;
		tot[4] += st.lost_wrap;
		tot[5] += st.lost_too_big;
		tot[6] += st.packets_overwritten;
		tot[7] += st.subbuf_switches;
	}
	printf("],\"total\":{\"events_written\":%llu,\"bytes_written\":%llu,"
	       "\"lost_full\":%llu,\"lost_nesting\":%llu,\"lost_wrap\":%llu,"
	       "\"lost_too_big\":%llu,\"packets_overwritten\":%llu,"
	       "\"subbuf_switches\":%llu}}\n",
	       tot[0], tot[1], tot[2], tot[3], tot[4], tot[5], tot[6], tot[7]);
	return 0;
}

static char *get_metadata(size_t *len, bool remeasure)
{
	struct rewind_metadata md;
	char *buf;

	memset(&md, 0, sizeof(md));
	md.flags = remeasure ? REWIND_METADATA_REMEASURE : 0;
	xioctl(REWIND_IOC_GET_METADATA, &md, "GET_METADATA");
	buf = malloc(md.size + 1);
	if (!buf)
		die("malloc");
	md.addr = (unsigned long)buf;
	md.len = md.size;
	md.flags = 0;
	xioctl(REWIND_IOC_GET_METADATA, &md, "GET_METADATA");
	buf[md.size] = '\0';
	*len = md.size;
	return buf;
}

static void write_file(const char *dir, const char *name, const void *buf,
		       size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		die(path);
	if (len && fwrite(buf, 1, len, f) != len)
		die(path);
	if (fclose(f))
		die(path);
}

static int cmd_snapshot(int argc, char **argv)
{
	struct rewind_prepare prep;
	struct rewind_info info;
	unsigned long long packets = 0, skipped = 0, bytes = 0;
	const char *dir;
	unsigned int cpu;
	size_t mdlen;
	char *md, *buf;
	bool consume = false;
	double t0, t1, t2;
	int i;

	if (argc < 1)
		usage();
	dir = argv[0];
	memset(&prep, 0, sizeof(prep));
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-statedump"))
			prep.flags |= REWIND_PREPARE_NO_STATEDUMP;
		else if (!strcmp(argv[i], "--consume"))
			consume = true;
		else
			usage();
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		die(dir);
	get_info(&info);
	if (info.state == REWIND_STATE_EMPTY) {
		errno = ENODEV;
		die("snapshot: not configured");
	}
	buf = malloc(info.mmap_stride);
	if (!buf)
		die("malloc");
	/* Fault the buffer in now, so the kernel's copy runs at full speed. */
	memset(buf, 0, info.mmap_stride);
	t0 = now_ms();
	xioctl(REWIND_IOC_SNAPSHOT_PREPARE, &prep, "SNAPSHOT_PREPARE");
	t1 = now_ms();
	printf("{\"streams\":[");
	for (cpu = 0; cpu < info.nr_cpu_ids; cpu++) {
		static bool more;
		struct rewind_snapshot snap;
		char name[64];

		memset(&snap, 0, sizeof(snap));
		snap.cpu = cpu;
		snap.flags = consume ? REWIND_SNAPSHOT_CONSUME : 0;
		snap.addr = (unsigned long)buf;
		snap.len = info.mmap_stride;
		if (ioctl(dev_fd, REWIND_IOC_SNAPSHOT_CPU, &snap) < 0) {
			if (errno == EINVAL)
				continue;
			die("SNAPSHOT_CPU");
		}
		printf("%s{\"cpu\":%u,\"packets\":%llu,\"skipped\":%llu,"
		       "\"bytes\":%llu,\"first_seq\":%llu,\"last_seq\":%llu}",
		       more ? "," : "", cpu,
		       (unsigned long long)snap.packets,
		       (unsigned long long)snap.skipped,
		       (unsigned long long)snap.bytes,
		       (unsigned long long)snap.first_seq,
		       (unsigned long long)snap.last_seq);
		more = true;
		packets += snap.packets;
		skipped += snap.skipped;
		bytes += snap.bytes;
		if (!snap.bytes)
			continue;
		snprintf(name, sizeof(name), "stream_%u", cpu);
		write_file(dir, name, buf, snap.bytes);
	}
	free(buf);
	t2 = now_ms();
	md = get_metadata(&mdlen, false);
	write_file(dir, "metadata", md, mdlen);
	free(md);
	printf("],\"packets\":%llu,\"skipped\":%llu,\"bytes\":%llu,"
	       "\"prepare_ms\":%.1f,\"copy_ms\":%.1f}\n",
	       packets, skipped, bytes, t1 - t0, t2 - t1);
	return 0;
}

/* ---- check: decode a snapshot with rewind/format.h alone ---------------- */

struct ev_layout {
	const char *name;
	int first;	/* index of its first field in desc_table, -1: unknown */
	unsigned long long count;
};

static struct ev_layout layouts[256];

static void build_layouts(void)
{
	size_t i, n = ARRAY_SIZE(desc_table);

	for (i = 0; i < 256; i++)
		layouts[i].first = -1;
	for (i = 0; i < n; i++)
		if (desc_table[i].kind == REWIND_DESC_EVENT &&
		    desc_table[i].id < 256) {
			layouts[desc_table[i].id].name = desc_table[i].name;
			layouts[desc_table[i].id].first = (int)i + 1;
		}
}

#define X_FIELD_BYTES(T, B, N, S) [REWIND_FT_##T] = B,
static const unsigned char field_bytes[REWIND_FT_COUNT] = {
	REWIND_FIELD_TYPES(X_FIELD_BYTES)
};

static __u64 le(const unsigned char *p, int n)
{
	__u64 v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

struct check {
	unsigned long long streams, packets, events, corrupt, packet_gaps;
	unsigned long long test_events, test_bad, test_order, test_gaps;
	unsigned long long time_back;
	int errors;
	unsigned char uuid[16];
	bool have_uuid;
	__s64 last_test[REWIND_CTX_COUNT];
	unsigned long long test_ctx[REWIND_CTX_COUNT];
};

static void complain(struct check *c, const char *file, long off,
		     const char *what)
{
	c->corrupt++;
	if (c->errors++ < 10)
		fprintf(stderr, "rewindctl check: %s@%ld: %s\n", file, off, what);
}

/* Decodes one event's payload; returns its end or NULL if it overruns. */
static const unsigned char *decode_payload(struct check *c, int id,
					   const unsigned char *p,
					   const unsigned char *end,
					   unsigned int cpu)
{
	const struct rewind_desc *d = &desc_table[layouts[id].first];
	const unsigned char *f[8];
	int nf = 0;

	for (; d->kind == REWIND_DESC_FIELD; d++) {
		if (nf < 8)
			f[nf++] = p;
		if (d->type == REWIND_FT_STR) {
			const unsigned char *z = memchr(p, 0, end - p);

			if (!z)
				return NULL;
			p = z + 1;
		} else {
			if (end - p < field_bytes[d->type])
				return NULL;
			p += field_bytes[d->type];
		}
	}
	if (id == REWIND_EV_TEST_EVENT) {
		/* seq u64, checksum u32, cpu u16, ctx u8, tag string */
		__u64 seq = le(f[0], 8);
		__u32 sum = le(f[1], 4);
		unsigned int ecpu = le(f[2], 2), ctx = f[3][0];
		size_t taglen = strlen((const char *)f[4]), i;
		bool ok = sum == rewind_test_checksum(seq, ecpu, ctx) &&
			  ecpu == cpu && ctx < REWIND_CTX_COUNT &&
			  taglen == REWIND_TEST_TAG_LEN(seq);

		for (i = 0; ok && i < taglen; i++)
			ok = f[4][i] == 'a' + i;
		c->test_events++;
		if (ctx < REWIND_CTX_COUNT)
			c->test_ctx[ctx]++;
		if (!ok) {
			c->test_bad++;
			return p;
		}
		if (c->last_test[ctx] >= 0 && (__s64)seq <= c->last_test[ctx])
			c->test_order++;
		else if (c->last_test[ctx] >= 0 &&
			 (__s64)seq != c->last_test[ctx] + 1)
			c->test_gaps += seq - c->last_test[ctx] - 1;
		c->last_test[ctx] = seq;
	}
	return p;
}

static void check_buffer(struct check *c, const char *name,
			 const unsigned char *buf, long size, FILE *out,
			 bool *first_out)
{
	long off = 0;
	__s64 prev_seq = -1;
	__u64 first_seq = 0, last_seq = 0, stream_packets = 0;
	unsigned int cpu = 0;
	int i;

	c->streams++;
	for (i = 0; i < REWIND_CTX_COUNT; i++)
		c->last_test[i] = -1;
	while (off < size) {
		const unsigned char *h = buf + off, *p, *end;
		__u64 ts_begin, ts_end, seq, clock;
		__u32 csize, psize;

		if (size - off < REWIND_PACKET_HEADER_SIZE) {
			complain(c, name, off, "truncated packet header");
			break;
		}
		if (le(h, 4) != REWIND_PACKET_MAGIC) {
			complain(c, name, off, "bad magic");
			break;
		}
		if (!c->have_uuid) {
			memcpy(c->uuid, h + 4, 16);
			c->have_uuid = true;
		} else if (memcmp(c->uuid, h + 4, 16)) {
			complain(c, name, off, "uuid differs");
		}
		ts_begin = le(h + 24, 8);
		ts_end = le(h + 32, 8);
		csize = le(h + 40, 4) / 8;
		psize = le(h + 44, 4) / 8;
		seq = le(h + 48, 8);
		cpu = le(h + 64, 4);
		if (csize < REWIND_PACKET_HEADER_SIZE || csize > psize ||
		    psize > size - off) {
			complain(c, name, off, "bad packet sizes");
			break;
		}
		if (prev_seq >= 0 && (__s64)seq <= prev_seq)
			complain(c, name, off, "packet_seq_num not increasing");
		else if (prev_seq >= 0)
			c->packet_gaps += seq - prev_seq - 1;
		if (!stream_packets)
			first_seq = seq;
		last_seq = seq;
		prev_seq = seq;
		stream_packets++;
		c->packets++;
		clock = ts_begin;
		p = h + REWIND_PACKET_HEADER_SIZE;
		end = h + csize;
		while (p < end) {
			__u32 w, id;
			__u64 ts;

			if (end - p < 4) {
				complain(c, name, p - buf, "truncated header");
				break;
			}
			w = le(p, 4);
			id = w & ((1u << REWIND_ID_BITS) - 1);
			if (id == REWIND_ID_EXTENDED) {
				if (end - p < REWIND_HDR_EXTENDED) {
					complain(c, name, p - buf, "truncated ext");
					break;
				}
				id = le(p + 1, 4);
				ts = le(p + 5, 8);
				p += REWIND_HDR_EXTENDED;
			} else {
				__u64 low = w >> REWIND_ID_BITS;

				ts = (clock & ~(__u64)REWIND_TS_MASK) | low;
				if (low < (clock & REWIND_TS_MASK))
					ts += 1ull << REWIND_TS_BITS;
				p += REWIND_HDR_COMPACT;
			}
			if (ts < clock)
				c->time_back++;
			clock = ts;
			if (ts > ts_end)
				c->time_back++;
			if (id >= 256 || layouts[id].first < 0) {
				complain(c, name, p - buf, "unknown event id");
				break;
			}
			p = decode_payload(c, id, p, end, cpu);
			if (!p) {
				complain(c, name, off, "payload overruns packet");
				break;
			}
			layouts[id].count++;
			c->events++;
		}
		off += psize;
	}
	if (!out)
		return;
	fprintf(out, "%s{\"file\":\"%s\",\"cpu\":%u,\"packets\":%llu,"
		"\"first_seq\":%llu,\"last_seq\":%llu}",
		*first_out ? "" : ",", name, cpu,
		(unsigned long long)stream_packets,
		(unsigned long long)first_seq, (unsigned long long)last_seq);
	*first_out = false;
}

static void check_stream(struct check *c, const char *dir, const char *name,
			 FILE *out, bool *first_out)
{
	char path[4096];
	unsigned char *buf;
	long size;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		die(path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	buf = malloc(size ? size : 1);
	if (!buf || fread(buf, 1, size, f) != (size_t)size)
		die(path);
	fclose(f);
	check_buffer(c, name, buf, size, out, first_out);
	free(buf);
}

static int cmd_check(int argc, char **argv)
{
	struct check c;
	struct dirent *de;
	bool first = true;
	DIR *d;
	int i;

	if (argc != 1)
		usage();
	memset(&c, 0, sizeof(c));
	build_layouts();
	d = opendir(argv[0]);
	if (!d)
		die(argv[0]);
	printf("{\"streams\":[");
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "stream_", 7))
			continue;
		check_stream(&c, argv[0], de->d_name, stdout, &first);
	}
	closedir(d);
	printf("],\"packets\":%llu,\"events\":%llu,\"corrupt\":%llu,"
	       "\"packet_gaps\":%llu,\"time_backwards\":%llu,"
	       "\"test_events\":%llu,\"test_bad\":%llu,"
	       "\"test_out_of_order\":%llu,\"test_gaps\":%llu,"
	       "\"test_ctx\":[%llu,%llu,%llu,%llu],\"counts\":{",
	       c.packets, c.events, c.corrupt, c.packet_gaps, c.time_back,
	       c.test_events, c.test_bad, c.test_order, c.test_gaps,
	       c.test_ctx[0], c.test_ctx[1], c.test_ctx[2], c.test_ctx[3]);
	first = true;
	for (i = 0; i < 256; i++)
		if (layouts[i].count) {
			printf("%s\"%s\":%llu", first ? "" : ",",
			       layouts[i].name, layouts[i].count);
			first = false;
		}
	printf("}}\n");
	return c.corrupt || c.test_bad || c.test_order || c.time_back ? 3 : 0;
}

/*
 * Snapshot again and again for SECONDS, decoding each copy in memory; the
 * last one is written to DIR. For the stress test: no process per snapshot.
 */
static int cmd_snapshot_loop(int argc, char **argv)
{
	struct rewind_info info;
	struct check c;
	unsigned long long snaps = 0, skipped = 0, copied = 0;
	unsigned char **bufs;
	__u64 *lens;
	double end, worst = 0;
	unsigned int cpu;
	bool first = true;

	if (argc != 2)
		usage();
	memset(&c, 0, sizeof(c));
	build_layouts();
	get_info(&info);
	bufs = calloc(info.nr_cpu_ids, sizeof(*bufs));
	lens = calloc(info.nr_cpu_ids, sizeof(*lens));
	for (cpu = 0; cpu < info.nr_cpu_ids; cpu++) {
		bufs[cpu] = malloc(info.mmap_stride);
		if (!bufs[cpu])
			die("malloc");
		memset(bufs[cpu], 0, info.mmap_stride);
	}
	end = now_ms() + parse_num(argv[1]) * 1000.0;
	while (now_ms() < end) {
		struct rewind_prepare prep;
		double t0 = now_ms();

		memset(&prep, 0, sizeof(prep));
		xioctl(REWIND_IOC_SNAPSHOT_PREPARE, &prep, "SNAPSHOT_PREPARE");
		for (cpu = 0; cpu < info.nr_cpu_ids; cpu++) {
			struct rewind_snapshot snap;

			memset(&snap, 0, sizeof(snap));
			snap.cpu = cpu;
			snap.addr = (unsigned long)bufs[cpu];
			snap.len = info.mmap_stride;
			lens[cpu] = 0;
			if (ioctl(dev_fd, REWIND_IOC_SNAPSHOT_CPU, &snap) < 0) {
				if (errno == EINVAL)
					continue;
				die("SNAPSHOT_CPU");
			}
			lens[cpu] = snap.bytes;
			skipped += snap.skipped;
			copied += snap.packets;
			check_buffer(&c, "loop", bufs[cpu], snap.bytes, NULL,
				     &first);
		}
		if (now_ms() - t0 > worst)
			worst = now_ms() - t0;
		snaps++;
	}
	for (cpu = 0; cpu < info.nr_cpu_ids; cpu++) {
		char name[64];

		if (!lens[cpu])
			continue;
		if (cpu == 0 && mkdir(argv[0], 0755) && errno != EEXIST)
			die(argv[0]);
		snprintf(name, sizeof(name), "stream_%u", cpu);
		write_file(argv[0], name, bufs[cpu], lens[cpu]);
	}
	{
		size_t mdlen;
		char *md = get_metadata(&mdlen, false);

		write_file(argv[0], "metadata", md, mdlen);
		free(md);
	}
	printf("{\"snapshots\":%llu,\"packets\":%llu,\"skipped\":%llu,"
	       "\"worst_ms\":%.1f,\"events\":%llu,\"corrupt\":%llu,"
	       "\"time_backwards\":%llu,\"test_events\":%llu,"
	       "\"test_bad\":%llu,\"test_out_of_order\":%llu,"
	       "\"packet_gaps\":%llu,\"test_ctx\":[%llu,%llu,%llu,%llu]}\n",
	       snaps, copied, skipped, worst, c.events, c.corrupt,
	       c.time_back, c.test_events, c.test_bad, c.test_order,
	       c.packet_gaps, c.test_ctx[0], c.test_ctx[1], c.test_ctx[2],
	       c.test_ctx[3]);
	return c.corrupt || c.test_bad || c.test_order || c.time_back ? 3 : 0;
}

static int cmd_test_emit(int argc, char **argv)
{
	struct rewind_test t;
	unsigned long long total = 0, calls = 0;
	double end = 0;
	int i;

	if (argc < 1)
		usage();
	memset(&t, 0, sizeof(t));
	t.op = REWIND_TEST_EMIT;
	t.count = parse_num(argv[0]);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			end = now_ms() + parse_num(argv[++i]) * 1000.0;
		} else if (!strcmp(argv[i], "--cpu") && i + 1 < argc) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(parse_num(argv[++i]), &set);
			if (sched_setaffinity(0, sizeof(set), &set))
				die("sched_setaffinity");
		} else {
			usage();
		}
	}
	do {
		xioctl(REWIND_IOC_TEST, &t, "TEST");
		total += t.emitted;
		calls++;
	} while (end && now_ms() < end);
	printf("{\"emitted\":%llu,\"requested\":%llu,\"cpu\":%d}\n",
	       total, calls * (unsigned long long)t.count, sched_getcpu());
	return 0;
}

static int cmd_test_timer(int argc, char **argv)
{
	struct rewind_test t;

	memset(&t, 0, sizeof(t));
	if (argc == 3 && !strcmp(argv[0], "start")) {
		t.op = REWIND_TEST_TIMER_START;
		t.period_ns = parse_num(argv[1]);
		t.burst = parse_num(argv[2]);
	} else if (argc == 1 && !strcmp(argv[0], "stop")) {
		t.op = REWIND_TEST_TIMER_STOP;
	} else {
		usage();
	}
	xioctl(REWIND_IOC_TEST, &t, "TEST");
	printf("{\"emitted\":%llu}\n", (unsigned long long)t.emitted);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		usage();
	cmd = argv[1];
	if (!strcmp(cmd, "check"))
		return cmd_check(argc - 2, argv + 2);
	/* Observers open read-only, so they never wait for the controller. */
	dev_open((strcmp(cmd, "info") && strcmp(cmd, "stats") &&
		  strcmp(cmd, "metadata") && strcmp(cmd, "test-emit") &&
		  strcmp(cmd, "test-timer")) ||
		 (!strcmp(cmd, "metadata") && argc > 2));
	if (!strcmp(cmd, "info"))
		return cmd_info();
	if (!strcmp(cmd, "configure"))
		return cmd_configure(argc - 2, argv + 2, false);
	if (!strcmp(cmd, "start"))
		return cmd_configure(argc - 2, argv + 2, true);
	if (!strcmp(cmd, "stop")) {
		xioctl(REWIND_IOC_STOP, NULL, "STOP");
		return 0;
	}
	if (!strcmp(cmd, "statedump")) {
		xioctl(REWIND_IOC_STATEDUMP, NULL, "STATEDUMP");
		return 0;
	}
	if (!strcmp(cmd, "flush")) {
		xioctl(REWIND_IOC_FLUSH, NULL, "FLUSH");
		return 0;
	}
	if (!strcmp(cmd, "stats"))
		return cmd_stats();
	if (!strcmp(cmd, "metadata")) {
		/* --remeasure re-reads the clock offset (after an NTP step). */
		bool remeasure = argc > 2 && !strcmp(argv[2], "--remeasure");
		size_t len;
		char *md = get_metadata(&len, remeasure);

		fwrite(md, 1, len, stdout);
		free(md);
		return 0;
	}
	if (!strcmp(cmd, "snapshot"))
		return cmd_snapshot(argc - 2, argv + 2);
	if (!strcmp(cmd, "snapshot-loop"))
		return cmd_snapshot_loop(argc - 2, argv + 2);
	if (!strcmp(cmd, "test-emit"))
		return cmd_test_emit(argc - 2, argv + 2);
	if (!strcmp(cmd, "test-timer"))
		return cmd_test_timer(argc - 2, argv + 2);
	usage();
	return 2;
}
