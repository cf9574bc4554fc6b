/* loop_wake.h: timers that fire on time under the libev loop.
 *
 * lws 4.1's libev glue keeps one ev_timer for all of lws' timers (lws_sul)
 * and, when a sooner one is scheduled while it is running, calls
 * ev_timer_set on the active watcher, which libev ignores: the sooner
 * timer then fires when the later one was due, up to a second late (a
 * 1 us "flush the rest of this query" timer of db.c, the 2 ms batching of
 * acks). loop_wake_timer() schedules the lws_sul as before and also wakes
 * the loop when it is due, through a heap of due times and an ev_timer of
 * ours; a wake-up runs lws' ripe timers (by lws_cancel_service, after
 * which lws services them). Loop thread only. */
#ifndef TOCSIN_LOOP_WAKE_H
#define TOCSIN_LOOP_WAKE_H

#include <libwebsockets.h>

struct loop_wake;

/* Wakes ctx's service loop at each due time; NULL on failure. */
struct loop_wake *loop_wake_new(void *ev_loop, struct lws_context *ctx);
void loop_wake_free(struct loop_wake *w);
/* Records that something is due in us microseconds. */
void loop_wake_at(struct loop_wake *w, lws_usec_t us);

/* lws_sul_schedule on tsi 0, plus the wake-up (ctx's user is the broker). */
void loop_wake_timer(struct lws_context *ctx, lws_sorted_usec_list_t *sul, sul_cb_t cb,
		    lws_usec_t us);

#endif
