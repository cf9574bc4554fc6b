// links: adapters/anpr/input.c adapters/anpr/anpr_log.c
/* Unit tests for the ANPR adapter's line reader (adapters/anpr/input.c) on
 * stdin: lines cut across reads, CRLF, a last line without a newline,
 * over-long lines (reported once, the rest of the line dropped, the next
 * line intact), and a signal waking the wait. A writer thread feeds a pipe
 * that replaces fd 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../adapters/anpr/anpr_log.h"
#include "../../adapters/anpr/input.h"

#define MAX_LINES 64

struct got {
	int n;
	size_t len[MAX_LINES];
	int too_long[MAX_LINES];
	char *text[MAX_LINES];
};

static void on_line(void *ctx, const char *line, size_t len, int too_long)
{
	struct got *g = ctx;

	assert_true(g->n < MAX_LINES);
	g->len[g->n] = len;
	g->too_long[g->n] = too_long;
	g->text[g->n] = strndup(line, len < 64 ? len : 64);
	g->n++;
}

struct feed {
	int fd;
	const char *const *chunks; /* NULL-terminated; each written on its own */
	size_t big;                /* or: one line of this many 'x' then "\nafter\n" */
};

static void *writer(void *arg)
{
	struct feed *f = arg;

	if (f->chunks) {
		for (int i = 0; f->chunks[i]; i++) {
			size_t n = strlen(f->chunks[i]);

			if (write(f->fd, f->chunks[i], n) != (ssize_t)n)
				break;
			usleep(2000); /* separate reads */
		}
	} else {
		char *b = malloc(f->big + 8);

		memset(b, 'x', f->big);
		memcpy(b + f->big, "\nafter\n", 7);
		for (size_t off = 0; off < f->big + 7;) {
			ssize_t w = write(f->fd, b + off, f->big + 7 - off);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
		free(b);
	}
	close(f->fd);
	return NULL;
}

/* Reads everything a feed writes through input_pump into *g. */
static void pump_all(struct feed *f, struct got *g)
{
	int p[2], saved = dup(0), rc;
	struct input in;
	pthread_t t;
	sigset_t mask;

	memset(g, 0, sizeof *g);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(dup2(p[0], 0), 0);
	close(p[0]);
	f->fd = p[1];
	assert_int_equal(input_open_stdin(&in), 0);
	pthread_create(&t, NULL, writer, f);
	sigemptyset(&mask);
	while ((rc = input_pump(&in, &mask, on_line, g)) > 0)
		;
	assert_int_equal(rc, 0);
	pthread_join(t, NULL);
	input_close(&in);
	dup2(saved, 0);
	close(saved);
}

static void free_got(struct got *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->text[i]);
}

static void test_lines_across_reads(void **state)
{
	const char *const chunks[] = { "one\ntw", "o\r\n", "\n", "thr", "ee", "\nlast", NULL };
	struct feed f = { 0, chunks, 0 };
	struct got g;

	pump_all(&f, &g);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.text[0], "one");
	assert_string_equal(g.text[1], "two\r"); /* the scanner takes the CR as white space */
	assert_string_equal(g.text[2], "");
	assert_string_equal(g.text[3], "three");
	assert_string_equal(g.text[4], "last");  /* no newline before the end */
	for (int i = 0; i < g.n; i++)
		assert_false(g.too_long[i]);
	free_got(&g);
}

/* A line longer than the limit arriving in one go, and one far longer than
 * the buffer (arriving over many reads): each reported once as too long,
 * the next line intact. */
static void test_long_lines(void **state)
{
	size_t sizes[] = { INPUT_LINE_MAX, INPUT_LINE_MAX + 1, 3 * 65536 + 17 };

	for (size_t k = 0; k < 3; k++) {
		struct feed f = { 0, NULL, sizes[k] };
		struct got g;

		pump_all(&f, &g);
		assert_int_equal(g.n, 2);
		assert_int_equal(g.too_long[0], sizes[k] > INPUT_LINE_MAX);
		if (sizes[k] <= INPUT_LINE_MAX)
			assert_int_equal(g.len[0], sizes[k]);
		assert_false(g.too_long[1]);
		assert_string_equal(g.text[1], "after");
		free_got(&g);
	}
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal during the wait ends it (1: look at your flags), no line lost. */
static void test_signal_wakes(void **state)
{
	int p[2], saved = dup(0);
	struct sigaction sa;
	struct input in;
	struct got g = { 0 };
	sigset_t block, mask;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, &mask);
	sigdelset(&mask, SIGALRM);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(dup2(p[0], 0), 0);
	close(p[0]);
	assert_int_equal(input_open_stdin(&in), 0);
	alarm(1);
	assert_int_equal(input_pump(&in, &mask, on_line, &g), 1); /* woken, nothing read */
	assert_int_equal(g.n, 0);
	assert_int_equal(write(p[1], "x\n", 2), 2);
	close(p[1]);
	assert_int_equal(input_pump(&in, &mask, on_line, &g), 1);
	assert_int_equal(g.n, 1);
	assert_int_equal(input_pump(&in, &mask, on_line, &g), 0);
	input_close(&in);
	free_got(&g);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	dup2(saved, 0);
	close(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_across_reads),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_signal_wakes),
	};

	alog_set_level(ALOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
