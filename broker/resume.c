/* resume.c: welcome, and the backlog of a console that resumes.
 *
 * A console (or company operator) that presents a stream position in hello
 * gets, before any live alert, every alert meant for it with a higher
 * position, in order, read from PostgreSQL by tocsin_resume(). Live alerts
 * that arrive meanwhile wait in the session's held queue and follow the
 * backlog, without those the backlog already carried. While the database
 * is away or the journal is still being written back, the resume waits
 * (status "pending") and runs when they are back. */
#include "broker.h"
#include "clock.h"
#include "db.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define RESUME_MAX 10000

static void send_welcome(struct broker *b, struct session *s, const char *status,
			 const char *reason, int count)
{
	char now[CLOCK_ISO_LEN];
	json_t *resume = json_pack("{s:s}", "status", status);

	if (!strcmp(status, "ok") || !strcmp(status, "pending"))
		json_object_set_new(resume, "from", json_integer(s->resume_from));
	if (!strcmp(status, "ok"))
		json_object_set_new(resume, "count", json_integer(count));
	if (reason)
		json_object_set_new(resume, "reason", json_string(reason));
	clock_format_iso(clock_now_us(), now);
	session_send_json(s, json_pack("{s:s, s:s, s:I, s:s, s:{s:I, s:s, s:s, s:I, s:o},"
				       " s:{s:o, s:I}, s:o}",
				       "type", "welcome", "ref", s->hello_ref,
				       "session", (json_int_t)s->id, "server_time", now,
				       "user", "id", (json_int_t)s->who.user_id,
				       "username", s->who.username, "role", role_name(s->who.role),
				       "org_id", (json_int_t)s->who.org_id,
				       "site_id", s->who.site_id ? json_integer(s->who.site_id)
								 : json_null(),
				       "stream", "epoch",
				       b->epoch[0] ? json_string(b->epoch) : json_null(),
				       "head", (json_int_t)b->head, "resume", resume));
	s->welcomed = 1;
}

/* Ends the resume: live alerts held meanwhile follow, less those the
 * backlog already carried (positions up to last_seq). */
static void release_held(struct session *s, int64_t last_seq)
{
	struct msg *m;

	s->resuming = 0;
	while ((m = outq_peek(&s->held))) {
		if (!(m->seq && m->seq <= last_seq))
			session_send(s, m);
		outq_pop(&s->held);
	}
	outq_clear(&s->held);
}

void resume_deliver(struct session *s, struct msg *m)
{
	struct broker *b;

	if (!s->resuming) {
		session_send(s, m);
		return;
	}
	b = lws_context_user(lws_get_context(s->wsi));
	if (outq_push(&s->held, m, b->conf.queue_max_msgs, b->conf.queue_max_bytes)) {
		log_warn("session %llu: too many live alerts while resuming; closing to resume again",
			 (unsigned long long)s->id);
		outq_clear(&s->held);
		session_close_after(s, 4409, "slow_consumer");
	}
}

/* Tells the client its position cannot be resumed and lets live alerts
 * through. */
static void resume_reload(struct broker *b, struct session *s, const char *reason)
{
	if (!s->welcomed)
		send_welcome(b, s, "reload", reason, 0);
	else
		session_send_json(s, json_pack("{s:s, s:i, s:I, s:s, s:s}", "type", "resume_done",
					       "count", 0, "seq", (json_int_t)b->head,
					       "status", "reload", "reason", reason));
	release_held(s, 0);
}

/* Columns: head, id, seq, alert (json); one row of NULLs when none. */
static void backlog_ready(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	uint64_t *id = arg;
	struct session *s = broker_find_session(b, *id);
	int64_t head, last;
	int n = 0;

	free(id);
	if (!s)
		return;
	if (err && err->lost) {
		s->resume_pending = 1; /* again when the database is back */
		if (!s->welcomed)
			send_welcome(b, s, "pending", NULL, 0);
		return;
	}
	if (err) {
		log_error("resume of session %llu failed: %s", (unsigned long long)s->id,
			  err->message);
		resume_reload(b, s, "unavailable");
		return;
	}
	head = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (head > b->head)
		b->head = head;
	if (s->resume_from > head) {
		resume_reload(b, s, "unknown_position");
		return;
	}
	if (!PQgetisnull(res, 0, 1))
		n = PQntuples(res);
	if (!s->welcomed)
		send_welcome(b, s, "ok", NULL, n);
	last = s->resume_from;
	for (int i = 0; i < n; i++) {
		int64_t seq = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		json_t *alert = json_loads(PQgetvalue(res, i, 3), 0, NULL);
		struct msg *m = alert ? alert_msg(strtoll(PQgetvalue(res, i, 1), NULL, 10), seq,
						  alert, "replay", 0)
				      : NULL;
		if (m) {
			session_send(s, m);
			msg_unref(m);
		}
		last = seq;
	}
	if (n == RESUME_MAX)
		log_warn("session %llu: backlog cut at %d alerts", (unsigned long long)s->id, n);
	session_send_json(s, json_pack("{s:s, s:i, s:I, s:s}", "type", "resume_done", "count", n,
				       "seq", (json_int_t)last, "status", "ok"));
	release_held(s, last);
	log_info("session %llu (%s): resumed from %lld with %d alerts", (unsigned long long)s->id,
		 s->who.username, (long long)s->resume_from, n);
}

static void query_backlog(struct broker *b, struct session *s)
{
	char site[24], org[24], from[24], limit[16];
	const char *params[6] = { role_name(s->who.role), site, org, from, limit,
				  s->who.cleared ? "true" : "false" };
	uint64_t *id;

	if (b->epoch[0] && strcmp(s->resume_epoch, b->epoch) != 0) {
		resume_reload(b, s, "epoch_changed");
		return;
	}
	if (!broker_writes_direct(b) || !b->epoch[0]) {
		s->resume_pending = 1;
		if (!s->welcomed)
			send_welcome(b, s, "pending", NULL, 0);
		return;
	}
	id = malloc(sizeof *id);
	if (!id) {
		resume_reload(b, s, "unavailable");
		return;
	}
	*id = s->id;
	snprintf(site, sizeof site, "%lld", (long long)s->who.site_id);
	snprintf(org, sizeof org, "%lld", (long long)s->who.org_id);
	snprintf(from, sizeof from, "%lld", (long long)s->resume_from);
	snprintf(limit, sizeof limit, "%d", RESUME_MAX);
	if (db_query(b->db,
		     "SELECT m.head, r.id, r.seq, r.alert FROM stream_meta m"
		     "  LEFT JOIN LATERAL tocsin_resume($1, $2::integer, $3::integer, $4::bigint,"
		     "                                  $5::integer, $6::boolean) r ON true"
		     " ORDER BY r.seq",
		     6, params, backlog_ready, id)) {
		free(id);
		s->resume_pending = 1;
		if (!s->welcomed)
			send_welcome(b, s, "pending", NULL, 0);
	}
}

void resume_start(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));

	memcpy(s->hello_ref, f->ref, sizeof s->hello_ref);
	if (!f->u.hello.resume ||
	    (s->who.role != ROLE_SITE_CONSOLE && s->who.role != ROLE_COMPANY_OPERATOR)) {
		send_welcome(b, s, "none", NULL, 0);
		return;
	}
	s->resuming = 1;
	s->resume_from = f->u.hello.seq;
	snprintf(s->resume_epoch, sizeof s->resume_epoch, "%s", f->u.hello.epoch);
	query_backlog(b, s);
}

void resume_pending_all(struct broker *b)
{
	for (struct session *s = b->sessions; s; s = s->next)
		if (s->authed && s->resume_pending) {
			s->resume_pending = 0;
			query_backlog(b, s);
		}
}
