/* unverified.c: a console reports an alert whose signature it could not
 * verify (docs/protocol.md, "Signed alerts"): tampered in transit, signed
 * with a key it does not know, or unsigned. The broker audits the report
 * (alert_unverified) and answers; it does not judge it: the audit row is
 * what an investigator starts from. Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "db.h"
#include "frame_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const reasons[] = { "bad", "unknown_key", "unsigned", NULL };

static void noted(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct requester *r = arg;

	if (err)
		requester_db_error(b, r, err, "unknown_alert");
	else
		requester_send(b, r, json_pack("{s:s, s:s}", "type", "alert_unverified_noted",
					       "alert_id", PQgetvalue(res, 0, 0)));
	free(r);
}

void unverified_handle(struct session *s, struct client_frame *f)
{
	struct broker *b = session_broker(s);
	struct frame_error err = { 0 };
	const char *reason = NULL;
	struct requester *r;
	int64_t alert_id;
	int present;
	char id[24], user[24];
	const char *params[4] = { id, user, NULL, s->remote };

	if (frame_check_int(f->root, "alert_id", 1, (1LL << 53), 1, &alert_id, &present, &err) ||
	    frame_check_enum(f->root, "reason", reasons, NULL, &reason, &err)) {
		session_reply_check_error(s, f->ref, &err);
		return;
	}
	if (!reason) {
		session_reply_error(s, f->ref, "missing_field", "reason",
				    "reason is required: bad, unknown_key or unsigned");
		return;
	}
	if (!(r = calloc(1, sizeof *r))) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	requester_from_session(r, s, f->ref);
	snprintf(id, sizeof id, "%lld", (long long)alert_id);
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	params[2] = reason;
	if (db_query(b->db, "SELECT tocsin_alert_unverified($1, $2, $3, $4)", 4, params, noted, r)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; the report was not recorded");
		free(r);
	}
}
