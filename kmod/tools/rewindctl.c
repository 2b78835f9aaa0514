// SPDX-License-Identifier: GPL-2.0-only
/*
 * rewindctl: operate the Rewind flight recorder (/dev/rewind) by hand.
 * The agent is the device's user in production; this is for operators and
 * scripts. `rewindctl --help` lists the commands and their flags.
 *
 * Output meant for programs is one JSON object on stdout. The test drivers
 * (decoding checker, test events) live in test/kmod/.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <stddef.h>
#include <sys/stat.h>

#include "rewind-dev.h"

const char *const rewind_prog = "rewindctl";

/* The counter table of uapi/rewind.h is the struct, field for field. */
#define STATS_CHECK(field, help) REWIND_STATS_CHECK_ONE(static_assert, field);
REWIND_STATS_COUNTERS(STATS_CHECK)
REWIND_STATS_CHECK_SIZE(static_assert);

#define PROBE_NAME(bit, NAME, tp) [REWIND_PROBE_##NAME] = #tp,
static const char *const probe_names[REWIND_PROBE_COUNT] = {
	REWIND_PROBE_TABLE(PROBE_NAME)
};

#define COUNTER_NAME(field, help) [REWIND_STATS_INDEX_##field] = #field,
static const char *const counter_names[REWIND_STATS_NR_COUNTERS] = {
	REWIND_STATS_COUNTERS(COUNTER_NAME)
};

/*
 * The counters before oldest_timestamp add up across CPUs ("total"); the
 * timestamp and the positions after it are per CPU only.
 */
#define NR_ADDITIVE_COUNTERS REWIND_STATS_INDEX_oldest_timestamp

static void usage(FILE *out, int status)
{
	int i;

	fprintf(out,
		"Usage: rewindctl COMMAND [ARGS]\n"
		"\n"
		"  info                 ABI, state, sizes, probes (JSON)\n"
		"  configure [FLAGS]    (re)allocate the rings; stops tracing first\n"
		"  start [FLAGS]        configure if FLAGS are given or nothing is\n"
		"                       configured yet, then start tracing\n"
		"  stop                 stop tracing (the rings keep their content)\n"
		"  statedump            write threads, IRQs and CPUs into the rings\n"
		"  flush                close the open packet of every CPU\n"
		"  stats                per-CPU counters and totals (JSON)\n"
		"  metadata [--remeasure]\n"
		"                       print the CTF metadata; --remeasure re-reads\n"
		"                       the clock offset first (after an NTP step)\n"
		"  snapshot DIR [--no-statedump] [--consume]\n"
		"                       write a CTF trace of the rings into DIR;\n"
		"                       --consume frees what was copied (discard mode)\n"
		"\n"
		"FLAGS of configure and start:\n"
		"  --subbuf-size BYTES  sub-buffer (packet) size, a power of two\n"
		"                       >= the page size; k and M suffixes (default 64k)\n"
		"  --subbufs N          sub-buffers per CPU, a power of two >= 2\n"
		"                       (default 16)\n"
		"  --mode overwrite|discard\n"
		"                       when full: reuse the oldest packet (default),\n"
		"                       or refuse new events\n"
		"  --probes all|none|NAME,NAME,...\n"
		"                       tracepoints to record (default all)\n"
		"  --hostname NAME      the trace's env.hostname (default: the kernel's)\n"
		"\n"
		"Probes:");
	for (i = 0; i < REWIND_PROBE_COUNT; i++)
		fprintf(out, "%s%s", i % 4 ? " " : "\n  ", probe_names[i]);
	fprintf(out, "\n");
	exit(status);
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
	if (!copy)
		die("strdup");
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

static int cmd_info(int fd)
{
	struct rewind_info info;
	struct rewind_abi abi;

	memset(&abi, 0, sizeof(abi));
	xioctl(fd, REWIND_IOC_ABI_VERSION, &abi, "ABI_VERSION");
	get_info(fd, &info);
	printf("{\"abi\":%u,\"format\":%u,\"state\":%u,\"nr_cpu_ids\":%u,",
	       abi.version, abi.format_version, info.state, info.nr_cpu_ids);
	printf("\"subbuf_size\":%u,\"num_subbufs\":%u,\"mode\":\"%s\",",
	       info.subbuf_size, info.num_subbufs,
	       info.mode ? "discard" : "overwrite");
	printf("\"mmap_stride\":%llu,\"metadata_len\":%llu,\"test_hooks\":%llu,",
	       (unsigned long long)info.mmap_stride,
	       (unsigned long long)info.metadata_len,
	       (unsigned long long)info.test_hooks);
	print_mask("probes", info.probe_mask);
	printf(",");
	print_mask("active", info.probe_active);
	printf("}\n");
	return 0;
}

static int cmd_configure(int fd, int argc, char **argv, bool start)
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
			usage(stderr, 2);
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
				usage(stderr, 2);
		} else if (!strcmp(a, "--probes")) {
			cfg.probe_mask = parse_probes(argv[++i]);
		} else if (!strcmp(a, "--hostname")) {
			snprintf(cfg.hostname, sizeof(cfg.hostname), "%s",
				 argv[++i]);
		} else {
			usage(stderr, 2);
		}
	}
	get_info(fd, &info);
	if (!start || given || info.state == REWIND_STATE_EMPTY) {
		if (info.state == REWIND_STATE_TRACING)
			xioctl(fd, REWIND_IOC_STOP, NULL, "STOP");
		xioctl(fd, REWIND_IOC_CONFIGURE, &cfg, "CONFIGURE");
	}
	if (start)
		xioctl(fd, REWIND_IOC_START, NULL, "START");
	return cmd_info(fd);
}

static void print_counters(const char *const names[], const __u64 *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		printf("%s\"%s\":%llu", i ? "," : "", names[i],
		       (unsigned long long)v[i]);
}

/* One CPU's {"cpu":N,"online":N,<counters>}; adds its counters to total. */
static void print_cpu(const struct rewind_stats *st, __u64 *total)
{
#define COUNTER_VALUE(field, help) [REWIND_STATS_INDEX_##field] = st->field,
	const __u64 v[REWIND_STATS_NR_COUNTERS] = {
		REWIND_STATS_COUNTERS(COUNTER_VALUE)
	};
	int i;

	printf("{\"cpu\":%u,\"online\":%u,", st->cpu, st->online);
	print_counters(counter_names, v, REWIND_STATS_NR_COUNTERS);
	printf("}");
	for (i = 0; i < NR_ADDITIVE_COUNTERS; i++)
		total[i] += v[i];
}

/* {"cpus":[<per CPU>,...],"total":{<additive counters>}} */
static int cmd_stats(int fd)
{
	__u64 total[NR_ADDITIVE_COUNTERS] = { 0 };
	struct rewind_info info;
	unsigned int cpu;
	bool more = false;

	get_info(fd, &info);
	printf("{\"cpus\":[");
	for (cpu = 0; cpu < info.nr_cpu_ids; cpu++) {
		struct rewind_stats st;

		memset(&st, 0, sizeof(st));
		st.cpu = cpu;
		if (ioctl(fd, REWIND_IOC_GET_STATS, &st) < 0) {
			if (errno == EINVAL)
				continue;	/* not a possible CPU */
			die("GET_STATS");
		}
		printf("%s", more ? "," : "");
		print_cpu(&st, total);
		more = true;
	}
	printf("],\"total\":{");
	print_counters(counter_names, total, NR_ADDITIVE_COUNTERS);
	printf("}}\n");
	return 0;
}

static int cmd_metadata(int fd, bool remeasure)
{
	size_t len;
	char *md = get_metadata(fd, &len, remeasure);

	fwrite(md, 1, len, stdout);
	free(md);
	return 0;
}

static int cmd_snapshot(int fd, int argc, char **argv)
{
	struct rewind_prepare prep;
	struct rewind_info info;
	unsigned long long packets = 0, skipped = 0, bytes = 0;
	const char *dir;
	unsigned int cpu;
	char *buf;
	bool consume = false, more = false;
	double t0, t1, t2;
	int i;

	if (argc < 1)
		usage(stderr, 2);
	dir = argv[0];
	memset(&prep, 0, sizeof(prep));
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-statedump"))
			prep.flags |= REWIND_PREPARE_NO_STATEDUMP;
		else if (!strcmp(argv[i], "--consume"))
			consume = true;
		else
			usage(stderr, 2);
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		die(dir);
	get_info(fd, &info);
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
	xioctl(fd, REWIND_IOC_SNAPSHOT_PREPARE, &prep, "SNAPSHOT_PREPARE");
	t1 = now_ms();
	printf("{\"streams\":[");
	for (cpu = 0; cpu < info.nr_cpu_ids; cpu++) {
		struct rewind_snapshot snap;

		memset(&snap, 0, sizeof(snap));
		snap.cpu = cpu;
		snap.flags = consume ? REWIND_SNAPSHOT_CONSUME : 0;
		snap.addr = (unsigned long)buf;
		snap.len = info.mmap_stride;
		if (ioctl(fd, REWIND_IOC_SNAPSHOT_CPU, &snap) < 0) {
			if (errno == EINVAL)
				continue;	/* not a possible CPU */
			die("SNAPSHOT_CPU");
		}
		printf("%s{\"cpu\":%u,\"packets\":%llu,\"skipped\":%llu,",
		       more ? "," : "", cpu, (unsigned long long)snap.packets,
		       (unsigned long long)snap.skipped);
		printf("\"bytes\":%llu,\"first_seq\":%llu,\"last_seq\":%llu}",
		       (unsigned long long)snap.bytes,
		       (unsigned long long)snap.first_seq,
		       (unsigned long long)snap.last_seq);
		more = true;
		packets += snap.packets;
		skipped += snap.skipped;
		bytes += snap.bytes;
		if (snap.bytes)
			write_stream(dir, cpu, buf, snap.bytes);
	}
	free(buf);
	t2 = now_ms();
	write_metadata(fd, dir);
	printf("],\"packets\":%llu,\"skipped\":%llu,\"bytes\":%llu,",
	       packets, skipped, bytes);
	printf("\"prepare_ms\":%.1f,\"copy_ms\":%.1f}\n", t1 - t0, t2 - t1);
	return 0;
}

/* Commands that are one ioctl without an argument. */
static const struct {
	const char *name;
	unsigned long ioc;
} plain_commands[] = {
	{ "stop", REWIND_IOC_STOP },
	{ "statedump", REWIND_IOC_STATEDUMP },
	{ "flush", REWIND_IOC_FLUSH },
};

int main(int argc, char **argv)
{
	const char *cmd;
	bool remeasure;
	size_t i;

	if (argc < 2)
		usage(stderr, 2);
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help"))
		usage(stdout, 0);
	remeasure = !strcmp(cmd, "metadata") && argc > 2 &&
		    !strcmp(argv[2], "--remeasure");
	if (!strcmp(cmd, "metadata") && argc > 2 && !remeasure)
		usage(stderr, 2);
	/* Observers open read-only, so they never wait for the controller. */
	if (!strcmp(cmd, "info"))
		return cmd_info(dev_open(false));
	if (!strcmp(cmd, "stats"))
		return cmd_stats(dev_open(false));
	if (!strcmp(cmd, "metadata"))
		return cmd_metadata(dev_open(remeasure), remeasure);
	if (!strcmp(cmd, "configure"))
		return cmd_configure(dev_open(true), argc - 2, argv + 2, false);
	if (!strcmp(cmd, "start"))
		return cmd_configure(dev_open(true), argc - 2, argv + 2, true);
	if (!strcmp(cmd, "snapshot"))
		return cmd_snapshot(dev_open(true), argc - 2, argv + 2);
	for (i = 0; i < ARRAY_SIZE(plain_commands); i++)
		if (!strcmp(cmd, plain_commands[i].name)) {
			xioctl(dev_open(true), plain_commands[i].ioc, NULL,
			       cmd);
			return 0;
		}
	usage(stderr, 2);
	return 2;
}
