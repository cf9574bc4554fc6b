/* history.c: a site's history, an audited consultation (issue #5,
 * "view a site's history"; docs/protocol.md, "Site history").
 *
 * frame.c has checked site_id, limit and before. The role is checked here
 * so that a role that never sees a history (admin) costs no query; the
 * scope (which sites a company operator or a console may see), the read
 * and its audit row are one call of tocsin_site_history() in PostgreSQL
 * (tocsin_site_history, sql/functions/status.sql), so nothing is shown that was not audited.
 *
 * While PostgreSQL is unreachable the request answers "unavailable".
 * Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "db.h"
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the reply needs: who asked and how to name the reply. */
struct history_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
};

/* The roles that may ask at all; PostgreSQL narrows their scope. Admin is
 * refused as it is refused the status board (docs/access-matrix.json). */
static int may_ask(const struct session *s)
{
	switch (s->who.role) {
	case ROLE_CONTROLLER:
	case ROLE_ANALYST:
	case ROLE_COMPANY_OPERATOR:
	case ROLE_SITE_CONSOLE:
		return 1;
	default:
		return 0;
	}
}

/* The history as PostgreSQL built it, named and sent; a refusal or an
 * unknown site comes back as a typed error. */
static void history_ready(struct broker *b, void *arg, PGresult *res,
			  const struct db_error *err)
{
	struct history_ctx *c = arg;
	struct session *s = session_find(b, c->session_id);

	if (s && err)
		requester_reply_db_error(s, c->ref, err, "unknown_target");
	else if (s)
		requester_reply_object(s, c->ref, "site_history", PQgetvalue(res, 0, 0));
	free(c);
}

/* Sends the query; the identity comes from the session, never from the
 * message. before goes as Unix milliseconds, the instant frame.c read. */
void history_handle(struct session *s, struct client_frame *f)
{
	struct history_ctx *c;
	char user[24], site[24], limit[24], before[32];
	const char *params[5] = { user, site, limit, NULL, s->remote };
	int64_t before_ms;

	if (!may_ask(s)) {
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "only the force, a site's guarding company and its console see "
				    "a site's history");
		return;
	}
	if (f->u.history.before) {
		if (clock_parse_iso(f->u.history.before, &before_ms)) {
			session_reply_error(s, f->ref, "bad_field", "before",
					    "before must be an RFC 3339 time");
			return;
		}
		snprintf(before, sizeof before, "%lld", (long long)before_ms);
		params[3] = before;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	c->session_id = s->id;
	memcpy(c->ref, f->ref, sizeof c->ref);
	snprintf(user, sizeof user, "%lld", (long long)s->who.user_id);
	snprintf(site, sizeof site, "%lld", (long long)f->u.history.site_id);
	snprintf(limit, sizeof limit, "%lld", (long long)f->u.history.limit);
	if (db_query(session_broker(s)->db,
		     "SELECT tocsin_site_history($1, $2, $3,"
		     " to_timestamp($4::bigint / 1000.0), $5)",
		     5, params, history_ready, c)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; retry");
		free(c);
	}
}
