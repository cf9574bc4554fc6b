/* resume.c: welcome, and the backlog of a console that resumes.
 *
 * A console (or company operator) that presents a stream position in hello
 * gets, before any live alert, every alert meant for it with a higher
 * position, in order, read from PostgreSQL by tocsin_resume(). Live alerts
 * that arrive meanwhile wait behind the session's gate (gate.c) and follow
 * the backlog, without those the backlog already carried. While the database
 * is away or the journal is still being written back, the resume waits
 * (status "pending") and runs when they are back.
 *
 * Resumes go in batches (batch_queue.h): those asked for while earlier
 * ones are being read go together in one tocsin_resume_batch() call
 * (sql/functions/alerts.sql), which runs
 * tocsin_resume() for each session, so a reconnect storm of thousands of
 * consoles costs a few queries, not one each. Each alert of a batch's
 * answer is built once and the message shared by every session that gets
 * it. A session that closes while its batch is in flight is looked up by
 * id when the answer comes, and skipped.
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
				       "username", s->who.username, "role", token_role_name(s->who.role),
				       "org_id", (json_int_t)s->who.org_id,
				       "site_id", s->who.site_id ? json_integer(s->who.site_id)
								 : json_null(),
				       "stream", "epoch",
				       b->epoch[0] ? json_string(b->epoch) : json_null(),
				       "head", (json_int_t)b->head, "resume", resume));
	s->welcomed = 1;
}

/* The rows of one session's backlog in a batch's answer: rows
 * first..first+n-1, the alert id in column 2. */
struct backlog_rows {
	PGresult *res;
	int first, n;
};

/* gate_open's test: whether alert id is among the backlog's rows. */
static int in_backlog(const void *backlog, int64_t id)
{
	const struct backlog_rows *r = backlog;

	for (int i = r->first; i < r->first + r->n; i++)
		if (strtoll(PQgetvalue(r->res, i, 2), NULL, 10) == id)
			return 1;
	return 0;
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
	gate_open(s, 0, NULL, NULL);
}

/* Waits for the database or the journal: "pending" now, the backlog when
 * they are back (resume_pending_all). */
static void resume_wait(struct broker *b, struct session *s)
{
	s->resume_pending = 1;
	if (!s->welcomed)
		send_welcome(b, s, "pending", NULL, 0);
}

/* A batch of resumes on its way to tocsin_resume_batch(): the sessions it
 * asked for, in order (row idx i is ids[i - 1]). */
struct resume_inflight {
	size_t n;
	uint64_t ids[];
};

/* The alerts of one batch's answer, each built once and shared by every
 * session that gets it: an open-addressing table on the alert id. */
struct alert_cache {
	size_t size; /* a power of two, at least twice the alerts */
	int64_t *ids;
	struct msg **msgs;
};

/* Builds the message of every alert the answer carries (its first row has
 * the alert object). -1 when out of memory. */
static int cache_fill(struct alert_cache *c, const struct sign_key *key, PGresult *res)
{
	int rows = PQntuples(res);
	size_t k = 0;

	for (int i = 0; i < rows; i++)
		k += !PQgetisnull(res, i, 4);
	c->size = 16;
	while (c->size < 2 * k + 1)
		c->size *= 2;
	c->ids = calloc(c->size, sizeof *c->ids);
	c->msgs = calloc(c->size, sizeof *c->msgs);
	if (!c->ids || !c->msgs)
		return -1;
	for (int i = 0; i < rows; i++) {
		int64_t id;
		size_t h;
		json_t *alert;

		if (PQgetisnull(res, i, 4))
			continue;
		id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		for (h = (size_t)id & (c->size - 1); c->ids[h]; h = (h + 1) & (c->size - 1))
			;
		c->ids[h] = id;
		alert = json_loads(PQgetvalue(res, i, 4), 0, NULL);
		c->msgs[h] = alert ? alert_frame_msg(key, id, strtoll(PQgetvalue(res, i, 3), NULL, 10),
						     alert, "replay", 0)
				   : NULL;
	}
	return 0;
}

/* The message of alert id, or NULL when it could not be built. */
static struct msg *cache_get(const struct alert_cache *c, int64_t id)
{
	for (size_t h = (size_t)id & (c->size - 1); c->ids[h]; h = (h + 1) & (c->size - 1))
		if (c->ids[h] == id)
			return c->msgs[h];
	return NULL;
}

static void cache_free(struct alert_cache *c)
{
	for (size_t h = 0; c->msgs && h < c->size; h++)
		if (c->msgs[h])
			msg_unref(c->msgs[h]);
	free(c->ids);
	free(c->msgs);
}

/* One session's part of the answer, rows first..end-1 (columns idx, head,
 * id, seq, alert; one row with a NULL id when there is nothing): the
 * welcome, the backlog in order, resume_done, then the held live alerts. */
static void backlog_rows(struct broker *b, struct session *s, PGresult *res, int first, int end,
			 int64_t head, const struct alert_cache *c)
{
	int64_t last;
	int n = 0;

	if (s->resume_from > head) {
		resume_reload(b, s, "unknown_position");
		return;
	}
	if (!PQgetisnull(res, first, 2))
		n = end - first;
	if (!s->welcomed)
		send_welcome(b, s, "ok", NULL, n);
	last = s->resume_from;
	for (int i = first; i < first + n; i++) {
		int64_t seq = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		struct msg *m = cache_get(c, strtoll(PQgetvalue(res, i, 2), NULL, 10));
		if (m)
			session_send(s, m);
		last = seq;
	}
	if (n == RESUME_MAX)
		log_warn("session %llu: backlog cut at %d alerts", (unsigned long long)s->id, n);
	session_send_json(s, json_pack("{s:s, s:i, s:I, s:s}", "type", "resume_done", "count", n,
				       "seq", (json_int_t)last, "status", "ok"));
	gate_open(s, last, in_backlog, &(struct backlog_rows){ res, first, n });
	log_info("session %llu (%s): resumed from %lld with %d alerts", (unsigned long long)s->id,
		 s->who.username, (long long)s->resume_from, n);
}

/* The whole batch failed: every session still here waits for the
 * database (lost) or reloads ("unavailable"), as a single resume would. */
static void backlog_failed(struct broker *b, struct resume_inflight *f,
			   const struct db_error *err)
{
	if (!err->lost)
		log_error("resume of %zu sessions failed: %s", f->n, err->message);
	for (size_t i = 0; i < f->n; i++) {
		struct session *s = session_find(b, f->ids[i]);
		if (!s)
			continue; /* closed while the batch was in flight */
		if (err->lost)
			resume_wait(b, s);
		else
			resume_reload(b, s, "unavailable");
	}
}

/* Hands each session of the batch its rows (they come by idx, then seq). */
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
	head = rows ? strtoll(PQgetvalue(res, 0, 1), NULL, 10) : b->head;
	if (head > b->head)
		b->head = head;
	for (int first = 0, end; first < rows; first = end) {
		long idx = strtol(PQgetvalue(res, first, 0), NULL, 10);
		struct session *s;

		for (end = first + 1;
		     end < rows && strtol(PQgetvalue(res, end, 0), NULL, 10) == idx; end++)
			;
		if (idx < 1 || (size_t)idx > f->n)
			continue;
		s = session_find(b, f->ids[idx - 1]);
		if (s) /* else closed while the batch was in flight */
			backlog_rows(b, s, res, first, end, head, &c);
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
	char limit[16], num[24];
	const char *params[6];

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
		snprintf(num, sizeof num, "%lld", (long long)s->resume_from);
		db_array_add(arr[3], &len[3], f->n, num);
		db_array_add(arr[4], &len[4], f->n, s->who.cleared ? "t" : "f");
		f->ids[f->n++] = s->id;
		confirm_add(&c, s);
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
	params[5] = limit;
	log_info("resume: backlog of %zu sessions in one query", f->n);
	if (db_query(b->db,
		     "SELECT idx, head, id, seq, alert FROM tocsin_resume_batch($1::text[],"
		     " $2::integer[], $3::integer[], $4::bigint[], $5::boolean[], $6::integer)",
		     6, params, backlog_ready, f)) {
		backlog_failed(b, f, &away);
		free(f);
		return 0;
	}
	return 1;
}

/* The batch queue's flush: sends the resumes collected as one query
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
		log_error("resume of %zu sessions not sent: out of memory", n);
		for (size_t i = 0; i < n; i++) {
			struct session *s = session_find(b, *(uint64_t *)items[i]);
			if (s && !s->close_code && s->resuming)
				resume_reload(b, s, "unavailable");
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

/* Resumes asked for while two backlog queries are in flight go together
 * in the next one (batch_queue.h); at most 500 in one, which bounds the
 * answer the loop reads at once. */
static const struct batch_kind resume_kind = {
	.flush = flush_resumes, .free_item = free, .max = 500, .max_inflight = 2
};

/* Queues the session's resume for the next batch, or answers now when it
 * cannot be resumed or must wait. */
static void query_backlog(struct broker *b, struct session *s)
{
	uint64_t *id;

	if (b->epoch[0] && strcmp(s->resume_epoch, b->epoch) != 0) {
		resume_reload(b, s, "epoch_changed");
		return;
	}
	if (!stream_writes_direct(b) || !b->epoch[0]) {
		resume_wait(b, s);
		return;
	}
	id = malloc(sizeof *id);
	if (id)
		*id = s->id;
	if (!id || batch_queue_add(&b->resumes, b, &resume_kind, id)) {
		free(id);
		resume_reload(b, s, "unavailable");
	}
}

void resume_start(struct session *s, struct client_frame *f)
{
	struct broker *b = session_broker(s);

	memcpy(s->hello_ref, f->ref, sizeof s->hello_ref);
	if (!f->u.hello.resume ||
	    (s->who.role != ROLE_SITE_CONSOLE && s->who.role != ROLE_COMPANY_OPERATOR)) {
		send_welcome(b, s, "none", NULL, 0);
		return;
	}
	gate_close(s);
	s->resume_from = f->u.hello.seq;
	s->resume_since = f->u.hello.since;
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
