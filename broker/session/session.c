/* session.c: one tocsin.v1 connection's life in the broker: the table of
 * live sessions, signing in, sending and closing.
 *
 * A session is lws' per-connection data (struct session, broker.h); the
 * protocol callback (proto.c) opens and forgets it here. Outbound frames
 * go through the session's bounded queue and leave at the end of the
 * loop's pass (flush.c). Sessions are found by id (session_find), so that
 * a database answer for a session that closed meanwhile finds nothing.
 * Loop thread only. */
#include "broker.h"
#include "session.h"
#include "clock.h"
#include "log.h"
#include "remote.h"

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

struct session *session_find(struct broker *b, uint64_t id)
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

void session_send(struct session *s, struct msg *m)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));

	if (s->close_code)
		return; /* closing: nothing more goes out */
	if (outq_push(&s->q, m, b->conf.queue_max_msgs, b->conf.queue_max_bytes)) {
		log_warn("session %llu (%s): outbound queue full, closing as too slow",
			 (unsigned long long)s->id, s->who.username);
		b->metrics.slow_closes++;
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

void session_close_all(struct broker *b)
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

lws_dll2_owner_t *session_site_chain(struct broker *b, int64_t site_id)
{
	return &b->site_consoles[(uint64_t)site_id & (SITE_CHAINS - 1)];
}

void session_handshake_done(struct broker *b, struct lws *wsi)
{
	if (lws_get_opaque_user_data(wsi) != &b->handshakes)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	admission_gate_leave(&b->handshakes);
}

/* Lists a session once signed in where what it gets is looked up: a desk
 * (controller, analyst, company operator, duty inspector: deliver.h says
 * what an inspector gets there) in b->desks, a site console in
 * its site's chain. Its role, organisation and site never change after (a
 * refresh that would change them is refused). */
void session_sign_in(struct session *s)
{
	struct broker *b = session_broker(s);

	session_handshake_done(b, s->wsi);
	s->hello_checking = 0;
	s->authed = 1;
	s->recheck = 1; /* its hello's check and the sweep's horizon may cross */
	if (s->who.role == ROLE_SITE_CONSOLE)
		lws_dll2_add_head(&s->site_link, session_site_chain(b, s->who.site_id));
	else if (s->who.role == ROLE_CONTROLLER || s->who.role == ROLE_ANALYST ||
		 s->who.role == ROLE_COMPANY_OPERATOR || s->who.role == ROLE_INSPECTOR)
		lws_dll2_add_head(&s->desk_link, &b->desks);
	log_info("session %llu from %s: signed in as %s (%s)", (unsigned long long)s->id,
		 s->remote, s->who.username, token_role_name(s->who.role));
}

void session_open(struct broker *b, struct session *s, struct lws *wsi)
{
	s->wsi = wsi;
	s->heard_us = clock_mono_us();
	s->id = ++b->next_session_id;
	remote_address(b, wsi, s->remote, sizeof s->remote);
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
		   admission_counts_add(&b->per_address, s->remote,
				      (unsigned)b->conf.max_per_address)) {
		log_warn("refusing a connection from %s: too many connections", s->remote);
		session_reply_error(s, "", "too_many_connections", NULL,
				    "too many connections; retry later");
		session_close_after(s, CLOSE_BUSY, "too_many_connections");
	} else {
		s->counted = 1;
	}
}

void session_gone(struct broker *b, struct session *s)
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
		admission_counts_remove(&b->per_address, s->remote);
	outq_clear(&s->q);
	outq_clear(&s->held);
	free(s->rx);
	s->rx = NULL;
	s->id = 0;
}
