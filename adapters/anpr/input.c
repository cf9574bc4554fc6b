/* input.c: reading lines from stdin or a ZeroMQ PULL socket (input.h). */
#include "input.h"

#include "anpr_log.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define STDIN_CHUNK (64 * 1024)
#define ZMQ_MSG_MAX (1024 * 1024) /* bigger messages are dropped by ZeroMQ */

/* One buffer for the whole run: a line never allocates. */
int input_open_stdin(struct input *in)
{
	memset(in, 0, sizeof *in);
	in->fd = STDIN_FILENO;
	in->buf = malloc(INPUT_LINE_MAX + STDIN_CHUNK);
	if (!in->buf) {
		alog_error("out of memory");
		return -1;
	}
	return 0;
}

/* A size cap on messages, so one sender cannot make us allocate much. */
int input_open_zmq(struct input *in, const char *endpoint)
{
	int64_t max = ZMQ_MSG_MAX;
	int linger = 0;
	size_t fdlen = sizeof in->fd;

	memset(in, 0, sizeof *in);
	in->zctx = zmq_ctx_new();
	in->zsock = in->zctx ? zmq_socket(in->zctx, ZMQ_PULL) : NULL;
	if (!in->zsock || zmq_setsockopt(in->zsock, ZMQ_MAXMSGSIZE, &max, sizeof max) ||
	    zmq_setsockopt(in->zsock, ZMQ_LINGER, &linger, sizeof linger) ||
	    zmq_bind(in->zsock, endpoint) ||
	    zmq_getsockopt(in->zsock, ZMQ_FD, &in->fd, &fdlen)) {
		alog_error("cannot bind a PULL socket at %s: %s", endpoint, zmq_strerror(errno));
		input_close(in);
		return -1;
	}
	alog_info("reading camera reads from a ZeroMQ PULL socket bound at %s", endpoint);
	return 0;
}

/* Waits until fd is readable or a signal comes in: 1 readable, 0
 * interrupted (the caller looks at its flags before reading), -1 error
 * (logged). */
static int wait_readable(int fd, const sigset_t *mask)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int n = ppoll(&p, 1, NULL, mask);

	if (n < 0 && errno == EINTR)
		return 0;
	if (n < 0) {
		alog_error("poll: %s", strerror(errno));
		return -1;
	}
	return 1;
}

/* Hands out the complete lines in data[0..n); returns how many bytes were
 * consumed (the rest is a partial line). */
static size_t split_lines(struct input *in, const char *data, size_t n, input_line_fn fn,
			  void *ctx)
{
	size_t start = 0;

	for (;;) {
		const char *nl = memchr(data + start, '\n', n - start);
		size_t len;

		if (!nl)
			return start;
		len = (size_t)(nl - (data + start));
		if (in->skipping)
			in->skipping = 0; /* the tail of an over-long line: already reported */
		else
			fn(ctx, data + start, len, len > INPUT_LINE_MAX);
		start += len + 1;
	}
}

/* stdin: read a chunk, hand out its lines, keep the partial last line. */
static int pump_stdin(struct input *in, const sigset_t *mask, input_line_fn fn, void *ctx)
{
	int ready = wait_readable(in->fd, mask);
	ssize_t r;
	size_t used;

	if (ready <= 0)
		return ready < 0 ? -1 : 1;
	r = read(in->fd, in->buf + in->len, INPUT_LINE_MAX + STDIN_CHUNK - in->len);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (r < 0) {
		alog_error("reading stdin: %s", strerror(errno));
		return -1;
	}
	if (r == 0) {
		if (in->len && !in->skipping)
			fn(ctx, in->buf, in->len, in->len > INPUT_LINE_MAX);
		in->len = 0;
		return 0;
	}
	in->len += (size_t)r;
	used = split_lines(in, in->buf, in->len, fn, ctx);
	memmove(in->buf, in->buf + used, in->len - used);
	in->len -= used;
	if (in->len > INPUT_LINE_MAX) {
		/* No newline within the limit: report it once, drop the rest. */
		if (!in->skipping)
			fn(ctx, in->buf, in->len, 1);
		in->skipping = 1;
		in->len = 0;
	}
	return 1;
}

/* One ZeroMQ message: its lines, and a last line without a newline. */
static void zmq_message_lines(struct input *in, const char *data, size_t n, input_line_fn fn,
			      void *ctx)
{
	size_t used;

	in->skipping = 0;
	used = split_lines(in, data, n, fn, ctx);
	if (used < n)
		fn(ctx, data + used, n - used, n - used > INPUT_LINE_MAX);
}

/* ZMQ_FD is edge-triggered: drain every message until EAGAIN, and only
 * wait on the fd when ZMQ_EVENTS says nothing is readable. */
static int pump_zmq(struct input *in, const sigset_t *mask, input_line_fn fn, void *ctx)
{
	int events = 0, got = 0;
	size_t elen = sizeof events;

	for (int i = 0; i < 4096; i++) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, in->zsock, ZMQ_DONTWAIT) < 0) {
			int e = errno;

			zmq_msg_close(&m);
			if (e == EAGAIN || e == EINTR)
				break;
			alog_error("zmq receive: %s", zmq_strerror(e));
			return -1;
		}
		zmq_message_lines(in, zmq_msg_data(&m), zmq_msg_size(&m), fn, ctx);
		zmq_msg_close(&m);
		got = 1;
	}
	if (got) {
		/* A busy stream never reaches the wait below: let a pending
		 * SIGTERM or SIGHUP in here, so it is not held off for ever. */
		struct timespec zero = { 0, 0 };

		if (ppoll(NULL, 0, &zero, mask) < 0 && errno != EINTR) {
			alog_error("poll: %s", strerror(errno));
			return -1;
		}
		return 1; /* back to the caller to look at its flags, then drain on */
	}
	if (zmq_getsockopt(in->zsock, ZMQ_EVENTS, &events, &elen)) {
		alog_error("zmq events: %s", zmq_strerror(errno));
		return -1;
	}
	if (events & ZMQ_POLLIN)
		return 1;
	return wait_readable(in->fd, mask) < 0 ? -1 : 1;
}

/* One wait and whatever it brought, then back to the caller's flags. */
int input_pump(struct input *in, const sigset_t *wait_mask, input_line_fn fn, void *ctx)
{
	return in->zsock ? pump_zmq(in, wait_mask, fn, ctx) : pump_stdin(in, wait_mask, fn, ctx);
}

/* Socket before context, as ZeroMQ requires. */
void input_close(struct input *in)
{
	if (in->zsock)
		zmq_close(in->zsock);
	if (in->zctx)
		zmq_ctx_term(in->zctx);
	free(in->buf);
	memset(in, 0, sizeof *in);
}
