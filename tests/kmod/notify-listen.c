// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * notify-listen PATH SECONDS: what systemd's manager hears of a
 * Type=notify service, for tests/kmod/vm-adapter.sh.  Binds a unix
 * datagram socket at PATH (a NOTIFY_SOCKET for the adapter) and prints
 * each message's lines to stdout as they come; exits 0 after a message
 * holding STOPPING=1, 1 when SECONDS pass without a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { 0 };
	char buf[4096];
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: notify-listen PATH SECONDS\n");
		return 2;
	}
	tv.tv_sec = atoi(argv[2]);
	strcpy(addr.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("notify-listen");
		return 1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0) {
			perror("notify-listen: recv");
			return 1;
		}
		buf[n] = 0;
		printf("%s\n", buf);
		fflush(stdout);
		if (strstr(buf, "STOPPING=1"))
			return 0;
	}
}
