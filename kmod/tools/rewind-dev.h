/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The /dev/rewind plumbing that rewindctl and the test drivers of test/kmod
 * share: open, ioctl or die, info, metadata, numbers with k/M suffixes, and
 * a trace directory written in the layout rewind/format.h names.
 *
 * Header-only (static inline) so each program stays one source file.
 * Errors print "PROG: what: reason" and exit 1; usage errors exit 2.
 */
#ifndef REWIND_TOOLS_DEV_H
#define REWIND_TOOLS_DEV_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "rewind/format.h"
#include "uapi/rewind.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The program's name in messages; each program defines it. */
extern const char *const rewind_prog;

static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", rewind_prog, what, strerror(errno));
	exit(1);
}

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Decimal, 0x hex or 0 octal, with an optional k or M (binary) suffix. */
static inline unsigned long long parse_num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (*end == 'k' || *end == 'K') {
		v <<= 10;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		v <<= 20;
		end++;
	}
	if (*end || !*s) {
		fprintf(stderr, "%s: bad number '%s'\n", rewind_prog, s);
		exit(2);
	}
	return v;
}

/*
 * Observers open read-only and never wait. The device admits one
 * controller (read-write opener): wait up to 2 s for another to close.
 */
static inline int dev_open(bool control)
{
	int i, fd = -1;

	if (!control) {
		fd = open(REWIND_DEVICE, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open " REWIND_DEVICE);
		return fd;
	}
	for (i = 0; i < 200; i++) {
		fd = open(REWIND_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != EBUSY)
			break;
		usleep(10000);
	}
	if (fd < 0)
		die("open " REWIND_DEVICE);
	return fd;
}

static inline void xioctl(int fd, unsigned long cmd, void *arg,
			  const char *what)
{
	if (ioctl(fd, cmd, arg) < 0)
		die(what);
}

static inline void get_info(int fd, struct rewind_info *info)
{
	memset(info, 0, sizeof(*info));
	xioctl(fd, REWIND_IOC_GET_INFO, info, "GET_INFO");
}

/* The TSDL text, NUL-terminated; *len excludes the NUL. free() it. */
static inline char *get_metadata(int fd, size_t *len, bool remeasure)
{
	struct rewind_metadata md;
	char *buf;

	memset(&md, 0, sizeof(md));
	md.flags = remeasure ? REWIND_METADATA_REMEASURE : 0;
	xioctl(fd, REWIND_IOC_GET_METADATA, &md, "GET_METADATA");
	buf = malloc(md.size + 1);
	if (!buf)
		die("malloc");
	md.addr = (unsigned long)buf;
	md.len = md.size;
	md.flags = 0;
	xioctl(fd, REWIND_IOC_GET_METADATA, &md, "GET_METADATA");
	buf[md.size] = '\0';
	*len = md.size;
	return buf;
}

static inline void write_file(const char *dir, const char *name,
			      const void *buf, size_t len)
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

/* One CPU's packets, as the snapshot ioctl copied them. */
static inline void write_stream(const char *dir, unsigned int cpu,
				const void *buf, size_t len)
{
	char name[64];

	snprintf(name, sizeof(name), REWIND_TRACE_STREAM_PREFIX "%u", cpu);
	write_file(dir, name, buf, len);
}

/* The session's metadata, completing a trace directory. */
static inline void write_metadata(int fd, const char *dir)
{
	size_t len;
	char *md = get_metadata(fd, &len, false);

	write_file(dir, REWIND_TRACE_METADATA, md, len);
	free(md);
}

#endif /* REWIND_TOOLS_DEV_H */
