/* loop_wake.c: wake the libev loop when an lws timer is due (loop_wake.h). */
#include "loop_wake.h"
#include "broker.h"
#include "clock.h"

#include <ev.h>
#include <stdlib.h>

struct loop_wake {
	struct ev_loop *loop;
	struct lws_context *ctx;
	ev_timer timer;
	ev_tstamp *due;   /* owned: a min-heap of due times (clock_mono_us, in s) */
	size_t n, cap;
};

static void heap_up(ev_tstamp *h, size_t i)
{
	while (i && h[(i - 1) / 2] > h[i]) {
		ev_tstamp t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static void heap_pop(ev_tstamp *h, size_t *n)
{
	size_t i = 0;

	h[0] = h[--*n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < *n && h[l] < h[m])
			m = l;
		if (r < *n && h[r] < h[m])
			m = r;
		if (m == i)
			return;
		ev_tstamp t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Now on the monotonic clock, in seconds. Not ev_now(): that is wall-clock
 * time, and after a step of the wall clock every due time in the heap was
 * early or late by the step (lws' own timers are monotonic). */
static ev_tstamp now_s(void)
{
	return (ev_tstamp)clock_mono_us() / 1e6;
}

/* Arms the ev_timer for the earliest due time (stopping it first: libev
 * takes no new time for a running timer). libev's timers run on its
 * monotonic clock; ev_now_update() makes it start from now. */
static void arm(struct loop_wake *w)
{
	ev_tstamp now;

	ev_timer_stop(w->loop, &w->timer);
	if (!w->n)
		return;
	ev_now_update(w->loop);
	now = now_s();
	ev_timer_set(&w->timer, w->due[0] > now ? w->due[0] - now : 0., 0.);
	ev_timer_start(w->loop, &w->timer);
}

/* Something is due: lws_cancel_service wakes lws' part of the loop, which
 * then runs every ripe lws_sul and re-arms its own timer correctly (it is
 * not running then). */
static void fired(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct loop_wake *w = t->data;
	ev_tstamp now = now_s();

	(void)loop;
	(void)revents;
	while (w->n && w->due[0] <= now)
		heap_pop(w->due, &w->n);
	lws_cancel_service(w->ctx);
	arm(w);
}

struct loop_wake *loop_wake_new(void *ev_loop, struct lws_context *ctx)
{
	struct loop_wake *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->loop = ev_loop;
	w->ctx = ctx;
	ev_timer_init(&w->timer, fired, 0., 0.);
	w->timer.data = w;
	return w;
}

void loop_wake_free(struct loop_wake *w)
{
	if (!w)
		return;
	ev_timer_stop(w->loop, &w->timer);
	free(w->due);
	free(w);
}

void loop_wake_at(struct loop_wake *w, lws_usec_t us)
{
	ev_tstamp due;

	if (!w)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		ev_tstamp *grown = realloc(w->due, cap * sizeof *grown);
		if (!grown)
			return; /* lws' own timer still fires, if late */
		w->due = grown;
		w->cap = cap;
	}
	due = now_s() + (ev_tstamp)us / 1e6;
	w->due[w->n] = due;
	heap_up(w->due, w->n++);
	if (w->due[0] == due)
		arm(w);
}

void loop_wake_timer(struct lws_context *ctx, lws_sorted_usec_list_t *sul, sul_cb_t cb,
		    lws_usec_t us)
{
	struct broker *b = lws_context_user(ctx);

	lws_sul_schedule(ctx, 0, sul, cb, us);
	if (b)
		loop_wake_at(b->wake, us);
}
