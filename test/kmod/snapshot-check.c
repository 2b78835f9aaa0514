// SPDX-License-Identifier: GPL-2.0-only
/*
 * snapshot-check: the kmod tests' judge of snapshots, a decoder that uses
 * only the tables of rewind/format.h (a third one beside native/ and
 * babeltrace2, so a bug shared by the module and native/ still shows).
 *
 *   snapshot-check DIR
 *       decode the trace directory DIR, verify it, print JSON
 *   snapshot-check --loop SECONDS DIR
 *       snapshot again and again for SECONDS, decoding each copy in memory
 *       (no process per snapshot: the stress test); the last copy is
 *       written to DIR
 *
 * Verified: packet headers and sizes, one trace uuid, packet_seq_num
 * increasing (gaps counted), timestamps never going back, every event id
 * known and every payload inside its packet, and each rewind_test event's
 * checksum, tag and per-CPU, per-context sequence. Exit status 3 when
 * something is corrupt.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/stat.h>

#include "rewind-dev.h"

const char *const rewind_prog = "snapshot-check";

static const struct rewind_desc desc_table[] = REWIND_DESC_TABLE_INIT;

static void usage(void)
{
	fprintf(stderr, "Usage: snapshot-check DIR\n"
		"       snapshot-check --loop SECONDS DIR\n");
	exit(2);
}

/* ---- the decoder: rewind/format.h alone ------------------------------- */

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
		fprintf(stderr, "snapshot-check: %s@%ld: %s\n", file, off, what);
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
	fprintf(out, "%s{\"file\":\"%s\",\"cpu\":%u,\"packets\":%llu,",
		*first_out ? "" : ",", name, cpu,
		(unsigned long long)stream_packets);
	fprintf(out, "\"first_seq\":%llu,\"last_seq\":%llu}",
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

static int check_failed(const struct check *c)
{
	return c->corrupt || c->test_bad || c->test_order || c->time_back ? 3 : 0;
}

static int cmd_check(const char *dir)
{
	struct check c;
	struct dirent *de;
	bool first = true;
	size_t prefix = strlen(REWIND_TRACE_STREAM_PREFIX);
	DIR *d;
	int i;

	memset(&c, 0, sizeof(c));
	build_layouts();
	d = opendir(dir);
	if (!d)
		die(dir);
	printf("{\"streams\":[");
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, REWIND_TRACE_STREAM_PREFIX, prefix))
			continue;
		check_stream(&c, dir, de->d_name, stdout, &first);
	}
	closedir(d);
	printf("],\"packets\":%llu,\"events\":%llu,\"corrupt\":%llu,",
	       c.packets, c.events, c.corrupt);
	printf("\"packet_gaps\":%llu,\"time_backwards\":%llu,",
	       c.packet_gaps, c.time_back);
	printf("\"test_events\":%llu,\"test_bad\":%llu,", c.test_events,
	       c.test_bad);
	printf("\"test_out_of_order\":%llu,\"test_gaps\":%llu,", c.test_order,
	       c.test_gaps);
	printf("\"test_ctx\":[%llu,%llu,%llu,%llu],\"counts\":{",
	       c.test_ctx[0], c.test_ctx[1], c.test_ctx[2], c.test_ctx[3]);
	first = true;
	for (i = 0; i < 256; i++)
		if (layouts[i].count) {
			printf("%s\"%s\":%llu", first ? "" : ",",
			       layouts[i].name, layouts[i].count);
			first = false;
		}
	printf("}}\n");
	return check_failed(&c);
}

static int cmd_loop(const char *seconds, const char *dir)
{
	struct rewind_info info;
	struct check c;
	unsigned long long snaps = 0, skipped = 0, copied = 0;
	unsigned char **bufs;
	__u64 *lens;
	double end, worst = 0;
	unsigned int cpu;
	bool first = true;
	int fd = dev_open(true);

	memset(&c, 0, sizeof(c));
	build_layouts();
	get_info(fd, &info);
	bufs = calloc(info.nr_cpu_ids, sizeof(*bufs));
	lens = calloc(info.nr_cpu_ids, sizeof(*lens));
	if (!bufs || !lens)
		die("calloc");
	for (cpu = 0; cpu < info.nr_cpu_ids; cpu++) {
		bufs[cpu] = malloc(info.mmap_stride);
		if (!bufs[cpu])
			die("malloc");
		memset(bufs[cpu], 0, info.mmap_stride);
	}
	end = now_ms() + parse_num(seconds) * 1000.0;
	while (now_ms() < end) {
		struct rewind_prepare prep;
		double t0 = now_ms();

		memset(&prep, 0, sizeof(prep));
		xioctl(fd, REWIND_IOC_SNAPSHOT_PREPARE, &prep,
		       "SNAPSHOT_PREPARE");
		for (cpu = 0; cpu < info.nr_cpu_ids; cpu++) {
			struct rewind_snapshot snap;

			memset(&snap, 0, sizeof(snap));
			snap.cpu = cpu;
			snap.addr = (unsigned long)bufs[cpu];
			snap.len = info.mmap_stride;
			lens[cpu] = 0;
			if (ioctl(fd, REWIND_IOC_SNAPSHOT_CPU, &snap) < 0) {
				if (errno == EINVAL)
					continue;	/* not a possible CPU */
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
	if (mkdir(dir, 0755) && errno != EEXIST)
		die(dir);
	for (cpu = 0; cpu < info.nr_cpu_ids; cpu++)
		if (lens[cpu])
			write_stream(dir, cpu, bufs[cpu], lens[cpu]);
	write_metadata(fd, dir);
	printf("{\"snapshots\":%llu,\"packets\":%llu,\"skipped\":%llu,",
	       snaps, copied, skipped);
	printf("\"worst_ms\":%.1f,\"events\":%llu,\"corrupt\":%llu,",
	       worst, c.events, c.corrupt);
	printf("\"time_backwards\":%llu,\"test_events\":%llu,", c.time_back,
	       c.test_events);
	printf("\"test_bad\":%llu,\"test_out_of_order\":%llu,", c.test_bad,
	       c.test_order);
	printf("\"packet_gaps\":%llu,\"test_ctx\":[%llu,%llu,%llu,%llu]}\n",
	       c.packet_gaps, c.test_ctx[0], c.test_ctx[1], c.test_ctx[2],
	       c.test_ctx[3]);
	return check_failed(&c);
}

int main(int argc, char **argv)
{
	if (argc == 2 && argv[1][0] != '-')
		return cmd_check(argv[1]);
	if (argc == 4 && !strcmp(argv[1], "--loop"))
		return cmd_loop(argv[2], argv[3]);
	usage();
	return 2;
}
