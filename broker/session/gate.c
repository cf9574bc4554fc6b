/* gate.c: the held-queue gate in front of a session's live alerts.
 *
 * While a session catches up (handle/resume.c reads its backlog and the
 * alerts in force for it), live alerts must not overtake what it reads:
 * they wait in the session's held queue and follow it, without those the
 * catch-up already carried. The gate is closed at sign-in and opened when
 * the catch-up has been queued. Loop thread only. */
#include "broker.h"
#include "session.h"
#include "log.h"

void gate_close(struct session *s)
{
	s->resuming = 1;
}

void gate_deliver(struct session *s, struct msg *m)
{
	struct broker *b;

	if (!s->resuming) {
		session_send(s, m);
		return;
	}
	b = session_broker(s);
	if (outq_push(&s->held, m, b->conf.queue_max_msgs, b->conf.queue_max_bytes)) {
		log_warn("session %llu: too many live alerts while resuming; closing to resume again",
			 (unsigned long long)s->id);
		outq_clear(&s->held);
		session_close_after(s, 4409, "slow_consumer");
	}
}

void gate_open(struct session *s, int64_t last_seq,
	       int (*carried)(const void *backlog, int64_t alert_id), const void *backlog)
{
	struct msg *m;

	s->resuming = 0;
	while ((m = outq_peek(&s->held))) {
		int was_carried = (m->seq && m->seq <= last_seq) ||
				  (carried && m->alert_id && carried(backlog, m->alert_id));
		if (!was_carried)
			session_send(s, m);
		outq_pop(&s->held);
	}
	outq_clear(&s->held);
}
