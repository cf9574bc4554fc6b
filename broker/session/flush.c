/* flush.c: writing what the sessions queued.
 *
 * What a pass of the loop queues for an idle socket is written at the end
 * of that pass, all of it in one send (flush_pass, a slice of sessions at
 * a time); the rest from the writeable callback (flush_writeable), one
 * send per wake-up. Each alert frame written is a delivery, handed to the
 * delivery log. Loop thread only. */
#include "broker.h"
#include "session.h"
#include "clock.h"
#include "delivery_log.h"

#include <stdlib.h>
#include <string.h>

#define WRITES_PER_CALLBACK 64
/* Sessions written per call of flush_pass: a fan-out to 10,000
 * consoles takes about 100 ms of sends on a busy 2-core machine; in slices
 * of this many (about 10 ms), the loop reads the database and the next
 * publish in between, so a publish's answer does not wait for the whole
 * fan-out of the one before, and frames queued meanwhile for a session not
 * yet written leave in the same send. */
#define FLUSH_SLICE 1024
#define TX_BATCH_BYTES (32 * 1024)

_Static_assert(MSG_HEADROOM >= LWS_PRE + MSG_FRAME_HDR_MAX,
	       "a pre-framed message still needs LWS_PRE bytes before its header");

/* Where several queued frames are put together for one send: used by one
 * writeable callback at a time, on the loop thread only, so one buffer
 * serves every connection. */
static unsigned char tx_batch[LWS_PRE + TX_BATCH_BYTES];
/* The ping's payload, after the headroom lws writes its header into. A
 * ping must carry a payload: lws 4.1 does not pass an empty pong on as
 * LWS_CALLBACK_RECEIVE_PONG. */
static unsigned char ping_frame[LWS_PRE + 1] = { [LWS_PRE] = 'p' };

/* After frames went out: records the alert deliveries and drops them. */
static void sent(struct broker *b, struct session *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct msg *m = outq_peek(&s->q);
		if (m->kind == MSG_ALERT && s->authed) {
			delivery_log_add(b->deliveries, m->alert_id, s->who.site_id, s->who.user_id);
			b->metrics.deliveries++;
		}
		outq_pop(&s->q);
	}
}

/* Writes the queued frames as one send: each message is already framed
 * (outq.h), so one frame goes straight from the shared message and
 * several are copied back to back into tx_batch (up to TX_BATCH_BYTES).
 * This costs one system call per connection per wake-up instead of one per
 * frame (and no poll() to ask whether the socket would take more).
 * lws_write with LWS_WRITE_HTTP sends the bytes as they are and keeps
 * what the socket did not take, so a partial send is not an error.
 * Returns the number of messages written, or -1. */
static int write_batch(struct session *s)
{
	struct msg *m = outq_peek(&s->q);
	size_t len = msg_frame_len(m);
	unsigned n = 1;

	if (len >= TX_BATCH_BYTES || !outq_at(&s->q, 1))
		return lws_write(s->wsi, msg_frame(m), len, LWS_WRITE_HTTP) < 0 ? -1 : 1;
	memcpy(tx_batch + LWS_PRE, msg_frame(m), len);
	while (n < WRITES_PER_CALLBACK && (m = outq_at(&s->q, n)) &&
	       len + msg_frame_len(m) <= TX_BATCH_BYTES) {
		memcpy(tx_batch + LWS_PRE + len, msg_frame(m), msg_frame_len(m));
		len += msg_frame_len(m);
		n++;
	}
	return lws_write(s->wsi, tx_batch + LWS_PRE, len, LWS_WRITE_HTTP) < 0 ? -1 : (int)n;
}

/* Lists a session whose queue was empty, to be written at the end of this
 * pass of the loop (flush_pass) rather than after a request for
 * writeability: with epoll that request costs two epoll_ctl and an event
 * per connection, and at the end of the pass every alert the pass fanned
 * out leaves in one send. Without room in the list, the writeable
 * callback does it. */
void flush_later(struct broker *b, struct session *s)
{
	if (s->flush_listed)
		return;
	if (b->n_flush == b->cap_flush && b->flush_head) {
		/* reuse the room of the sessions already written */
		memmove(b->to_flush, b->to_flush + b->flush_head,
			(b->n_flush - b->flush_head) * sizeof *b->to_flush);
		b->n_flush -= b->flush_head;
		b->flush_head = 0;
	}
	if (b->n_flush == b->cap_flush) {
		size_t cap = b->cap_flush ? b->cap_flush * 2 : 1024;
		uint64_t *grown = realloc(b->to_flush, cap * sizeof *grown);
		if (!grown) {
			lws_callback_on_writable(s->wsi);
			return;
		}
		b->to_flush = grown;
		b->cap_flush = cap;
	}
	b->to_flush[b->n_flush++] = s->id;
	s->flush_listed = 1;
}

/* Writes one listed session's queue, unless lws still holds the rest of
 * an earlier partial send (bytes never overtake each other). No poll()
 * first (lws_send_pipe_choked): at 200,000 deliveries a second that was a
 * syscall per send, 6 % of the broker's time; a socket that is full takes
 * nothing, lws keeps that one batch (at most TX_BATCH_BYTES) and asks for
 * writeability itself. Not on an HTTP/2 stream nor with a ping waiting
 * (the writeable callback orders those); what is left waits for the
 * writeable callback. */
static void flush_one(struct broker *b, struct session *s)
{
	int n = 0;

	s->flush_listed = 0;
	if (!outq_peek(&s->q) || s->close_code)
		return;
	if (!s->ping_due && lws_get_network_wsi(s->wsi) == s->wsi &&
	    !lws_partial_buffered(s->wsi)) {
		n = write_batch(s);
		if (n > 0)
			sent(b, s, (unsigned)n);
	}
	if (n <= 0 || outq_peek(&s->q))
		lws_callback_on_writable(s->wsi);
}

/* Every session listed since the oldest fan-out still open has been
 * written (or handed to its writeable callback, a socket that is full):
 * that fan-out, and any after it, are complete (tocsin_fanout_seconds). */
static void fanout_done(struct broker *b)
{
	if (!b->metrics.fanout_since_us)
		return;
	metrics_observe_fanout(&b->metrics,
			       (double)(clock_now_us() - b->metrics.fanout_since_us) / 1e6);
	b->metrics.fanout_since_us = 0;
}

int flush_pass(struct broker *b)
{
	size_t end = b->flush_head + FLUSH_SLICE < b->n_flush ? b->flush_head + FLUSH_SLICE
							      : b->n_flush;

	while (b->flush_head < end) {
		struct session *s = session_find(b, b->to_flush[b->flush_head++]);
		if (s)
			flush_one(b, s);
	}
	if (b->flush_head == b->n_flush) {
		b->flush_head = b->n_flush = 0;
		fanout_done(b);
	}
	return b->flush_head < b->n_flush;
}

/* The same through lws' own framing, one frame per lws_write, for a
 * WebSocket carried inside an HTTP/2 stream (lws frames that itself). */
static int write_framed(struct session *s)
{
	struct msg *m = outq_peek(&s->q);

	return lws_write(s->wsi, msg_payload(m), m->len, LWS_WRITE_TEXT) < (int)m->len ? -1 : 1;
}

int flush_writeable(struct broker *b, struct session *s)
{
	int n;

	if (s->ping_due) {
		/* liveness.c's ping, alone in this callback; data follows in the next */
		s->ping_due = 0;
		if (lws_write(s->wsi, ping_frame + LWS_PRE, 1, LWS_WRITE_PING) < 0)
			return -1;
		if (outq_peek(&s->q) || s->close_code)
			lws_callback_on_writable(s->wsi);
		return 0;
	}
	if (outq_peek(&s->q)) {
		n = lws_get_network_wsi(s->wsi) == s->wsi ? write_batch(s) : write_framed(s);
		if (n < 0)
			return -1;
		sent(b, s, (unsigned)n);
		if (outq_peek(&s->q) || s->close_code)
			lws_callback_on_writable(s->wsi);
		return 0;
	}
	if (s->close_code) {
		/* lws takes a writable buffer; a close reason is at most 123 bytes */
		unsigned char reason[123];
		size_t rlen = strlen(s->close_reason);

		rlen = rlen < sizeof reason ? rlen : sizeof reason;
		memcpy(reason, s->close_reason, rlen);
		lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, reason, rlen);
		return -1;
	}
	return 0;
}
