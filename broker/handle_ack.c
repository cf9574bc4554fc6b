/* handle_ack.c: a site console acknowledges an alert for its site.
 *
 * tocsin_ack() checks that the console's site was a recipient, keeps the
 * site's first acknowledgement, audits every one, and returns the new
 * tally, which goes to the sender's controllers. */
#include "broker.h"
#include "db.h"

#include <stdlib.h>
#include <string.h>

struct ack_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
};

/* Columns: alert_id, site_id, acked_at, already, sender_org_id,
 * recipients, delivered, acknowledged */
static void acked(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct ack_ctx *a = arg;
	struct session *s = broker_find_session(b, a->session_id);
	int64_t alert_id;

	if (err) {
		if (s)
			reply_db_error(s, a->ref, err, "unknown_alert");
		free(a);
		return;
	}
	alert_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (s)
		session_send_json(s, json_pack("{s:s, s:s, s:I, s:s, s:b}", "type", "acked", "ref",
					       a->ref, "alert_id", (json_int_t)alert_id, "acked_at",
					       PQgetvalue(res, 0, 2), "already",
					       !strcmp(PQgetvalue(res, 0, 3), "t")));
	if (strcmp(PQgetvalue(res, 0, 3), "t") != 0)
		fanout_tally(b, alert_id, strtoll(PQgetvalue(res, 0, 4), NULL, 10),
			     strtol(PQgetvalue(res, 0, 5), NULL, 10),
			     strtol(PQgetvalue(res, 0, 6), NULL, 10),
			     strtol(PQgetvalue(res, 0, 7), NULL, 10));
	free(a);
}

void handle_ack(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct ack_ctx *a;
	char user[24], alert[24];
	const char *params[3] = { user, alert, s->remote };

	if (s->who.role != ROLE_SITE_CONSOLE) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only a site console acknowledges alerts");
		return;
	}
	a = calloc(1, sizeof *a);
	if (!a) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	a->session_id = s->id;
	memcpy(a->ref, f->ref, sizeof a->ref);
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	snprintf(alert, sizeof alert, "%lld", (long long)f->u.ack.alert_id);
	if (db_query(b->db,
		     "SELECT alert_id, site_id,"
		     "       to_char(acked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
		     "       already, sender_org_id, recipients, delivered, acknowledged"
		     "  FROM tocsin_ack($1, $2, $3)",
		     3, params, acked, a)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; the acknowledgement was not recorded");
		free(a);
	}
}
