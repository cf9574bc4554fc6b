/* loadgen.c: the load generator of `make bench` (bench/run.sh runs it).
 *
 *   loadgen tocsin --port P --n N --users FILE --key FILE --controller UID:ORG:NAME[:t|f]
 *                  --orgs A,B,C --broker-pid PID --db URL --out FILE [options]
 *                  [--port2 P2]
 *   loadgen mqtt   --port P --n N --broker-pid PID --out FILE [options]
 *
 * One process, one epoll loop, non-blocking sockets, its own minimal
 * WebSocket client (HTTP upgrade, masked client frames, unmasked server
 * frames, continuation frames, ping/pong, close codes). Every buffer is
 * allocated once at start; nothing is allocated per message. Each alert
 * carries its publisher's send time (CLOCK_REALTIME, microseconds), and the
 * receiver computes the latency from it on receipt, reading only the fields
 * it needs (memmem/strtoll, no JSON library).
 *
 * "tocsin": N site consoles (tokens minted here with the broker's key) and
 * one controller; scenarios: idle memory, fan-out (solo, paced, burst),
 * acknowledgements (audit polled through libpq), reconnect storm. With
 * --port2 (two brokers on one database, issue 20) every other console
 * connects to the second node and the controller stays on the first: each
 * fan-out phase also reports the latency of each node's consoles apart
 * ("local": the controller's node; "cross": the other, reached through
 * PostgreSQL's NOTIFY and a catch-up read).
 * "mqtt": the same fan-out and idle memory against an MQTT 3.1.1 broker
 * over WebSocket (subprotocol "mqtt", QoS 0, one topic).
 *
 * --tls: every connection speaks TLS 1.3 first (OpenSSL, no certificate
 * check: the load client's CPU goes to the handshake, not to chain
 * building), keeps the last session ticket the server sent it, and offers
 * it when it reconnects in the storm (--tls-resume 0: never). With
 * --restart-cmd CMD, after the storm the broker is restarted (CMD prints
 * the new broker's pid) and every console reconnects again: the
 * storm after a restart, "restart" in the results.
 *
 * Results go to --out as "key value" lines, written as each scenario ends,
 * so that a run cut short still leaves what it measured. bench/report.c
 * turns them into the table and results.json. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_CONNS 19000
#define RX_CAP 8192         /* per connection: raw bytes from the socket */
#define ASM_CAP 2048        /* per connection: a fragmented message */
#define BOARD_SITES 65536   /* site ids the controller's board keeps track of */
#define CARRY_CAP 2048      /* per connection: a partial MQTT packet */
#define TX_CAP 2048         /* per console */
#define TX_CAP_CTRL (512 * 1024)
#define N_SRC_ADDR 8        /* 127.0.0.2 ... 127.0.0.9 */
#define CONNECT_WINDOW 1000 /* handshakes in flight during the first connect */
#define HANDSHAKE_TIMEOUT_US (10 * 1000000LL) /* TCP connect + HTTP upgrade */
#define WELCOME_TIMEOUT_US (60 * 1000000LL)   /* hello sent, waiting for welcome */
/* A console's reconnect back-off, as web-client/js/session.js has it: a
 * random wait below a ceiling of 500 ms doubling per failed attempt up to
 * 15 s ("full jitter"); a console that was signed in comes back after a
 * wait below 500 ms. */
#define BACKOFF_BASE_US 500000LL
#define BACKOFF_CAP_US (15 * 1000000LL)
#define DB_POLL_US 10000
#define TOPIC "tocsin/bench"

enum proto { P_TOCSIN, P_MQTT };
enum role { R_CONSOLE, R_CONTROLLER };
enum state { S_IDLE, S_CONNECTING, S_TLS, S_UPGRADE, S_LOGIN, S_READY, S_WAIT_RETRY, S_DEAD };

struct conn {
	int fd;
	uint8_t st, role, asm_on, asm_op, asm_bad;
	uint16_t close_code;
	uint32_t idx, user, gen;
	uint32_t rx_len, asm_len, carry_len, tx_len, tx_off, tx_cap;
	uint64_t skip;         /* payload bytes of an over-size frame still to drop */
	int64_t t_start;       /* this connection attempt began */
	int64_t t_retry;       /* S_WAIT_RETRY: when to try again */
	uint32_t attempt;      /* failed attempts since it was last signed in (back-off) */
	int64_t t_ack_sent;    /* the last ack frame went out */
	int64_t ack_rtt;       /* last ack sent -> its acked reply */
	uint32_t ack_next;     /* acks queued so far in the ack scenario */
	uint32_t acked;        /* acked replies */
	int64_t cursor;        /* highest stream position (seq) received */
	uint8_t resumed;       /* resume_done seen since the last connect */
	uint8_t status_ok;     /* status_ok received */
	int64_t status_rtt;
	unsigned char *rx, *asmb, *carry, *tx;
	uint64_t *seen;        /* bitmap: alert indexes received */
	SSL *ssl;              /* --tls: this attempt's TLS connection */
	SSL_SESSION *sess;     /* --tls: the last ticket the server sent (ours) */
};

struct phase {
	const char *name;
	int first, count;
	double rate;           /* alerts/s; 0: as fast as possible; <0: solo */
	uint64_t expected_per_alert;
	uint64_t got, dups;
	uint64_t got_at_report; /* what had arrived when the phase was reported */
	size_t frame_bytes;    /* the first alert frame on the wire (header and payload) */
	uint32_t *lat;         /* publish-to-receipt, microseconds */
	size_t nlat;
	uint32_t *lat_node[2]; /* the same, by node (--port2): local, cross */
	size_t nlat_node[2];
	int64_t t_first_pub, t_last_pub, t_last_rx;
};

static struct {
	enum proto proto;
	int port, n, nconns;   /* nconns = n + 1 (the controller / publisher) */
	int port2;             /* the second node's, or 0: every other console there */
	int ep;
	struct conn *conns;
	struct conn *ctrl;
	struct in_addr src[N_SRC_ADDR];
	uint64_t rnd;

	/* tocsin identities */
	int n_users;
	int64_t *u_id, *u_site, *u_org;
	char (*u_name)[65];
	char (*tok)[512];
	char ctrl_tok[512];
	char epoch[72];        /* the stream's epoch, from welcome ("" if none) */
	int resume_mode;       /* hello carries resume {epoch, seq} */
	int n_resumed;
	uint64_t resume_status[4]; /* ok, pending, reload, none/other */
	unsigned char key[32];
	char orgs_json[128];
	int alert_ttl_s;       /* the alerts' expiry, seconds after their publish */
	int64_t t_last_any_pub; /* the last publish sent, of any phase */

	/* alerts */
	int n_alerts, words;
	int64_t *t_pub, *t_last, *t_confirm, *alert_id;
	uint32_t *cnt;
	struct phase phases[4];
	int n_phases;
	int n_published, n_tallies, n_pub_errors;

	/* counters */
	int n_ready, n_started, inflight, n_waiting_retry;
	int connect_window;
	int allow_retry;
	uint64_t retries, drops, auth_failures, errors, oversize, foreign, closes_4409;
	uint64_t acked, acked_already, ack_errors;
	int first_errors;
	int64_t t_last_ready, t_last_resumed;
	uint32_t close_codes[8];
	uint16_t close_code_val[8];

	/* status scenario; the controller watches the live board meanwhile */
	int status_phase;
	uint64_t status_ok, status_errors, status_unknown;
	int64_t t_last_status_ok;
	int board_wanted, board_ready;
	uint64_t board_updates;
	int64_t t_last_board_update;
	int32_t *board_people; /* BOARD_SITES: people of the last update heard per site, -1 none */

	/* ack scenario: alert ids to acknowledge */
	int ack_k;
	int64_t ack_ids[64];

	/* database (tocsin) */
	PGconn *db;
	int db_busy;
	int64_t db_sent_at, db_next_poll, db_result;
	int db_have_result;
	int64_t db_min_id;

	/* TLS */
	SSL_CTX *tls;          /* NULL: plain */
	int tls_resume;        /* offer the kept ticket on reconnect */
	uint64_t tls_full, tls_resumed; /* handshakes, by kind */

	/* results */
	FILE *out;
	int broker_pid, pg_pid;
	int64_t t_begin;
} G;

/* ------------------------------------------------------------------------ */

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t rnd(void)
{
	G.rnd ^= G.rnd << 13;
	G.rnd ^= G.rnd >> 7;
	G.rnd ^= G.rnd << 17;
	return G.rnd;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen [%7.2fs] ", (now_us() - G.t_begin) / 1e6);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static void result(const char *key, const char *fmt, ...)
{
	va_list ap;
	fprintf(G.out, "%s ", key);
	va_start(ap, fmt);
	vfprintf(G.out, fmt, ap);
	va_end(ap);
	fputc('\n', G.out);
	fflush(G.out);
}

static void resultf(const char *prefix, const char *key, double v)
{
	char k[128];
	snprintf(k, sizeof k, "%s.%s", prefix, key);
	result(k, "%.3f", v);
}

static void resulti(const char *prefix, const char *key, long long v)
{
	char k[128];
	snprintf(k, sizeof k, "%s.%s", prefix, key);
	result(k, "%lld", v);
}

/* ---- /proc: resident memory and CPU time ------------------------------- */

static long rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6)) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* utime + stime of a process, seconds. */
static double proc_cpu_s(int pid)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;
	FILE *f;
	char *p;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')))
		return -1;
	/* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* Busy CPU time of the whole machine (all cores), seconds. */
static double machine_busy_s(void)
{
	unsigned long long v[10] = { 0 }, total = 0;
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return -1;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) < 8) {
		fclose(f);
		return -1;
	}
	fclose(f);
	for (int i = 0; i < 8; i++)
		total += v[i];
	return (double)(total - v[3] - v[4]) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU of the PostgreSQL server: the postmaster and its children. */
static double pg_cpu_s(void)
{
	DIR *d;
	struct dirent *e;
	double sum = 0;

	if (G.pg_pid <= 0 || !(d = opendir("/proc")))
		return NAN;
	while ((e = readdir(d))) {
		char path[64], buf[512], *p;
		int pid = atoi(e->d_name), ppid = 0;
		FILE *f;
		size_t n;
		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
		if (!(f = fopen(path, "r")))
			continue;
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		if (!(p = strrchr(buf, ')')) || sscanf(p + 2, "%*c %d", &ppid) != 1)
			continue;
		if (pid == G.pg_pid || ppid == G.pg_pid) {
			double v = proc_cpu_s(pid);
			if (v > 0)
				sum += v;
		}
	}
	closedir(d);
	return sum;
}

struct cpu_mark { int64_t t; double broker, self, machine, pg; };

static struct cpu_mark cpu_mark(void)
{
	struct cpu_mark m = { now_us(), proc_cpu_s(G.broker_pid), self_cpu_s(), machine_busy_s(),
			      pg_cpu_s() };
	return m;
}

static void cpu_report(const char *prefix, struct cpu_mark a)
{
	struct cpu_mark b = cpu_mark();
	double wall = (b.t - a.t) / 1e6;
	resultf(prefix, "wall_s", wall);
	resultf(prefix, "cpu_broker_s", b.broker - a.broker);
	resultf(prefix, "cpu_loadgen_s", b.self - a.self);
	resultf(prefix, "cpu_other_s", (b.machine - a.machine) - (b.broker - a.broker) - (b.self - a.self));
	if (!isnan(a.pg)) {
		resultf(prefix, "cpu_pg_s", b.pg - a.pg);
		/* busy CPU of neither: kernel work not charged to a process, other programs */
		resultf(prefix, "cpu_rest_s", (b.machine - a.machine) - (b.broker - a.broker) -
						  (b.self - a.self) - (b.pg - a.pg));
	}
}

/* ---- statistics --------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_u32(const uint32_t *sorted, size_t n, double q)
{
	size_t i;
	if (!n)
		return NAN;
	i = (size_t)ceil(q * (double)n);
	if (i > 0)
		i--;
	if (i >= n)
		i = n - 1;
	return sorted[i];
}

static double pct_i64(const int64_t *sorted, size_t n, double q)
{
	size_t i;
	if (!n)
		return NAN;
	i = (size_t)ceil(q * (double)n);
	if (i > 0)
		i--;
	if (i >= n)
		i = n - 1;
	return (double)sorted[i];
}

/* ---- sockets and WebSocket framing ------------------------------------- */

static void conn_fail(struct conn *c, const char *why);

/* SSL_read/SSL_write's result as recv/send's: bytes, 0 at EOF, or -1 with
 * errno (EAGAIN when OpenSSL waits for the socket). */
static ssize_t tls_result(struct conn *c, int n)
{
	int e;

	if (n > 0)
		return n;
	e = SSL_get_error(c->ssl, n);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = e == SSL_ERROR_SYSCALL && errno ? errno : EPROTO;
	return -1;
}

static ssize_t conn_send(struct conn *c, const void *p, size_t len)
{
	if (c->ssl)
		return tls_result(c, SSL_write(c->ssl, p, (int)len));
	return send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static ssize_t conn_recv(struct conn *c, void *p, size_t len)
{
	if (c->ssl)
		return tls_result(c, SSL_read(c->ssl, p, (int)len));
	return recv(c->fd, p, len, 0);
}

static int conn_flush(struct conn *c)
{
	while (c->tx_off < c->tx_len) {
		ssize_t n = conn_send(c, c->tx + c->tx_off, c->tx_len - c->tx_off);
		if (n > 0) {
			c->tx_off += (uint32_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0; /* EPOLLOUT (edge) tells us when to go on */
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
	c->tx_off = c->tx_len = 0;
	return 1;
}

static uint32_t tx_room(struct conn *c)
{
	if (c->tx_off && c->tx_off == c->tx_len)
		c->tx_off = c->tx_len = 0;
	if (c->tx_off) {
		memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
		c->tx_len -= c->tx_off;
		c->tx_off = 0;
	}
	return c->tx_cap - c->tx_len;
}

static int tx_raw(struct conn *c, const void *data, size_t len)
{
	if (tx_room(c) < len)
		return -1;
	memcpy(c->tx + c->tx_len, data, len);
	c->tx_len += (uint32_t)len;
	return 0;
}

/* Queues one masked frame; -1 when it does not fit (caller retries later). */
static int ws_send(struct conn *c, int opcode, const void *data, size_t len)
{
	size_t hdr = 6 + (len < 126 ? 0 : len < 65536 ? 2 : 8);
	const unsigned char *d = data;
	unsigned char *p, *mask;
	uint32_t key;

	if (tx_room(c) < hdr + len)
		return -1;
	p = c->tx + c->tx_len;
	*p++ = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		*p++ = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		*p++ = 0x80 | 126;
		*p++ = (unsigned char)(len >> 8);
		*p++ = (unsigned char)len;
	} else {
		*p++ = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			*p++ = (unsigned char)(len >> (8 * i));
	}
	key = (uint32_t)rnd();
	memcpy(p, &key, 4);
	mask = p;
	p += 4;
	for (size_t i = 0; i < len; i++)
		p[i] = d[i] ^ mask[i & 3];
	c->tx_len += (uint32_t)(hdr + len);
	return 0;
}

/* 1 for a console of the second node (--port2): every other one. */
static int on_node2(const struct conn *c)
{
	return G.port2 && c != G.ctrl && c->idx % 2;
}

static void conn_start(struct conn *c)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
	struct epoll_event ev;
	int one = 1, fd;

	c->rx_len = c->asm_len = c->carry_len = c->tx_len = c->tx_off = 0;
	c->asm_on = c->asm_bad = 0;
	c->skip = 0;
	c->close_code = 0;
	c->t_start = now_us();
	c->gen++;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	src.sin_addr = G.src[c->idx % N_SRC_ADDR];
	if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0)
		die("bind %s: %s", inet_ntoa(src.sin_addr), strerror(errno));
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons((uint16_t)(on_node2(c) ? G.port2 : G.port));
	c->fd = fd;
	c->st = S_CONNECTING;
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = c->idx | (uint64_t)c->gen << 32; /* stale events are told apart */
	if (epoll_ctl(G.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
		conn_fail(c, strerror(errno));
}

/* Closes the socket (rst: at once, RST) and drops the TLS connection
 * without a close_notify, as a dropped network path would; the session
 * stays resumable (OpenSSL marks a session of a connection freed without
 * a shutdown as not resumable, which no browser does). */
static void conn_close(struct conn *c, int rst)
{
	struct linger lg = { 1, 0 };

	if (c->ssl) {
		SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd < 0)
		return;
	if (rst)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(c->fd);
	c->fd = -1;
}

/* OpenSSL's new-session callback: the ticket this connection just got
 * replaces the one kept (1: the reference is ours). */
static int tls_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct conn *c = SSL_get_app_data(ssl);

	if (!c)
		return 0;
	if (c->sess)
		SSL_SESSION_free(c->sess);
	c->sess = sess;
	return 1;
}

static void tls_init(void)
{
	G.tls = SSL_CTX_new(TLS_client_method());
	if (!G.tls || SSL_CTX_set_min_proto_version(G.tls, TLS1_3_VERSION) != 1)
		die("cannot make the TLS client context");
	SSL_CTX_set_verify(G.tls, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(G.tls, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(G.tls, tls_new_session);
	/* tx moves within its buffer (tx_room) between partial writes */
	SSL_CTX_set_mode(G.tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_protos(G.tls, (const unsigned char *)"\x08http/1.1", 9);
}

static void send_upgrade(struct conn *c);

/* Steps the TLS handshake; on its end, the HTTP upgrade. */
static void tls_step(struct conn *c)
{
	int r = SSL_connect(c->ssl);

	if (r != 1) {
		if (tls_result(c, r) < 0 && errno == EAGAIN)
			return;
		conn_fail(c, "TLS handshake");
		return;
	}
	if (SSL_session_reused(c->ssl))
		G.tls_resumed++;
	else
		G.tls_full++;
	send_upgrade(c);
	if (conn_flush(c) < 0)
		conn_fail(c, "send");
}

/* The TCP connection is up: TLS first when asked. */
static void tls_begin(struct conn *c)
{
	if (!(c->ssl = SSL_new(G.tls)) || SSL_set_fd(c->ssl, c->fd) != 1)
		die("SSL_new");
	SSL_set_app_data(c->ssl, c);
	SSL_set_tlsext_host_name(c->ssl, "localhost");
	if (G.tls_resume && c->sess)
		SSL_set_session(c->ssl, c->sess);
	c->st = S_TLS;
	tls_step(c);
}

static void record_close_code(uint16_t code)
{
	for (int i = 0; i < 8; i++) {
		if (G.close_codes[i] && G.close_code_val[i] == code) {
			G.close_codes[i]++;
			return;
		}
		if (!G.close_codes[i]) {
			G.close_code_val[i] = code;
			G.close_codes[i] = 1;
			return;
		}
	}
}

/* Waits as a console would before its next attempt (BACKOFF_*). */
static void retry_later(struct conn *c, int64_t now)
{
	int64_t ceiling = BACKOFF_BASE_US << (c->attempt < 5 ? c->attempt : 5);

	if (ceiling > BACKOFF_CAP_US)
		ceiling = BACKOFF_CAP_US;
	c->attempt++;
	c->st = S_WAIT_RETRY;
	c->t_retry = now + (int64_t)(rnd() % (uint64_t)ceiling);
	G.n_waiting_retry++;
}

static void conn_fail(struct conn *c, const char *why)
{
	int was = c->st;

	conn_close(c, 0);
	if (was == S_READY) {
		if (c->role == R_CONSOLE)
			G.n_ready--;
		G.drops++;
		if (G.drops <= 5)
			note("connection %u dropped while signed in: %s (close code %u)", c->idx,
			     why, c->close_code);
		c->st = S_DEAD;
		return;
	}
	if (was == S_DEAD || was == S_IDLE || was == S_WAIT_RETRY)
		return;
	/* a failed attempt: try again after the consoles' back-off */
	if (G.allow_retry && c->role == R_CONSOLE) {
		G.retries++;
		retry_later(c, now_us());
		if (G.retries <= 3)
			note("connection %u attempt failed (%s); retrying", c->idx, why);
	} else {
		c->st = S_DEAD;
		if (c->role == R_CONSOLE)
			G.inflight--;
		else
			note("controller connection failed: %s", why);
	}
}

static void conn_ready(struct conn *c)
{
	c->st = S_READY;
	c->attempt = 0;
	G.t_last_ready = now_us();
	if (c->role == R_CONSOLE) {
		G.n_ready++;
		G.inflight--;
	}
}

/* ---- tocsin.v1 ------------------------------------------------------------ */

static void send_hello(struct conn *c)
{
	char buf[768];
	int n;

	c->resumed = 0;
	if (c->role == R_CONTROLLER)
		n = snprintf(buf, sizeof buf, "{\"type\":\"hello\",\"token\":\"%s\"}", G.ctrl_tok);
	else if (G.resume_mode)
		n = snprintf(buf, sizeof buf,
			     "{\"type\":\"hello\",\"token\":\"%s\",\"resume\":{\"epoch\":\"%s\","
			     "\"seq\":%lld}}",
			     G.tok[c->user], G.epoch, (long long)c->cursor);
	else
		n = snprintf(buf, sizeof buf, "{\"type\":\"hello\",\"token\":\"%s\"}", G.tok[c->user]);
	ws_send(c, 1, buf, (size_t)n);
}

static struct phase *phase_of(int idx)
{
	for (int i = 0; i < G.n_phases; i++)
		if (idx >= G.phases[i].first && idx < G.phases[i].first + G.phases[i].count)
			return &G.phases[i];
	return NULL;
}

/* One alert arrived at console c: its index, its publisher's send time. */
static void on_alert(struct conn *c, long idx, int64_t t_sent, int64_t id, int64_t seq,
		     size_t len, int64_t now)
{
	struct phase *ph;

	if (seq > c->cursor)
		c->cursor = seq;
	if (idx < 0 || idx >= G.n_alerts || !(ph = phase_of((int)idx))) {
		G.foreign++;
		return;
	}
	if (c->seen[idx >> 6] & (1ULL << (idx & 63))) {
		ph->dups++;
		return;
	}
	c->seen[idx >> 6] |= 1ULL << (idx & 63);
	G.cnt[idx]++;
	if (now > G.t_last[idx])
		G.t_last[idx] = now;
	if (id && !G.alert_id[idx])
		G.alert_id[idx] = id;
	ph->got++;
	ph->t_last_rx = now;
	if (!ph->frame_bytes) /* server frames are unmasked: 2, 4 or 10 header bytes */
		ph->frame_bytes = len + (len < 126 ? 2 : len < 65536 ? 4 : 10);
	ph->lat[ph->nlat++] = (uint32_t)(now - t_sent < 0 ? 0 : now - t_sent);
	if (G.port2) {
		int k = on_node2(c);
		ph->lat_node[k][ph->nlat_node[k]++] = ph->lat[ph->nlat - 1];
	}
}

static const char *find(const char *p, size_t len, const char *needle)
{
	return memmem(p, len, needle, strlen(needle));
}

static void first_error(struct conn *c, const char *p, size_t len)
{
	if (G.first_errors++ < 5)
		note("error frame on connection %u: %.*s", c->idx, (int)(len > 300 ? 300 : len), p);
}

/* The integer after "key" and its colon (spaces allowed) in p, or -1. */
static long json_int_after(const char *p, size_t len, const char *key)
{
	const char *k = find(p, len, key), *end = p + len;

	if (!k)
		return -1;
	k += strlen(key);
	while (k < end && (*k == ' ' || *k == ':'))
		k++;
	return k < end && *k >= '0' && *k <= '9' ? strtol(k, NULL, 10) : -1;
}

static int dump_frames; /* LOADGEN_DUMP=N: print the first N frames received */

static int tocsin_message(struct conn *c, const char *p, size_t len)
{
	int64_t now = now_us();
	const char *q;

	if (dump_frames > 0) {
		dump_frames--;
		note("frame on connection %u: %.*s", c->idx, (int)(len > 1500 ? 1500 : len), p);
	}

	if (c->role == R_CONSOLE) {
		if (len > 16 && (q = find(p, len < 40 ? len : 40, "\"type\":\"alert\""))) {
			const char *h = find(p, len, "\"headline\":\"bench ");
			const char *b = find(p, len, "\"body\":\"t=");
			const char *i = find(p, len, "\"id\":");
			const char *sq = find(p, len, "\"seq\":");
			if (!h || !b) {
				G.foreign++;
				return 0;
			}
			on_alert(c, strtol(h + 18, NULL, 10), strtoll(b + 10, NULL, 10),
				 i ? strtoll(i + 5, NULL, 10) : 0, sq ? strtoll(sq + 6, NULL, 10) : 0,
				 len, now);
			return 0;
		}
		if (find(p, len < 40 ? len : 40, "\"type\":\"resume_done\"")) {
			if (!c->resumed) {
				c->resumed = 1;
				G.n_resumed++;
				G.t_last_resumed = now;
			}
			if (find(p, len, "\"status\":\"reload\""))
				G.resume_status[2]++;
			return 0;
		}
		if (G.status_phase && find(p, len < 40 ? len : 40, "\"type\":\"status_ok\"")) {
			if (!c->status_ok) {
				c->status_ok = 1;
				c->status_rtt = now - c->t_ack_sent;
				G.status_ok++;
				G.t_last_status_ok = now;
			}
			return 0;
		}
		if (find(p, len, "\"type\":\"acked\"")) {
			c->acked++;
			G.acked++;
			if (find(p, len, "\"already\":true"))
				G.acked_already++;
			if (c->acked == (uint32_t)G.ack_k && c->t_ack_sent)
				c->ack_rtt = now - c->t_ack_sent; /* the last reply: round trip */
			return 0;
		}
	}
	if (c->st == S_LOGIN) {
		if (find(p, len, "\"type\":\"welcome\"")) {
			const char *e = find(p, len, "\"epoch\":\"");
			if (e && !G.epoch[0]) {
				const char *q2 = memchr(e + 9, '"', len - (size_t)(e + 9 - p));
				if (q2 && q2 - (e + 9) < (long)sizeof G.epoch)
					memcpy(G.epoch, e + 9, (size_t)(q2 - (e + 9)));
			}
			if (c->role == R_CONSOLE && G.resume_mode) {
				if (find(p, len, "\"status\":\"ok\""))
					G.resume_status[0]++;
				else if (find(p, len, "\"status\":\"pending\""))
					G.resume_status[1]++;
				else if (find(p, len, "\"status\":\"reload\""))
					G.resume_status[2]++;
				else
					G.resume_status[3]++;
			}
			conn_ready(c);
			return 0;
		}
		if (find(p, len, "\"type\":\"error\"")) {
			G.auth_failures++;
			first_error(c, p, len);
			return -1;
		}
		return 0;
	}
	if (c->role == R_CONTROLLER) {
		if (find(p, len < 40 ? len : 40, "\"type\":\"status_update\"")) {
			long site = json_int_after(p, len, "\"site_id\"");
			long people = json_int_after(p, len, "\"people\"");
			G.board_updates++;
			G.t_last_board_update = now;
			if (G.board_people && site > 0 && site < BOARD_SITES)
				G.board_people[site] = (int32_t)people;
			return 0;
		}
		if (find(p, len < 40 ? len : 40, "\"type\":\"board\"")) {
			G.board_ready = 1;
			return 0;
		}
		if (find(p, len, "\"type\":\"tally\"")) {
			G.n_tallies++;
			return 0;
		}
		if (find(p, len, "\"type\":\"published\"")) {
			const char *r = find(p, len, "\"ref\":\"b");
			const char *i = find(p, len, "\"alert_id\":");
			if (r && i) {
				long idx = strtol(r + 8, NULL, 10);
				if (idx >= 0 && idx < G.n_alerts) {
					G.t_confirm[idx] = now;
					G.alert_id[idx] = strtoll(i + 11, NULL, 10);
					G.n_published++;
				}
			}
			return 0;
		}
	}
	if (find(p, len, "\"type\":\"error\"")) {
		G.errors++;
		if (c->role == R_CONTROLLER)
			G.n_pub_errors++;
		else if (G.status_phase) {
			G.status_errors++;
			if (find(p, len, "\"code\":\"unknown_type\""))
				G.status_unknown++;
		} else if (G.ack_k)
			G.ack_errors++;
		first_error(c, p, len);
	}
	return 0;
}

/* ---- MQTT 3.1.1 ----------------------------------------------------------- */

static size_t mqtt_remlen(unsigned char *p, size_t n)
{
	size_t i = 0;
	do {
		p[i] = (unsigned char)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
		n >>= 7;
		i++;
	} while (n);
	return i;
}

static void mqtt_send_connect(struct conn *c)
{
	unsigned char pkt[64], body[48];
	char id[24];
	size_t b = 0, idlen, h;

	idlen = (size_t)snprintf(id, sizeof id, "b%u-%u", c->idx, c->gen);
	memcpy(body, "\0\4MQTT\4\2", 8); /* protocol name, level 4, clean session */
	b = 8;
	body[b++] = 3600 >> 8; /* keep-alive: longer than the run */
	body[b++] = 3600 & 0xff;
	body[b++] = 0;
	body[b++] = (unsigned char)idlen;
	memcpy(body + b, id, idlen);
	b += idlen;
	pkt[0] = 0x10;
	h = 1 + mqtt_remlen(pkt + 1, b);
	memcpy(pkt + h, body, b);
	ws_send(c, 2, pkt, h + b);
}

static void mqtt_send_subscribe(struct conn *c)
{
	static const char topic[] = TOPIC;
	unsigned char pkt[64];
	size_t tl = sizeof topic - 1, n = 0;

	pkt[n++] = 0x82;
	pkt[n++] = (unsigned char)(2 + 2 + tl + 1);
	pkt[n++] = 0;
	pkt[n++] = 1; /* packet id */
	pkt[n++] = 0;
	pkt[n++] = (unsigned char)tl;
	memcpy(pkt + n, topic, tl);
	n += tl;
	pkt[n++] = 0; /* QoS 0 */
	ws_send(c, 2, pkt, n);
}

static int mqtt_packet(struct conn *c, unsigned type, const unsigned char *p, size_t len)
{
	switch (type >> 4) {
	case 2: /* CONNACK */
		if (len < 2 || p[1] != 0) {
			G.auth_failures++;
			return -1;
		}
		if (c->role == R_CONSOLE)
			mqtt_send_subscribe(c);
		else
			conn_ready(c);
		return 0;
	case 9: /* SUBACK */
		if (len < 3 || p[2] == 0x80) {
			G.auth_failures++;
			return -1;
		}
		conn_ready(c);
		return 0;
	case 3: { /* PUBLISH, QoS 0: topic, payload "bench <i> t=<usec>" */
		size_t tl;
		const char *pl, *t;
		size_t pll;
		if (len < 2)
			return 0;
		tl = (size_t)p[0] << 8 | p[1];
		if (2 + tl > len)
			return 0;
		pl = (const char *)p + 2 + tl;
		pll = len - 2 - tl;
		if (pll < 10 || memcmp(pl, "bench ", 6) != 0 || !(t = find(pl, pll, " t="))) {
			G.foreign++;
			return 0;
		}
		/* the PUBLISH packet: its fixed header (1 + 1 or 2 length bytes) and len */
		on_alert(c, strtol(pl + 6, NULL, 10), strtoll(t + 3, NULL, 10), 0, 0,
			 len + (len < 128 ? 2 : 3), now_us());
		return 0;
	}
	default:
		return 0;
	}
}

/* MQTT is a byte stream over WebSocket messages: a packet may span
 * messages, and a message may hold several packets. */
static int mqtt_data(struct conn *c, const unsigned char *p, size_t len)
{
	const unsigned char *s = p;
	size_t n = len, off = 0;

	if (c->carry_len) {
		if (c->carry_len + len > CARRY_CAP)
			return -1;
		memcpy(c->carry + c->carry_len, p, len);
		c->carry_len += (uint32_t)len;
		s = c->carry;
		n = c->carry_len;
	}
	while (off < n) {
		size_t rl = 0, i = 1;
		int shift = 0, complete = 0;
		while (off + i < n && i <= 4) {
			rl |= (size_t)(s[off + i] & 0x7f) << shift;
			shift += 7;
			if (!(s[off + i++] & 0x80)) {
				complete = 1;
				break;
			}
		}
		if (!complete || off + i + rl > n)
			break;
		if (mqtt_packet(c, s[off], s + off + i, rl))
			return -1;
		if (c->fd < 0)
			return -1;
		off += i + rl;
	}
	if (off < n) {
		if (n - off > CARRY_CAP)
			return -1;
		memmove(c->carry, s + off, n - off);
	}
	c->carry_len = (uint32_t)(n - off);
	return 0;
}

/* ---- WebSocket receive ------------------------------------------------ */

static int on_message(struct conn *c, const unsigned char *p, size_t len)
{
	if (G.proto == P_MQTT)
		return mqtt_data(c, p, len);
	return tocsin_message(c, (const char *)p, len);
}

/* One complete frame; -1 closes the connection. */
static int ws_frame(struct conn *c, int fin, int op, unsigned char *p, size_t len)
{
	switch (op) {
	case 0x8:
		c->close_code = len >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 1005;
		record_close_code(c->close_code);
		if (c->close_code == 4409)
			G.closes_4409++;
		return -1;
	case 0x9:
		if (ws_send(c, 0xA, p, len) == 0 && conn_flush(c) < 0)
			return -1;
		return 0;
	case 0xA:
		return 0;
	case 0x1:
	case 0x2:
		if (fin && !c->asm_on)
			return on_message(c, p, len);
		c->asm_on = 1;
		c->asm_op = (uint8_t)op;
		c->asm_len = 0;
		c->asm_bad = 0;
		/* the first fragment is appended like the rest */
		__attribute__((fallthrough));
	case 0x0:
		if (!c->asm_on)
			return 0;
		if (c->asm_len + len > ASM_CAP) {
			c->asm_bad = 1;
		} else {
			memcpy(c->asmb + c->asm_len, p, len);
			c->asm_len += (uint32_t)len;
		}
		if (fin) {
			int r = 0;
			c->asm_on = 0;
			if (c->asm_bad)
				G.oversize++;
			else
				r = on_message(c, c->asmb, c->asm_len);
			c->asm_len = 0;
			return r;
		}
		return 0;
	default:
		return -1;
	}
}

static void on_upgraded(struct conn *c)
{
	c->st = S_LOGIN;
	if (G.proto == P_TOCSIN)
		send_hello(c);
	else
		mqtt_send_connect(c);
}

/* Parses what is in rx; -1 when the connection must close. */
static int conn_parse(struct conn *c)
{
	size_t off = 0;

	if (c->st == S_UPGRADE) {
		const unsigned char *end = memmem(c->rx, c->rx_len, "\r\n\r\n", 4);
		if (!end)
			return c->rx_len >= RX_CAP ? -1 : 0;
		if (c->rx_len < 12 || memcmp(c->rx + 9, "101", 3) != 0) {
			if (G.first_errors++ < 5)
				note("upgrade refused on connection %u: %.*s", c->idx,
				     (int)(end - c->rx > 200 ? 200 : end - c->rx), c->rx);
			return -1;
		}
		off = (size_t)(end - c->rx) + 4;
		on_upgraded(c);
		if (conn_flush(c) < 0)
			return -1;
	}
	while (off < c->rx_len) {
		size_t avail = c->rx_len - off, hl = 2, plen;
		unsigned char *h = c->rx + off;
		int masked;

		if (c->skip) {
			size_t take = avail < c->skip ? avail : (size_t)c->skip;
			c->skip -= take;
			off += take;
			continue;
		}
		if (avail < 2)
			break;
		masked = h[1] & 0x80;
		plen = h[1] & 0x7f;
		if (plen == 126) {
			if (avail < 4)
				break;
			plen = (size_t)h[2] << 8 | h[3];
			hl = 4;
		} else if (plen == 127) {
			if (avail < 10)
				break;
			plen = 0;
			for (int i = 2; i < 10; i++)
				plen = plen << 8 | h[i];
			hl = 10;
		}
		if (masked)
			hl += 4;
		if (avail < hl)
			break;
		if (hl + plen > RX_CAP) { /* too large for us: drop it, count it */
			if (c->role == R_CONTROLLER && G.board_wanted && !G.board_ready)
				G.board_ready = 1; /* the whole board, not read: only updates count */
			else
				G.oversize++;
			c->skip = plen - (avail - hl);
			c->asm_on = 0;
			off = c->rx_len;
			break;
		}
		if (avail < hl + plen)
			break;
		if (masked)
			for (size_t i = 0; i < plen; i++)
				h[hl + i] ^= h[hl - 4 + (i & 3)];
		if (ws_frame(c, h[0] & 0x80, h[0] & 0x0f, h + hl, plen) < 0)
			return -1;
		if (c->fd < 0)
			return -1;
		off += hl + plen;
	}
	if (off) {
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= (uint32_t)off;
	}
	return 0;
}

static void conn_readable(struct conn *c)
{
	for (;;) {
		ssize_t n = conn_recv(c, c->rx + c->rx_len, RX_CAP - c->rx_len);
		if (n > 0) {
			c->rx_len += (uint32_t)n;
			if (conn_parse(c) < 0) {
				conn_fail(c, c->close_code ? "closed by the broker" : "protocol");
				return;
			}
			if (c->fd < 0)
				return;
			if (c->tx_len && conn_flush(c) < 0) { /* replies queued while parsing */
				conn_fail(c, "send");
				return;
			}
			continue;
		}
		if (n == 0) {
			conn_fail(c, "connection closed (EOF)");
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR)
			continue;
		conn_fail(c, strerror(errno));
		return;
	}
}

static void send_upgrade(struct conn *c)
{
	char req[512];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
			 G.proto == P_TOCSIN ? "/ws" : "/mqtt", G.port,
			 G.proto == P_TOCSIN ? "tocsin.v1" : "mqtt");
	tx_raw(c, req, (size_t)n);
	c->st = S_UPGRADE;
}

static void pump_acks(struct conn *c);

static void on_event(struct conn *c, uint32_t ev)
{
	if (c->fd < 0)
		return;
	if (c->st == S_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof err;
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err || (ev & (EPOLLERR | EPOLLHUP))) {
			conn_fail(c, err ? strerror(err) : "connect failed");
			return;
		}
		if (G.tls) {
			tls_begin(c);
			return;
		}
		send_upgrade(c);
		if (conn_flush(c) < 0) {
			conn_fail(c, "send");
			return;
		}
		return;
	}
	if (c->st == S_TLS) {
		tls_step(c);
		return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
		conn_readable(c);
		if (c->fd < 0)
			return;
	}
	if (ev & EPOLLOUT) {
		int r = conn_flush(c);
		if (r < 0) {
			conn_fail(c, "send");
			return;
		}
		if (r > 0 && c->ack_next < (uint32_t)G.ack_k)
			pump_acks(c);
	}
}

/* ---- the loop ------------------------------------------------------------ */

static void db_poll_tick(int64_t now);
static void db_on_readable(void);

/* Restarts failed attempts whose back-off is over (every 20 ms) and gives
 * up on handshakes older than HANDSHAKE_TIMEOUT_US (every 500 ms). */
static void retry_tick(int64_t now)
{
	static int64_t last_retry, last_timeout;
	int retry = G.n_waiting_retry && now - last_retry >= 20000;
	int timeout = G.inflight && now - last_timeout >= 500000;

	if (!retry && !timeout)
		return;
	if (retry)
		last_retry = now;
	if (timeout)
		last_timeout = now;
	for (int i = 0; i < G.nconns; i++) {
		struct conn *c = &G.conns[i];
		if (retry && c->st == S_WAIT_RETRY && now >= c->t_retry) {
			G.n_waiting_retry--;
			conn_start(c);
		} else if (timeout && (c->st == S_CONNECTING || c->st == S_TLS || c->st == S_UPGRADE) &&
			   now - c->t_start > HANDSHAKE_TIMEOUT_US) {
			conn_fail(c, "connect/upgrade timeout");
		} else if (timeout && c->st == S_LOGIN && now - c->t_start > WELCOME_TIMEOUT_US) {
			conn_fail(c, "no welcome in time");
		}
	}
}

/* Starts connections while the window allows. */
static void start_tick(void)
{
	while (G.n_started < G.n && G.inflight < G.connect_window) {
		struct conn *c = &G.conns[G.n_started++];
		G.inflight++;
		conn_start(c);
	}
}

typedef int (*done_fn)(void);
typedef void (*tick_fn)(int64_t now);

/* Runs the loop until done() or the deadline; returns 1 if done. */
static int run_until(done_fn done, int64_t deadline, tick_fn tick)
{
	static struct epoll_event evs[4096];

	for (;;) {
		int64_t now = now_us();
		int n, timeout_ms;

		if (done && done())
			return 1;
		if (now >= deadline)
			return 0;
		if (tick)
			tick(now);
		if (G.n_waiting_retry || G.inflight)
			retry_tick(now);
		if (G.db)
			db_poll_tick(now);
		if (done && done())
			return 1;
		timeout_ms = (int)((deadline - now) / 1000);
		if (timeout_ms > 2)
			timeout_ms = 2;
		n = epoll_wait(G.ep, evs, 4096, timeout_ms);
		for (int i = 0; i < n; i++) {
			struct conn *c;
			if (evs[i].data.u64 == UINT64_MAX) {
				db_on_readable();
				continue;
			}
			c = &G.conns[(uint32_t)evs[i].data.u64];
			if ((uint32_t)(evs[i].data.u64 >> 32) == c->gen)
				on_event(c, evs[i].events);
		}
	}
}

static int always_false(void) { return 0; }

static void idle_for(int64_t us)
{
	run_until(always_false, now_us() + us, NULL);
}

/* Waits until the fan-out's alerts have expired and the broker has told
 * every console so (in_force_ended, docs/protocol.md: one frame per
 * console per alert, as the alerts themselves), outside every measured
 * phase. A console that signs in gets the alerts in force; a real force
 * has a few in force, not the fan-out's 410, and the reconnect storm then
 * runs with its own missed alerts in force. */
static void fanout_expired(void)
{
	int64_t until = G.t_last_any_pub + (G.alert_ttl_s + 3) * 1000000LL;

	note("fan-out: waiting %.0f s for its alerts to expire", (until - now_us()) / 1e6);
	if (until > now_us())
		idle_for(until - now_us());
}

/* ---- connecting --------------------------------------------------------- */

static int all_ready(void)
{
	return G.n_ready == G.n && G.ctrl->st == S_READY;
}

static void connect_tick(int64_t now)
{
	start_tick();
}

/* Opens the N consoles (and the controller), at most `window` handshakes at
 * a time; returns seconds taken. */
static double connect_all(int window, int64_t timeout_us)
{
	int64_t t0 = now_us();

	G.connect_window = window;
	G.n_started = 0;
	G.inflight = 0;
	G.allow_retry = 1;
	if (G.ctrl->st != S_READY)
		conn_start(G.ctrl);
	run_until(all_ready, t0 + timeout_us, connect_tick);
	G.allow_retry = 0;
	return (G.t_last_ready - t0) / 1e6;
}

/* ---- publishing ------------------------------------------------------------ */

/* An RFC 3339 UTC time, secs seconds from the wall clock's now. */
static void iso_in(int secs, char out[32])
{
	time_t t = time(NULL) + secs;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* Every alert expires (alert_ttl_s): a desk that signs in gets the alerts
 * in force (docs/protocol.md), and a real force has a few in force, not
 * the hundreds the fan-out phases send; the storm's missed alerts are in
 * force while it runs. */
static int publish(int idx)
{
	char buf[600], expires[32];
	int64_t t = now_us();
	int n;

	if (G.proto == P_TOCSIN) {
		iso_in(G.alert_ttl_s, expires);
		n = snprintf(buf, sizeof buf,
			     "{\"type\":\"publish\",\"ref\":\"b%d\",\"headline\":\"bench %d\","
			     "\"body\":\"t=%lld\",\"severity\":\"minor\",\"expires\":\"%s\","
			     "\"targets\":{\"orgs\":[%s]}}",
			     idx, idx, (long long)t, expires, G.orgs_json);
		if (ws_send(G.ctrl, 1, buf, (size_t)n))
			return -1;
	} else {
		unsigned char pkt[128];
		char pl[64];
		size_t tl = sizeof TOPIC - 1, pll, h;
		pll = (size_t)snprintf(pl, sizeof pl, "bench %d t=%lld", idx, (long long)t);
		pkt[0] = 0x30;
		h = 1 + mqtt_remlen(pkt + 1, 2 + tl + pll);
		pkt[h++] = 0;
		pkt[h++] = (unsigned char)tl;
		memcpy(pkt + h, TOPIC, tl);
		h += tl;
		memcpy(pkt + h, pl, pll);
		h += pll;
		if (ws_send(G.ctrl, 2, pkt, h))
			return -1;
	}
	G.t_pub[idx] = t;
	if (t > G.t_last_any_pub)
		G.t_last_any_pub = t;
	if (conn_flush(G.ctrl) < 0)
		conn_fail(G.ctrl, "send");
	return 0;
}

static struct phase *cur;
static int cur_next;      /* next alert of cur to publish */
static int64_t cur_t0;

static int phase_done(void)
{
	return cur_next >= cur->count && cur->got >= cur->expected_per_alert * (uint64_t)cur->count;
}

static int solo_alert_done(void)
{
	int idx = cur->first + cur_next - 1;
	return G.cnt[idx] >= cur->expected_per_alert;
}

static void pace_tick(int64_t now)
{
	while (cur_next < cur->count) {
		if (cur->rate > 0 && now < cur_t0 + (int64_t)(cur_next * 1e6 / cur->rate))
			break;
		if (publish(cur->first + cur_next))
			break; /* tx full: go on after the next flush */
		if (!cur_next)
			cur->t_first_pub = G.t_pub[cur->first];
		cur->t_last_pub = G.t_pub[cur->first + cur_next];
		cur_next++;
	}
}

/* With --port2: each node's consoles' latency (local: the controller's
 * node; cross: the other), and how many deliveries each had. */
static void node_latency(struct phase *ph)
{
	static const char *const name[2] = { "local", "cross" };
	char key[32];

	for (int i = 0; i < 2; i++) {
		uint32_t *l = ph->lat_node[i];
		size_t n = ph->nlat_node[i];

		qsort(l, n, sizeof *l, cmp_u32);
		snprintf(key, sizeof key, "%s_delivered", name[i]);
		resulti(ph->name, key, (long long)n);
		snprintf(key, sizeof key, "%s_lat_p50_ms", name[i]);
		resultf(ph->name, key, pct_u32(l, n, 0.50) / 1000);
		snprintf(key, sizeof key, "%s_lat_p99_ms", name[i]);
		resultf(ph->name, key, pct_u32(l, n, 0.99) / 1000);
	}
	note("%s: local p50 %.1f p99 %.1f ms, cross-node p50 %.1f p99 %.1f ms", ph->name,
	     pct_u32(ph->lat_node[0], ph->nlat_node[0], 0.5) / 1000,
	     pct_u32(ph->lat_node[0], ph->nlat_node[0], 0.99) / 1000,
	     pct_u32(ph->lat_node[1], ph->nlat_node[1], 0.5) / 1000,
	     pct_u32(ph->lat_node[1], ph->nlat_node[1], 0.99) / 1000);
}

static void phase_report(struct phase *ph, struct cpu_mark cm)
{
	const char *k = ph->name;
	uint64_t expected = ph->expected_per_alert * (uint64_t)ph->count;
	int64_t *compl = calloc((size_t)ph->count, sizeof *compl);
	int64_t *conf = calloc((size_t)ph->count, sizeof *conf);
	size_t nconf = 0, ncompl = 0;
	double span;

	qsort(ph->lat, ph->nlat, sizeof *ph->lat, cmp_u32);
	for (int i = 0; i < ph->count; i++) {
		int idx = ph->first + i;
		if (G.t_last[idx])
			compl[ncompl++] = G.t_last[idx] - G.t_pub[idx];
		if (G.t_confirm[idx])
			conf[nconf++] = G.t_confirm[idx] - G.t_pub[idx];
	}
	qsort(compl, ncompl, sizeof *compl, cmp_i64);
	qsort(conf, nconf, sizeof *conf, cmp_i64);
	resulti(k, "alerts", ph->count);
	if (ph->rate >= 0)
		resultf(k, "rate_per_s", ph->rate);
	else
		resultf(k, "gap_s", -ph->rate);
	resulti(k, "consoles", (long long)ph->expected_per_alert);
	resulti(k, "expected", (long long)expected);
	ph->got_at_report = ph->got;
	resulti(k, "delivered", (long long)ph->got);
	resulti(k, "lost", (long long)(expected - ph->got));
	resulti(k, "duplicates", (long long)ph->dups);
	resulti(k, "frame_bytes", (long long)ph->frame_bytes);
	resultf(k, "lat_p50_ms", pct_u32(ph->lat, ph->nlat, 0.50) / 1000);
	resultf(k, "lat_p99_ms", pct_u32(ph->lat, ph->nlat, 0.99) / 1000);
	resultf(k, "lat_max_ms", ph->nlat ? ph->lat[ph->nlat - 1] / 1000.0 : NAN);
	if (G.port2)
		node_latency(ph);
	resultf(k, "compl_p50_ms", pct_i64(compl, ncompl, 0.50) / 1000);
	resultf(k, "compl_p99_ms", pct_i64(compl, ncompl, 0.99) / 1000);
	resultf(k, "compl_max_ms", ncompl ? compl[ncompl - 1] / 1000.0 : NAN);
	if (G.proto == P_TOCSIN) {
		resulti(k, "confirmed", (long long)nconf);
		resultf(k, "confirm_p50_ms", pct_i64(conf, nconf, 0.50) / 1000);
		resultf(k, "confirm_p99_ms", pct_i64(conf, nconf, 0.99) / 1000);
	}
	span = (ph->t_last_rx - ph->t_first_pub) / 1e6;
	resultf(k, "span_s", span);
	resultf(k, "deliveries_per_s", span > 0 ? ph->got / span : NAN);
	cpu_report(k, cm);
	note("%s: %llu/%llu delivered, latency p50 %.1f p99 %.1f max %.1f ms, completion p99 %.1f ms, "
	     "%.0f deliveries/s", k, (unsigned long long)ph->got, (unsigned long long)expected,
	     pct_u32(ph->lat, ph->nlat, 0.5) / 1000, pct_u32(ph->lat, ph->nlat, 0.99) / 1000,
	     ph->nlat ? ph->lat[ph->nlat - 1] / 1000.0 : NAN, pct_i64(compl, ncompl, 0.99) / 1000,
	     span > 0 ? ph->got / span : 0);
	free(compl);
	free(conf);
}

static int64_t stall_check_last;
static uint64_t stall_check_got;
static int64_t stall_since;

static int phase_done_or_stalled(void)
{
	int64_t now = now_us();
	if (phase_done())
		return 1;
	if (cur_next < cur->count)
		return 0;
	if (cur->got != stall_check_got) {
		stall_check_got = cur->got;
		stall_since = now;
	}
	(void)stall_check_last;
	return now - stall_since > 15 * 1000000LL; /* nothing new for 15 s */
}

/* Deliveries that arrived after their phase was reported (counted as lost
 * there, since the phase waits until 15 s pass with nothing new). */
static uint64_t late_total(void)
{
	uint64_t late = 0;
	for (int i = 0; i < G.n_phases; i++)
		if (G.phases[i].got_at_report)
			late += G.phases[i].got - G.phases[i].got_at_report;
	return late;
}

static void run_phase(struct phase *ph)
{
	struct cpu_mark cm = cpu_mark();
	int64_t t0 = now_us();

	cur = ph;
	cur_next = 0;
	ph->expected_per_alert = (uint64_t)G.n_ready;
	note("%s: %d alerts to %d consoles%s", ph->name, ph->count, G.n_ready,
	     ph->rate > 0 ? " (paced)" : ph->rate == 0 ? " (as fast as possible)" : " (one at a time)");
	if (ph->rate < 0) {
		/* solo: one alert at a time, each to completion, then a pause */
		for (int i = 0; i < ph->count; i++) {
			if (publish(ph->first + i))
				die("controller tx full");
			if (!i)
				ph->t_first_pub = G.t_pub[ph->first];
			ph->t_last_pub = G.t_pub[ph->first + i];
			cur_next = i + 1;
			run_until(solo_alert_done, now_us() + 10 * 1000000LL, NULL);
			idle_for((int64_t)(-ph->rate * 1e6));
		}
	} else {
		cur_t0 = now_us();
		stall_since = now_us();
		stall_check_got = 0;
		run_until(phase_done_or_stalled, t0 + 240 * 1000000LL, pace_tick);
	}
	phase_report(ph, cm);
}

/* ---- the database (tocsin only) ------------------------------------------- */

static int64_t db_scalar(const char *sql)
{
	PGresult *r = PQexec(G.db, sql);
	int64_t v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		note("query failed: %s: %s", sql, PQerrorMessage(G.db));
	PQclear(r);
	return v;
}

static const char *db_poll_sql;
static int db_polling;

static void db_poll_tick(int64_t now)
{
	if (!db_polling || G.db_busy || now < G.db_next_poll)
		return;
	if (!PQsendQuery(G.db, db_poll_sql)) {
		note("poll query failed: %s", PQerrorMessage(G.db));
		db_polling = 0;
		return;
	}
	PQflush(G.db);
	G.db_busy = 1;
	G.db_sent_at = now;
	G.db_next_poll = now + DB_POLL_US;
}

static void db_on_readable(void)
{
	PGresult *r;

	if (!PQconsumeInput(G.db)) {
		note("database connection: %s", PQerrorMessage(G.db));
		db_polling = 0;
		return;
	}
	while (!PQisBusy(G.db) && (r = PQgetResult(G.db))) {
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			G.db_result = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			G.db_have_result = 1;
		}
		PQclear(r);
	}
	if (!PQisBusy(G.db))
		G.db_busy = 0;
}

static void db_open(const char *url)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };

	G.db = PQconnectdb(url);
	if (PQstatus(G.db) != CONNECTION_OK)
		die("cannot connect to the database: %s", PQerrorMessage(G.db));
	if (epoll_ctl(G.ep, EPOLL_CTL_ADD, PQsocket(G.db), &ev) < 0)
		die("epoll_ctl (db): %s", strerror(errno));
}

/* Waits until the broker has recorded `expected` deliveries more than
 * the `base` the table held before this run's fan-out (it writes them in
 * batches after the frames went out); reports how long it took. The base
 * matters on a second run over the same database (the two-node scenario
 * follows the single-node one): counted from zero, every phase seemed
 * recorded at once. */
static void wait_delivery_records(const char *prefix, int64_t base, uint64_t expected)
{
	int64_t t0 = now_us(), last_change = t0, v, prev = -1;

	for (;;) {
		v = db_scalar("SELECT tocsin_delivery_count()") - base; /* sql/functions/delivery.sql */
		if (v != prev) {
			prev = v;
			last_change = now_us();
		}
		if (v >= (int64_t)expected || now_us() - last_change > 5 * 1000000LL ||
		    now_us() - t0 > 120 * 1000000LL)
			break;
		idle_for(200000);
	}
	v = db_scalar("SELECT tocsin_delivery_count()") - base;
	resulti(prefix, "delivery_records", v);
	resulti(prefix, "delivery_records_expected", (long long)expected);
	resultf(prefix, "delivery_records_wait_s", (now_us() - t0) / 1e6);
	note("%s: %lld delivery records of %llu expected (waited %.1f s)", prefix, (long long)v,
	     (unsigned long long)expected, (now_us() - t0) / 1e6);
}

/* ---- acknowledgements ------------------------------------------------------- */

static int64_t t_first_ack, t_last_ack;
static uint64_t acks_sent;

static void pump_acks(struct conn *c)
{
	char buf[96];

	if (c->st != S_READY || c->role != R_CONSOLE)
		return;
	while (c->ack_next < (uint32_t)G.ack_k) {
		int n = snprintf(buf, sizeof buf, "{\"type\":\"ack\",\"alert_id\":%lld}",
				 (long long)G.ack_ids[c->ack_next]);
		if (ws_send(c, 1, buf, (size_t)n))
			break;
		c->ack_next++;
	}
	if (conn_flush(c) < 0) {
		conn_fail(c, "send");
		return;
	}
	if (c->tx_len == 0 && c->ack_next == (uint32_t)G.ack_k && !c->t_ack_sent) {
		int64_t now = now_us();
		c->t_ack_sent = now;
		acks_sent += (uint64_t)G.ack_k;
		if (!t_first_ack)
			t_first_ack = now;
		t_last_ack = now;
	}
}

static uint64_t ack_target;
static int64_t t_audited;

static int acks_audited(void)
{
	if (G.db_have_result && G.db_result >= (int64_t)ack_target && ack_target) {
		if (!t_audited)
			t_audited = now_us();
		return G.acked >= ack_target || G.acked + G.ack_errors >= ack_target;
	}
	return 0;
}

static void ack_tick(int64_t now)
{
	/* a console whose acks did not all fit goes on when its socket drains
	 * (EPOLLOUT); the finished-sending mark needs this scan */
	static int64_t last;
	if (now - last < 5000)
		return;
	last = now;
	for (int i = 0; i < G.n; i++) {
		struct conn *c = &G.conns[i];
		if (c->st == S_READY && !c->t_ack_sent && c->tx_len == 0)
			pump_acks(c);
	}
}

static void run_acks(int k, int first_alert)
{
	static char sql[256];
	struct cpu_mark cm = cpu_mark();
	int64_t *rtt;
	size_t nrtt = 0;
	int64_t t0;

	G.ack_k = k;
	for (int i = 0; i < k; i++)
		G.ack_ids[i] = G.alert_id[first_alert + i];
	G.db_min_id = db_scalar("SELECT coalesce(max(id), 0) FROM audit");
	snprintf(sql, sizeof sql, "SELECT count(*) FROM audit WHERE id > %lld AND action = 'ack'",
		 (long long)G.db_min_id);
	db_poll_sql = sql;
	ack_target = (uint64_t)G.n_ready * (uint64_t)k;
	G.db_have_result = 0;
	note("acks: %d consoles acknowledge %d alert(s) each (%llu acks)", G.n_ready, k,
	     (unsigned long long)ack_target);
	t0 = now_us();
	for (int i = 0; i < G.n; i++) {
		G.conns[i].ack_next = 0;
		G.conns[i].acked = 0;
		G.conns[i].t_ack_sent = 0;
		G.conns[i].ack_rtt = 0;
	}
	for (int i = 0; i < G.n; i++)
		pump_acks(&G.conns[i]);
	db_polling = 1;
	run_until(acks_audited, t0 + 180 * 1000000LL, ack_tick);
	db_polling = 0;
	while (G.db_busy) { /* let the last poll finish */
		idle_for(5000);
	}
	rtt = calloc((size_t)G.n, sizeof *rtt);
	for (int i = 0; i < G.n; i++)
		if (G.conns[i].acked == (uint32_t)k && G.conns[i].ack_rtt > 0)
			rtt[nrtt++] = G.conns[i].ack_rtt;
	qsort(rtt, nrtt, sizeof *rtt, cmp_i64);
	resulti("acks", "alerts_per_console", k);
	resulti("acks", "sent", (long long)acks_sent);
	resulti("acks", "acked", (long long)G.acked);
	resulti("acks", "acked_already", (long long)G.acked_already);
	resulti("acks", "errors", (long long)G.ack_errors);
	resulti("acks", "audited", G.db_have_result ? G.db_result : -1);
	resultf("acks", "send_span_ms", (t_last_ack - t_first_ack) / 1000.0);
	resultf("acks", "rtt_last_p50_ms", pct_i64(rtt, nrtt, 0.5) / 1000);
	resultf("acks", "rtt_last_p99_ms", pct_i64(rtt, nrtt, 0.99) / 1000);
	if (t_audited) {
		resultf("acks", "last_sent_to_all_audited_ms", (t_audited - t_last_ack) / 1000.0);
		resultf("acks", "audited_per_s", ack_target / ((t_audited - t_first_ack) / 1e6));
	} else {
		resultf("acks", "last_sent_to_all_audited_ms", NAN);
		resultf("acks", "audited_per_s",
			G.db_have_result ? G.db_result / ((now_us() - t_first_ack) / 1e6) : NAN);
	}
	resultf("acks", "poll_interval_ms", DB_POLL_US / 1000.0);
	cpu_report("acks", cm);
	note("acks: %llu sent, %llu acked (%llu already), %lld audited; last sent -> all audited %.0f ms",
	     (unsigned long long)acks_sent, (unsigned long long)G.acked,
	     (unsigned long long)G.acked_already, G.db_result,
	     t_audited ? (t_audited - t_last_ack) / 1000.0 : NAN);
	free(rtt);
	G.ack_k = 0;
}

/* ---- status burst ------------------------------------------------------------- */

static uint64_t status_target;
static int64_t t_status_stored;

static int status_stored(void)
{
	int64_t now = now_us();
	if (G.status_unknown)
		return 1; /* the broker does not know the message */
	if (G.db_have_result && G.db_result >= (int64_t)status_target) {
		if (!t_status_stored)
			t_status_stored = now;
		return G.status_ok + G.status_errors >= status_target;
	}
	return 0;
}

static int board_is_ready(void)
{
	return G.board_ready;
}

/* The controller's board has settled: no update for 300 ms. */
static int board_settled(void)
{
	return now_us() - G.t_last_board_update > 300 * 1000;
}

/* Of the sites that reported in this burst (report ids above max0), how
 * many show, on the controller's board, the report PostgreSQL holds as
 * the site's latest. *sites gets how many reported. */
static long board_right(int64_t max0, long *sites)
{
	char sql[256];
	PGresult *r;
	long right = 0;

	*sites = -1;
	snprintf(sql, sizeof sql,
		 "SELECT l.site_id, r.people FROM status_latest l JOIN status_reports r"
		 " ON r.id = l.report_id WHERE l.report_id > %lld", (long long)max0);
	r = PQexec(G.db, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		*sites = PQntuples(r);
		for (int i = 0; i < PQntuples(r); i++) {
			long site = strtol(PQgetvalue(r, i, 0), NULL, 10);
			long people = strtol(PQgetvalue(r, i, 1), NULL, 10);
			right += site > 0 && site < BOARD_SITES && G.board_people[site] == people;
		}
	} else {
		note("query failed: %s: %s", sql, PQerrorMessage(G.db));
	}
	PQclear(r);
	return right;
}

/* Every console sends one status report at once, while the controller
 * watches the live board as a control room would: every stored report
 * also goes to it as a status_update. */
static void run_status(void)
{
	static char sql[256];
	struct cpu_mark cm = cpu_mark();
	int64_t t_first = 0, t_last = 0, *rtt;
	size_t nrtt = 0;
	uint64_t sent = 0;
	int64_t max0 = 0;
	int have_table = db_scalar("SELECT (to_regclass('status_reports') IS NOT NULL)::int") == 1;

	G.status_phase = 1;
	G.db_have_result = 0;
	if (have_table) {
		max0 = db_scalar("SELECT coalesce(max(id), 0) FROM status_reports");
		snprintf(sql, sizeof sql, "SELECT count(*) FROM status_reports WHERE id > %lld",
			 (long long)max0);
		db_poll_sql = sql;
		db_polling = 1;
	}
	status_target = (uint64_t)G.n_ready;
	static const char board_req[] = "{\"type\":\"board\",\"ref\":\"board\"}";
	G.board_updates = 0;
	if (!G.board_people && (G.board_people = malloc(BOARD_SITES * sizeof *G.board_people)))
		memset(G.board_people, 0xff, BOARD_SITES * sizeof *G.board_people); /* -1 */
	if (G.board_people && G.ctrl && G.ctrl->st == S_READY &&
	    ws_send(G.ctrl, 1, board_req, sizeof board_req - 1) == 0 && conn_flush(G.ctrl) >= 0) {
		G.board_wanted = 1;
		run_until(board_is_ready, now_us() + 10 * 1000000LL, NULL);
	}
	note("status burst: %d consoles each send one status report at once%s", G.n_ready,
	     G.board_ready ? "; the controller watches the board" : "");
	for (int i = 0; i < G.n; i++) {
		struct conn *c = &G.conns[i];
		char buf[256];
		int n;
		if (c->st != S_READY)
			continue;
		n = snprintf(buf, sizeof buf,
			     "{\"type\":\"status\",\"ref\":\"s\",\"people\":%d,\"officers\":%d,"
			     "\"trauma_packs\":1,\"first_aid_kits\":2,\"defibrillators\":1,"
			     "\"cctv\":\"working\",\"state\":\"normal\",\"note\":null}",
			     100 + i % 400, i % 4);
		c->status_ok = 0;
		c->t_ack_sent = now_us();
		if (ws_send(c, 1, buf, (size_t)n) || conn_flush(c) < 0)
			continue;
		if (!t_first)
			t_first = c->t_ack_sent;
		t_last = c->t_ack_sent;
		sent++;
	}
	if (have_table)
		run_until(status_stored, t_last + 120 * 1000000LL, NULL);
	else
		run_until(status_stored, t_last + 30 * 1000000LL, NULL);
	db_polling = 0;
	while (G.db_busy)
		idle_for(5000);
	if (G.board_ready)
		run_until(board_settled, now_us() + 10 * 1000000LL, NULL);
	G.status_phase = 0;
	if (G.status_unknown) {
		result("status", "not implemented yet");
		note("status burst: the broker answers unknown_type: not implemented yet");
		return;
	}
	rtt = calloc((size_t)G.n, sizeof *rtt);
	for (int i = 0; i < G.n; i++)
		if (G.conns[i].status_ok)
			rtt[nrtt++] = G.conns[i].status_rtt;
	qsort(rtt, nrtt, sizeof *rtt, cmp_i64);
	result("status", "measured");
	resulti("status", "sent", (long long)sent);
	resulti("status", "ok", (long long)G.status_ok);
	resulti("status", "errors", (long long)G.status_errors);
	resulti("status", "stored", have_table && G.db_have_result ? G.db_result : -1);
	resultf("status", "send_span_ms", (t_last - t_first) / 1000.0);
	resulti("status", "board_watched", G.board_ready);
	resulti("status", "board_updates", (long long)G.board_updates);
	if (G.board_ready && have_table) {
		long sites, right = board_right(max0, &sites);
		resulti("status", "board_sites", sites);
		resulti("status", "board_sites_right", right);
		resultf("status", "last_sent_to_board_settled_ms",
			right == sites ? (G.t_last_board_update - t_last) / 1000.0 : NAN);
	}
	resultf("status", "rtt_p50_ms", pct_i64(rtt, nrtt, 0.5) / 1000);
	resultf("status", "rtt_p99_ms", pct_i64(rtt, nrtt, 0.99) / 1000);
	if (t_status_stored) {
		resultf("status", "last_sent_to_all_stored_ms", (t_status_stored - t_last) / 1000.0);
		resultf("status", "stored_per_s", status_target / ((t_status_stored - t_first) / 1e6));
	} else {
		resultf("status", "last_sent_to_all_stored_ms", NAN);
		resultf("status", "stored_per_s", G.db_have_result ?
			G.db_result / ((now_us() - t_first) / 1e6) : NAN);
	}
	cpu_report("status", cm);
	note("status burst: %llu sent, %llu status_ok, %llu errors, %lld stored; last sent -> all "
	     "stored %.0f ms", (unsigned long long)sent, (unsigned long long)G.status_ok,
	     (unsigned long long)G.status_errors, (long long)G.db_result,
	     t_status_stored ? (t_status_stored - t_last) / 1000.0 : NAN);
	free(rtt);
}

/* ---- reconnect storm -------------------------------------------------------- */

static int storm_back(void)
{
	return G.n_ready >= G.n && (!G.resume_mode || G.n_resumed >= G.n);
}

static struct phase *storm_missed;

static int missed_confirmed(void)
{
	for (int i = 0; i < storm_missed->count; i++)
		if (!G.t_confirm[storm_missed->first + i])
			return 0;
	return 1;
}

/* Every console comes back as a dropped console does (web-client's
 * back-off): each after a random wait below 500 ms, then, when an attempt
 * fails, below a ceiling doubling to 15 s. Until 7 Dec 2026 all came at
 * the same instant and retried 100-300 ms after a failure, which no
 * console does: at N = 10,000 over TLS the retries fed the overload
 * (46,157 of them; bench/README.md, "Admission"). */
static void come_back_all(int64_t t0)
{
	G.n_waiting_retry = 0; /* a storm cut short may have left some waiting */
	G.connect_window = G.n;
	G.n_started = G.n; /* start_tick starts none: retry_tick does, when due */
	G.inflight = G.n;
	G.allow_retry = 1;
	for (int i = 0; i < G.n; i++) {
		G.conns[i].attempt = 0;
		retry_later(&G.conns[i], t0);
	}
}

/* All consoles drop at once (RST, as when a network path fails); while
 * they are away the controller publishes `missed` alerts; then every
 * console reconnects (come_back_all: within 0.5 s, as consoles do), signs
 * in and, when the stream has an epoch,
 * resumes from its last position, which must bring the missed alerts. */
static void run_storm(struct phase *missed)
{
	struct cpu_mark cm = cpu_mark();
	int64_t t_drop, t0;
	uint64_t retries0 = G.retries, full0 = G.tls_full, resumed0 = G.tls_resumed;
	int closed = 0;

	note("reconnect storm: dropping %d consoles at once (RST)", G.n_ready);
	t_drop = now_us();
	for (int i = 0; i < G.n; i++) {
		struct conn *c = &G.conns[i];
		if (c->fd >= 0)
			closed++;
		conn_close(c, 1);
		c->st = S_IDLE;
	}
	G.n_ready = 0;
	G.n_resumed = 0;
	G.resume_mode = G.epoch[0] != 0;
	storm_missed = G.resume_mode ? missed : NULL;
	G.alert_ttl_s = 600; /* in force through the storm */
	if (storm_missed) {
		storm_missed->expected_per_alert = (uint64_t)closed;
		for (int i = 0; i < storm_missed->count; i++) {
			if (publish(storm_missed->first + i))
				die("controller tx full");
			if (!i)
				storm_missed->t_first_pub = G.t_pub[storm_missed->first];
			storm_missed->t_last_pub = G.t_pub[storm_missed->first + i];
		}
		run_until(missed_confirmed, now_us() + 10 * 1000000LL, NULL);
	}
	note("reconnect storm: %d consoles reconnect within 0.5 s%s", closed,
	     G.resume_mode ? ", resuming from their last position" : " (no stream epoch: no resume)");
	t0 = now_us();
	come_back_all(t0);
	G.t_last_ready = G.t_last_resumed = t0;
	run_until(storm_back, t0 + 60 * 1000000LL, NULL);
	G.allow_retry = 0;
	resulti("storm", "dropped", closed);
	resulti("storm", "back", G.n_ready);
	resulti("storm", "retries", (long long)(G.retries - retries0));
	resultf("storm", "drop_to_reconnect_ms", (t0 - t_drop) / 1000.0);
	resultf("storm", "all_signed_in_s", G.n_ready == G.n ? (G.t_last_ready - t0) / 1e6 : NAN);
	resultf("storm", "last_signed_in_s", (G.t_last_ready - t0) / 1e6);
	resulti("storm", "resume", G.resume_mode);
	if (G.resume_mode) {
		uint64_t expected = storm_missed ? storm_missed->expected_per_alert *
							   (uint64_t)storm_missed->count : 0;
		resulti("storm", "resumed", G.n_resumed);
		resulti("storm", "resume_ok", (long long)G.resume_status[0]);
		resulti("storm", "resume_pending", (long long)G.resume_status[1]);
		resulti("storm", "resume_reload", (long long)G.resume_status[2]);
		resulti("storm", "resume_other", (long long)G.resume_status[3]);
		resultf("storm", "all_resumed_s", G.n_resumed == G.n ? (G.t_last_resumed - t0) / 1e6 : NAN);
		resultf("storm", "last_resumed_s", (G.t_last_resumed - t0) / 1e6);
		if (storm_missed) {
			qsort(storm_missed->lat, storm_missed->nlat, sizeof *storm_missed->lat, cmp_u32);
			resulti("storm", "missed_alerts", storm_missed->count);
			resulti("storm", "missed_expected", (long long)expected);
			resulti("storm", "missed_delivered", (long long)storm_missed->got);
			resulti("storm", "missed_lost", (long long)(expected - storm_missed->got));
			resulti("storm", "missed_duplicates", (long long)storm_missed->dups);
		}
	}
	resultf("storm", "all_back_s",
		storm_back() ? ((G.resume_mode ? G.t_last_resumed : G.t_last_ready) - t0) / 1e6 : NAN);
	resulti("storm", "tls_full", (long long)(G.tls_full - full0));
	resulti("storm", "tls_resumed", (long long)(G.tls_resumed - resumed0));
	cpu_report("storm", cm);
	note("reconnect storm: %d of %d signed in within %.2f s, %d resumed within %.2f s "
	     "(%llu retries)%s", G.n_ready, closed, (G.t_last_ready - t0) / 1e6, G.n_resumed,
	     (G.t_last_resumed - t0) / 1e6, (unsigned long long)(G.retries - retries0),
	     storm_missed ? "" : "");
	if (storm_missed)
		note("reconnect storm: %llu of %llu missed alert deliveries recovered by resume",
		     (unsigned long long)storm_missed->got,
		     (unsigned long long)(storm_missed->expected_per_alert * (uint64_t)storm_missed->count));
}

/* The broker restarted under the consoles (--restart-cmd: it stops the
 * broker, starts it again, waits until it is healthy and prints its pid);
 * every console reconnects (come_back_all) and signs in, offering the ticket of
 * the broker before (--tls): resumption across a restart. */
static void run_restart_storm(const char *cmd)
{
	struct cpu_mark cm;
	uint64_t retries0 = G.retries, full0 = G.tls_full, resumed0 = G.tls_resumed;
	int64_t t0;
	FILE *p;
	int pid = 0, closed = 0;

	for (int i = 0; i < G.nconns; i++) {
		struct conn *c = &G.conns[i];
		if (c->fd >= 0 && c->role == R_CONSOLE)
			closed++;
		conn_close(c, 1);
		c->st = S_IDLE;
	}
	G.n_ready = 0;
	note("restart storm: restarting the broker (%s)", cmd);
	if (!(p = popen(cmd, "r")) || fscanf(p, "%d", &pid) != 1 || pclose(p) != 0 || pid <= 0) {
		note("restart storm: the restart command failed; skipped");
		return;
	}
	G.broker_pid = pid;
	G.resume_mode = 0;
	storm_missed = NULL;
	note("restart storm: %d consoles reconnect within 0.5 s to the new broker (pid %d)", closed,
	     pid);
	cm = cpu_mark();
	t0 = now_us();
	come_back_all(t0);
	G.t_last_ready = t0;
	run_until(storm_back, t0 + 60 * 1000000LL, NULL);
	G.allow_retry = 0;
	resulti("restart", "dropped", closed);
	resulti("restart", "back", G.n_ready);
	resulti("restart", "retries", (long long)(G.retries - retries0));
	resultf("restart", "all_back_s", storm_back() ? (G.t_last_ready - t0) / 1e6 : NAN);
	resulti("restart", "tls_full", (long long)(G.tls_full - full0));
	resulti("restart", "tls_resumed", (long long)(G.tls_resumed - resumed0));
	cpu_report("restart", cm);
	note("restart storm: %d of %d signed in within %.2f s (%llu retries; TLS: %llu full, %llu "
	     "resumed)", G.n_ready, closed, (G.t_last_ready - t0) / 1e6,
	     (unsigned long long)(G.retries - retries0), (unsigned long long)(G.tls_full - full0),
	     (unsigned long long)(G.tls_resumed - resumed0));
}

/* ---- identities and tokens (tocsin) ------------------------------------------ */

/* cleared: the account's cleared_sensitive, which the broker checks
 * against the users row at hello (a token whose claims differ is refused
 * as "changed"). */
static int mint_token(int64_t uid, const char *name, const char *role, int64_t org, int64_t site,
		      int cleared, char *out, size_t cap)
{
	char json[512], sitebuf[24];
	unsigned char tag[crypto_auth_BYTES];
	int64_t now = time(NULL);
	size_t jl, hl, b64;

	if (site)
		snprintf(sitebuf, sizeof sitebuf, "%lld", (long long)site);
	else
		strcpy(sitebuf, "null");
	jl = (size_t)snprintf(json, sizeof json,
			      "{\"clr\":%s,\"exp\":%lld,\"iat\":%lld,\"org\":%lld,\"role\":\"%s\","
			      "\"site\":%s,\"sub\":%lld,\"usr\":\"%s\"}",
			      cleared ? "true" : "false", (long long)(now + 8 * 3600), (long long)now,
			      (long long)org, role, sitebuf, (long long)uid, name);
	b64 = sodium_base64_ENCODED_LEN(jl, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (3 + b64 + 1 + sodium_base64_ENCODED_LEN(sizeof tag, sodium_base64_VARIANT_URLSAFE_NO_PADDING) > cap)
		return -1;
	memcpy(out, "v1.", 3);
	sodium_bin2base64(out + 3, b64, (unsigned char *)json, jl,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	hl = strlen(out);
	crypto_auth(tag, (unsigned char *)out, hl, G.key);
	out[hl] = '.';
	sodium_bin2base64(out + hl + 1, cap - hl - 1, tag, sizeof tag,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return (int)strlen(out);
}

static void load_users(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	int cap = 4096;

	if (!f)
		die("cannot open %s", path);
	G.u_id = malloc(cap * sizeof *G.u_id);
	G.u_site = malloc(cap * sizeof *G.u_site);
	G.u_org = malloc(cap * sizeof *G.u_org);
	G.u_name = malloc(cap * sizeof *G.u_name);
	while (fgets(line, sizeof line, f)) {
		long long id, site, org;
		char name[65];
		if (sscanf(line, "%lld %lld %lld %64s", &id, &site, &org, name) != 4)
			continue;
		if (G.n_users == cap)
			die("too many users in %s", path);
		G.u_id[G.n_users] = id;
		G.u_site[G.n_users] = site;
		G.u_org[G.n_users] = org;
		strcpy(G.u_name[G.n_users], name);
		G.n_users++;
	}
	fclose(f);
	if (!G.n_users)
		die("no users in %s", path);
	G.tok = malloc((size_t)G.n_users * sizeof *G.tok);
	for (int i = 0; i < G.n_users; i++)
		if (mint_token(G.u_id[i], G.u_name[i], "site_console", G.u_org[i], G.u_site[i], 0,
			       G.tok[i], sizeof G.tok[i]) < 0)
			die("token too long");
}

static void load_key(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f || fread(G.key, 1, 32, f) != 32)
		die("cannot read 32 bytes from %s", path);
	fclose(f);
}

/* ---- main ---------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen tocsin --port P [--port2 P2] --n N --users FILE --key FILE --controller UID:ORG:NAME[:t|f]\n"
		"                      --orgs A,B,C --broker-pid PID --db URL --out FILE [options]\n"
		"       loadgen mqtt   --port P --n N --broker-pid PID --out FILE [options]\n"
		"options: --solo K (10) --solo-gap-ms MS (500) --paced K (200) --rate R (20)\n"
		"         --burst K (200) --ack-alerts K (1) --storm-missed K (3) --no-storm --no-status\n"
		"         --tls --tls-resume 0|1 (1) --restart-cmd CMD\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *users = NULL, *keyf = NULL, *ctrl = NULL, *orgs = NULL, *db = NULL,
		   *out = NULL, *restart_cmd = NULL;
	int solo = 10, paced = 200, burst = 200, ack_alerts = 1, storm = 1, status = 1,
	    solo_gap_ms = 500,
	    missed = 3, n_fan;
	double rate = 20;
	long rss0, rssn;
	struct cpu_mark cm;

	if (argc < 2)
		usage();
	G.tls_resume = 1;
	if (!strcmp(argv[1], "tocsin"))
		G.proto = P_TOCSIN;
	else if (!strcmp(argv[1], "mqtt"))
		G.proto = P_MQTT;
	else
		usage();
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-storm")) {
			storm = 0;
			continue;
		}
		if (!strcmp(a, "--no-status")) {
			status = 0;
			continue;
		}
		if (!strcmp(a, "--tls")) {
			tls_init();
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--port")) G.port = atoi(v);
		else if (!strcmp(a, "--port2")) G.port2 = atoi(v);
		else if (!strcmp(a, "--n")) G.n = atoi(v);
		else if (!strcmp(a, "--users")) users = v;
		else if (!strcmp(a, "--key")) keyf = v;
		else if (!strcmp(a, "--controller")) ctrl = v;
		else if (!strcmp(a, "--orgs")) orgs = v;
		else if (!strcmp(a, "--broker-pid")) G.broker_pid = atoi(v);
		else if (!strcmp(a, "--pg-pid")) G.pg_pid = atoi(v);
		else if (!strcmp(a, "--db")) db = v;
		else if (!strcmp(a, "--out")) out = v;
		else if (!strcmp(a, "--solo")) solo = atoi(v);
		else if (!strcmp(a, "--solo-gap-ms")) solo_gap_ms = atoi(v);
		else if (!strcmp(a, "--paced")) paced = atoi(v);
		else if (!strcmp(a, "--rate")) rate = atof(v);
		else if (!strcmp(a, "--burst")) burst = atoi(v);
		else if (!strcmp(a, "--ack-alerts")) ack_alerts = atoi(v);
		else if (!strcmp(a, "--storm-missed")) missed = atoi(v);
		else if (!strcmp(a, "--tls-resume")) G.tls_resume = atoi(v);
		else if (!strcmp(a, "--restart-cmd")) restart_cmd = v;
		else usage();
	}
	if (G.port <= 0 || G.n <= 0 || !out || G.broker_pid <= 0)
		usage();
	if (G.n > MAX_CONNS)
		die("--n is at most %d (the file-descriptor limit is 20,000 per process)", MAX_CONNS);
	if (G.proto == P_TOCSIN && (!users || !keyf || !ctrl || !orgs || !db))
		usage();
	if (ack_alerts < 0 || ack_alerts > 64 || ack_alerts > burst)
		die("--ack-alerts must be 0 to 64 and at most --burst");
	if (G.proto != P_TOCSIN || !storm)
		missed = 0;
	if (rate <= 0 || solo < 0 || paced < 0 || burst < 0 || solo_gap_ms < 0 || missed < 0)
		usage();
	if (sodium_init() < 0)
		die("libsodium failed to start");
	if (getenv("LOADGEN_DUMP"))
		dump_frames = atoi(getenv("LOADGEN_DUMP"));
	signal(SIGPIPE, SIG_IGN);
	G.t_begin = now_us();
	G.alert_ttl_s = 60; /* the fan-out's alerts outlive its phases (see fanout_expired) */
	randombytes_buf(&G.rnd, sizeof G.rnd);
	G.rnd |= 1;
	if (!(G.out = fopen(out, "w")))
		die("cannot write %s", out);
	for (int i = 0; i < N_SRC_ADDR; i++)
		G.src[i].s_addr = htonl(0x7f000002u + (uint32_t)i);

	/* identities */
	if (G.proto == P_TOCSIN) {
		long long cuid, corg;
		char cname[65], ccleared[2] = "f";
		load_key(keyf);
		load_users(users);
		if (sscanf(ctrl, "%lld:%lld:%64[^:]:%1s", &cuid, &corg, cname, ccleared) < 3)
			die("--controller wants UID:ORG:NAME[:t|f]");
		if (mint_token(cuid, cname, "controller", corg, 0, ccleared[0] == 't', G.ctrl_tok,
			       sizeof G.ctrl_tok) < 0)
			die("token too long");
		snprintf(G.orgs_json, sizeof G.orgs_json, "%s", orgs);
	}

	/* every buffer, once */
	G.nconns = G.n + 1;
	G.n_alerts = solo + paced + burst + missed;
	G.words = (G.n_alerts + 63) / 64;
	G.conns = calloc((size_t)G.nconns, sizeof *G.conns);
	{
		unsigned char *rx = malloc((size_t)G.nconns * RX_CAP);
		unsigned char *as = malloc((size_t)G.nconns * ASM_CAP);
		unsigned char *ca = malloc((size_t)G.nconns * CARRY_CAP);
		unsigned char *tx = malloc((size_t)G.n * TX_CAP + TX_CAP_CTRL);
		uint64_t *seen = calloc((size_t)G.nconns * (size_t)(G.words ? G.words : 1), 8);
		if (!G.conns || !rx || !as || !ca || !tx || !seen)
			die("out of memory");
		for (int i = 0; i < G.nconns; i++) {
			struct conn *c = &G.conns[i];
			c->fd = -1;
			c->idx = (uint32_t)i;
			c->role = i < G.n ? R_CONSOLE : R_CONTROLLER;
			c->user = G.proto == P_TOCSIN ? (uint32_t)(i % G.n_users) : 0;
			c->rx = rx + (size_t)i * RX_CAP;
			c->asmb = as + (size_t)i * ASM_CAP;
			c->carry = ca + (size_t)i * CARRY_CAP;
			c->tx = tx + (size_t)i * TX_CAP;
			c->tx_cap = i < G.n ? TX_CAP : TX_CAP_CTRL;
			c->seen = seen + (size_t)i * (size_t)(G.words ? G.words : 1);
		}
	}
	G.ctrl = &G.conns[G.n];
	G.t_pub = calloc((size_t)G.n_alerts + 1, 8);
	G.t_last = calloc((size_t)G.n_alerts + 1, 8);
	G.t_confirm = calloc((size_t)G.n_alerts + 1, 8);
	G.alert_id = calloc((size_t)G.n_alerts + 1, 8);
	G.cnt = calloc((size_t)G.n_alerts + 1, 4);
	{
		struct { const char *name; int count; double rate; } ps[4] = {
			{ "solo", solo, -solo_gap_ms / 1000.0 },
			{ "paced", paced, rate },
			{ "burst", burst, 0 },
			{ "missed", missed, 0 }, /* published during the storm */
		};
		int first = 0;
		for (int i = 0; i < 4; i++) {
			struct phase *ph = &G.phases[G.n_phases];
			if (!ps[i].count)
				continue;
			ph->name = ps[i].name;
			ph->first = first;
			ph->count = ps[i].count;
			ph->rate = ps[i].rate;
			ph->lat = malloc((size_t)ps[i].count * (size_t)G.n * sizeof *ph->lat);
			for (int k = 0; G.port2 && k < 2; k++)
				ph->lat_node[k] = malloc((size_t)ps[i].count * (size_t)G.n *
							 sizeof *ph->lat);
			if (!ph->lat || (G.port2 && (!ph->lat_node[0] || !ph->lat_node[1])))
				die("out of memory");
			first += ps[i].count;
			G.n_phases++;
		}
	}
	if ((G.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	if (G.proto == P_TOCSIN)
		db_open(db);

	result("target", "%s", G.proto == P_TOCSIN ? "tocsin" : "mosquitto");
	result("n", "%d", G.n);
	if (G.proto == P_TOCSIN)
		result("sites", "%d", G.n_users);

	/* 4. idle memory (measured first, on a fresh broker) */
	rss0 = rss_kib(G.broker_pid);
	cm = cpu_mark();
	note("connecting %d consoles (at most %d handshakes at a time); broker RSS %ld KiB", G.n,
	     CONNECT_WINDOW, rss0);
	{
		double secs = connect_all(CONNECT_WINDOW, 120 * 1000000LL);
		resulti("connect", "ready", G.n_ready);
		resulti("connect", "retries", (long long)G.retries);
		resulti("connect", "auth_failures", (long long)G.auth_failures);
		resultf("connect", "s", secs);
		cpu_report("connect", cm);
		note("%d of %d consoles signed in in %.2f s (%llu retries)", G.n_ready, G.n, secs,
		     (unsigned long long)G.retries);
		if (G.ctrl->st != S_READY)
			die("the controller/publisher did not connect");
		if (G.n_ready < G.n / 2)
			die("fewer than half the consoles connected; giving up");
	}
	/* idle means settled: the broker trims its heap once the sign-ins
	 * have been quiet for 2 s (base/heap_trim.c), at its next 1 s tick */
	idle_for(4 * 1000000LL);
	rssn = rss_kib(G.broker_pid);
	result("idle.rss0_kib", "%ld", rss0);
	result("idle.rssn_kib", "%ld", rssn);
	result("idle.connections", "%d", G.n_ready);
	result("idle.bytes_per_conn", "%.1f", (rssn - rss0) * 1024.0 / (G.n_ready ? G.n_ready : 1));
	note("idle: RSS %ld -> %ld KiB with %d connections: %.0f bytes each", rss0, rssn, G.n_ready,
	     (rssn - rss0) * 1024.0 / (G.n_ready ? G.n_ready : 1));

	/* 1. fan-out */
	n_fan = G.n_phases - (missed ? 1 : 0);
	{
		uint64_t recorded = 0;
		int64_t base = G.proto == P_TOCSIN ? db_scalar("SELECT tocsin_delivery_count()") : 0;
		for (int i = 0; i < n_fan; i++) {
			run_phase(&G.phases[i]);
			recorded += G.phases[i].got;
			if (G.proto == P_TOCSIN)
				wait_delivery_records(G.phases[i].name, base, recorded);
			else
				idle_for(1000000);
		}
		if (G.proto == P_TOCSIN)
			fanout_expired();
		resulti("fanout", "tallies", G.n_tallies);
		resulti("fanout", "late_deliveries", (long long)late_total());
		resulti("fanout", "publish_errors", G.n_pub_errors);
		resulti("fanout", "published", G.n_published);
	}

	/* 2. acknowledgements */
	if (G.proto == P_TOCSIN && ack_alerts > 0 && G.n_ready > 0)
		run_acks(ack_alerts, G.n_alerts - burst);

	/* 3. status burst (answered "not implemented yet" by a broker without it) */
	if (G.proto == P_TOCSIN && G.n_ready > 0 && status)
		run_status();

	/* 5. reconnect storm */
	if (G.proto == P_TOCSIN && storm)
		run_storm(missed ? &G.phases[G.n_phases - 1] : NULL);
	if (G.proto == P_TOCSIN && restart_cmd)
		run_restart_storm(restart_cmd);
	result("tls", "%d", G.tls != NULL);
	result("tls.full", "%llu", (unsigned long long)G.tls_full);
	result("tls.resumed", "%llu", (unsigned long long)G.tls_resumed);

	for (int i = 0; i < n_fan; i++) {
		char k[64];
		snprintf(k, sizeof k, "%s.late", G.phases[i].name);
		result(k, "%llu", (unsigned long long)(G.phases[i].got - G.phases[i].got_at_report));
	}
	result("errors", "%llu", (unsigned long long)G.errors);
	result("drops", "%llu", (unsigned long long)G.drops);
	result("closes_4409", "%llu", (unsigned long long)G.closes_4409);
	result("oversize_frames", "%llu", (unsigned long long)G.oversize);
	result("foreign_frames", "%llu", (unsigned long long)G.foreign);
	for (int i = 0; i < 8 && G.close_codes[i]; i++) {
		char k[32];
		snprintf(k, sizeof k, "close_code.%u", G.close_code_val[i]);
		result(k, "%u", G.close_codes[i]);
	}
	resultf("loadgen", "cpu_s", self_cpu_s());
	result("done", "1");
	fclose(G.out);
	if (G.db)
		PQfinish(G.db);
	return 0;
}
