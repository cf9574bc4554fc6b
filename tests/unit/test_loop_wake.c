// links: broker/io/loop_wake.c broker/base/clock.c
/* Unit tests for loop_wake.c on a real lws context over a libev loop, as
 * server.c runs it: an lws_sul scheduled through loop_wake_timer() fires
 * at its own time even while a later one is running (lws 4.1's libev glue
 * alone would hold it until the later one is due). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ev.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "loop_wake.h"

struct fired {
	lws_sorted_usec_list_t sul;
	lws_usec_t at;
};

static void mark(lws_sorted_usec_list_t *sul)
{
	struct fired *f = lws_container_of(sul, struct fired, sul);
	f->at = lws_now_usecs();
}

/* What the pipe's reader does on its next read: schedule this timer. */
static struct {
	struct lws_context *ctx;
	struct fired *f;
	lws_usec_t us;
	lws_usec_t scheduled_at;
	int reads;
} on_read;

/* The pipe's reader: drains it, and schedules on_read's timer from inside
 * an lws callback, where the broker schedules most of its timers. */
static int pipe_cb(struct lws *wsi, enum lws_callback_reasons r, void *u, void *in, size_t len)
{
	char buf[64];

	if (r != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	while (read(lws_get_socket_fd(wsi), buf, sizeof buf) > 0)
		;
	on_read.reads++;
	if (on_read.f) {
		on_read.scheduled_at = lws_now_usecs();
		loop_wake_timer(on_read.ctx, &on_read.f->sul, mark, on_read.us);
		on_read.f = NULL;
	}
	return 0;
}

/* A context on a foreign libev loop, with no listening port. */
static struct lws_context *context(struct ev_loop *loop, struct broker *b)
{
	static void *loops[1];
	static const struct lws_protocols protocols[] = {
		{ "t", pipe_cb, 0, 0, 0, NULL, 0 }, { NULL, NULL, 0, 0, 0, NULL, 0 }
	};
	struct lws_context_creation_info info;

	loops[0] = loop;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_LIBEV;
	info.foreign_loops = loops;
	info.user = b;
	lws_set_log_level(LLL_ERR, NULL);
	return lws_create_context(&info);
}

/* Runs the loop until f has fired or limit_us has passed. */
static void run_until(struct ev_loop *loop, struct fired *f, lws_usec_t limit_us)
{
	lws_usec_t end = lws_now_usecs() + limit_us;
	while (!f->at && lws_now_usecs() < end)
		ev_run(loop, EVRUN_ONCE);
}

/* Adopts the read end of a pipe into ctx; returns the write end. */
static int adopt_pipe(struct lws_context *ctx)
{
	int fds[2];
	lws_sock_file_fd_type fd;

	assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
	fd.filefd = fds[0];
	assert_non_null(lws_adopt_descriptor_vhost(lws_get_vhost_by_name(ctx, "default"),
						   LWS_ADOPT_RAW_FILE_DESC, fd, "t", NULL));
	return fds[1];
}

/* Runs the loop until the pipe has been read n times in all. */
static void run_reads(struct ev_loop *loop, int n)
{
	lws_usec_t end = lws_now_usecs() + 2 * LWS_US_PER_SEC;
	while (on_read.reads < n && lws_now_usecs() < end)
		ev_run(loop, EVRUN_ONCE);
	assert_int_equal(on_read.reads, n);
}

/* The case lws 4.1's glue gets wrong: lws' own timer already running for
 * a later event when, inside an lws callback, a sooner one is scheduled. */
static void test_sooner_timer_fires_first(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL);
	struct broker *b = calloc(1, sizeof *b);
	struct lws_context *ctx;
	struct fired late = { 0 }, soon = { 0 };
	int wr;

	assert_non_null(loop);
	assert_non_null(b);
	ctx = context(loop, b);
	assert_non_null(ctx);
	b->wake = loop_wake_new(loop, ctx);
	assert_non_null(b->wake);
	wr = adopt_pipe(ctx);
	memset(&on_read, 0, sizeof on_read);
	on_read.ctx = ctx;

	/* a later timer, armed by lws after a first read */
	on_read.f = &late;
	on_read.us = 8 * LWS_US_PER_SEC;
	assert_int_equal(write(wr, "x", 1), 1);
	run_reads(loop, 1);
	/* then a sooner one, from the next read */
	on_read.f = &soon;
	on_read.us = 20 * 1000;
	assert_int_equal(write(wr, "y", 1), 1);
	run_reads(loop, 2);
	run_until(loop, &soon, 6 * LWS_US_PER_SEC);

	assert_true(soon.at != 0);
	assert_true(soon.at - on_read.scheduled_at >= 20 * 1000);        /* never early */
	assert_true(soon.at - on_read.scheduled_at < 4 * LWS_US_PER_SEC); /* not held back */
	assert_int_equal(late.at, 0);

	lws_sul_cancel(&late.sul);
	close(wr);
	loop_wake_free(b->wake);
	lws_context_destroy(ctx);
	ev_loop_destroy(loop);
	free(b);
}

/* Many due times, some for timers since cancelled: each scheduled timer
 * fires, and the spurious wake-ups do no harm. */
static void test_many_timers(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL);
	struct broker *b = calloc(1, sizeof *b);
	struct lws_context *ctx;
	struct fired f[40];
	struct fired last = { 0 };

	assert_non_null(loop);
	assert_non_null(b);
	ctx = context(loop, b);
	assert_non_null(ctx);
	b->wake = loop_wake_new(loop, ctx);
	memset(f, 0, sizeof f);
	loop_wake_timer(ctx, &last.sul, mark, 5 * LWS_US_PER_SEC);
	for (int i = 0; i < 40; i++)
		loop_wake_timer(ctx, &f[i].sul, mark, (lws_usec_t)(40 - i) * 1000);
	for (int i = 0; i < 40; i += 2)
		lws_sul_cancel(&f[i].sul);
	run_until(loop, &f[1], 4 * LWS_US_PER_SEC); /* due last of the 40 (39 ms) */
	for (int i = 0; i < 40; i++) {
		if (i % 2)
			assert_true(f[i].at != 0);
		else
			assert_int_equal(f[i].at, 0);
	}
	assert_int_equal(last.at, 0);
	lws_sul_cancel(&last.sul);
	loop_wake_free(b->wake);
	lws_context_destroy(ctx);
	ev_loop_destroy(loop);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sooner_timer_fires_first),
		cmocka_unit_test(test_many_timers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
