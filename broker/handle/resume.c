/* resume.c: welcome, and the catch-up of a session that signs in.
 *
 * Before any live alert, a session gets what it missed and what is in
 * force for it (docs/protocol.md, "Stream positions and resume" and
 * "Alerts in force"), read from PostgreSQL in one query:
 *   - its backlog, when it presents a stream position in hello (consoles
 *     and company operators): every alert meant for it with a higher
 *     position, in order (tocsin_resume), then resume_done;
 *   - the alerts in force for it, whatever it presented, with what it did
 *     about them (tocsin_in_force_batch): in_force frames, oldest first,
 *     then in_force_done (in_force.c builds them). An alert the backlog
 *     just carried comes as its id only.
 * Live alerts that arrive meanwhile wait behind the session's gate
 * (gate.c) and follow, without those the catch-up already carried. While
 * the database is away or the journal is still being written back, the
 * catch-up waits ("pending") and runs when they are back; live alerts
 * flow meanwhile, except to a session that resumes (its backlog first).
 *
 * Catch-ups go in batches (batch_queue.h): those asked for while earlier
 * ones are being read go together in one query of tocsin_resume_batch()
 * and tocsin_in_force_batch() (sql/functions/alerts.sql), so a reconnect
 * storm of thousands of consoles costs a few queries, not one each. Each
 * alert of a batch's answer is built once: its replay message shared by
 * every session that gets it, its text spliced into each in_force frame.
 * A session that closes while its batch is in flight is looked up by id
 * when the answer comes, and skipped.
 *
 * A console's position also proves what it received: with resume.since
 * (where its unbroken run of positions began) it holds every alert meant
 * for it in between. Deliveries wait a few milliseconds in memory before
 * they are stored, so a broker killed during a fan-out left frames
 * consoles had received without a record; each batch of resumes asks
 * tocsin_resume_confirm() (sql/functions/delivery.sql) to record those,
 * over the delivery records connection, and their new tallies go to the
 * desks. */
#include "broker.h"
#include "handle.h"
#include "clock.h"
#include "db.h"
#include "deliver.h"
#include "log.h"
#include "stream.h"
#include "tally.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RESUME_MAX 10000
/* The alerts in force a session gets at most (the newest): a desk keeps
 * 200 alerts (web-client/js/console/desk.js, MAX_HISTORY). */
#define IN_FORCE_MAX 200

/* The welcome: the resume's outcome as the session's state says it, and
 * the alerts in force that follow (in_force: "ok" with their count, or
 * "pending" or "unavailable"). */
static void send_welcome(struct broker *b, struct session *s, const char *in_force,
			 int n_backlog, int n_in_force)
{
	char now[CLOCK_ISO_LEN];
	const char *status = !s->resume_asked ? "none"
			     : s->reload_reason ? "reload"
			     : s->resume_pending ? "pending" : "ok";
	json_t *resume = json_pack("{s:s}", "status", status);
	json_t *force = json_pack("{s:s}", "status", in_force);

	if (!strcmp(status, "ok") || !strcmp(status, "pending"))
		json_object_set_new(resume, "from", json_integer(s->resume_from));
	if (!strcmp(status, "ok"))
		json_object_set_new(resume, "count", json_integer(n_backlog));
	if (s->resume_asked && s->reload_reason)
		json_object_set_new(resume, "reason", json_string(s->reload_reason));
	if (!strcmp(in_force, "ok"))
		json_object_set_new(force, "count", json_integer(n_in_force));
	clock_format_iso(clock_now_us(), now);
	session_send_json(s, json_pack("{s:s, s:s, s:I, s:s, s:{s:I, s:s, s:s, s:I, s:o},"
				       " s:{s:o, s:I}, s:o, s:o}",
				       "type", "welcome", "ref", s->hello_ref,
				       "session", (json_int_t)s->id, "server_time", now,
				       "user", "id", (json_int_t)s->who.user_id,
				       "username", s->who.username, "role", token_role_name(s->who.role),
				       "org_id", (json_int_t)s->who.org_id,
				       "site_id", s->who.site_id ? json_integer(s->who.site_id)
								 : json_null(),
				       "stream", "epoch",
				       b->epoch[0] ? json_string(b->epoch) : json_null(),
				       "head", (json_int_t)b->head, "resume", resume, "in_force", force));
	s->welcomed = 1;
}

/* One session's rows in a batch's answer (columns part, idx, head, id,
 * seq, alert, state): its backlog (part 'b') first..mid-1, the alerts in
 * force for it (part 'f') mid..end-1. */
struct session_rows {
	PGresult *res;
	int first, mid, end;
};

static int64_t row_id(PGresult *res, int row)
{
	return strtoll(PQgetvalue(res, row, 3), NULL, 10);
}

/* Whether alert id is in the session's backlog rows. */
static int in_backlog(const struct session_rows *r, int64_t id)
{
	for (int i = r->first; i < r->mid; i++)
		if (!PQgetisnull(r->res, i, 3) && row_id(r->res, i) == id)
			return 1;
	return 0;
}

/* gate_open's test: whether the catch-up carried alert id. */
static int carried(const void *rows, int64_t id)
{
	const struct session_rows *r = rows;

	for (int i = r->mid; i < r->end; i++)
		if (row_id(r->res, i) == id)
			return 1;
	return in_backlog(r, id);
}

/* The catch-up could not be read: the session keeps what it has, is told
 * so, and live alerts flow. */
static void catchup_unavailable(struct broker *b, struct session *s)
{
	if (!s->welcomed) {
		if (s->resume_asked && !s->reload_reason)
			s->reload_reason = "unavailable";
		send_welcome(b, s, "unavailable", 0, 0);
	} else {
		if (s->resume_asked)
			session_send_json(s, json_pack("{s:s, s:i, s:I, s:s, s:s}", "type",
						       "resume_done", "count", 0, "seq",
						       (json_int_t)b->head, "status", "reload", "reason",
						       s->reload_reason ? s->reload_reason : "unavailable"));
		in_force_done(s, "unavailable", 0);
	}
	s->resume_pending = 0;
	gate_open(s, 0, NULL, NULL);
}

/* Waits for the database or the journal: "pending" now, the catch-up
 * when they are back (resume_pending_all). Live alerts flow meanwhile,
 * unless the session resumes: its backlog goes first. */
static void resume_wait(struct broker *b, struct session *s)
{
	s->resume_pending = 1;
	if (!s->welcomed)
		send_welcome(b, s, "pending", 0, 0);
	if (!s->resume_asked || s->reload_reason)
		gate_open(s, 0, NULL, NULL);
}

/* A batch of catch-ups on its way to the database: the sessions it asked
 * for, in order (row idx i is ids[i - 1]). */
struct resume_inflight {
	size_t n;
	uint64_t ids[];
};

/* The alerts of one batch's answer, each built once: an open-addressing
 * table on the alert id of the alert's text (in the answer), and, made
 * when a session first needs them, its signature (signed once for the
 * replay and the in_force frames alike: alert_frame.c) and its replay
 * message. */
struct alert_cache {
	const struct sign_key *key;
	size_t size; /* a power of two, at least twice the alerts */
	int64_t *ids;
	int64_t *seqs;
	const char **texts;
	json_t **alerts;   /* parsed with the signature */
	json_t **sigs;     /* the signature object, or NULL */
	char **sig_texts;  /* its text, for in_force frames */
	struct msg **replays;
};

static size_t cache_slot(const struct alert_cache *c, int64_t id)
{
	size_t h = (size_t)id & (c->size - 1);

	while (c->ids[h] && c->ids[h] != id)
		h = (h + 1) & (c->size - 1);
	return h;
}

/* Notes the text of every alert the answer carries (the first row of each
 * alert has it). -1 when out of memory. */
static int cache_fill(struct alert_cache *c, const struct sign_key *key, PGresult *res)
{
	int rows = PQntuples(res);
	size_t k = 0;

	for (int i = 0; i < rows; i++)
		k += !PQgetisnull(res, i, 5);
	c->size = 16;
	while (c->size < 2 * k + 1)
		c->size *= 2;
	c->ids = calloc(c->size, sizeof *c->ids);
	c->seqs = calloc(c->size, sizeof *c->seqs);
	c->texts = calloc(c->size, sizeof *c->texts);
	c->alerts = calloc(c->size, sizeof *c->alerts);
	c->sigs = calloc(c->size, sizeof *c->sigs);
	c->sig_texts = calloc(c->size, sizeof *c->sig_texts);
	c->replays = calloc(c->size, sizeof *c->replays);
	c->key = key;
	if (!c->ids || !c->seqs || !c->texts || !c->alerts || !c->sigs || !c->sig_texts ||
	    !c->replays)
		return -1;
	for (int i = 0; i < rows; i++) {
		size_t h;

		if (PQgetisnull(res, i, 5))
			continue;
		h = cache_slot(c, row_id(res, i));
		if (c->ids[h])
			continue; /* in the backlog and in force: built by both functions */
		c->ids[h] = row_id(res, i);
		c->seqs[h] = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		c->texts[h] = PQgetvalue(res, i, 5);
	}
	return 0;
}

/* The text of alert id, or NULL when the answer did not carry it. */
static const char *cache_text(const struct alert_cache *c, int64_t id)
{
	size_t h = cache_slot(c, id);

	return c->ids[h] ? c->texts[h] : NULL;
}

/* Slot h's alert, parsed, and its signature, made once. 0, or -1 when
 * the text does not parse (the signature alone may be NULL: the frames
 * go out unsigned, logged). */
static int cache_sign(struct alert_cache *c, size_t h)
{
	if (!c->alerts[h]) {
		if (!(c->alerts[h] = json_loads(c->texts[h], 0, NULL)))
			return -1;
		if (!(c->sigs[h] = sign_key_sign_json(c->key, c->alerts[h])))
			log_error("alert %lld goes out unsigned at sign-in: its canonical form "
				  "could not be made", (long long)c->ids[h]);
	}
	return 0;
}

/* The replay message of alert id, or NULL when it could not be built. */
static struct msg *cache_replay(struct alert_cache *c, int64_t id)
{
	size_t h = cache_slot(c, id);

	if (!c->ids[h])
		return NULL;
	if (!c->replays[h] && cache_sign(c, h) == 0)
		c->replays[h] = alert_frame_signed_msg(json_incref(c->sigs[h]), id, c->seqs[h],
						       json_incref(c->alerts[h]), "replay", 0);
	return c->replays[h];
}

/* The text of alert id's signature object, or NULL (not in the answer,
 * or it could not be signed). */
static const char *cache_sig_text(struct alert_cache *c, int64_t id)
{
	size_t h = cache_slot(c, id);

	if (!c->ids[h] || cache_sign(c, h) != 0)
		return NULL;
	if (!c->sig_texts[h] && c->sigs[h])
		c->sig_texts[h] = json_dumps(c->sigs[h], JSON_COMPACT);
	return c->sig_texts[h];
}

static void cache_free(struct alert_cache *c)
{
	for (size_t h = 0; c->ids && h < c->size; h++) {
		if (c->replays && c->replays[h])
			msg_unref(c->replays[h]);
		if (c->alerts && c->alerts[h])
			json_decref(c->alerts[h]);
		if (c->sigs && c->sigs[h])
			json_decref(c->sigs[h]);
		if (c->sig_texts)
			free(c->sig_texts[h]);
	}
	free(c->ids);
	free(c->seqs);
	free(c->texts);
	free(c->alerts);
	free(c->sigs);
	free(c->sig_texts);
	free(c->replays);
}

/* The backlog of a session that resumes, in order, then resume_done;
 * returns the last position sent (or the one resumed from). A position
 * that cannot be resumed gets resume_done "reload" (when the welcome went
 * out before) and no backlog. */
static int64_t send_backlog(struct broker *b, struct session *s, const struct session_rows *r,
			    struct alert_cache *c, int was_welcomed)
{
	int64_t last = s->resume_from;
	int n = r->mid - r->first;

	if (!s->resume_asked)
		return 0;
	if (s->reload_reason) {
		if (was_welcomed)
			session_send_json(s, json_pack("{s:s, s:i, s:I, s:s, s:s}", "type",
						       "resume_done", "count", 0, "seq",
						       (json_int_t)b->head, "status", "reload", "reason",
						       s->reload_reason));
		return 0;
	}
	if (PQgetisnull(r->res, r->first, 3))
		n = 0;
	for (int i = r->first; i < r->first + n; i++) {
		struct msg *m = cache_replay(c, row_id(r->res, i));
		if (m)
			session_send(s, m);
		last = strtoll(PQgetvalue(r->res, i, 4), NULL, 10);
	}
	if (n == RESUME_MAX)
		log_warn("session %llu: backlog cut at %d alerts", (unsigned long long)s->id, n);
	session_send_json(s, json_pack("{s:s, s:i, s:I, s:s}", "type", "resume_done", "count", n,
				       "seq", (json_int_t)last, "status", "ok"));
	return last;
}

/* Whether the session's position proves it holds the alert at seq: its
 * unbroken run (since, from] covers it (docs/protocol.md, hello.resume). */
static int held(const struct session *s, int64_t seq)
{
	return s->resume_asked && !s->reload_reason && s->resume_since >= 0 &&
	       seq > s->resume_since && seq <= s->resume_from;
}

/* The alerts in force for the session, oldest first (an alert its backlog
 * carried by id only), then in_force_done. Their writing is a delivery for
 * a console or operator (flush.c), unless its position proves it holds
 * the alert already: its delivery is on record, or recorded now from that
 * proof (tocsin_resume_confirm); a page that lost what it held still gets
 * the alert in full. */
static void send_in_force(struct session *s, const struct session_rows *r,
			  struct alert_cache *c)
{
	int desk = s->who.role == ROLE_SITE_CONSOLE || s->who.role == ROLE_COMPANY_OPERATOR;

	for (int i = r->mid; i < r->end; i++) {
		int64_t id = row_id(r->res, i), seq = strtoll(PQgetvalue(r->res, i, 4), NULL, 10);
		int replayed = s->resume_asked && !s->reload_reason && in_backlog(r, id);
		const char *text = replayed ? NULL : cache_text(c, id);
		struct msg *m = in_force_frame(id, seq, text, text ? cache_sig_text(c, id) : NULL,
					       PQgetvalue(r->res, i, 6), desk && !held(s, seq));
		if (m) {
			session_send(s, m);
			msg_unref(m);
		}
	}
	in_force_done(s, "ok", r->end - r->mid);
}

/* One session's part of the answer: the welcome (unless it went out
 * while the catch-up was pending), the backlog, the alerts in force, then
 * the held live alerts. */
static void catchup_rows(struct broker *b, struct session *s, struct session_rows *r,
			 int64_t head, struct alert_cache *c)
{
	int was_welcomed = s->welcomed;
	int n_backlog;
	int64_t last;

	for (r->mid = r->first; r->mid < r->end && *PQgetvalue(r->res, r->mid, 0) == 'b'; r->mid++)
		;
	n_backlog = PQgetisnull(r->res, r->first, 3) ? 0 : r->mid - r->first;
	if (s->resume_asked && !s->reload_reason && s->resume_from > head)
		s->reload_reason = "unknown_position";
	s->resume_pending = 0;
	if (!was_welcomed)
		send_welcome(b, s, "ok", s->reload_reason ? 0 : n_backlog, r->end - r->mid);
	last = send_backlog(b, s, r, c, was_welcomed);
	send_in_force(s, r, c);
	gate_open(s, last, carried, r);
	if (s->resume_asked && !s->reload_reason)
		log_info("session %llu (%s): caught up from %lld with %d alerts, %d in force",
			 (unsigned long long)s->id, s->who.username, (long long)s->resume_from,
			 n_backlog, r->end - r->mid);
	else
		log_info("session %llu (%s): caught up with %d alerts in force",
			 (unsigned long long)s->id, s->who.username, r->end - r->mid);
}

/* The whole batch failed: every session still here waits for the
 * database (lost) or is told the catch-up is unavailable. */
static void backlog_failed(struct broker *b, struct resume_inflight *f,
			   const struct db_error *err)
{
	if (!err->lost)
		log_error("catch-up of %zu sessions failed: %s", f->n, err->message);
	for (size_t i = 0; i < f->n; i++) {
		struct session *s = session_find(b, f->ids[i]);
		if (!s)
			continue; /* closed while the batch was in flight */
		if (err->lost)
			resume_wait(b, s);
		else
			catchup_unavailable(b, s);
	}
}

/* Hands each session of the batch its rows (they come by idx, then part,
 * then seq). */
static void backlog_ready(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	static const struct db_error nomem = { .message = "out of memory" };
	struct resume_inflight *f = arg;
	struct alert_cache c = { 0 };
	int rows = res ? PQntuples(res) : 0;
	int64_t head;

	if (!err && cache_fill(&c, &b->alert_key, res))
		err = &nomem;
	if (err) {
		backlog_failed(b, f, err);
		goto out;
	}
	head = rows ? strtoll(PQgetvalue(res, 0, 2), NULL, 10) : b->head;
	if (head > b->head)
		b->head = head;
	for (int first = 0, end; first < rows; first = end) {
		long idx = strtol(PQgetvalue(res, first, 1), NULL, 10);
		struct session_rows r = { res, first, first, first };
		struct session *s;

		for (end = first + 1;
		     end < rows && strtol(PQgetvalue(res, end, 1), NULL, 10) == idx; end++)
			;
		if (idx < 1 || (size_t)idx > f->n)
			continue;
		r.end = end;
		s = session_find(b, f->ids[idx - 1]);
		if (s && !s->close_code) /* else closed while the batch was in flight */
			catchup_rows(b, s, &r, head, &c);
	}
out:
	cache_free(&c);
	free(f);
	batch_queue_done(&b->resumes);
}

/* The site consoles of a batch whose position and since prove what they
 * received, as five array literals for tocsin_resume_confirm(): user,
 * site, since, position, clearance. */
struct confirm {
	char **arr;  /* five, sized by the caller */
	size_t len[5];
	size_t n;
};

static void confirm_add(struct confirm *c, const struct session *s)
{
	char num[24];

	if (s->who.role != ROLE_SITE_CONSOLE || s->resume_since < 0 ||
	    s->resume_since >= s->resume_from)
		return;
	snprintf(num, sizeof num, "%lld", (long long)s->who.user_id);
	db_array_add(c->arr[0], &c->len[0], c->n, num);
	snprintf(num, sizeof num, "%lld", (long long)s->who.site_id);
	db_array_add(c->arr[1], &c->len[1], c->n, num);
	snprintf(num, sizeof num, "%lld", (long long)s->resume_since);
	db_array_add(c->arr[2], &c->len[2], c->n, num);
	snprintf(num, sizeof num, "%lld", (long long)s->resume_from);
	db_array_add(c->arr[3], &c->len[3], c->n, num);
	db_array_add(c->arr[4], &c->len[4], c->n, s->who.cleared ? "t" : "f");
	c->n++;
}

/* Columns: alert_id, sender_org_id, then the tally, watcher_org_id. */
static void confirmed(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	int rows = res ? PQntuples(res) : 0;

	if (err) {
		if (!err->lost)
			log_error("resume: recording the deliveries consoles confirmed failed: %s",
				  err->message);
		return;
	}
	for (int i = 0; i < rows; i++) {
		struct tally t = tally_from_row(res, i, 2);
		fanout_tally(b, strtoll(PQgetvalue(res, i, 0), NULL, 10),
			     strtoll(PQgetvalue(res, i, 1), NULL, 10),
			     strtoll(PQgetvalue(res, i, 7), NULL, 10), &t);
	}
	if (rows)
		log_warn("resume: deliveries of %d alert%s had no record; recorded as confirmed by "
			 "the consoles' positions", rows, rows == 1 ? "" : "s");
}

/* Sends the batch's confirmations, if any (a lost query is asked again at
 * the consoles' next resume). */
static void confirm_send(struct broker *b, struct confirm *c)
{
	const char *params[5];

	if (!c->n)
		return;
	for (int k = 0; k < 5; k++) {
		db_array_end(c->arr[k], &c->len[k]);
		params[k] = c->arr[k];
	}
	if (db_query(db_up_or(b->db_records, b->db),
		     "SELECT alert_id, sender_org_id, recipients, delivered, acknowledged, read,"
		     "       escalated, watcher_org_id"
		     "  FROM tocsin_resume_confirm($1::integer[], $2::integer[], $3::bigint[],"
		     "                             $4::bigint[], $5::boolean[])",
		     5, params, confirmed, NULL))
		log_warn("resume: %zu consoles' deliveries not confirmed: the database is away", c->n);
}

/* The backlog (tocsin_resume_batch) and the alerts in force
 * (tocsin_in_force_batch) of the batch's sessions, in one statement: one
 * plan and one result. A session that does not resume asks for the
 * backlog after the largest position, which is none. */
static const char catchup_sql[] =
	"SELECT 'b' AS part, idx, head, id, seq, alert, NULL::json AS state"
	"  FROM tocsin_resume_batch($1::text[], $2::integer[], $3::integer[], $4::bigint[],"
	"                           $5::boolean[], $6::integer)"
	" UNION ALL "
	"SELECT 'f', idx, NULL, id, seq, alert, state"
	"  FROM tocsin_in_force_batch($1::text[], $2::integer[], $3::integer[], $5::boolean[],"
	"                             $7::integer)"
	" ORDER BY 2, 1, 5";

/* Fills f and the five array literals (role, site, org, position,
 * clearance) from the queued sessions, and sends the query (1: in flight,
 * f owned by backlog_ready; 0: answered, f freed), after the consoles'
 * confirmations (arr[5..9]). Sessions closed meanwhile are left out; all
 * wait ("pending") when the database or the journal is not ready. */
static int send_batch(struct broker *b, struct resume_inflight *f, void **items, size_t n,
		      char *arr[10])
{
	struct confirm c = { .arr = arr + 5 };
	static const struct db_error away = { .lost = 1 };
	size_t len[5] = { 0 };
	char limit[16], in_force_limit[16], num[24];
	const char *params[7];

	f->n = 0;
	for (size_t i = 0; i < n; i++) {
		struct session *s = session_find(b, *(uint64_t *)items[i]);

		if (!s || s->close_code || !s->resuming)
			continue;
		if (!stream_writes_direct(b) || !b->epoch[0]) {
			resume_wait(b, s);
			continue;
		}
		db_array_add(arr[0], &len[0], f->n, token_role_name(s->who.role));
		snprintf(num, sizeof num, "%lld", (long long)s->who.site_id);
		db_array_add(arr[1], &len[1], f->n, num);
		snprintf(num, sizeof num, "%lld", (long long)s->who.org_id);
		db_array_add(arr[2], &len[2], f->n, num);
		snprintf(num, sizeof num, "%lld",
			 s->resume_asked && !s->reload_reason ? (long long)s->resume_from
							      : (long long)INT64_MAX);
		db_array_add(arr[3], &len[3], f->n, num);
		db_array_add(arr[4], &len[4], f->n, s->who.cleared ? "t" : "f");
		f->ids[f->n++] = s->id;
		if (s->resume_asked && !s->reload_reason)
			confirm_add(&c, s); /* a position of this stream proves what it got */
	}
	if (!f->n) {
		free(f);
		return 0;
	}
	confirm_send(b, &c);
	for (int k = 0; k < 5; k++) {
		db_array_end(arr[k], &len[k]);
		params[k] = arr[k];
	}
	snprintf(limit, sizeof limit, "%d", RESUME_MAX);
	snprintf(in_force_limit, sizeof in_force_limit, "%d", IN_FORCE_MAX);
	params[5] = limit;
	params[6] = in_force_limit;
	log_info("resume: backlog of %zu sessions in one query, with the alerts in force", f->n);
	if (db_query(b->db, catchup_sql, 7, params, backlog_ready, f)) {
		backlog_failed(b, f, &away);
		free(f);
		return 0;
	}
	return 1;
}

/* The batch queue's flush: sends the catch-ups collected as one query
 * (items are session ids, freed here). 1 when the query is in flight. */
static int flush_resumes(void *ctx, void **items, size_t n)
{
	struct broker *b = ctx;
	struct resume_inflight *f = malloc(sizeof *f + n * sizeof f->ids[0]);
	char *arr[10] = { 0 }; /* the backlog's five, the confirmations' five */
	int ok = f != NULL, sent = 0;

	/* each element at most 20 digits and a comma, plus "{", "}" and NUL */
	for (int k = 0; k < 10; k++)
		ok = ok && (arr[k] = malloc(n * 24 + 3));
	if (ok) {
		sent = send_batch(b, f, items, n, arr);
	} else {
		log_error("catch-up of %zu sessions not sent: out of memory", n);
		for (size_t i = 0; i < n; i++) {
			struct session *s = session_find(b, *(uint64_t *)items[i]);
			if (s && !s->close_code && s->resuming)
				catchup_unavailable(b, s);
		}
		free(f);
	}
	for (int k = 0; k < 10; k++)
		free(arr[k]);
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	return sent;
}

/* Catch-ups asked for while two queries are in flight go together in the
 * next one (batch_queue.h); at most 500 in one, which bounds the answer
 * the loop reads at once. */
static const struct batch_kind resume_kind = {
	.flush = flush_resumes, .free_item = free, .max = 500, .max_inflight = 2
};

/* Queues the session's catch-up for the next batch, or waits. A position
 * of another stream is not resumed ("reload", epoch_changed); the alerts
 * in force still come. */
static void query_backlog(struct broker *b, struct session *s)
{
	uint64_t *id;

	if (s->resume_asked && !s->reload_reason && b->epoch[0] &&
	    strcmp(s->resume_epoch, b->epoch) != 0)
		s->reload_reason = "epoch_changed";
	if (!stream_writes_direct(b) || !b->epoch[0]) {
		resume_wait(b, s);
		return;
	}
	gate_close(s);
	id = malloc(sizeof *id);
	if (id)
		*id = s->id;
	if (!id || batch_queue_add(&b->resumes, b, &resume_kind, id)) {
		free(id);
		catchup_unavailable(b, s);
	}
}

void resume_start(struct session *s, struct client_frame *f)
{
	struct broker *b = session_broker(s);

	memcpy(s->hello_ref, f->ref, sizeof s->hello_ref);
	s->resume_asked = f->u.hello.resume &&
			  (s->who.role == ROLE_SITE_CONSOLE || s->who.role == ROLE_COMPANY_OPERATOR);
	s->reload_reason = NULL;
	s->resume_since = -1;
	if (s->resume_asked) {
		s->resume_from = f->u.hello.seq;
		s->resume_since = f->u.hello.since;
		snprintf(s->resume_epoch, sizeof s->resume_epoch, "%s", f->u.hello.epoch);
	}
	gate_close(s);
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
