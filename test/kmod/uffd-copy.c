// SPDX-License-Identifier: GPL-2.0-only
/*
 * uffd-copy: holds one of the module's copies to user memory on a page
 * that userfaultfd leaves missing, and meanwhile does what must not wait
 * for that copy (DESIGN.md, race 14):
 *
 *   uffd-copy snapshot [TIMEOUT_S]     A: SNAPSHOT_CPU into the page;
 *   uffd-copy metadata [TIMEOUT_S]     A: GET_METADATA into the page;
 *                                      B: mmap /dev/rewind (mmap_lock held
 *                                      for writing while ->mmap runs)
 *   uffd-copy reconfigure [TIMEOUT_S]  A: SNAPSHOT_CPU; B: CONFIGURE (new
 *                                      rings while A still copies the old)
 *
 * Then this thread (the fault handler) resolves A's faults with
 * UFFDIO_COPY. When A's copy runs under a lock that ->mmap takes, B waits
 * for A with mmap_lock held, and A (and UFFDIO_COPY) wait for mmap_lock:
 * a deadlock. The work runs in a child process; the parent waits at most
 * TIMEOUT_S (default 30) seconds and prints one JSON object: completed
 * true with what A and B got, or false with the stage reached and the
 * kernel stacks of the stuck threads (the child cannot be killed then).
 */
#define _GNU_SOURCE
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "rewind-dev.h"

const char *const rewind_prog = "uffd-copy";

enum mode { MODE_SNAPSHOT, MODE_METADATA, MODE_RECONFIGURE };

/* Shared with the parent, so a timeout can tell how far the child got. */
struct shared {
	int stage;
	pid_t tid_a, tid_b;
};

/* Flags shared between threads (and with the parent): atomic accesses. */
#define SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)

static const char *const stage_names[] = {
	"setup", "A faulted", "B started", "resolving A's faults", "joining",
	"done",
};

static struct shared *sh;
static enum mode mode;
static int dev_fd;
static char *buf;
static size_t buf_len;
static long page;

static struct {
	long ret;
	int err;
	struct rewind_snapshot snap;
	struct rewind_metadata md;
	int done;
} a;

static struct {
	long ret;
	int err;
	__u32 magic;
	int done;
} b;

static void *thread_a(void *arg)
{
	(void)arg;
	SET(sh->tid_a, syscall(SYS_gettid));
	if (mode == MODE_METADATA) {
		a.md.addr = (uintptr_t)buf;
		a.md.len = buf_len;
		a.ret = ioctl(dev_fd, REWIND_IOC_GET_METADATA, &a.md);
	} else {
		a.snap.cpu = 0;
		a.snap.addr = (uintptr_t)buf;
		a.snap.len = buf_len;
		a.ret = ioctl(dev_fd, REWIND_IOC_SNAPSHOT_CPU, &a.snap);
	}
	a.err = a.ret ? errno : 0;
	SET(a.done, 1);
	return NULL;
}

static void configure(void)
{
	struct rewind_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.subbuf_size = 4096;
	cfg.num_subbufs = 4;
	xioctl(dev_fd, REWIND_IOC_CONFIGURE, &cfg, "configure");
}

static void *thread_b(void *arg)
{
	void *map;

	(void)arg;
	SET(sh->tid_b, syscall(SYS_gettid));
	if (mode == MODE_RECONFIGURE) {
		struct rewind_config cfg;

		memset(&cfg, 0, sizeof(cfg));
		cfg.subbuf_size = 8192;
		cfg.num_subbufs = 2;
		b.ret = ioctl(dev_fd, REWIND_IOC_CONFIGURE, &cfg);
		b.err = b.ret ? errno : 0;
	} else {
		map = mmap(NULL, page, PROT_READ, MAP_SHARED, dev_fd, 0);
		if (map == MAP_FAILED) {
			b.ret = -1;
			b.err = errno;
		} else {
			memcpy(&b.magic, map, sizeof(b.magic));
			munmap(map, page);
		}
	}
	SET(b.done, 1);
	return NULL;
}

/* Is thread tid asleep uninterruptibly (state D in /proc)? */
static bool blocked(pid_t tid)
{
	char path[64], line[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	p = p ? strrchr(line, ')') : NULL;
	return p && p[1] == ' ' && p[2] == 'D';
}

/* Waits for a fault of A: its page address, or 0 when none came in time. */
static __u64 wait_fault(int uffd, int timeout_ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return 0;
	if (read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return 0;
	return msg.arg.pagefault.address & ~(__u64)(page - 1);
}

/* Fills the page at addr (zeroes), which wakes A. */
static void fill(int uffd, __u64 addr)
{
	static char *zero;
	struct uffdio_copy copy;

	if (!zero)
		zero = calloc(1, page);
	copy.dst = addr;
	copy.src = (uintptr_t)zero;
	copy.len = page;
	copy.mode = 0;
	copy.copy = 0;
	if (ioctl(uffd, UFFDIO_COPY, &copy) && errno != EEXIST)
		die("UFFDIO_COPY");
}

static void child(int out)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct rewind_prepare prep;
	struct rewind_info info;
	pthread_t ta, tb;
	unsigned int faults = 0;
	bool b_blocked = false, b_first;
	cpu_set_t set;
	__u64 addr;
	int uffd, i;

	/* Nothing of the caller's stays open here: this process may hang. */
	dup2(out, STDOUT_FILENO);
	dup2(out, STDERR_FILENO);
	/* Ring 0 gets the statedump: this thread runs there. */
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
	dev_fd = dev_open(true);
	configure();
	memset(&prep, 0, sizeof(prep));
	xioctl(dev_fd, REWIND_IOC_SNAPSHOT_PREPARE, &prep, "prepare");
	get_info(dev_fd, &info);
	buf_len = info.mmap_stride;
	buf = mmap(NULL, buf_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap buffer");
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		die("userfaultfd");
	if (ioctl(uffd, UFFDIO_API, &api))
		die("UFFDIO_API");
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)buf;
	reg.range.len = buf_len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER");

	if (pthread_create(&ta, NULL, thread_a, NULL))
		die("pthread_create");
	/* A is then inside the module's copy, asleep on the missing page. */
	addr = wait_fault(uffd, 10000);
	if (!addr) {
		fprintf(stderr, "uffd-copy: A never faulted\n");
		exit(1);
	}
	faults = 1;
	SET(sh->stage, 1);
	if (pthread_create(&tb, NULL, thread_b, NULL))
		die("pthread_create");
	SET(sh->stage, 2);
	/* B either finishes or sleeps on something A holds. */
	for (i = 0; i < 500 && !GET(b.done); i++) {
		if (GET(sh->tid_b) && blocked(GET(sh->tid_b))) {
			usleep(100000);
			b_blocked = !GET(b.done);
			break;
		}
		usleep(10000);
	}
	SET(sh->stage, 3);
	b_first = GET(b.done);
	/* The fault of A that is pending, then any later ones. */
	fill(uffd, addr);
	while (!GET(a.done)) {
		addr = wait_fault(uffd, 100);
		if (addr) {
			fill(uffd, addr);
			faults++;
		}
	}
	SET(sh->stage, 4);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	SET(sh->stage, 5);
	printf("{\"completed\": true, \"a_ret\": %ld, \"a_errno\": %d, ",
	       a.ret, a.err);
	if (mode == MODE_METADATA)
		printf("\"metadata_size\": %llu, \"metadata_ok\": %s, ",
		       (unsigned long long)a.md.size,
		       a.md.size && !strncmp(buf, "/* CTF 1.8 */", 13) ?
		       "true" : "false");
	else
		printf("\"packets\": %llu, \"skipped\": %llu, \"magic_ok\": %s, ",
		       (unsigned long long)a.snap.packets,
		       (unsigned long long)a.snap.skipped,
		       a.snap.packets &&
		       *(__u32 *)buf == REWIND_PACKET_MAGIC ? "true" : "false");
	printf("\"b_ret\": %ld, \"b_errno\": %d, \"b_blocked\": %s, ",
	       b.ret, b.err, b_blocked ? "true" : "false");
	/* Did B finish while A's copy was still held? */
	printf("\"b_first\": %s, ", b_first ? "true" : "false");
	if (mode != MODE_RECONFIGURE)
		printf("\"b_magic_ok\": %s, ",
		       b.magic == REWIND_PACKET_MAGIC ? "true" : "false");
	printf("\"faults\": %u}\n", faults);
	fflush(stdout);
	exit(0);
}

static void usage(void)
{
	fprintf(stderr, "Usage: uffd-copy snapshot|metadata|reconfigure [TIMEOUT_S]\n");
	exit(2);
}

/* The kernel stack of a stuck thread, on one line. */
static void print_stack(pid_t pid, pid_t tid)
{
	char path[80], line[256];
	FILE *f;
	bool first = true;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", pid, tid);
	f = fopen(path, "r");
	printf("\"");
	while (f && fgets(line, sizeof(line), f)) {
		char *sym = strchr(line, ']');

		if (!sym)
			continue;
		sym[strcspn(sym, "\n")] = '\0';
		printf("%s%s", first ? "" : " < ", sym + 2);
		first = false;
	}
	printf("\"");
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	char result[1024];
	struct pollfd pfd;
	int fds[2], timeout_s = 30;
	ssize_t n = 0, r;
	pid_t pid;

	if (argc < 2 || argc > 3)
		usage();
	if (!strcmp(argv[1], "snapshot"))
		mode = MODE_SNAPSHOT;
	else if (!strcmp(argv[1], "metadata"))
		mode = MODE_METADATA;
	else if (!strcmp(argv[1], "reconfigure"))
		mode = MODE_RECONFIGURE;
	else
		usage();
	if (argc == 3)
		timeout_s = parse_num(argv[2]);
	page = sysconf(_SC_PAGESIZE);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || pipe(fds))
		die("setup");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(fds[0]);
		child(fds[1]);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (n < (ssize_t)sizeof(result) - 1 &&
	       poll(&pfd, 1, timeout_s * 1000) == 1) {
		r = read(fds[0], result + n, sizeof(result) - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	result[n] = '\0';
	if (n && strchr(result, '\n')) {
		int status;

		waitpid(pid, &status, 0);
		fputs(result, stdout);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	/* Timed out: the child's threads are stuck in the kernel for good. */
	printf("{\"completed\": false, \"stage\": \"%s\", \"a\": ",
	       stage_names[GET(sh->stage)]);
	print_stack(pid, GET(sh->tid_a));
	printf(", \"b\": ");
	print_stack(pid, GET(sh->tid_b));
	printf(", \"handler\": ");
	print_stack(pid, pid);
	printf("}\n");
	return 0;
}
