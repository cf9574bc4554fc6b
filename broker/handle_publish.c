/* handle_publish.c: a controller or analyst publishes an alert.
 *
 * The alert, its resolved recipients and the publish audit row are
 * written by tocsin_publish() in one transaction; only once it has
 * committed is the alert fanned out, so every delivered alert is durable.
 * The publisher then gets "published" and its organisation a first tally. */
#include "broker.h"
#include "db.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

/* What the database callback needs; owned by the query. */
struct publish_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
	char *headline, *body, *severity;
};

static void publish_ctx_free(struct publish_ctx *p)
{
	free(p->headline);
	free(p->body);
	free(p->severity);
	free(p);
}

/* "{1,2,3}" from ids; caller frees. */
static char *id_array_literal(const int64_t *ids, size_t n)
{
	char *s = malloc(n * 21 + 3);
	size_t off = 0;

	if (!s)
		return NULL;
	s[off++] = '{';
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(s + off, i ? ",%lld" : "%lld", (long long)ids[i]);
	s[off++] = '}';
	s[off] = '\0';
	return s;
}

/* Parses a PostgreSQL integer array literal ("{1,2}") into sorted ids. */
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
		long long v;
		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		v = strtoll(p, &end, 10);
		ids[count++] = v;
		p = end;
	}
	*n = count;
	return ids; /* tocsin_publish returns both arrays ordered */
}

void reply_db_error(struct session *s, const char *ref, const struct db_error *err,
		    const char *not_found_code)
{
	if (err->lost)
		session_reply_error(s, ref, "unavailable", NULL,
				    "the database is not reachable; the request had no effect");
	else if (!strcmp(err->sqlstate, "TS403"))
		session_reply_error(s, ref, "forbidden", NULL, err->message);
	else if (!strcmp(err->sqlstate, "TS404"))
		session_reply_error(s, ref, not_found_code, err->column[0] ? err->column : NULL,
				    err->message);
	else if (!strcmp(err->sqlstate, "TS409"))
		session_reply_error(s, ref, "not_recipient", err->column[0] ? err->column : NULL,
				    err->message);
	else if (!strcmp(err->sqlstate, "TS422"))
		session_reply_error(s, ref, "no_recipients", err->column[0] ? err->column : NULL,
				    err->message);
	else {
		log_error("database error %s: %s", err->sqlstate, err->message);
		session_reply_error(s, ref, "internal", NULL,
				    "the request failed and had no effect");
	}
}

/* Columns: alert_id, seq, sent_at, recipient_sites, recipient_orgs,
 * sender_org_id, sender_org_name, sender_display_name, sender_user_id */
static void published(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct publish_ctx *p = arg;
	struct session *s = broker_find_session(b, p->session_id);
	size_t n_sites = 0, n_orgs = 0, len;
	int64_t *sites = NULL, *orgs = NULL, alert_id, sender_org;
	char *text;
	struct msg *m;

	if (err) {
		if (s)
			reply_db_error(s, p->ref, err, "unknown_target");
		publish_ctx_free(p);
		return;
	}
	alert_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	sender_org = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	sites = parse_id_array(PQgetvalue(res, 0, 3), &n_sites);
	orgs = parse_id_array(PQgetvalue(res, 0, 4), &n_orgs);
	text = frame_dump(json_pack("{s:s, s:{s:I, s:I, s:s, s:s, s:s, s:s, s:{s:I, s:s, s:I, s:s}}}",
				    "type", "alert", "alert",
				    "id", (json_int_t)alert_id,
				    "seq", (json_int_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10),
				    "headline", p->headline, "body", p->body,
				    "severity", p->severity, "sent_at", PQgetvalue(res, 0, 2),
				    "sender", "user_id",
				    (json_int_t)strtoll(PQgetvalue(res, 0, 8), NULL, 10),
				    "display_name", PQgetvalue(res, 0, 7),
				    "org_id", (json_int_t)sender_org,
				    "org_name", PQgetvalue(res, 0, 6)),
			  &len);
	if (text && sites && orgs && (m = msg_new(text, len, MSG_ALERT, alert_id))) {
		fanout_alert(b, m, sites, n_sites, orgs, n_orgs);
		msg_unref(m);
	} else {
		log_error("alert %lld stored but not fanned out: out of memory", (long long)alert_id);
	}
	if (s)
		session_send_json(s, json_pack("{s:s, s:s, s:I, s:I, s:i, s:s}", "type", "published",
					       "ref", p->ref, "alert_id", (json_int_t)alert_id,
					       "seq",
					       (json_int_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10),
					       "recipients", (int)n_sites, "sent_at",
					       PQgetvalue(res, 0, 2)));
	fanout_tally(b, alert_id, sender_org, (long)n_sites, 0, 0);
	log_info("alert %lld published by %s to %zu sites", (long long)alert_id,
		 s ? s->who.username : "?", n_sites);
	free(text);
	free(sites);
	free(orgs);
	publish_ctx_free(p);
}

void handle_publish(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct frame_publish *pub = &f->u.publish;
	struct publish_ctx *p;
	char user[24], *orgs, *sites, *targets;
	json_t *tj;

	if (s->who.role != ROLE_CONTROLLER && s->who.role != ROLE_ANALYST) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only controllers and analysts may publish");
		return;
	}
	p = calloc(1, sizeof *p);
	orgs = id_array_literal(pub->orgs, pub->n_orgs);
	sites = id_array_literal(pub->sites, pub->n_sites);
	tj = json_object();
	json_object_set_new(tj, "orgs", json_array());
	json_object_set_new(tj, "sites", json_array());
	for (size_t i = 0; i < pub->n_orgs; i++)
		json_array_append_new(json_object_get(tj, "orgs"), json_integer(pub->orgs[i]));
	for (size_t i = 0; i < pub->n_sites; i++)
		json_array_append_new(json_object_get(tj, "sites"), json_integer(pub->sites[i]));
	targets = frame_dump(tj, NULL);
	if (p) {
		p->headline = strdup(pub->headline);
		p->body = strdup(pub->body);
		p->severity = strdup(pub->severity);
	}
	if (!p || !orgs || !sites || !targets || !p->headline || !p->body || !p->severity) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		if (p)
			publish_ctx_free(p);
		goto out;
	}
	p->session_id = s->id;
	memcpy(p->ref, f->ref, sizeof p->ref);
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	{
		const char *params[8] = { user, pub->headline, pub->body, pub->severity,
					  orgs, sites, targets, s->remote };
		if (db_query(b->db,
			     "SELECT alert_id, seq,"
			     "       to_char(sent_at AT TIME ZONE 'UTC',"
			     "               'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
			     "       recipient_sites, recipient_orgs, sender_org_id, sender_org_name,"
			     "       sender_display_name, sender_user_id"
			     "  FROM tocsin_publish($1, $2, $3, $4, $5, $6, $7, $8)",
			     8, params, published, p)) {
			session_reply_error(s, f->ref, "unavailable", NULL,
					    "the database is not reachable; nothing was published");
			publish_ctx_free(p);
		}
	}
out:
	free(orgs);
	free(sites);
	free(targets);
}
