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

struct msg *alert_msg(int64_t id, int64_t seq, json_t *alert, const char *flag,
		      unsigned audience)
{
	json_t *frame = json_pack("{s:s, s:o}", "type", "alert", "alert", alert);
	struct msg *m;
	size_t len;
	char *text;

	if (frame && flag)
		json_object_set_new(frame, flag, json_true());
	text = frame_dump(frame, &len);
	if (!text)
		return NULL;
	m = msg_new(text, len, MSG_ALERT, id);
	free(text);
	if (m) {
		m->seq = seq;
		m->audience = audience;
	}
	return m;
}

unsigned alert_audience(const char *roles, const char *classification)
{
	unsigned a = 0;

	if (strstr(roles, "site_console"))
		a |= MSG_TO_CONSOLES;
	if (strstr(roles, "company_operator"))
		a |= MSG_TO_OPERATORS;
	if (!strcmp(classification, "OFFICIAL-SENSITIVE"))
		a |= MSG_SENSITIVE;
	return a;
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
		session_reply_error(s, ref,
				    field && strcmp(field, "targets") && strcmp(field, "sites")
					    ? "bad_field" : "no_recipients",
				    field, err->message);
	else {
		log_error("database error %s: %s", err->sqlstate, err->message);
		session_reply_error(s, ref, "internal", NULL, "the request failed and had no effect");
	}
}

/* Fans a durable alert out and confirms it to its publisher. Steals alert. */
static void deliver(struct broker *b, struct publish_ctx *p, int64_t id, int64_t seq,
		    json_t *alert, unsigned audience, const int64_t *sites, size_t n_sites,
		    const int64_t *orgs, size_t n_orgs, const char *durable)
{
	struct session *s = broker_find_session(b, p->session_id);
	struct tally t = { .recipients = (long)n_sites };
	int64_t sender_org = json_integer_value(json_object_get(json_object_get(alert, "sender"),
								 "org_id"));
	char sent_at[CLOCK_ISO_LEN];
	struct msg *m;

	snprintf(sent_at, sizeof sent_at, "%s",
		 json_string_value(json_object_get(alert, "sent_at")) ?: "");
	m = alert_msg(id, seq, alert, NULL, audience);
	if (m) {
		fanout_alert(b, m, sites, n_sites, orgs, n_orgs);
		msg_unref(m);
	} else {
		log_error("alert %lld is durable but was not fanned out: out of memory",
			  (long long)id);
	}
	if (seq > b->head)
		b->head = seq;
	if (s)
		session_send_json(s, json_pack("{s:s, s:s, s:I, s:o, s:s, s:i, s:s}",
					       "type", "published", "ref", p->ref,
					       "alert_id", (json_int_t)id,
					       "seq", seq ? json_integer(seq) : json_null(),
					       "durable", durable, "recipients", (int)n_sites,
					       "sent_at", sent_at));
	fanout_tally(b, id, sender_org, 0, &t);
	log_info("alert %lld published by %s to %zu sites (%s)", (long long)id, p->username,
		 n_sites, durable);
}

/* Checks targets against the site cache; 0 or -1 after replying. */
static int check_targets(struct broker *b, struct session *s, struct publish_ctx *p)
{
	json_t *t = json_object_get(p->rec, "targets");
	json_t *orgs = json_object_get(t, "orgs"), *sites = json_object_get(t, "sites"), *v;
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

/* What the degraded path cannot do without the database, or NULL. */
static const char *needs_database(json_t *rec)
{
	json_t *t = json_object_get(rec, "targets");

	if (strcmp(json_string_value(json_object_get(rec, "msg_type")), "alert") != 0)
		return "updates and cancellations";
	if (json_array_size(json_object_get(t, "sectors")) || json_is_true(json_object_get(t, "area")))
		return "targeting by sector or area";
	if (!strcmp(json_string_value(json_object_get(rec, "classification")), "OFFICIAL-SENSITIVE"))
		return "OFFICIAL-SENSITIVE alerts";
	if (json_array_size(json_object_get(rec, "images")))
		return "alerts with images";
	return NULL;
}

/* The alert object as tocsin_alert_json() would build it, for an alert
 * that so far exists only in the journal. */
static json_t *journal_alert_object(struct broker *b, struct publish_ctx *p)
{
	json_t *r = p->rec;
	const char *at = json_string_value(json_object_get(r, "at"));
	json_t *effective = json_object_get(r, "effective");

	return json_pack("{s:I, s:n, s:O, s:s, s:n, s:O, s:O, s:O, s:O, s:O, s:O, s:s,"
			 " s:s, s:O, s:o, s:o, s:O, s:s, s:o, s:[], s:b, s:n,"
			 " s:{s:I, s:s, s:I, s:s}}",
			 "id", json_integer_value(json_object_get(r, "alert_id")), "seq",
			 "status", json_object_get(r, "status"), "msg_type", "alert",
			 "references", "category", json_object_get(r, "category"),
			 "urgency", json_object_get(r, "urgency"),
			 "severity", json_object_get(r, "severity"),
			 "certainty", json_object_get(r, "certainty"),
			 "headline", json_object_get(r, "headline"),
			 "body", json_object_get(r, "body"),
			 "instruction", json_string_value(json_object_get(r, "instruction")) ?: "",
			 "sent_at", at,
			 "effective", effective ? effective : json_object_get(r, "at"),
			 "expires", json_object_get(r, "expires") ? json_incref(json_object_get(r, "expires")) : json_null(),
			 "area", json_object_get(r, "area") ? json_incref(json_object_get(r, "area")) : json_null(),
			 "classification", json_object_get(r, "classification"),
			 "handling", json_string_value(json_object_get(r, "handling")) ?: "",
			 "request", json_object_get(r, "request") ? json_incref(json_object_get(r, "request")) : json_null(),
			 "images", "cancelled", 0, "relay",
			 "sender", "user_id", json_integer_value(json_object_get(r, "user_id")),
			 "display_name", p->username, "org_id", (json_int_t)p->org_id,
			 "org_name", site_cache_org_name(&b->sites, p->org_id));
}

/* The degraded path: resolve from the cache, journal, deliver. Takes p. */
static void publish_journaled(struct broker *b, struct publish_ctx *p)
{
	struct session *s = broker_find_session(b, p->session_id);
	json_t *t = json_object_get(p->rec, "targets"), *recipients, *alert;
	int64_t *orgs = NULL, *sites = NULL, *rsites = NULL, *rorgs = NULL;
	size_t n_orgs, n_sites, n_rsites = 0, n_rorgs = 0;
	const char *missing = needs_database(p->rec);
	char msg[160];

	if (missing || !b->sites.loaded) {
		snprintf(msg, sizeof msg, "the database is not reachable and %s need it; "
			 "nothing was published", missing ? missing : "the broker's directory");
		if (s)
			session_reply_error(s, p->ref, "unavailable", NULL, msg);
		goto out;
	}
	if (s && check_targets(b, s, p))
		goto out;
	orgs = json_ids(json_object_get(t, "orgs"), &n_orgs);
	sites = json_ids(json_object_get(t, "sites"), &n_sites);
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
	alert = journal_alert_object(b, p);
	if (alert) {
		json_t *roles = json_object_get(t, "roles");
		char *rtext = roles ? json_dumps(roles, JSON_COMPACT) : NULL;
		deliver(b, p, json_integer_value(json_object_get(p->rec, "alert_id")), 0, alert,
			alert_audience(rtext ? rtext : "site_console,company_operator", "OFFICIAL"),
			rsites, n_rsites, rorgs, n_rorgs, "journal");
		free(rtext);
	}
out:
	free(orgs);
	free(sites);
	free(rsites);
	free(rorgs);
	publish_ctx_free(p);
}

/* Columns: alert_id, seq, recipient_sites, recipient_orgs, sender_org_id,
 * target_roles, classification, alert, existed */
static void published(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct publish_ctx *p = arg;
	struct session *s;
	size_t n_sites = 0, n_orgs = 0;
	int64_t *sites, *orgs;
	json_t *alert;

	if (err && err->lost) {
		/* Outcome unknown: journal it. If it did commit, the replay
		 * finds the same alert id and changes nothing. */
		publish_journaled(b, p);
		return;
	}
	if (err) {
		if ((s = broker_find_session(b, p->session_id)))
			reply_db_error(s, p->ref, err,
				       !strcmp(err->column, "references") ? "unknown_alert"
									 : "unknown_target");
		publish_ctx_free(p);
		return;
	}
	sites = parse_id_array(PQgetvalue(res, 0, 2), &n_sites);
	orgs = parse_id_array(PQgetvalue(res, 0, 3), &n_orgs);
	alert = json_loads(PQgetvalue(res, 0, 7), 0, NULL);
	if (sites && orgs && alert)
		deliver(b, p, strtoll(PQgetvalue(res, 0, 0), NULL, 10),
			strtoll(PQgetvalue(res, 0, 1), NULL, 10), alert,
			alert_audience(PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 6)), sites, n_sites,
			orgs, n_orgs, "database");
	else
		log_error("alert %s stored but not fanned out: out of memory", PQgetvalue(res, 0, 0));
	free(sites);
	free(orgs);
	publish_ctx_free(p);
}

static void publish_direct(struct broker *b, struct session *s, struct publish_ctx *p)
{
	char id[24], user[24], *rec = json_dumps(p->rec, JSON_COMPACT);
	const char *params[4] = { id, user, rec, s->remote };

	snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(p->rec, "alert_id")));
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	if (!rec) {
		session_reply_error(s, p->ref, "internal", NULL, "out of memory");
		publish_ctx_free(p);
	} else if (db_query(b->db,
			    "SELECT alert_id, seq, recipient_sites, recipient_orgs, sender_org_id,"
			    "       target_roles, classification, alert, existed"
			    "  FROM tocsin_publish($1, $2, $3::jsonb, $4, NULL)",
			    4, params, published, p)) {
		publish_journaled(b, p); /* the database went away just now */
	}
	free(rec);
}

void handle_publish(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct publish_ctx *p;
	char at[CLOCK_ISO_LEN];
	int64_t now = clock_now_us(), expires;
	const char *exp;

	if (s->who.role != ROLE_CONTROLLER && s->who.role != ROLE_ANALYST) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only controllers and analysts may publish");
		return;
	}
	exp = json_string_value(json_object_get(f->u.publish.rec, "expires"));
	if (exp && frame_parse_time(exp, &expires) == 0 && expires <= now / 1000) {
		session_reply_error(s, f->ref, "bad_field", "expires", "expires must be in the future");
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
	p->rec = f->u.publish.rec; /* taken from the frame */
	f->u.publish.rec = NULL;
	json_object_set_new(p->rec, "alert_id", json_integer(ids_next(&b->ids, now / 1000)));
	json_object_set_new(p->rec, "user_id", json_integer(s->who.user_id));
	json_object_set_new(p->rec, "remote", json_string(s->remote));
	json_object_set_new(p->rec, "at", json_string(at));
	if (broker_writes_direct(b))
		publish_direct(b, s, p);
	else
		publish_journaled(b, p);
}
