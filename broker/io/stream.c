/* stream.c: the broker's view of the stream and the directory, and where
 * writes go.
 *
 * When the database (re)connects the broker reads the stream's epoch and
 * head and its copy of sites and organisations (site_cache.c), then writes
 * back its journal (whose drained hook then lets the resumes that waited
 * go). The
 * copy is refreshed every minute. Loop thread only. */
#include "broker.h"
#include "loop_wake.h"
#include "db.h"
#include "journal.h"
#include "log.h"
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#define REFRESH_US (60LL * 1000 * 1000)

static const char stream_sql[] =
	"SELECT m.epoch, m.head,"
	"       (SELECT COALESCE(json_agg(json_build_array(g.site_id, g.guard_org_id)), '[]')"
	"          FROM tocsin_site_guards() g),"
	"       (SELECT COALESCE(json_agg(json_build_array(o.id, o.name) ORDER BY o.id), '[]')"
	"          FROM organisations o)"
	"  FROM stream_meta m";

int stream_writes_direct(struct broker *b)
{
	return db_is_up(b->db) && journal_pending(b->journal) == 0;
}

static void stream_loaded(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	int after_connect = arg != NULL;
	int64_t head;

	if (err) {
		if (!err->lost)
			log_error("cannot read the stream and directory: %s", err->message);
		return;
	}
	head = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	if (b->epoch[0] && strcmp(b->epoch, PQgetvalue(res, 0, 0)) != 0) {
		log_error("the stream epoch changed from %s to %s: the database was replaced; "
			  "consoles will reload", b->epoch, PQgetvalue(res, 0, 0));
		b->fanned = head; /* a new stream: nothing of it to fan out again */
	}
	if (b->fanned < 0)
		b->fanned = head; /* alerts from here on are fanned out here (nodes.c) */
	snprintf(b->epoch, sizeof b->epoch, "%s", PQgetvalue(res, 0, 0));
	if (head > b->head)
		b->head = head;
	if (site_cache_load(&b->sites, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3)))
		log_error("cannot load the site directory");
	if (!after_connect)
		return;
	if (journal_pending(b->journal))
		log_info("database back: writing %zu journaled records", journal_pending(b->journal));
	journal_pump(b->journal); /* its drained hook runs once it is empty */
}

static void refresh_cb(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_refresh);

	if (db_is_up(b->db))
		db_query(b->db, stream_sql, 0, NULL, stream_loaded, NULL);
	loop_wake_timer(b->ctx, &b->sul_refresh, refresh_cb, REFRESH_US);
}

void stream_refresh(struct broker *b)
{
	if (db_is_up(b->db))
		db_query(b->db, stream_sql, 0, NULL, stream_loaded, NULL);
}

void stream_db_up(struct broker *b)
{
	/* a non-NULL arg marks the load that follows a (re)connection */
	if (db_query(b->db, stream_sql, 0, NULL, stream_loaded, b))
		return;
	loop_wake_timer(b->ctx, &b->sul_refresh, refresh_cb, REFRESH_US);
}
