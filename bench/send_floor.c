/*
 * send_floor.c: the least time this machine's kernel needs to hand one
 * message to each of N loopback TCP connections (issue 6).
 *
 * The fan-out target asks for one alert at every one of N consoles within
 * 60 ms. Part of that is not the broker's to spend: every console is its
 * own TCP connection, so every delivery is a send() through the loopback,
 * which also runs the receiver's TCP input and wakes it. This program
 * measures that part alone, so the bench can print the floor next to the
 * broker's figure: no WebSocket, no JSON, no database.
 *
 * One process (the sender) accepts N connections from a second (the
 * reader), which connects them from 127.0.1.1. Each round the sender
 * writes one message of --bytes to every connection, with TCP_NODELAY and
 * non-blocking sockets as the broker's are, from one thread or split over
 * two. The reader waits in epoll and reads them as the load generator
 * does; when it has every byte it reports the time of its last read
 * (CLOCK_MONOTONIC is the same in both processes). A round's time is from
 * the first send to that last read.
 *
 *   send-floor --n N [--bytes B] [--rounds R]
 *
 * Prints "key value" lines, like the load generator:
 *   floor.n, floor.bytes, floor.rounds,
 *   floor.one_thread_p50_ms, floor.one_thread_p99_ms, floor.one_thread_send_p50_ms,
 *   floor.two_threads_p50_ms, floor.two_threads_p99_ms, floor.two_threads_send_p50_ms
 * Bounded: at most 19,000 connections and 100 rounds per mode, 127.0.0.1
 * only, and a 5 s limit on every wait.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_N 19000
#define MAX_ROUNDS 100
#define WAIT_MS 5000
#define GAP_US 100000 /* between rounds: the reader asleep, delayed ACKs done */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("send-floor: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Reads exactly len bytes from fd within WAIT_MS, or dies. */
static void read_exactly(int fd, void *buf, size_t len, const char *what)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, WAIT_MS) <= 0)
			die("no %s within %d ms", what, WAIT_MS);
		r = read(fd, (char *)buf + got, len - got);
		if (r <= 0)
			die("%s: the other process is gone", what);
		got += (size_t)r;
	}
}

static void write_all(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		die("pipe write: %s", strerror(errno));
}

/* ---- the reader (child process) ------------------------------------------ */

/* Connects n sockets to the sender's port, then reads rounds of n * bytes
 * forever, writing the time of each round's last read to report_fd. Ends
 * when the sender closes the connections. */
static void reader(int n, int bytes, int port, int report_fd)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000101) };
	static char buf[65536];
	struct epoll_event ev[512];
	int ep = epoll_create1(0), open_conns = n;
	int64_t want = (int64_t)n * bytes, got = 0;

	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct epoll_event e = { .events = EPOLLIN };

		if (fd < 0)
			die("socket (connection %d): %s", i, strerror(errno));
		if (bind(fd, (struct sockaddr *)&from, sizeof from) < 0 ||
		    connect(fd, (struct sockaddr *)&to, sizeof to) < 0)
			die("connect (connection %d): %s", i, strerror(errno));
		fcntl(fd, F_SETFL, O_NONBLOCK);
		e.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
			die("epoll_ctl: %s", strerror(errno));
	}
	while (open_conns > 0) {
		int k = epoll_wait(ep, ev, 512, WAIT_MS * 4);

		if (k <= 0)
			die("reader: nothing to read for %d ms", WAIT_MS * 4);
		for (int j = 0; j < k; j++) {
			ssize_t r = read(ev[j].data.fd, buf, sizeof buf);

			if (r > 0) {
				got += r;
			} else if (r == 0 || errno != EAGAIN) {
				close(ev[j].data.fd);
				open_conns--;
			}
		}
		if (got >= want) {
			int64_t t = now_ns();
			write_all(report_fd, &t, sizeof t);
			got -= want;
		}
	}
}

/* ---- the sender ------------------------------------------------------------- */

struct slice {
	const int *fds;
	int from, to;
	const char *msg;
	int bytes;
	long short_writes;
};

/* One send() per connection of the slice, as the broker's fan-out does. */
static void *send_slice(void *arg)
{
	struct slice *s = arg;

	for (int i = s->from; i < s->to; i++)
		if (send(s->fds[i], s->msg, (size_t)s->bytes, MSG_NOSIGNAL) != s->bytes)
			s->short_writes++;
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double pct_ms(int64_t *sorted, int n, double q)
{
	int i = (int)(q * (n - 1) + 0.5);
	return sorted[i] / 1e6;
}

/* Runs `rounds` rounds with `threads` sending threads; prints its keys. */
static void measure(const char *name, int threads, const int *fds, int n, const char *msg,
		    int bytes, int rounds, int report_fd)
{
	int64_t done[MAX_ROUNDS], sent[MAX_ROUNDS];
	long short_writes = 0;

	for (int r = 0; r < rounds; r++) {
		struct slice s[2] = {
			{ fds, 0, threads == 2 ? n / 2 : n, msg, bytes, 0 },
			{ fds, n / 2, n, msg, bytes, 0 },
		};
		pthread_t th;
		int64_t t0, t_last;

		usleep(GAP_US);
		t0 = now_ns();
		if (threads == 2 && pthread_create(&th, NULL, send_slice, &s[1]) != 0)
			die("pthread_create failed");
		send_slice(&s[0]);
		if (threads == 2)
			pthread_join(th, NULL);
		sent[r] = now_ns() - t0;
		read_exactly(report_fd, &t_last, sizeof t_last, "report from the reader");
		done[r] = t_last - t0;
		short_writes += s[0].short_writes + s[1].short_writes;
	}
	if (short_writes)
		die("%ld sends were short (socket buffers full?)", short_writes);
	qsort(done, (size_t)rounds, sizeof *done, cmp_i64);
	qsort(sent, (size_t)rounds, sizeof *sent, cmp_i64);
	printf("floor.%s_p50_ms %.1f\n", name, pct_ms(done, rounds, 0.50));
	printf("floor.%s_p99_ms %.1f\n", name, pct_ms(done, rounds, 0.99));
	printf("floor.%s_send_p50_ms %.1f\n", name, pct_ms(sent, rounds, 0.50));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int n = 0, bytes = 400, rounds = 20, one = 1, ls, report[2], *fds;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	char *msg;
	pid_t pid;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--n"))
			n = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--bytes"))
			bytes = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rounds"))
			rounds = atoi(argv[i + 1]);
		else
			die("unknown option %s", argv[i]);
	}
	if (argc % 2 == 0 || n < 2 || n > MAX_N)
		die("usage: send-floor --n N (2 to %d) [--bytes B (400)] [--rounds R (20)]", MAX_N);
	if (bytes < 1 || bytes > 65536 || rounds < 1 || rounds > MAX_ROUNDS)
		die("--bytes is 1 to 65536 and --rounds 1 to %d", MAX_ROUNDS);
	signal(SIGPIPE, SIG_IGN);

	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0)
		die("listen on 127.0.0.1: %s", strerror(errno));
	if (pipe(report) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(ls);
		close(report[0]);
		reader(n, bytes, ntohs(a.sin_port), report[1]);
		_exit(0);
	}
	close(report[1]);

	fds = calloc((size_t)n, sizeof *fds);
	msg = malloc((size_t)bytes);
	if (!fds || !msg)
		die("out of memory");
	memset(msg, 'x', (size_t)bytes);
	for (int i = 0; i < n; i++) {
		struct pollfd p = { .fd = ls, .events = POLLIN };

		if (poll(&p, 1, WAIT_MS) <= 0 || (fds[i] = accept(ls, NULL, NULL)) < 0)
			die("accepted %d of %d connections", i, n);
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
	}
	printf("floor.n %d\nfloor.bytes %d\nfloor.rounds %d\n", n, bytes, rounds);
	measure("one_thread", 1, fds, n, msg, bytes, rounds, report[0]);
	measure("two_threads", 2, fds, n, msg, bytes, rounds, report[0]);

	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(ls);
	if (waitpid(pid, NULL, 0) < 0)
		die("waitpid: %s", strerror(errno));
	free(fds);
	free(msg);
	return 0;
}
