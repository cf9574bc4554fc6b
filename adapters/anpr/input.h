/* input.h: where reads come from: stdin (JSON lines) or a ZeroMQ PULL
 * socket the adapter binds (--zmq ENDPOINT; each message is one read, or
 * several separated by newlines). Both wait with ppoll() and the caller's
 * signal mask, so a SIGTERM or SIGHUP is seen at once and never lost
 * between a check and a wait. */
#ifndef TOCSIN_ANPR_INPUT_H
#define TOCSIN_ANPR_INPUT_H

#include <signal.h>
#include <stddef.h>

#define INPUT_LINE_MAX 8192 /* longer lines are refused as malformed */

/* Called for each complete line (without its newline); too_long marks a
 * line over INPUT_LINE_MAX, of which only the start is given. */
typedef void (*input_line_fn)(void *ctx, const char *line, size_t len, int too_long);

struct input {
	int fd;          /* stdin, or a dup of ZMQ_FD (never closed by zmq) */
	void *zctx;      /* owned; NULL for stdin */
	void *zsock;     /* owned: the PULL */
	char *buf;       /* stdin: INPUT_LINE_MAX + 64 KiB, owned */
	size_t len;      /* bytes in buf */
	int skipping;    /* inside an over-long line: drop up to the next newline */
};

/* 0, or -1 after logging why. */
int input_open_stdin(struct input *in);
int input_open_zmq(struct input *in, const char *endpoint);

/* Waits for input (with wait_mask in force, so signals interrupt) and
 * hands every complete line to fn. 1: call again (also after a signal);
 * 0: end of input (stdin closed; a last line without newline is given);
 * -1: error (logged). */
int input_pump(struct input *in, const sigset_t *wait_mask, input_line_fn fn, void *ctx);

void input_close(struct input *in);

#endif
