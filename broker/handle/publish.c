/* publish.c: a controller or analyst publishes an alert.
 *
 * The broker names the alert (ids.c), then makes it durable: normally
 * tocsin_publish() stores it, its resolved recipients and the publish audit
 * row in one transaction; while PostgreSQL is unreachable (or the journal
 * is still being written back), the recipients are resolved from the site
 * cache and the alert is appended to the journal instead. Only once it is
 * durable is the alert fanned out, the publisher confirmed and the event
 * put on the bus (alert.published / alert.updated / alert.cancelled); the
 * force's desks hear it is in force, or what it ended (in_force.c).
 *
 * The publisher is a requester (session.h): a WebSocket session, or an
 * adapter on the ZeroMQ bus, whose publish goes through
 * tocsin_bus_publish() so that a repeated (adapter, seq) publishes once. */
#include "broker.h"
#include "handle.h"
#include "bus.h"
#include "clock.h"
#include "db.h"
#include "journal.h"
#include "log.h"
#include "stream.h"

#include <stdlib.h>
#include <string.h>

/* What the database callback needs; owned by the query. */
struct publish_ctx {
	struct requester req; /* who publishes, where the reply goes */
	json_t *rec;          /* owned: the alert as the journal records it */
	int64_t asked_us;     /* when the request came: publish-to-durable */
};

static void publish_ctx_free(struct publish_ctx *p)
{
	json_decref(p->rec);
	free(p);
}

/* The bus event for a durable alert: alert.published, alert.updated or
 * alert.cancelled, by its msg_type, with the alert whole and its signature
 * (sig borrowed), so that a subscriber checks it (adapters/lib/bus_verify.h). */
static void emit_alert(struct broker *b, struct publish_ctx *p, int64_t id, json_t *alert,
		       json_t *sig, const int64_t *sites, size_t n_sites, const char *durable)
{
	const char *type = json_string_value(json_object_get(alert, "msg_type")) ?: "alert";
	json_t *list = json_array(), *ev;

	for (size_t i = 0; list && i < n_sites; i++)
		json_array_append_new(list, json_integer(sites[i]));
	ev = json_pack("{s:I, s:I, s:s, s:O?, s:O?, s:O?, s:s, s:O?, s:i, s:o, s:s, s:s?}",
		       "alert_id", (json_int_t)id, "org_id", (json_int_t)p->req.who.org_id,
		       "user", p->req.who.username,
		       "headline", json_object_get(alert, "headline"),
		       "severity", json_object_get(alert, "severity"),
		       "status", json_object_get(alert, "status"), "msg_type", type,
		       "references", json_object_get(alert, "references"),
		       "recipients", (int)n_sites, "sites", list ? list : json_array(),
		       "durable", durable, "adapter", p->req.adapter_id ? p->req.adapter : NULL);
	if (ev) {
		json_object_set(ev, "alert", alert);
		if (sig)
			json_object_set(ev, "signature", sig);
	}
	bus_emit(b, !strcmp(type, "update") ? "alert.updated"
		    : !strcmp(type, "cancel") ? "alert.cancelled" : "alert.published", ev);
}

/* The metrics of a durable alert: by severity and source, and the time
 * it took to be durable. */
static void count(struct broker *b, const struct publish_ctx *p, json_t *alert)
{
	int sev = metrics_severity(json_string_value(json_object_get(alert, "severity")));

	if (sev >= 0)
		b->metrics.published[sev][p->req.adapter_id ? METRICS_ADAPTER : METRICS_CONSOLE]++;
	metrics_observe_durable(&b->metrics, (double)(clock_now_us() - p->asked_us) / 1e6);
}

/* Fans a durable alert out and confirms it to its publisher. Steals alert
 * and sig, its signature: made once for the bus event, the shared control
 * room's list, what an update or cancel ended and the alert frame. */
static void deliver(struct broker *b, struct publish_ctx *p, int64_t id, int64_t seq,
		    json_t *alert, json_t *sig, unsigned audience, const int64_t *sites,
		    size_t n_sites, const int64_t *orgs, size_t n_orgs, const char *durable)
{
	struct tally t = { .recipients = (long)n_sites };
	json_t *reply;
	int64_t sender_org = json_integer_value(json_object_get(json_object_get(alert, "sender"),
								 "org_id"));
	char sent_at[CLOCK_ISO_LEN];
	struct msg *m;

	snprintf(sent_at, sizeof sent_at, "%s",
		 json_string_value(json_object_get(alert, "sent_at")) ?: "");
	count(b, p, alert);
	emit_alert(b, p, id, alert, sig, sites, n_sites, durable);
	if (seq > b->head)
		b->head = seq;
	/* the stream position is "seq" to a session; an adapter's "seq" is
	 * its own, so it gets the position as "stream_seq" */
	reply = json_pack("{s:s, s:I, s:o, s:s, s:i, s:s}", "type", "published",
			  "alert_id", (json_int_t)id,
			  p->req.adapter_id ? "stream_seq" : "seq",
			  seq ? json_integer(seq) : json_null(),
			  "durable", durable, "recipients", (int)n_sites, "sent_at", sent_at);
	if (reply && p->req.adapter_id)
		json_object_set_new(reply, "duplicate", json_false());
	/* the publisher first: its answer then leaves in the first slice of
	 * the fan-out's writes (flush_pass), not after 10,000 consoles */
	requester_send(b, &p->req, reply);
	fanout_tally(b, id, sender_org, 0, &t);
	in_force_live(b, id, alert, sig, (int)n_sites, p->req.session_id);
	if (strcmp(json_string_value(json_object_get(alert, "msg_type")) ?: "alert", "alert") != 0)
		in_force_ended_by(b, id, sent_at);
	m = alert_frame_signed_msg(sig, id, seq, alert, NULL, audience);
	if (m) {
		nodes_fan_out(b, m, sites, n_sites, orgs, n_orgs); /* in stream order */
		msg_unref(m);
	} else {
		log_error("alert %lld is durable but was not fanned out: out of memory",
			  (long long)id);
	}
	log_info("alert %lld published by %s%s%s to %zu sites (%s)", (long long)id,
		 p->req.who.username, p->req.adapter_id ? " through adapter " : "",
		 p->req.adapter_id ? p->req.adapter : "", n_sites, durable);
}

/* Checks targets against the site cache; 0 or -1 after replying. */
static int check_targets(struct broker *b, struct publish_ctx *p)
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
			requester_error(b, &p->req, "unknown_target", field, msg);
			return -1;
		}
	}
	json_array_foreach(sites, i, v) {
		if (!site_cache_has_site(&b->sites, json_integer_value(v))) {
			snprintf(field, sizeof field, "targets.sites[%zu]", i);
			snprintf(msg, sizeof msg, "no site with id %lld",
				 (long long)json_integer_value(v));
			requester_error(b, &p->req, "unknown_target", field, msg);
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
	if (json_array_size(json_object_get(t, "geocodes")))
		return "targeting by geocode";
	if (json_object_get(rec, "pending_import"))
		return "releasing a pending import";
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

	json_t *origin = json_object_get(r, "origin");
	json_t *source = p->req.adapter_id
		? json_pack("{s:s, s:s, s:O}", "kind", "adapter", "adapter", p->req.adapter,
			    "origin", origin ? origin : json_null())
		: json_pack("{s:s}", "kind", "person");

	return json_pack("{s:I, s:n, s:O, s:s, s:n, s:O, s:O, s:O, s:O, s:O, s:O, s:s,"
			 " s:s, s:O, s:o, s:o, s:O, s:s, s:o, s:[], s:b, s:n,"
			 " s:{s:I, s:s, s:I, s:s}, s:o}",
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
			 "display_name", p->req.who.username, "org_id", (json_int_t)p->req.who.org_id,
			 "org_name", site_cache_org_name(&b->sites, p->req.who.org_id),
			 "source", source);
}

/* The degraded path: resolve from the cache, journal, deliver. Takes p. */
static void publish_journaled(struct broker *b, struct publish_ctx *p)
{
	json_t *t = json_object_get(p->rec, "targets"), *recipients, *alert, *sig;
	int64_t *orgs = NULL, *sites = NULL, *rsites = NULL, *rorgs = NULL;
	size_t n_orgs, n_sites, n_rsites = 0, n_rorgs = 0;
	const char *missing = needs_database(p->rec);
	char msg[160];

	if (missing || !b->sites.loaded) {
		snprintf(msg, sizeof msg, "the database is not reachable and %s need it; "
			 "nothing was published", missing ? missing : "the broker's directory");
		requester_error(b, &p->req, "unavailable", NULL, msg);
		goto out;
	}
	if (requester_present(b, &p->req) && check_targets(b, p))
		goto out;
	orgs = json_ids(json_object_get(t, "orgs"), &n_orgs);
	sites = json_ids(json_object_get(t, "sites"), &n_sites);
	if (!orgs || !sites ||
	    site_cache_resolve(&b->sites, orgs, n_orgs, sites, n_sites, &rsites, &n_rsites, &rorgs,
			       &n_rorgs)) {
		requester_error(b, &p->req, "internal", NULL, "out of memory");
		goto out;
	}
	if (!n_rsites) {
		requester_error(b, &p->req, "no_recipients", "targets",
				"the targets resolve to no site");
		goto out;
	}
	recipients = json_array();
	for (size_t i = 0; i < n_rsites; i++)
		json_array_append_new(recipients, json_integer(rsites[i]));
	json_object_set_new(p->rec, "recipients", recipients);
	if (p->req.adapter_id) { /* a resend is a duplicate, even after a restart */
		json_object_set_new(p->rec, "adapter_id", json_integer(p->req.adapter_id));
		json_object_set_new(p->rec, "adapter_seq", json_integer(p->req.seq));
	}
	/* signed before it is journaled: the record carries the signature
	 * and the text it covers, for the write-back to keep */
	alert = journal_alert_object(b, p);
	sig = alert ? alert_frame_sign_journaled(b, alert, p->rec) : NULL;
	if (journal_append(b->journal, "publish", p->rec)) {
		requester_error(b, &p->req, "unavailable", NULL,
				"neither the database nor the journal could store the "
				"alert; nothing was published");
		json_decref(alert);
		json_decref(sig);
		goto out;
	}
	if (alert) {
		json_t *roles = json_object_get(t, "roles");
		char *rtext = roles ? json_dumps(roles, JSON_COMPACT) : NULL;
		deliver(b, p, json_integer_value(json_object_get(p->rec, "alert_id")), 0, alert, sig,
			alert_frame_audience(rtext ? rtext : "site_console,company_operator", "OFFICIAL"),
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

/* An adapter's repeated (adapter, seq): the original alert, nothing
 * published again. */
static void reply_duplicate(struct broker *b, struct publish_ctx *p, PGresult *res)
{
	size_t n_sites = 0;
	int64_t *sites = id_array_parse(PQgetvalue(res, 0, 2), &n_sites);

	requester_send(b, &p->req,
		       json_pack("{s:s, s:I, s:I, s:s, s:i, s:b}", "type", "published",
				 "alert_id", (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10),
				 "stream_seq", (json_int_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10),
				 "durable", "database", "recipients", (int)n_sites,
				 "duplicate", 1));
	log_info("adapter %s resent seq %lld: alert %s, not published again", p->req.adapter,
		 (long long)p->req.seq, PQgetvalue(res, 0, 0));
	free(sites);
}

/* Columns: alert_id, seq, recipient_sites, recipient_orgs, sender_org_id,
 * target_roles, classification, alert, existed (and, from
 * tocsin_bus_publish, duplicate) */
static void published(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct publish_ctx *p = arg;
	size_t n_sites = 0, n_orgs = 0;
	int64_t *sites, *orgs, id;
	json_t *alert;

	if (err && err->lost) {
		/* Outcome unknown: journal it. If it did commit, the replay
		 * finds the same alert id and changes nothing. */
		publish_journaled(b, p);
		return;
	}
	if (err) {
		requester_db_error(b, &p->req, err,
				   !strcmp(err->column, "references") ? "unknown_alert"
								     : "unknown_target");
		publish_ctx_free(p);
		return;
	}
	if (PQnfields(res) > 9 && !strcmp(PQgetvalue(res, 0, 9), "t")) {
		reply_duplicate(b, p, res);
		publish_ctx_free(p);
		return;
	}
	sites = id_array_parse(PQgetvalue(res, 0, 2), &n_sites);
	orgs = id_array_parse(PQgetvalue(res, 0, 3), &n_orgs);
	alert = json_loads(PQgetvalue(res, 0, 7), 0, NULL);
	id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (sites && orgs && alert) {
		deliver(b, p, id, strtoll(PQgetvalue(res, 0, 1), NULL, 10), alert,
			alert_frame_sign_kept(b, id, alert),
			alert_frame_audience(PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 6)), sites, n_sites,
			orgs, n_orgs, "database");
		/* a released pending import is closed now: every desk hears it */
		if (json_object_get(p->rec, "pending_import") && !strcmp(PQgetvalue(res, 0, 8), "f"))
			inbox_announce(b, json_integer_value(json_object_get(p->rec, "pending_import")));
	} else
		log_error("alert %s stored but not fanned out: out of memory", PQgetvalue(res, 0, 0));
	free(sites);
	free(orgs);
	publish_ctx_free(p);
}

static const char publish_sql[] =
	"SELECT alert_id, seq, recipient_sites, recipient_orgs, sender_org_id,"
	"       target_roles, classification, alert, existed"
	"  FROM tocsin_publish($1, $2, $3::jsonb, $4, NULL)";
/* the same columns, and duplicate: the (adapter, seq) check and the
 * publish in one transaction */
static const char bus_publish_sql[] =
	"SELECT alert_id, seq, recipient_sites, recipient_orgs, sender_org_id,"
	"       target_roles, classification, alert, existed, duplicate"
	"  FROM tocsin_bus_publish($4::integer, $5::bigint, $1, $2::jsonb, $3)";

static void publish_direct(struct broker *b, struct publish_ctx *p)
{
	char id[24], user[24], adapter[24], seq[24], *rec = json_dumps(p->rec, JSON_COMPACT);
	const char *params[4] = { id, user, rec, p->req.remote };
	const char *bus_params[5] = { id, rec, p->req.remote, adapter, seq };
	int bus = p->req.adapter_id != 0;

	snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(p->rec, "alert_id")));
	snprintf(user, sizeof user, "%lld", (long long)p->req.who.user_id);
	snprintf(adapter, sizeof adapter, "%lld", (long long)p->req.adapter_id);
	snprintf(seq, sizeof seq, "%lld", (long long)p->req.seq);
	if (!rec) {
		requester_error(b, &p->req, "internal", NULL, "out of memory");
		publish_ctx_free(p);
	} else if (bus ? db_query(b->db, bus_publish_sql, 5, bus_params, published, p)
		       : db_query(b->db, publish_sql, 4, params, published, p)) {
		publish_journaled(b, p); /* the database went away just now */
	}
	free(rec);
}

void publish_record(struct broker *b, const struct requester *r, json_t *rec)
{
	struct publish_ctx *p = calloc(1, sizeof *p);

	if (!p) {
		requester_error(b, r, "internal", NULL, "out of memory");
		json_decref(rec);
		return;
	}
	p->asked_us = clock_now_us(); /* a held alert's: when it was released */
	p->req = *r;
	p->rec = rec;
	if (stream_writes_direct(b))
		publish_direct(b, p);
	else
		publish_journaled(b, p);
}

/* The publish path every requester shares: role, expiry, an id, then the
 * release policy (release.c) for a session's publish, then the database or
 * the journal. Takes f->u.publish.rec. */
void publish_request(struct broker *b, const struct requester *r, struct client_frame *f)
{
	char at[CLOCK_ISO_LEN];
	int64_t now = clock_now_us(), expires;
	const char *exp;
	json_t *rec;

	if (r->who.role != ROLE_CONTROLLER && r->who.role != ROLE_ANALYST) {
		requester_error(b, r, "forbidden", NULL, "only controllers and analysts may publish");
		return;
	}
	if (!r->adapter_id && json_object_get(f->u.publish.rec, "origin")) {
		/* a person sends as themself: only an import has an origin */
		requester_error(b, r, "bad_field", "origin", "origin is for adapters' imports");
		return;
	}
	exp = json_string_value(json_object_get(f->u.publish.rec, "expires"));
	if (exp && clock_parse_iso(exp, &expires) == 0 && expires <= now / 1000) {
		requester_error(b, r, "bad_field", "expires", "expires must be in the future");
		return;
	}
	clock_format_iso(now, at);
	rec = f->u.publish.rec; /* taken from the frame */
	f->u.publish.rec = NULL;
	json_object_set_new(rec, "alert_id", json_integer(ids_next(&b->ids, now / 1000)));
	json_object_set_new(rec, "user_id", json_integer(r->who.user_id));
	json_object_set_new(rec, "remote", json_string(r->remote));
	json_object_set_new(rec, "at", json_string(at));
	if (r->adapter_id) /* the alert's source (tocsin_publish) */
		json_object_set_new(rec, "adapter_id", json_integer(r->adapter_id));
	/* an adapter's publish is not held; nor can one be while the
	 * database is away (release.c says why) */
	if (r->adapter_id || r->via_bus || !stream_writes_direct(b) ||
	    release_check(b, r, rec, f->root) != 0)
		publish_record(b, r, rec);
}

void publish_handle(struct session *s, struct client_frame *f)
{
	struct requester r;

	requester_from_session(&r, s, f->ref);
	publish_request(session_broker(s), &r, f);
}
