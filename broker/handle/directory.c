/* directory.c: the organisations and sites a session may see.
 *
 * Scope follows the role of the users row (docs/protocol.md), not the
 * token's claims: the force and admins see everything, a company its own
 * organisation and sites, a console its own site and its guard. The JSON
 * is built by PostgreSQL in one query. Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "db.h"

#include <stdlib.h>
#include <string.h>

struct directory_ctx {
	uint64_t session_id;
	char ref[FRAME_REF_MAX + 1];
};

/* $1 the user: the scope comes from its users row, not from the token
 * (a token whose claims disagree with the row must not widen it): the
 * force and admins everything, a company operator its organisation and
 * its sites, a console its site and the organisation guarding it; a
 * disabled or unknown user nothing. "role" (the row's) is read here and
 * not sent. */
static const char directory_sql[] =
	"WITH u AS (SELECT role, org_id, site_id FROM users WHERE id = $1::integer AND NOT disabled),"
	" s AS ("
	"  SELECT s.id, s.name, s.address, s.lat, s.lon, x.code AS sector, s.guard_org_id,"
	"         s.language"
	"    FROM sites s JOIN sectors x ON x.id = s.sector_id, u"
	"   WHERE u.role IN ('controller', 'analyst', 'admin')"
	"      OR (u.role = 'company_operator' AND s.guard_org_id = u.org_id)"
	"      OR (u.role = 'site_console' AND s.id = u.site_id)),"
	" o AS ("
	"  SELECT o.id, o.name, o.kind FROM organisations o, u"
	"   WHERE u.role IN ('controller', 'analyst', 'admin')"
	"      OR (u.role = 'company_operator' AND o.id = u.org_id)"
	"      OR (u.role = 'site_console' AND o.id IN (SELECT guard_org_id FROM s)))"
	"SELECT json_build_object("
	"  'role', (SELECT role FROM u),"
	"  'orgs', COALESCE((SELECT json_agg(o ORDER BY o.id) FROM o), '[]'::json),"
	"  'sites', COALESCE((SELECT json_agg(s ORDER BY s.name) FROM s), '[]'::json))";

/* How many signed-in consoles a site has right now. */
static json_int_t consoles_online(struct broker *b, json_int_t site_id)
{
	json_int_t n = 0;

	for (struct session *x = b->sessions; x; x = x->next)
		if (x->authed && x->who.role == ROLE_SITE_CONSOLE && x->who.site_id == site_id)
			n++;
	return n;
}

/* A company desk shows whether each of its sites is connected: add
 * "consoles_online" to each site (a snapshot; the desk asks again). Only
 * for company operators, whose sites are few: one pass over the sessions
 * per site. */
static void add_presence(struct broker *b, json_t *obj)
{
	json_t *sites = json_object_get(obj, "sites");
	size_t i;
	json_t *site;

	json_array_foreach(sites, i, site) {
		json_int_t id = json_integer_value(json_object_get(site, "id"));
		json_object_set_new(site, "consoles_online", json_integer(consoles_online(b, id)));
	}
}

static void directory_ready(struct broker *b, void *arg, PGresult *res,
			    const struct db_error *err)
{
	struct directory_ctx *d = arg;
	struct session *s = session_find(b, d->session_id);
	json_t *obj;

	if (s && err) {
		requester_reply_db_error(s, d->ref, err, "unknown_target");
	} else if (s) {
		obj = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		if (obj) {
			/* a company desk as the users row says */
			if (!strcmp(json_string_value(json_object_get(obj, "role")) ?: "",
				    "company_operator"))
				add_presence(b, obj);
			json_object_del(obj, "role");
			json_object_set_new(obj, "type", json_string("directory"));
			json_object_set_new(obj, "ref", json_string(d->ref));
			session_send_json(s, obj);
		} else {
			session_reply_error(s, d->ref, "internal", NULL, "directory unreadable");
		}
	}
	free(d);
}

void directory_handle(struct session *s, struct client_frame *f)
{
	struct broker *b = lws_context_user(lws_get_context(s->wsi));
	struct directory_ctx *d = calloc(1, sizeof *d);
	char id[24];
	const char *params[1] = { id };

	if (s->who.role == ROLE_INSPECTOR) { /* releases carry their recipients' names */
		free(d);
		session_reply_error(s, f->ref, "forbidden", NULL,
				    "a duty inspector has no directory: a held alert names its sites");
		return;
	}
	if (!d) {
		session_reply_error(s, f->ref, "internal", NULL, "out of memory");
		return;
	}
	snprintf(id, sizeof id, "%lld", (long long)s->who.user_id);
	d->session_id = s->id;
	memcpy(d->ref, f->ref, sizeof d->ref);
	if (db_query(b->db, directory_sql, 1, params, directory_ready, d)) {
		session_reply_error(s, f->ref, "unavailable", NULL,
				    "the database is not reachable; retry");
		free(d);
	}
}
