// SPDX-License-Identifier: GPL-2.0-only
/*
 * workload: the workload generator of the kmod tests and bench/kmod.sh,
 * nothing measured here. "getppid N" calls getppid N times;
 * "pingpong N" bounces a byte N times between two processes through two
 * pipes (pin it to one CPU with taskset for a scheduling workload);
 * "tcp PORT" sends one segment each way over a loopback TCP connection
 * (127.0.0.1), "tcp6 PORT" the same over IPv6 (::1).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* One segment each way over a loopback connection to and from address a. */
static int tcp_pingpong(const struct sockaddr *a, socklen_t len)
{
	int one = 1, srv, cl, conn;
	char buf[8];

	srv = socket(a->sa_family, SOCK_STREAM, 0);
	cl = socket(a->sa_family, SOCK_STREAM, 0);
	if (srv < 0 || cl < 0)
		return 1;
	setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(srv, a, len) || listen(srv, 1) || connect(cl, a, len))
		return 1;
	conn = accept(srv, NULL, NULL);
	if (conn < 0 || write(cl, "ping", 4) != 4 ||
	    read(conn, buf, 4) != 4 || write(conn, "pong", 4) != 4 ||
	    read(cl, buf, 4) != 4)
		return 1;
	close(cl);
	close(conn);
	close(srv);
	return 0;
}

int main(int argc, char **argv)
{
	long i, n = argc > 2 ? atol(argv[2]) : 100000;
	int ab[2], ba[2];
	char c = 0;

	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "getppid")) {
		for (i = 0; i < n; i++)
			syscall(SYS_getppid);
		return 0;
	}
	if (!strcmp(argv[1], "tcp")) {
		struct sockaddr_in a = { .sin_family = AF_INET };

		a.sin_port = htons(atoi(argv[2]));
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return tcp_pingpong((struct sockaddr *)&a, sizeof(a));
	}
	if (!strcmp(argv[1], "tcp6")) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6 };

		a.sin6_port = htons(atoi(argv[2]));
		a.sin6_addr = in6addr_loopback;
		return tcp_pingpong((struct sockaddr *)&a, sizeof(a));
	}
	if (strcmp(argv[1], "pingpong") || pipe(ab) || pipe(ba))
		return 2;
	if (fork() == 0) {
		for (i = 0; i < n; i++)
			if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	for (i = 0; i < n; i++)
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			return 1;
	wait(NULL);
	return 0;
}
