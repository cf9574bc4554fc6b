/* escalation.c: severe and extreme alerts that a site has not
 * acknowledged in time.
 *
 * A timer asks tocsin_escalate() for (alert, site) pairs overdue by
 * --escalate-after; the database claims each pair once and audits it. The
 * broker re-sends the alert to the site's consoles with "escalated": true
 * and raises an escalation frame to the company guarding the site and to
 * the sender's desk. With several brokers on one database the timer runs
 * on the leader only (peers.h), which moves to another broker within
 * seconds when it dies; the others hear the pairs it claimed and send the
 * same to their own consoles and desks (nodes.c, escalation_send). */
#include "broker.h"
#include "loop_wake.h"
#include "handle.h"
#include "db.h"
#include "log.h"
#include "peers.h"
#include "stream.h"

#include <stdlib.h>

#define TICK_MIN_US (250 * 1000)
#define TICK_MAX_US (5 * 1000 * 1000)

static void tick(lws_sorted_usec_list_t *sul);

static int64_t tick_us(const struct broker *b)
{
	int64_t us = (int64_t)b->conf.escalate_after * 1000000 / 4;
	return us < TICK_MIN_US ? TICK_MIN_US : us > TICK_MAX_US ? TICK_MAX_US : us;
}

void escalation_send(struct broker *b, PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		int64_t site = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		int64_t guard = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		json_t *alert = json_loads(PQgetvalue(res, i, 8), 0, NULL);
		const char *classification = json_string_value(json_object_get(alert, "classification"));
		unsigned audience = alert_frame_audience("site_console",
						   classification ? classification : "OFFICIAL");
		struct msg *m;
		size_t len;
		char *text;
		json_t *sig;

		if (!alert)
			continue;
		/* signed once for the consoles' alert frame and the desks'
		 * escalation frame, which carries the alert too */
		sig = sign_key_sign_json(&b->alert_key, alert);
		text = frame_dump(json_pack("{s:s, s:I, s:I, s:s, s:s, s:O, s:O*}", "type", "escalation",
					    "alert_id", (json_int_t)id, "site_id", (json_int_t)site,
					    "site_name", PQgetvalue(res, i, 2), "escalated_at",
					    PQgetvalue(res, i, 4), "alert", alert, "signature", sig),
				  &len);
		if ((m = alert_frame_signed_msg(sig, id, strtoll(PQgetvalue(res, i, 5), NULL, 10), alert,
						"escalated", audience))) {
			fanout_to_site(b, m, site);
			msg_unref(m);
		}
		if (text && (m = msg_new(text, len, MSG_CONTROL, 0))) {
			m->audience = audience; /* carries the alert: same clearance rule */
			fanout_to_org_desk(b, m, strtoll(PQgetvalue(res, i, 6), NULL, 10));
			fanout_to_org_desk(b, m, strtoll(PQgetvalue(res, i, 7), NULL, 10));
			fanout_to_company(b, m, guard);
			msg_unref(m);
		}
		free(text);
		log_info("alert %lld escalated for site %lld", (long long)id, (long long)site);
	}
}

static void escalated(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	b->escalating = 0;
	if (err) {
		if (!err->lost)
			log_error("escalation check failed: %s", err->message);
		return;
	}
	b->metrics.escalations += (uint64_t)PQntuples(res);
	escalation_send(b, res);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_escalate);
	char after[16];
	const char *params[1] = { after };

	if (!b->escalating && !b->stopping && stream_writes_direct(b) && peers_leading(b->peers)) {
		snprintf(after, sizeof after, "%d", b->conf.escalate_after);
		b->escalating = 1; /* before: a lost connection calls back at once */
		if (db_query(b->db, "SELECT * FROM tocsin_escalate(make_interval(secs => $1::int), 500)",
			     1, params, escalated, NULL))
			b->escalating = 0;
	}
	loop_wake_timer(b->ctx, &b->sul_escalate, tick, tick_us(b));
}

void escalation_lead(struct broker *b)
{
	loop_wake_timer(b->ctx, &b->sul_escalate, tick, 1);
}

void escalation_start(struct broker *b)
{
	loop_wake_timer(b->ctx, &b->sul_escalate, tick, tick_us(b));
}
