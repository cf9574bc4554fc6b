/* in_force.c: the alerts in force (docs/protocol.md, "Alerts in force").
 *
 * An alert is in force from its publish until it expires, is cancelled or
 * is replaced by an update (tocsin_in_force, sql/functions/alerts.sql).
 * This file builds the frames that say so:
 *   - in_force: one alert in force (signed as an alert frame is:
 *     alert_frame.c) with what the session did about it, at sign-in
 *     (resume.c reads them, in batches), and live to the force's desks
 *     (controllers and analysts) when an alert is published, updated or
 *     relayed: the shared control room's list;
 *   - in_force_done: the end of a sign-in's list;
 *   - in_force_ended: an alert left force, to every session that may have
 *     had it (as the alert's own audience, fanout.c) and to the force's
 *     desks: at once for a cancel or an update (tocsin_ended_by), and for
 *     an expiry by a timer that asks every second which expiries passed
 *     (tocsin_expired_between), so an open desk drops an expired alert
 *     without a reload.
 * Every frame goes through the sessions' gates (gate.c), so none overtakes
 * a sign-in's list. Loop thread only. */
#include "broker.h"
#include "loop_wake.h"
#include "handle.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#define EXPIRY_TICK_US (1000 * 1000)

/* The members of a JSON object's text, without its braces: [*from, *to).
 * 0 when text is not an object with at least one member. */
static int members(const char *text, const char **from, const char **to)
{
	const char *p = text, *q = text + strlen(text);

	while (*p == ' ' || *p == '\n' || *p == '\t')
		p++;
	while (q > p && (q[-1] == ' ' || q[-1] == '\n' || q[-1] == '\t'))
		q--;
	if (q - p < 2 || *p != '{' || q[-1] != '}')
		return 0;
	*from = p + 1;
	*to = q - 1;
	while (*from < *to && (**from == ' ' || **from == '\n'))
		(*from)++;
	return *to > *from;
}

struct msg *in_force_frame(int64_t id, int64_t seq, const char *alert, const char *signature,
			   const char *state, int delivery)
{
	const char *from = NULL, *to = NULL;
	int has_state = state && members(state, &from, &to);
	size_t alen = alert ? strlen(alert) : 0;
	size_t slen = alert && signature ? strlen(signature) : 0;
	/* 128: the type and id (50), the commas and member names (24), '}' */
	size_t cap = 128 + alen + slen + (has_state ? (size_t)(to - from) : 0);
	char *text = malloc(cap);
	struct msg *m = NULL;
	size_t len;

	if (!text)
		return NULL;
	/* built from the texts PostgreSQL gave, without parsing them: a
	 * storm of sign-ins splices each alert once per session */
	len = (size_t)snprintf(text, cap, "{\"type\":\"in_force\",\"alert_id\":%lld",
			       (long long)id);
	if (has_state) {
		text[len++] = ',';
		memcpy(text + len, from, (size_t)(to - from));
		len += (size_t)(to - from);
	}
	if (alert) {
		memcpy(text + len, ",\"alert\":", 9);
		len += 9;
		memcpy(text + len, alert, alen);
		len += alen;
	}
	if (slen) {
		memcpy(text + len, ",\"signature\":", 13);
		len += 13;
		memcpy(text + len, signature, slen);
		len += slen;
	}
	text[len++] = '}';
	m = msg_new(text, len, delivery && alert ? MSG_ALERT : MSG_CONTROL,
		    delivery && alert ? id : 0);
	if (m)
		m->seq = delivery && alert ? seq : 0;
	free(text);
	return m;
}

void in_force_done(struct session *s, const char *status, int count)
{
	session_send_json(s, json_pack("{s:s, s:s, s:i}", "type", "in_force_done", "status", status,
				       "count", count));
}

void in_force_live(struct broker *b, int64_t id, json_t *alert, json_t *sig,
		   int recipients, uint64_t except_session)
{
	const char *type = json_string_value(json_object_get(alert, "msg_type"));
	const char *cls = json_string_value(json_object_get(alert, "classification"));
	struct msg *m;
	json_t *frame;
	size_t len;
	char *text;

	if (type && !strcmp(type, "cancel"))
		return; /* a cancellation is never in force; in_force_ended says what it ended */
	frame = json_pack("{s:s, s:I, s:O, s:{s:i, s:i, s:i, s:i, s:i, s:i}}", "type", "in_force",
			  "alert_id", (json_int_t)id, "alert", alert, "tally", "recipients",
			  recipients, "delivered", 0, "read", 0, "acknowledged", 0, "escalated", 0,
			  "answered", 0);
	if (frame && sig)
		json_object_set(frame, "signature", sig);
	text = frame_dump(frame, &len);
	if (text && (m = msg_new(text, len, MSG_CONTROL, 0))) {
		m->audience = alert_frame_audience("", cls ? cls : "OFFICIAL");
		fanout_to_force(b, m, except_session);
		msg_unref(m);
	}
	free(text);
}

/* Tells whoever may have had alert id that it left force: its consoles
 * and operators (by its recipient sites and their companies, roles and
 * classification, as the alert went out) and the force's desks. */
static void announce_ended(struct broker *b, PGresult *res, int row, const char *reason,
			   int64_t by, const char *at)
{
	int64_t id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	size_t n_sites = 0, n_orgs = 0, len;
	int64_t *sites = id_array_parse(PQgetvalue(res, row, 2), &n_sites);
	int64_t *orgs = id_array_parse(PQgetvalue(res, row, 3), &n_orgs);
	char *text = frame_dump(json_pack("{s:s, s:I, s:s, s:o, s:s}", "type", "in_force_ended",
					  "alert_id", (json_int_t)id, "reason", reason, "by",
					  by ? json_integer(by) : json_null(), "at", at),
				&len);
	struct msg *m = text ? msg_new(text, len, MSG_CONTROL, 0) : NULL;

	if (m && sites && orgs) {
		m->audience = alert_frame_audience(PQgetvalue(res, row, 4), PQgetvalue(res, row, 5));
		fanout_alert(b, m, sites, n_sites, orgs, n_orgs);
		fanout_to_force(b, m, 0);
		log_info("alert %lld %s: no longer in force", (long long)id, reason);
	} else {
		log_error("alert %lld %s, not told to the desks: out of memory", (long long)id, reason);
	}
	if (m)
		msg_unref(m);
	free(text);
	free(sites);
	free(orgs);
}

/* What in_force_ended_by waits for: the update or cancel, and its time. */
struct ended_ctx {
	int64_t by;
	char at[CLOCK_ISO_LEN];
};

/* Columns: alert_id, reason, sites, orgs, target_roles, classification */
static void ended(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct ended_ctx *e = arg;

	if (err)
		log_error("the alerts ended by %lld are not told to the desks: %s", (long long)e->by,
			  err->message);
	for (int i = 0; !err && i < PQntuples(res); i++)
		announce_ended(b, res, i, PQgetvalue(res, i, 1), e->by, e->at);
	free(e);
}

void in_force_ended_by(struct broker *b, int64_t alert_id, const char *at)
{
	struct ended_ctx *e = calloc(1, sizeof *e);
	char id[24];
	const char *params[1] = { id };

	if (!e) {
		log_error("the alerts ended by %lld are not told to the desks: out of memory",
			  (long long)alert_id);
		return;
	}
	e->by = alert_id;
	snprintf(e->at, sizeof e->at, "%s", at);
	snprintf(id, sizeof id, "%lld", (long long)alert_id);
	if (db_query(b->db,
		     "SELECT alert_id, reason, sites, orgs, target_roles, classification"
		     "  FROM tocsin_ended_by($1)",
		     1, params, ended, e)) {
		log_error("the alerts ended by %lld are not told to the desks: the database is away",
			  (long long)alert_id);
		free(e);
	}
}

/* ---- expiries ------------------------------------------------------------ */

static void expiry_tick(lws_sorted_usec_list_t *sul);

/* Columns: alert_id, expires, sites, orgs, target_roles, classification */
static void expired(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	(void)arg;
	b->expiring = 0;
	if (err) {
		if (!err->lost)
			log_error("expiry check failed: %s", err->message);
		return; /* the same window is asked again, wider, next time */
	}
	b->expired_until_us = b->expiring_until_us;
	for (int i = 0; i < PQntuples(res); i++)
		announce_ended(b, res, i, "expired", 0, PQgetvalue(res, i, 1));
}

/* Asks which expiries passed since the last answer. The window is the
 * broker's clock, as the consoles' "expires" are compared with theirs. */
static void expiry_tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_expire);
	char after[CLOCK_ISO_LEN], until[CLOCK_ISO_LEN];
	const char *params[2] = { after, until };

	if (!b->expiring && !b->stopping && stream_writes_direct(b)) {
		b->expiring_until_us = clock_now_us();
		clock_format_iso(b->expired_until_us, after);
		clock_format_iso(b->expiring_until_us, until);
		b->expiring = 1; /* before: a lost connection calls back at once */
		if (db_query(b->db,
			     "SELECT alert_id, expires, sites, orgs, target_roles, classification"
			     "  FROM tocsin_expired_between($1::timestamptz, $2::timestamptz)",
			     2, params, expired, NULL))
			b->expiring = 0;
	}
	loop_wake_timer(b->ctx, &b->sul_expire, expiry_tick, EXPIRY_TICK_US);
}

void in_force_start(struct broker *b)
{
	/* expiries before the start are not told: a desk that signs in gets
	 * only what is in force, and one that stayed connected through a
	 * restart signed in again */
	b->expired_until_us = clock_now_us();
	loop_wake_timer(b->ctx, &b->sul_expire, expiry_tick, EXPIRY_TICK_US);
}
