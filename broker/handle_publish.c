/* handle_publish.c: a controller or analyst publishes an alert.
 *
 * The broker names the alert (ids.c), then makes it durable: normally
 * tocsin_publish() stores it, its resolved recipients and the publish audit
 * row in one transaction; while PostgreSQL is unreachable (or the journal
 * is still being written back), the recipients are resolved from the site
 * cache and the alert is appended to the journal instead. Only once it is
 * durable is the alert fanned out and the publisher confirmed. */
#include "broker.h"
#include "clock.h"
#include "db.h"
#include "journal.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

/* What the database callback needs; owned by the query. */
struct publish_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
	char username[USERNAME_MAX + 1];
	int64_t org_id;
	json_t *rec;   /* owned: the alert as the journal records it */
};

static void publish_ctx_free(struct publish_ctx *p)
{
	json_decref(p->rec);
	free(p);
}

json_t *alert_object(const struct alert_view *a)
{
	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:{s:I, s:s, s:I, s:s}}",
			 "id", (json_int_t)a->id, "seq", a->seq ? json_integer(a->seq) : json_null(),
			 "headline", a->headline, "body", a->body, "severity", a->severity,
			 "sent_at", a->sent_at, "sender", "user_id", (json_int_t)a->sender_user_id,
			 "display_name", a->sender_display_name, "org_id",
			 (json_int_t)a->sender_org_id, "org_name", a->sender_org_name);
}

struct alert_view alert_view_from_row(PGresult *res, int row, int first)
{
	struct alert_view a;

	a.id = strtoll(PQgetvalue(res, row, first), NULL, 10);
	a.seq = strtoll(PQgetvalue(res, row, first + 1), NULL, 10);
	a.headline = PQgetvalue(res, row, first + 2);
	a.body = PQgetvalue(res, row, first + 3);
	a.severity = PQgetvalue(res, row, first + 4);
	a.sent_at = PQgetvalue(res, row, first + 5);
	a.sender_user_id = strtoll(PQgetvalue(res, row, first + 6), NULL, 10);
	a.sender_display_name = PQgetvalue(res, row, first + 7);
	a.sender_org_id = strtoll(PQgetvalue(res, row, first + 8), NULL, 10);
	a.sender_org_name = PQgetvalue(res, row, first + 9);
	return a;
}

struct msg *alert_msg(const struct alert_view *a, const char *flag)
{
	json_t *frame = json_pack("{s:s, s:o}", "type", "alert", "alert", alert_object(a));
	struct msg *m;
	size_t len;
	char *text;

	if (frame && flag)
		json_object_set_new(frame, flag, json_true());
	text = frame_dump(frame, &len);
	if (!text)
		return NULL;
	m = msg_new(text, len, MSG_ALERT, a->id);
	free(text);
	if (m)
		m->seq = a->seq;
	return m;
}

/* Parses a PostgreSQL integer array literal ("{1,2}") into ids, in the
 * order given (tocsin_publish returns them sorted). */
static int64_t *parse_id_array(const char *text, size_t *n)
{
	size_t cap = 1, count = 0;
	int64_t *ids;

	for (const char *p = text; *p; p++)
		cap += *p == ',';
	ids = malloc(cap * sizeof *ids);
	if (!ids)
		return NULL;
	for (const char *p = text; *p;) {
		char *end;
		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		ids[count++] = strtoll(p, &end, 10);
		p = end;
	}
	*n = count;
	return ids;
}

void reply_db_error(struct session *s, const char *ref, const struct db_error *err,
		    const char *not_found_code)
{
	const char *field = err->column[0] ? err->column : NULL;

	if (err->lost)
		session_reply_error(s, ref, "unavailable", NULL,
				    "the database is not reachable; the request had no effect");
	else if (!strcmp(err->sqlstate, "TS403"))
		session_reply_error(s, ref, "forbidden", NULL, err->message);
	else if (!strcmp(err->sqlstate, "TS404"))
		session_reply_error(s, ref, not_found_code, field, err->message);
	else if (!strcmp(err->sqlstate, "TS409"))
		session_reply_error(s, ref, "not_recipient", field, err->message);
	else if (!strcmp(err->sqlstate, "TS422"))
		session_reply_error(s, ref, "no_recipients", field, err->message);
	else {
		log_error("database error %s: %s", err->sqlstate, err->message);
		session_reply_error(s, ref, "internal", NULL, "the request failed and had no effect");
	}
}

/* Fans a durable alert out and confirms it to its publisher. */
static void deliver(struct broker *b, struct publish_ctx *p, const struct alert_view *a,
		    const int64_t *sites, size_t n_sites, const int64_t *orgs, size_t n_orgs,
		    const char *durable)
{
	struct session *s = broker_find_session(b, p->session_id);
	struct tally t = { .recipients = (long)n_sites };
	struct msg *m = alert_msg(a, NULL);

	if (m) {
		fanout_alert(b, m, sites, n_sites, orgs, n_orgs);
		msg_unref(m);
	} else {
		log_error("alert %lld is durable but was not fanned out: out of memory",
			  (long long)a->id);
	}
	if (a->seq > b->head)
		b->head = a->seq;
	if (s)
		session_send_json(s, json_pack("{s:s, s:s, s:I, s:o, s:s, s:i, s:s}",
					       "type", "published", "ref", p->ref,
					       "alert_id", (json_int_t)a->id,
					       "seq", a->seq ? json_integer(a->seq) : json_null(),
					       "durable", durable, "recipients", (int)n_sites,
					       "sent_at", a->sent_at));
	fanout_tally(b, a->id, a->sender_org_id, &t);
	log_info("alert %lld published by %s to %zu sites (%s)", (long long)a->id, p->username,
		 n_sites, durable);
}

/* Checks targets against the site cache; 0 or -1 after replying. */
static int check_targets(struct broker *b, struct session *s, struct publish_ctx *p)
{
	json_t *orgs = json_object_get(p->rec, "orgs"), *sites = json_object_get(p->rec, "sites"), *v;
	char field[FRAME_FIELD_MAX], msg[96];
	size_t i;

	json_array_foreach(orgs, i, v) {
		if (!site_cache_has_org(&b->sites, json_integer_value(v))) {
			snprintf(field, sizeof field, "targets.orgs[%zu]", i);
			snprintf(msg, sizeof msg, "no organisation with id %lld",
				 (long long)json_integer_value(v));
			session_reply_error(s, p->ref, "unknown_target", field, msg);
			return -1;
		}
	}
	json_array_foreach(sites, i, v) {
		if (!site_cache_has_site(&b->sites, json_integer_value(v))) {
			snprintf(field, sizeof field, "targets.sites[%zu]", i);
			snprintf(msg, sizeof msg, "no site with id %lld",
				 (long long)json_integer_value(v));
			session_reply_error(s, p->ref, "unknown_target", field, msg);
			return -1;
		}
	}
	return 0;
}

static int64_t *json_ids(json_t *arr, size_t *n)
{
	int64_t *ids = malloc((json_array_size(arr) + 1) * sizeof *ids);
	json_t *v;
	size_t i;

	if (!ids)
		return NULL;
	json_array_foreach(arr, i, v)
		ids[i] = json_integer_value(v);
	*n = json_array_size(arr);
	return ids;
}

/* The degraded path: resolve from the cache, journal, deliver. Takes p. */
static void publish_journaled(struct broker *b, struct publish_ctx *p)
{
	struct session *s = broker_find_session(b, p->session_id);
	int64_t *orgs = NULL, *sites = NULL, *rsites = NULL, *rorgs = NULL;
	size_t n_orgs, n_sites, n_rsites = 0, n_rorgs = 0;
	json_t *recipients;
	struct alert_view a;

	if (!b->sites.loaded) {
		if (s)
			session_reply_error(s, p->ref, "unavailable", NULL,
					    "the database is not reachable and the broker has no "
					    "directory yet; nothing was published");
		goto out;
	}
	if (s && check_targets(b, s, p))
		goto out;
	orgs = json_ids(json_object_get(p->rec, "orgs"), &n_orgs);
	sites = json_ids(json_object_get(p->rec, "sites"), &n_sites);
	if (!orgs || !sites ||
	    site_cache_resolve(&b->sites, orgs, n_orgs, sites, n_sites, &rsites, &n_rsites, &rorgs,
			       &n_rorgs)) {
		if (s)
			session_reply_error(s, p->ref, "internal", NULL, "out of memory");
		goto out;
	}
	if (!n_rsites) {
		if (s)
			session_reply_error(s, p->ref, "no_recipients", "targets",
					    "the targets resolve to no site");
		goto out;
	}
	recipients = json_array();
	for (size_t i = 0; i < n_rsites; i++)
		json_array_append_new(recipients, json_integer(rsites[i]));
	json_object_set_new(p->rec, "recipients", recipients);
	if (journal_append(b->journal, "publish", p->rec)) {
		if (s)
			session_reply_error(s, p->ref, "unavailable", NULL,
					    "neither the database nor the journal could store the "
					    "alert; nothing was published");
		goto out;
	}
	a.id = json_integer_value(json_object_get(p->rec, "alert_id"));
	a.seq = 0;
	a.headline = json_string_value(json_object_get(p->rec, "headline"));
	a.body = json_string_value(json_object_get(p->rec, "body"));
	a.severity = json_string_value(json_object_get(p->rec, "severity"));
	a.sent_at = json_string_value(json_object_get(p->rec, "at"));
	a.sender_user_id = json_integer_value(json_object_get(p->rec, "user_id"));
	a.sender_display_name = p->username;
	a.sender_org_id = p->org_id;
	a.sender_org_name = site_cache_org_name(&b->sites, p->org_id);
	deliver(b, p, &a, rsites, n_rsites, rorgs, n_rorgs, "journal");
out:
	free(orgs);
	free(sites);
	free(rsites);
	free(rorgs);
	publish_ctx_free(p);
}

/* Columns: alert_id, seq, sent_at, recipient_sites, recipient_orgs,
 * sender_org_id, sender_org_name, sender_display_name, sender_user_id */
static void published(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct publish_ctx *p = arg;
	struct session *s;
	size_t n_sites = 0, n_orgs = 0;
	int64_t *sites, *orgs;
	struct alert_view a;

	if (err && err->lost) {
		/* Outcome unknown: journal it. If it did commit, the replay
		 * finds the same alert id and changes nothing. */
		publish_journaled(b, p);
		return;
	}
	if (err) {
		if ((s = broker_find_session(b, p->session_id)))
			reply_db_error(s, p->ref, err, "unknown_target");
		publish_ctx_free(p);
		return;
	}
	sites = parse_id_array(PQgetvalue(res, 0, 3), &n_sites);
	orgs = parse_id_array(PQgetvalue(res, 0, 4), &n_orgs);
	a.id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	a.seq = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	a.headline = json_string_value(json_object_get(p->rec, "headline"));
	a.body = json_string_value(json_object_get(p->rec, "body"));
	a.severity = json_string_value(json_object_get(p->rec, "severity"));
	a.sent_at = PQgetvalue(res, 0, 2);
	a.sender_org_id = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	a.sender_org_name = PQgetvalue(res, 0, 6);
	a.sender_display_name = PQgetvalue(res, 0, 7);
	a.sender_user_id = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
	if (sites && orgs)
		deliver(b, p, &a, sites, n_sites, orgs, n_orgs, "database");
	else
		log_error("alert %lld stored but not fanned out: out of memory", (long long)a.id);
	free(sites);
	free(orgs);
	publish_ctx_free(p);
}

static json_t *id_array(const int64_t *ids, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_integer(ids[i]));
	return arr;
}

/* "{1,2,3}" from a JSON array of ids; caller frees. */
static char *pg_array(json_t *arr)
{
	size_t n = json_array_size(arr), off = 0, i;
	char *s = malloc(n * 21 + 3);
	json_t *v;

	if (!s)
		return NULL;
	s[off++] = '{';
	json_array_foreach(arr, i, v)
		off += (size_t)sprintf(s + off, i ? ",%lld" : "%lld", (long long)json_integer_value(v));
	s[off++] = '}';
	s[off] = '\0';
	return s;
}

static void publish_direct(struct broker *b, struct session *s, struct publish_ctx *p)
{
	char id[24], user[24], *orgs = pg_array(json_object_get(p->rec, "orgs")),
		*sites = pg_array(json_object_get(p->rec, "sites")),
		*targets = json_dumps(json_object_get(p->rec, "targets"), JSON_COMPACT);
	const char *params[10] = { id, user, json_string_value(json_object_get(p->rec, "headline")),
				   json_string_value(json_object_get(p->rec, "body")),
				   json_string_value(json_object_get(p->rec, "severity")),
				   orgs, sites, targets, s->remote,
				   json_string_value(json_object_get(p->rec, "at")) };

	snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(p->rec, "alert_id")));
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	if (!orgs || !sites || !targets) {
		session_reply_error(s, p->ref, "internal", NULL, "out of memory");
		publish_ctx_free(p);
	} else if (db_query(b->db,
			    "SELECT alert_id, seq,"
			    "       to_char(sent_at AT TIME ZONE 'UTC',"
			    "               'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
			    "       recipient_sites, recipient_orgs, sender_org_id, sender_org_name,"
			    "       sender_display_name, sender_user_id"
			    "  FROM tocsin_publish($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
			    10, params, published, p)) {
		publish_journaled(b, p); /* the database went away just now */
	}
	free(orgs);
	free(sites);
	free(targets);
}

void handle_publish(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct frame_publish *pub = &f->u.publish;
	struct publish_ctx *p;
	char at[CLOCK_ISO_LEN];
	int64_t now = clock_now_us();

	if (s->who.role != ROLE_CONTROLLER && s->who.role != ROLE_ANALYST) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only controllers and analysts may publish");
		return;
	}
	p = calloc(1, sizeof *p);
	if (!p) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	clock_format_iso(now, at);
	p->session_id = s->id;
	memcpy(p->ref, f->ref, sizeof p->ref);
	memcpy(p->username, s->who.username, sizeof p->username);
	p->org_id = s->who.org_id;
	p->rec = json_pack("{s:I, s:I, s:s, s:s, s:s, s:o, s:o, s:{s:o, s:o}, s:s, s:s}",
			   "alert_id", (json_int_t)ids_next(&b->ids, now / 1000),
			   "user_id", (json_int_t)s->who.user_id, "headline", pub->headline,
			   "body", pub->body, "severity", pub->severity,
			   "orgs", id_array(pub->orgs, pub->n_orgs),
			   "sites", id_array(pub->sites, pub->n_sites),
			   "targets", "orgs", id_array(pub->orgs, pub->n_orgs),
			   "sites", id_array(pub->sites, pub->n_sites), "remote", s->remote,
			   "at", at);
	if (!p->rec) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		free(p);
		return;
	}
	if (broker_writes_direct(b))
		publish_direct(b, s, p);
	else
		publish_journaled(b, p);
}
