/* auth_deadline.c: the time a new connection has to send a hello whose
 * token verifies (--auth-timeout).
 *
 * Every connection gets the same allowance, so deadlines fall in the order
 * connections open: a FIFO list of the sessions still waiting, and one
 * timer for its head. This replaces a per-connection lws timer, which
 * lws 4.1 keeps in one sorted list: inserting 10,000 of them during a
 * reconnect storm walked that list 10,000 times (a quarter of the
 * broker's time in the storm). Loop thread only. */
#include "broker.h"
#include "loop_wake.h"
#include "session.h"
#include "clock.h"

static void expire(lws_sorted_usec_list_t *sul);

/* The session that has waited longest for its hello; NULL when none. */
static struct session *oldest(struct broker *b)
{
	lws_dll2_t *d = lws_dll2_get_head(&b->auth_waiting);

	return d ? lws_container_of(d, struct session, auth_link) : NULL;
}

/* Arms the timer for the head's deadline, unless it is armed already: it
 * then fires at an earlier deadline (the list is in deadline order) and
 * re-arms itself. A hello never re-arms it, as that would cost a walk of
 * lws' sorted timer list each time. */
static void arm(struct broker *b)
{
	int64_t wait;

	if (b->auth_armed || !b->auth_waiting.head)
		return;
	wait = oldest(b)->auth_deadline_us - clock_mono_us();
	b->auth_armed = 1;
	loop_wake_timer(b->ctx, &b->sul_auth, expire, wait > 0 ? wait : 1);
}

/* Closes the sessions whose time ran out without a hello (a hello being
 * checked already left the list). */
static void expire(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_auth);
	int64_t now = clock_mono_us();
	struct session *s;

	b->auth_armed = 0;
	while ((s = oldest(b)) && s->auth_deadline_us <= now) {
		lws_dll2_remove(&s->auth_link);
		if (!s->authed && !s->hello_checking) {
			session_reply_error(s, "", "auth_timeout", NULL,
					    "no hello within the time allowed");
			session_close_after(s, 4401, "auth_timeout");
		}
	}
	arm(b);
}

void auth_deadline_add(struct broker *b, struct session *s)
{
	if (!lws_dll2_is_detached(&s->auth_link))
		return;
	s->auth_deadline_us = clock_mono_us() + (int64_t)b->conf.auth_timeout * 1000000;
	lws_dll2_add_tail(&s->auth_link, &b->auth_waiting);
	arm(b);
}

void auth_deadline_remove(struct broker *b, struct session *s)
{
	lws_dll2_remove(&s->auth_link);
}
