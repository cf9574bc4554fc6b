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
#include "clock.h"

static void expire(lws_sorted_usec_list_t *sul);

/* Arms the timer for the head's deadline, unless it is armed already: it
 * then fires at an earlier deadline (the list is in deadline order) and
 * re-arms itself. A hello never re-arms it, as that would cost a walk of
 * lws' sorted timer list each time. */
static void arm(struct broker *b)
{
	int64_t wait;

	if (b->auth_armed || !b->auth_head)
		return;
	wait = b->auth_head->auth_deadline_us - clock_now_us();
	b->auth_armed = 1;
	timer_schedule(b->ctx, &b->sul_auth, expire, wait > 0 ? wait : 1);
}

static void unlink_session(struct broker *b, struct session *s)
{
	if (s->auth_prev)
		s->auth_prev->auth_next = s->auth_next;
	else
		b->auth_head = s->auth_next;
	if (s->auth_next)
		s->auth_next->auth_prev = s->auth_prev;
	else
		b->auth_tail = s->auth_prev;
	s->auth_prev = s->auth_next = NULL;
	s->auth_waiting = 0;
}

/* Closes the sessions whose time ran out without a hello (a hello being
 * checked already left the list). */
static void expire(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_auth);
	int64_t now = clock_now_us();
	struct session *s;

	b->auth_armed = 0;
	while ((s = b->auth_head) && s->auth_deadline_us <= now) {
		unlink_session(b, s);
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
	if (s->auth_waiting)
		return;
	s->auth_deadline_us = clock_now_us() + (int64_t)b->conf.auth_timeout * 1000000;
	s->auth_prev = b->auth_tail;
	s->auth_next = NULL;
	if (b->auth_tail)
		b->auth_tail->auth_next = s;
	else
		b->auth_head = s;
	b->auth_tail = s;
	s->auth_waiting = 1;
	arm(b);
}

void auth_deadline_remove(struct broker *b, struct session *s)
{
	if (s->auth_waiting)
		unlink_session(b, s);
}
