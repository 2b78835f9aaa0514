// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes /dev/rewind: random ioctls (commands around the magic, random
 * directions and sizes, NULL, kernel, unmapped, unaligned and short
 * pointers) and random mmap offsets, lengths and protections.
 * usage: fuzz IOCTLS MMAPS [SEED]; prints a JSON summary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uapi/rewind.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static unsigned char *page_pair;	/* one page, then a PROT_NONE page */

static void *pick_arg(long page)
{
	static const uintptr_t kernel[] = {
		0xffffffff81000000ul, 0xffff888000000000ul,
		0xffffc90000000000ul, 0xfffffffffffff000ul,
	};
	size_t off;

	switch (rnd() % 8) {
	case 0:
		return NULL;
	case 1:
		return (void *)kernel[rnd() % 4];
	case 2:
		return (void *)(uintptr_t)rnd();
	case 3:	/* ends just before the guard page */
		off = page - (rnd() % 200);
		return page_pair + off;
	default:	/* a valid buffer full of random bytes, maybe unaligned */
		for (off = 0; off < (size_t)page; off += 8) {
			uint64_t v = rnd();

			if (rnd() % 4 == 0)
				v &= 0xff;	/* small numbers too */
			memcpy(page_pair + off, &v, 8);
		}
		return page_pair + (rnd() % 4 == 0 ? rnd() % 64 : 0);
	}
}

int main(int argc, char **argv)
{
	static const unsigned int sizes[] = {
		0, 1, 4, 8, 16, 32, 64, 96, 128, 136, 144, 256, 4096,
	};
	long page = sysconf(_SC_PAGESIZE);
	unsigned long n_ioctl, n_mmap, i;
	unsigned long ok = 0, enotty = 0, einval = 0, efault = 0, other = 0;
	unsigned long mm_ok = 0, mm_fail = 0;
	int fd, ro;

	if (argc < 3) {
		fprintf(stderr, "usage: fuzz IOCTLS MMAPS [SEED]\n");
		return 2;
	}
	n_ioctl = strtoul(argv[1], NULL, 0);
	n_mmap = strtoul(argv[2], NULL, 0);
	rng_state = argc > 3 ? strtoull(argv[3], NULL, 0) : 0x9e3779b97f4a7c15ull;
	if (!rng_state)
		rng_state = 1;
	page_pair = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page_pair == MAP_FAILED || mprotect(page_pair + page, page, PROT_NONE))
		return perror("mmap"), 1;
	fd = open(REWIND_DEVICE, O_RDWR);
	ro = open(REWIND_DEVICE, O_RDONLY);
	if (fd < 0 || ro < 0)
		return perror(REWIND_DEVICE), 1;
	for (i = 0; i < n_ioctl; i++) {
		unsigned int type = REWIND_IOC_MAGIC, nr, dir, size;
		unsigned long cmd;
		long r;

		if (rnd() % 10 == 0)
			type = (REWIND_IOC_MAGIC + (rnd() % 5) - 2) & 0xff;
		nr = rnd() % 4 ? rnd() % 16 : rnd() % 256;
		dir = rnd() % 4;
		size = rnd() % 3 ? sizes[rnd() % (sizeof(sizes) / sizeof(sizes[0]))]
				 : rnd() % 16384;
		cmd = rnd() % 50 ? _IOC(dir, type, nr, size) : (unsigned long)rnd();
		/* Ops that would run for minutes on valid input are capped
		 * by the kernel itself; nothing is filtered here. */
		r = ioctl(rnd() % 5 ? fd : ro, cmd, pick_arg(page));
		if (r >= 0)
			ok++;
		else if (errno == ENOTTY)
			enotty++;
		else if (errno == EINVAL)
			einval++;
		else if (errno == EFAULT)
			efault++;
		else
			other++;
	}
	for (i = 0; i < n_mmap; i++) {
		static const int prots[] = {
			PROT_READ, PROT_WRITE, PROT_READ | PROT_WRITE,
			PROT_READ | PROT_EXEC, PROT_NONE,
		};
		size_t len = rnd() % 4 ? (rnd() % 8 + 1) * page : rnd() % (1 << 24) + 1;
		off_t off = rnd() % 3 ? (off_t)(rnd() % 12) * page
				      : (off_t)(rnd() & 0x7ffffffffff000ll);
		int prot = prots[rnd() % 5];
		int flags = rnd() % 2 ? MAP_SHARED : MAP_PRIVATE;
		unsigned char *p = mmap(NULL, len, prot, flags,
					rnd() % 2 ? fd : ro, off);

		if (p == MAP_FAILED) {
			mm_fail++;
			continue;
		}
		mm_ok++;
		if (prot & PROT_READ) {
			volatile unsigned char sink = 0;
			size_t o;

			for (o = 0; o < len; o += page)
				sink ^= p[o];
			(void)sink;
		}
		if (rnd() % 4 == 0)	/* asking for write later must fail */
			mprotect(p, len, PROT_READ | PROT_WRITE);
		munmap(p, len);
	}
	close(ro);
	close(fd);
	printf("{\"ioctls\":%lu,\"ok\":%lu,\"enotty\":%lu,\"einval\":%lu,"
	       "\"efault\":%lu,\"other\":%lu,\"mmaps\":%lu,\"mmap_ok\":%lu,"
	       "\"mmap_failed\":%lu}\n", n_ioctl, ok, enotty, einval, efault,
	       other, n_mmap, mm_ok, mm_fail);
	return 0;
}
