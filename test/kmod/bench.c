// SPDX-License-Identifier: GPL-2.0-only
/*
 * Workloads for the kmod tests: "getppid N" calls getppid N times;
 * "pingpong N" bounces a byte N times between two processes through two
 * pipes (pin it to one CPU with taskset for a scheduling workload);
 * "tcp PORT" sends one segment each way over a loopback TCP connection.
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
		int one = 1, srv, cl, conn;
		char buf[8];

		a.sin_port = htons(atoi(argv[2]));
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		srv = socket(AF_INET, SOCK_STREAM, 0);
		cl = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(srv, (struct sockaddr *)&a, sizeof(a)) || listen(srv, 1) ||
		    connect(cl, (struct sockaddr *)&a, sizeof(a)))
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
