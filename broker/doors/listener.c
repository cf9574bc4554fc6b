/* listener.c: the listening socket, and when the broker accepts from it.
 *
 * The broker listens and accepts itself and hands each connection to lws
 * (lws_adopt_socket_vhost), where lws used to listen for it, so that it
 * can choose when not to accept. Admission under overload, as nginx and
 * HAProxy do it:
 *
 *  - At most --max-handshakes (1,024; conf.c says why) connections are
 *    between accept and sign-in
 *    (admission.h's gate: TLS handshakes, HTTP requests, upgrades, hellos
 *    being checked). At the limit the listener stops polling the socket,
 *    and the next connections wait in the kernel's listen queue
 *    (--listen-backlog) instead of being accepted and starved. lws took
 *    all that was queued at every wake-up: in a TLS reconnect storm of
 *    10,000 consoles on the loaded bench machine it had thousands of
 *    handshakes going at once, finished few before the load generator gave
 *    up on them (10 s) and came again, accepted the new attempts too, and
 *    ran out of descriptors: 473 of 10,000 back in 38 s, 46,157 retries
 *    (bench/README.md, "Admission").
 *  - Out of descriptors (EMFILE, ENFILE), lws logged "accept: Too many
 *    open files" and went back to a listen socket that was still
 *    readable: a busy loop and a line per attempt. Here the listener
 *    stops for ACCEPT_REST_US or until a connection closes (a descriptor
 *    is free), the queued connections wait, and the log says so once per
 *    episode (and every STARVED_LOG_US while it lasts), then once when the
 *    listen queue is empty again.
 *
 * A connection counts from its accept until session.c sees it signed in
 * (session_handshake_done) or lws destroys it (listener_gone); the wsi's
 * opaque user data marks it counted. Loop thread only. */
#include "broker.h"
#include "doors.h"
#include "session.h"
#include "clock.h"
#include "log.h"

#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Accepted per wake-up at most, so that one wake-up of a storm does not
 * hold the loop for all of a large --max-handshakes. */
#define ACCEPT_BATCH 64
/* How long the listener rests after EMFILE or ENFILE, unless a
 * connection closes first. */
#define ACCEPT_REST_US (100 * 1000)
#define STARVED_LOG_US (60 * 1000 * 1000)
/* Descriptors the broker holds besides its connections: PostgreSQL (3),
 * the journal, the bus, the loop's epoll, signalfd and eventfds, the
 * listener, lws' own, files being served: about 40 seen; room to spare. */
#define FILES_OWN 256

struct listener {
	struct broker *b;
	struct ev_loop *loop;
	ev_io io;
	ev_timer rest;           /* after EMFILE or ENFILE */
	int fd;
	int resting;             /* out of descriptors: wait for rest or a close */
	int64_t starved_since_us; /* this episode out of descriptors began (0: none) */
	int64_t starved_logged_us;
	uint64_t starved_refusals; /* accept() calls refused in this episode */
};

static void poll_on(struct listener *l, int on)
{
	if (on && !ev_is_active(&l->io))
		ev_io_start(l->loop, &l->io);
	else if (!on && ev_is_active(&l->io))
		ev_io_stop(l->loop, &l->io);
}

/* accept() failed for want of something (EMFILE, ENFILE; ENOBUFS,
 * ENOMEM or anything unforeseen alike): rest, rather than go back to a
 * socket that is still readable, and say so once per episode. */
static void starved(struct listener *l, int err)
{
	int64_t now = clock_mono_us();
	int files = err == EMFILE || err == ENFILE;
	struct rlimit rl = { 0 };

	if (files)
		l->b->metrics.accept_no_files++;
	l->starved_refusals++;
	if (!l->starved_since_us || now - l->starved_logged_us >= STARVED_LOG_US) {
		getrlimit(RLIMIT_NOFILE, &rl);
		if (!l->starved_since_us)
			log_warn("accept: %s (%s, errno %d; the file descriptor limit is %llu): "
				 "connections wait in the listen queue", files ?
				 "out of file descriptors" : "cannot accept", strerror(err), err,
				 (unsigned long long)rl.rlim_cur);
		else
			log_warn("accept: still out of file descriptors after %lld s (%llu attempts)",
				 (long long)((now - l->starved_since_us) / 1000000),
				 (unsigned long long)l->starved_refusals);
		if (!l->starved_since_us)
			l->starved_since_us = now;
		l->starved_logged_us = now;
	}
	l->resting = 1;
	poll_on(l, 0);
	ev_timer_set(&l->rest, ACCEPT_REST_US / 1e6, 0.);
	ev_timer_start(l->loop, &l->rest);
}

/* The listen queue is empty after an episode out of descriptors: it
 * ends there, not at the first accept that goes through, since each
 * connection that closes frees one descriptor for one accept. */
static void fed(struct listener *l)
{
	log_info("accepting again after %.1f s out of file descriptors or memory (%llu attempts "
		 "refused)",
		 (double)(clock_mono_us() - l->starved_since_us) / 1e6,
		 (unsigned long long)l->starved_refusals);
	l->starved_since_us = 0;
	l->starved_refusals = 0;
}

/* Hands one accepted socket to lws and counts it in. */
static void adopt(struct listener *l, int fd)
{
	struct broker *b = l->b;
	lws_sock_file_fd_type sock = { .sockfd = fd };
	struct lws *wsi;
	int one = 1;

	/* as lws' own listener did: every send is written at once */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	wsi = lws_adopt_descriptor_vhost(b->vhost, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP |
					 LWS_ADOPT_ALLOW_SSL, sock, NULL, NULL);
	if (!wsi)
		return; /* lws closed the socket */
	lws_set_opaque_user_data(wsi, &b->handshakes);
	admission_gate_enter(&b->handshakes);
}

/* Accepts what is queued, up to ACCEPT_BATCH and while the gate has room. */
static void accept_some(struct listener *l)
{
	struct broker *b = l->b;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd;

		if (!admission_gate_room(&b->handshakes, (unsigned)b->conf.max_handshakes)) {
			b->metrics.accept_pauses++;
			poll_on(l, 0); /* listener_pass starts it again */
			return;
		}
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED || errno == EPROTO))
			continue;
		if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (l->starved_since_us)
				fed(l);
			return;
		}
		if (fd < 0) {
			starved(l, errno);
			return;
		}
		adopt(l, fd);
	}
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	accept_some(w->data);
}

static void on_rested(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct listener *l = w->data;

	l->resting = 0;
	listener_pass(l);
}

void listener_pass(struct listener *l)
{
	if (!l || l->resting || ev_is_active(&l->io))
		return;
	if (!admission_gate_reopen(&l->b->handshakes, (unsigned)l->b->conf.max_handshakes))
		return;
	poll_on(l, 1);
	/* after a rest the queue may be empty already, and an empty queue
	 * wakes no one: try now, so that EAGAIN ends the episode */
	if (l->starved_since_us)
		accept_some(l);
}

void listener_gone(struct listener *l, struct broker *b, struct lws *wsi)
{
	session_handshake_done(b, wsi);
	if (l && l->resting) {
		/* a descriptor is free: try again now rather than at the timer */
		ev_timer_stop(l->loop, &l->rest);
		l->resting = 0;
	}
}

/* The socket, bound and listening; -1 (logged) on failure. */
static int listen_on(const struct conf *c)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char service[8];
	int fd = -1, one = 1, rc;

	snprintf(service, sizeof service, "%d", c->port);
	rc = getaddrinfo(c->listen_host[0] ? c->listen_host : NULL, service, &hints, &ai);
	if (rc) {
		log_error("cannot listen on %s:%d: %s", c->listen_host, c->port, gai_strerror(rc));
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, c->listen_backlog)) {
		log_error("cannot listen on %s:%d: bind: %s", c->listen_host, c->port,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

struct listener *listener_open(struct broker *b, void *ev_loop)
{
	struct listener *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->b = b;
	l->loop = ev_loop;
	l->fd = listen_on(&b->conf);
	if (l->fd < 0) {
		free(l);
		return NULL;
	}
	ev_io_init(&l->io, on_readable, l->fd, EV_READ);
	l->io.data = l;
	ev_timer_init(&l->rest, on_rested, 0., 0.);
	l->rest.data = l;
	poll_on(l, 1);
	return l;
}

void listener_free(struct listener *l)
{
	if (!l)
		return;
	poll_on(l, 0);
	ev_timer_stop(l->loop, &l->rest);
	close(l->fd);
	free(l);
}

void listener_files(const struct conf *c)
{
	rlim_t need = (rlim_t)c->max_connections + (rlim_t)c->max_handshakes + FILES_OWN;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need)
		log_warn("the file descriptor limit is %llu (LimitNOFILE, ulimit -n), below "
			 "max-connections + max-handshakes + %d = %llu: past it connections wait "
			 "in the listen queue", (unsigned long long)rl.rlim_cur, FILES_OWN,
			 (unsigned long long)need);
}
