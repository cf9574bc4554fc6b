/* liveness.c: pings idle connections and drops dead peers, in one sweep.
 *
 * lws' own keep-alive (a validity timer per connection) wakes the loop once
 * per connection per interval, for the ping and again for the pong, and
 * lws 4.1's poll() backend polls every connection at each wake-up; each
 * timer is also re-inserted into one sorted list of N timers. At 10,000
 * consoles and --ping-interval 25 that is some 800 wake-ups a second of
 * O(N) work: a third of the broker's CPU while idle, and alerts delayed by
 * seconds behind it (bench, 22 Nov 2026). Instead, one timer here walks the
 * sessions a few times per interval: a connection silent for an interval is
 * asked to ping (the ping goes out from its writeable callback, with the
 * others of the same sweep), and one silent for 2 x interval + 5 s is
 * dropped. A pong or any message counts as heard (proto.c). server.c
 * turns lws' own timers off. Loop thread only. */
#include "broker.h"
#include "loop_wake.h"
#include "session.h"
#include "clock.h"
#include "log.h"

#define SWEEPS_PER_INTERVAL 4
#define SWEEP_MIN_US (250 * 1000)

static int64_t interval_us(const struct broker *b)
{
	return (int64_t)b->conf.ping_interval * 1000000;
}

static int64_t sweep_us(const struct broker *b)
{
	int64_t us = interval_us(b) / SWEEPS_PER_INTERVAL;

	return us < SWEEP_MIN_US ? SWEEP_MIN_US : us;
}

/* One pass over the sessions: ping the silent, drop the dead. */
static void sweep(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_liveness);
	int64_t now = clock_mono_us(), iv = interval_us(b);
	int64_t hangup = 2 * iv + 5 * 1000000, since = now - b->liveness_at_us;

	for (struct session *s = b->sessions; s; s = s->next) {
		int64_t silent = now - s->heard_us;
		if (silent > hangup) {
			log_info("session %llu from %s (%s): no answer for %lld s; dropping it",
				 (unsigned long long)s->id, s->remote,
				 s->authed ? s->who.username : "not signed in",
				 (long long)(silent / 1000000));
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		} else if (silent >= iv && silent / iv != (silent - since) / iv && !s->ping_due) {
			/* one ping per interval of silence: when its length crossed a
			 * multiple of the interval since the last sweep */
			s->ping_due = 1;
			lws_callback_on_writable(s->wsi);
		}
	}
	b->liveness_at_us = now;
	loop_wake_timer(b->ctx, &b->sul_liveness, sweep, sweep_us(b));
}

void liveness_start(struct broker *b)
{
	b->liveness_at_us = clock_mono_us();
	if (b->conf.ping_interval > 0)
		loop_wake_timer(b->ctx, &b->sul_liveness, sweep, sweep_us(b));
}
