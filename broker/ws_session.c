/* ws_session.c: one tocsin.v1 WebSocket connection, from upgrade to close.
 *
 * Assembles client messages (bounded by --max-frame), decodes them with
 * frame.c, signs the session in with hello, and dispatches requests to the
 * handle_*.c files. Outbound frames go through the session's bounded queue.
 * What a pass of the loop queues for an idle socket is written at the end
 * of that pass, all of it in one send; the rest from the writeable
 * callback, one send per wake-up. Loop thread only. */
#include "broker.h"
#include "clock.h"
#include "db.h"
#include "delivery_log.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define CLOSE_AUTH 4401
#define CLOSE_SLOW 4409
#define CLOSE_BUSY 4429

static void table_insert(struct broker *b, struct session *s)
{
	struct session **slot = &b->by_id[s->id % SESSION_TABLE_SIZE];
	s->hash_next = *slot;
	*slot = s;
}

static void table_remove(struct broker *b, struct session *s)
{
	for (struct session **p = &b->by_id[s->id % SESSION_TABLE_SIZE]; *p; p = &(*p)->hash_next)
		if (*p == s) {
			*p = s->hash_next;
			return;
		}
}

struct session *broker_find_session(struct broker *b, uint64_t id)
{
	struct session *s = b->by_id[id % SESSION_TABLE_SIZE];
	while (s && s->id != id)
		s = s->hash_next;
	return s;
}

void session_close_after(struct session *s, int code, const char *reason)
{
	if (s->close_code)
		return;
	s->close_code = code;
	s->close_reason = reason;
	lws_callback_on_writable(s->wsi);
}

static void flush_later(struct broker *b, struct session *s);

void session_send(struct session *s, struct msg *m)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));

	if (s->close_code)
		return; /* closing: nothing more goes out */
	if (outq_push(&s->q, m, b->conf.queue_max_msgs, b->conf.queue_max_bytes)) {
		log_warn("session %llu (%s): outbound queue full, closing as too slow",
			 (unsigned long long)s->id, s->who.username);
		outq_clear(&s->q);
		session_close_after(s, CLOSE_SLOW, "slow_consumer");
		return;
	}
	if (s->q.count == 1)
		flush_later(b, s);
}

void session_send_json(struct session *s, json_t *obj)
{
	size_t len;
	char *text = frame_dump(obj, &len);
	struct msg *m;

	if (!text)
		return;
	m = msg_new(text, len, MSG_CONTROL, 0);
	free(text);
	if (!m)
		return;
	session_send(s, m);
	msg_unref(m);
}

void session_send_error(struct session *s, const struct frame_error *err)
{
	char *text = frame_error_json(err);
	struct msg *m;

	if (!text)
		return;
	m = msg_new(text, strlen(text), MSG_CONTROL, 0);
	free(text);
	if (!m)
		return;
	session_send(s, m);
	msg_unref(m);
}

void session_reply_error(struct session *s, const char *ref, const char *code,
			 const char *field, const char *message)
{
	struct frame_error err = { 0 };

	frame_error_set(&err, code, field, "%s", message);
	snprintf(err.ref, sizeof err.ref, "%s", ref ? ref : "");
	session_send_error(s, &err);
}

void session_reply_check_error(struct session *s, const char *ref, struct frame_error *err)
{
	snprintf(err->ref, sizeof err->ref, "%s", ref);
	session_send_error(s, err);
}

void broker_close_all_sessions(struct broker *b)
{
	for (struct session *s = b->sessions; s; s = s->next)
		session_close_after(s, LWS_CLOSE_STATUS_GOINGAWAY, "broker shutting down");
}

void session_refuse_auth(struct session *s, const char *ref, const char *code,
			 const char *message)
{
	session_reply_error(s, ref, code, NULL, message);
	session_close_after(s, CLOSE_AUTH, code);
}

/* What hello asked for, kept while the database says whether its token
 * was revoked (the frame itself is gone by then). */
struct hello_wait {
	uint64_t session_id;
	int64_t user_id, iat;          /* what the revocation check asks about */
	char ref[FRAME_REF_MAX + 1];
	int resume;
	int64_t seq;
	char epoch[65];
};

lws_dll2_owner_t *site_chain(struct broker *b, int64_t site_id)
{
	return &b->site_consoles[(uint64_t)site_id & (SITE_CHAINS - 1)];
}

/* Lists a session once signed in where what it gets is looked up: a desk
 * (controller, analyst, company operator) in b->desks, a site console in
 * its site's chain. Its role, organisation and site never change after (a
 * refresh that would change them is refused). */
static void list_signed_in(struct broker *b, struct session *s)
{
	if (s->who.role == ROLE_SITE_CONSOLE)
		lws_dll2_add_head(&s->site_link, site_chain(b, s->who.site_id));
	else if (s->who.role == ROLE_CONTROLLER || s->who.role == ROLE_ANALYST ||
		 s->who.role == ROLE_COMPANY_OPERATOR)
		lws_dll2_add_head(&s->desk_link, &b->desks);
}

/* Signs the session in and starts its welcome (resume.c). */
static void admit(struct session *s, const struct hello_wait *w)
{
	struct client_frame f = { .type = FRAME_HELLO };

	s->hello_checking = 0;
	s->authed = 1;
	list_signed_in(session_broker(s), s);
	memcpy(f.ref, w->ref, sizeof f.ref);
	f.u.hello.resume = w->resume;
	f.u.hello.seq = w->seq;
	f.u.hello.epoch = w->epoch;
	resume_start(s, &f);
	log_info("session %llu from %s: signed in as %s (%s)", (unsigned long long)s->id,
		 s->remote, s->who.username, role_name(s->who.role));
}

/* One hello's answer: status is 'ok', 'disabled', 'revoked' or 'deleted',
 * or NULL when the database could not say. A database that cannot answer
 * does not keep consoles out (alerts come first, and the journal carries
 * them while it is away): the session is admitted and the revocation sweep
 * (revocation.c) closes it if it must once the database is back. */
static void hello_answered(struct broker *b, const struct hello_wait *w, const char *status)
{
	struct session *s = broker_find_session(b, w->session_id);

	if (!s || s->close_code || !s->hello_checking || b->stopping)
		return; /* gone, closing, or the broker is stopping */
	if (status && strcmp(status, "ok") != 0) {
		s->hello_checking = 0;
		log_info("session %llu from %s: hello refused (%s: token %s)",
			 (unsigned long long)s->id, s->remote, s->who.username, status);
		session_refuse_auth(s, w->ref, "auth_revoked",
				    !strcmp(status, "revoked") ? "the token was revoked; sign in again"
							       : "the account is disabled");
		return;
	}
	admit(s, w);
}

/* A batch of hellos on its way to tocsin_token_check_batch(). */
struct hello_inflight {
	size_t n;
	struct hello_wait **items; /* owned, with the items */
};

/* Answers every hello of a batch. Columns: idx, status; one row per
 * hello, in order. */
static void hellos_checked(struct broker *b, struct hello_inflight *f, PGresult *res,
			   const struct db_error *err)
{
	if (!err && (size_t)PQntuples(res) != f->n)
		log_error("revocation check at hello: %d answers for %zu hellos", PQntuples(res),
			  f->n);
	else if (err && !err->lost)
		log_error("revocation check of %zu hellos failed: %s", f->n, err->message);
	for (size_t i = 0; i < f->n; i++) {
		int answered = !err && (size_t)PQntuples(res) == f->n;
		hello_answered(b, f->items[i], answered ? PQgetvalue(res, (int)i, 1) : NULL);
		free(f->items[i]);
	}
	free(f->items);
	free(f);
}

/* The revocation check's answer; then the hellos that waited meanwhile go. */
static void hellos_answered(struct broker *b, void *arg, PGresult *res,
			    const struct db_error *err)
{
	hellos_checked(b, arg, res, err);
	batch_queue_done(&b->hello_checks);
}

/* The batch queue's flush: one revocation check for every hello collected
 * (items are struct hello_wait, taken over). 1 when the query is in
 * flight. */
static int flush_hellos(struct broker *b, void **items, size_t n)
{
	static const struct db_error away = { .lost = 1 };
	struct hello_inflight *f = malloc(sizeof *f);
	char *users = malloc(n * 24 + 3), *iats = malloc(n * 24 + 3);
	size_t ul = 0, il = 0;
	const char *params[2] = { users, iats };
	int sent = 0;

	if (!f || !users || !iats) {
		log_error("revocation check of %zu hellos not sent: out of memory", n);
		for (size_t i = 0; i < n; i++) {
			hello_answered(b, items[i], NULL); /* admitted, as when away */
			free(items[i]);
		}
		free(items);
		free(f);
		goto out;
	}
	f->n = n;
	f->items = (struct hello_wait **)items;
	for (size_t i = 0; i < n; i++) {
		char num[24];
		snprintf(num, sizeof num, "%lld", (long long)f->items[i]->user_id);
		db_array_add(users, &ul, i, num);
		snprintf(num, sizeof num, "%lld", (long long)f->items[i]->iat);
		db_array_add(iats, &il, i, num);
	}
	db_array_end(users, &ul);
	db_array_end(iats, &il);
	log_info("hello: revocation check of %zu sessions in one query", n);
	if (db_query(b->db,
		     "SELECT idx, status FROM tocsin_token_check_batch($1::int[], $2::bigint[])", 2,
		     params, hellos_answered, f))
		hellos_checked(b, f, NULL, &away); /* the database is away: admit */
	else
		sent = 1;
out:
	free(users);
	free(iats);
	return sent;
}

/* Hellos arriving while two revocation checks are in flight share the
 * next one (batch_queue.h); at most 1000 in one. */
static const struct batch_kind hello_kind = {
	.flush = flush_hellos, .free_item = free, .max = 1000, .max_inflight = 2
};

/* hello: the token must verify (signing key or the previous one), then
 * must not be revoked. The second check asks the database without waiting
 * on the loop, batched with the other hellos that arrive meanwhile (a
 * reconnect storm then costs one query per batch); until it answers, the
 * session is not signed in. */
static void handle_hello(struct broker *b, struct session *s, struct client_frame *f)
{
	enum token_status st;
	struct hello_wait *w;

	if (s->authed || s->hello_checking) {
		session_reply_error(s, f->ref, "already_authenticated", NULL,
				    "this session is already signed in");
		return;
	}
	if (!f->u.hello.token) {
		session_refuse_auth(s, f->ref, "auth_missing", "hello needs a token from /api/login");
		return;
	}
	st = token_keys_verify(&b->token_keys, f->u.hello.token, f->u.hello.token_len,
			       clock_now_us() / 1000000, &s->who);
	if (st != TOKEN_OK) {
		session_refuse_auth(s, f->ref, token_status_code(st),
			    st == TOKEN_EXPIRED ? "the token has expired; sign in again"
						: "the token is not valid");
		log_info("session %llu from %s: hello refused (%s)", (unsigned long long)s->id,
			 s->remote, token_status_code(st));
		return;
	}
	auth_deadline_remove(b, s);
	w = calloc(1, sizeof *w);
	if (!w) {
		session_refuse_auth(s, f->ref, "internal", "out of memory; retry");
		return;
	}
	w->session_id = s->id;
	memcpy(w->ref, f->ref, sizeof w->ref);
	w->resume = f->u.hello.resume;
	w->seq = f->u.hello.seq;
	snprintf(w->epoch, sizeof w->epoch, "%s", f->u.hello.epoch ? f->u.hello.epoch : "");
	w->user_id = s->who.user_id;
	w->iat = s->who.issued_at;
	s->hello_checking = 1;
	if (!db_is_up(b->db) || batch_queue_add(&b->hello_checks, b, &hello_kind, w)) {
		admit(s, w); /* the database is away: see hello_answered */
		free(w);
	}
}

static void dispatch(struct broker *b, struct session *s, struct client_frame *f)
{
	char now_iso[CLOCK_ISO_LEN];

	if (f->type == FRAME_HELLO) {
		handle_hello(b, s, f);
		return;
	}
	if (!s->authed) {
		session_refuse_auth(s, f->ref, "auth_required", "send hello with a token first");
		return;
	}
	switch (f->type) {
	case FRAME_PUBLISH:
		handle_publish(s, f);
		break;
	case FRAME_ACK:
	case FRAME_READ:
		handle_receipt(s, f);
		break;
	case FRAME_RECEIPTS:
		handle_receipts(s, f);
		break;
	case FRAME_PREVIEW:
		handle_preview(s, f);
		break;
	case FRAME_RELAY:
		handle_relay(s, f);
		break;
	case FRAME_ANSWER:
		handle_answer(s, f);
		break;
	case FRAME_STATUS:
		handle_status(s, f);
		break;
	case FRAME_BOARD:
		handle_board(s, f);
		break;
	case FRAME_AREA_TOTALS:
		handle_area_totals(s, f);
		break;
	case FRAME_REPORT_NOW:
		handle_report_now(s, f);
		break;
	case FRAME_REPORT:
		handle_report(s, f);
		break;
	case FRAME_INBOX:
		handle_inbox(s, f);
		break;
	case FRAME_REFRESH:
		handle_refresh(s, f);
		break;
	case FRAME_SITE_HISTORY:
		handle_site_history(s, f);
		break;
	case FRAME_DIRECTORY:
		handle_directory(s, f);
		break;
	case FRAME_PING:
		clock_format_iso(clock_now_us(), now_iso);
		session_send_json(s, json_pack("{s:s, s:s, s:s}", "type", "pong", "ref", f->ref,
					       "server_time", now_iso));
		break;
	case FRAME_HELLO:
		break;
	}
}

/* One complete message from the client. */
static void on_message(struct broker *b, struct session *s)
{
	struct client_frame f;
	struct frame_error err;

	if (frame_parse(s->rx, s->rx_len, &f, &err)) {
		session_send_error(s, &err);
		return;
	}
	dispatch(b, s, &f);
	frame_free(&f);
}

/* Appends a fragment; returns 1 when a whole message is ready. */
static int on_receive(struct broker *b, struct session *s, const void *in, size_t len)
{
	int final = lws_is_final_fragment(s->wsi) && !lws_remaining_packet_payload(s->wsi);

	if (s->close_code)
		return 0;
	if (s->rx_len == 0 && lws_frame_is_binary(s->wsi))
		s->rx_discard = 2; /* binary: refuse the whole message */
	if (!s->rx_discard && s->rx_len + len > b->conf.max_frame) {
		struct frame_error err = { 0 };
		frame_error_set(&err, "frame_too_large", NULL,
				"messages may be at most %zu bytes", b->conf.max_frame);
		session_send_error(s, &err);
		session_close_after(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frame_too_large");
		s->rx_discard = 1;
		s->rx_len = 0;
		return 0;
	}
	if (!s->rx_discard) {
		if (s->rx_len + len + 1 > s->rx_cap) {
			size_t cap = s->rx_cap ? s->rx_cap : 1024;
			char *grown;
			while (cap < s->rx_len + len + 1)
				cap *= 2;
			grown = realloc(s->rx, cap);
			if (!grown) {
				session_close_after(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
						    "out of memory");
				return 0;
			}
			s->rx = grown;
			s->rx_cap = cap;
		}
		memcpy(s->rx + s->rx_len, in, len);
		s->rx_len += len;
	}
	if (!final)
		return 0;
	if (s->rx_discard == 2)
		session_reply_error(s, "", "bad_frame", NULL, "binary messages are not accepted");
	if (s->rx_discard) {
		s->rx_discard = 0;
		s->rx_len = 0;
		return 0;
	}
	return 1;
}

#define WRITES_PER_CALLBACK 64
/* Sessions written per call of sessions_flush: a fan-out to 10,000
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
		if (m->kind == MSG_ALERT && s->authed)
			delivery_log_add(b->deliveries, m->alert_id, s->who.site_id, s->who.user_id);
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
 * pass of the loop (sessions_flush) rather than after a request for
 * writeability: with epoll that request costs two epoll_ctl and an event
 * per connection, and at the end of the pass every alert the pass fanned
 * out leaves in one send. Without room in the list, the writeable
 * callback does it. */
static void flush_later(struct broker *b, struct session *s)
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

int sessions_flush(struct broker *b)
{
	size_t end = b->flush_head + FLUSH_SLICE < b->n_flush ? b->flush_head + FLUSH_SLICE
							      : b->n_flush;

	while (b->flush_head < end) {
		struct session *s = broker_find_session(b, b->to_flush[b->flush_head++]);
		if (s)
			flush_one(b, s);
	}
	if (b->flush_head == b->n_flush)
		b->flush_head = b->n_flush = 0;
	return b->flush_head < b->n_flush;
}

/* The same through lws' own framing, one frame per lws_write, for a
 * WebSocket carried inside an HTTP/2 stream (lws frames that itself). */
static int write_framed(struct session *s)
{
	struct msg *m = outq_peek(&s->q);

	return lws_write(s->wsi, msg_payload(m), m->len, LWS_WRITE_TEXT) < (int)m->len ? -1 : 1;
}

/* Writes what is queued (a bounded batch, so one busy connection does not
 * hold the loop) and asks to be called again while more waits; closes
 * once the queue is drained if asked. */
static int on_writeable(struct broker *b, struct session *s)
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
		lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
				 (unsigned char *)s->close_reason, strlen(s->close_reason));
		return -1;
	}
	return 0;
}

static void session_opened(struct broker *b, struct session *s, struct lws *wsi)
{
	s->wsi = wsi;
	s->heard_us = clock_now_us();
	s->id = ++b->next_session_id;
	lws_get_peer_simple(wsi, s->remote, sizeof s->remote);
	s->next = b->sessions;
	if (b->sessions)
		b->sessions->prev = s;
	b->sessions = s;
	b->n_sessions++;
	table_insert(b, s);
	auth_deadline_add(b, s);
	if (b->stopping) {
		session_close_after(s, LWS_CLOSE_STATUS_GOINGAWAY, "broker shutting down");
	} else if (b->n_sessions > (unsigned)b->conf.max_connections ||
		   address_counts_add(&b->per_address, s->remote,
				      (unsigned)b->conf.max_per_address)) {
		log_warn("refusing a connection from %s: too many connections", s->remote);
		session_reply_error(s, "", "too_many_connections", NULL,
				    "too many connections; retry later");
		session_close_after(s, CLOSE_BUSY, "too_many_connections");
	} else {
		s->counted = 1;
	}
}

static void session_closed(struct broker *b, struct session *s)
{
	if (!s->id)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		b->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	table_remove(b, s);
	lws_dll2_remove(&s->desk_link);
	lws_dll2_remove(&s->site_link);
	auth_deadline_remove(b, s);
	b->n_sessions--;
	if (s->counted)
		address_counts_remove(&b->per_address, s->remote);
	outq_clear(&s->q);
	outq_clear(&s->held);
	free(s->rx);
	s->rx = NULL;
	s->id = 0;
}

/* Refuses a browser upgrade from a page of another origin (cross-site
 * WebSocket hijacking): the session would otherwise act with the token the
 * page holds. */
static int origin_check(struct broker *b, struct lws *wsi)
{
	char origin[256] = "", peer[48] = "";

	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) >= (int)sizeof origin)
		return -1;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 &&
	    lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) < 0)
		return -1;
	if (admission_origin_ok(origin, b->conf.origins, b->conf.n_origins, b->conf.port))
		return 0;
	lws_get_peer_simple(wsi, peer, sizeof peer);
	log_warn("refused a WebSocket upgrade from %s with Origin '%s'", peer, origin);
	return -1;
}

int session_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	struct broker *b = lws_context_user(lws_get_context(wsi));
	struct session *s = user;
	char path[64];

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0 ||
		    strcmp(path, "/ws") != 0)
			return -1; /* the protocol lives at /ws only */
		return origin_check(b, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		session_opened(b, s, wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE_PONG:
		s->heard_us = clock_now_us();
		return 0;
	case LWS_CALLBACK_RECEIVE:
		s->heard_us = clock_now_us();
		if (on_receive(b, s, in, len)) {
			int64_t now = clock_now_us();
			if (rate_allow(&s->rate, b->conf.rate_per_sec, now)) {
				on_message(b, s);
			} else if (now - s->rate_notice_us > 1000000) {
				/* one notice a second: errors must not amplify a flood */
				s->rate_notice_us = now;
				session_reply_error(s, "", "rate_limited", NULL,
						    "too many messages; this one and others "
						    "were dropped");
				log_warn("session %llu (%s): over the message rate",
					 (unsigned long long)s->id, s->who.username);
			}
			/* consoles talk rarely: give the buffer back between messages */
			free(s->rx);
			s->rx = NULL;
			s->rx_len = s->rx_cap = 0;
		}
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return on_writeable(b, s);
	case LWS_CALLBACK_CLOSED:
		session_closed(b, s);
		return 0;
	default:
		return 0;
	}
}
