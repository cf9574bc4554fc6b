/* applied_prune.c: keeps journal_applied within its retention.
 *
 * journal_applied holds the record id of every delivery batch,
 * acknowledgement and read written straight to the database, and of every
 * journal record written back, so that a replay of the same record is
 * skipped; it grew without end, an id per delivery batch every few
 * milliseconds under load (issue 16). A timer asks
 * tocsin_journal_applied_prune() to delete up to PRUNE_LIMIT ids past the
 * retention (30 days, fixed in the function: sql/functions/alerts.sql says
 * why), a couple of seconds after start and then every minute, every
 * second while a round finds a full batch (a backlog, such as the first
 * start on an old database). Over the delivery records connection, as the
 * sealer: no publish waits behind it. With several brokers on one
 * database each prunes: a row another deleted is simply gone. Loop thread
 * only. */
#include "handle.h"
#include "loop_wake.h"
#include "db.h"
#include "log.h"

#include <stdlib.h>

#define PRUNE_FIRST_US (2LL * 1000 * 1000)  /* after start, or while the database is away */
#define PRUNE_EVERY_US (60LL * 1000 * 1000)
#define PRUNE_AGAIN_US (1LL * 1000 * 1000)  /* while a backlog goes */
/* ids deleted at most per round: 78-123 ms of PostgreSQL's time on a
 * copy of the test database with 200,000 ids past the retention */
#define PRUNE_LIMIT 20000
#define PRUNE_LIMIT_TEXT "20000"

static void tick(lws_sorted_usec_list_t *sul);

static void pruned(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	long n = 0;

	b->applied_pruning = 0;
	if (err && !err->lost)
		log_error("journal_applied: pruning failed: %s", err->message);
	if (!err)
		n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (n > 0)
		log_info("journal_applied: %ld record ids past their retention pruned", n);
	if (n >= PRUNE_LIMIT && !b->stopping)
		loop_wake_timer(b->ctx, &b->sul_applied, tick, PRUNE_AGAIN_US);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_applied);
	static const char *const params[1] = { PRUNE_LIMIT_TEXT };
	struct db *db = db_up_or(b->db_records, b->db);
	int64_t next = PRUNE_FIRST_US;

	if (b->stopping)
		return;
	if (!b->applied_pruning && db_is_up(db)) {
		b->applied_pruning = 1; /* before: a lost connection calls back at once */
		if (db_query(db, "SELECT tocsin_journal_applied_prune($1::integer)", 1, params, pruned,
			     NULL))
			b->applied_pruning = 0;
		else
			next = PRUNE_EVERY_US;
	}
	loop_wake_timer(b->ctx, &b->sul_applied, tick, next);
}

void applied_prune_start(struct broker *b)
{
	loop_wake_timer(b->ctx, &b->sul_applied, tick, PRUNE_FIRST_US);
}
