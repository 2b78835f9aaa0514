// SPDX-License-Identifier: GPL-2.0-only
/*
 * test-events: drives the module's test hooks (REWIND_IOC_TEST, module
 * parameter test_hooks=1): rewind_test events whose sequence numbers and
 * checksums snapshot-check verifies.
 *
 *   test-events emit N [--cpu C] [--seconds S]
 *       N events from process context on this CPU (pinned to C); with
 *       --seconds, again and again until S seconds passed
 *   test-events timer start PERIOD_NS BURST
 *       BURST events every PERIOD_NS from a hardirq and a softirq timer on
 *       every online CPU
 *   test-events timer nmi PERIOD_NS BURST
 *       the same, and each hardirq tick sends an NMI to the next CPU, whose
 *       handler emits BURST events (x86)
 *   test-events timer stop
 *
 * Each prints one JSON object; "emitted" counts events the rings took.
 * The device is opened read-only: the test hooks need no controller.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "rewind-dev.h"

const char *const rewind_prog = "test-events";

static void usage(void)
{
	fprintf(stderr, "Usage: test-events emit N [--cpu C] [--seconds S]\n"
		"       test-events timer start PERIOD_NS BURST\n"
		"       test-events timer nmi PERIOD_NS BURST\n"
		"       test-events timer stop\n");
	exit(2);
}

static int cmd_emit(int argc, char **argv)
{
	struct rewind_test t;
	unsigned long long total = 0, calls = 0;
	double end = 0;
	int i, fd;

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
	fd = dev_open(false);
	do {
		xioctl(fd, REWIND_IOC_TEST, &t, "TEST");
		total += t.emitted;
		calls++;
	} while (end && now_ms() < end);
	printf("{\"emitted\":%llu,\"requested\":%llu,\"cpu\":%d}\n",
	       total, calls * (unsigned long long)t.count, sched_getcpu());
	return 0;
}

static int cmd_timer(int argc, char **argv)
{
	struct rewind_test t;

	memset(&t, 0, sizeof(t));
	if (argc == 3 && (!strcmp(argv[0], "start") ||
			  !strcmp(argv[0], "nmi"))) {
		t.op = strcmp(argv[0], "nmi") ? REWIND_TEST_TIMER_START :
						  REWIND_TEST_NMI_START;
		t.period_ns = parse_num(argv[1]);
		t.burst = parse_num(argv[2]);
	} else if (argc == 1 && !strcmp(argv[0], "stop")) {
		t.op = REWIND_TEST_TIMER_STOP;
	} else {
		usage();
	}
	xioctl(dev_open(false), REWIND_IOC_TEST, &t, "TEST");
	printf("{\"emitted\":%llu}\n", (unsigned long long)t.emitted);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "emit"))
		return cmd_emit(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "timer"))
		return cmd_timer(argc - 2, argv + 2);
	usage();
	return 2;
}
