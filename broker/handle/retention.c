/* retention.c: the retention sweep (issue 19, part 7).
 *
 * Every retention-sweep-seconds (conf.c; default 3600) while the database
 * is up, a timer asks tocsin_retention_audit_detail
 * (sql/functions/retention.sql) to erase the details of the sealed audit
 * rows older than retention-audit-detail-days (0, the default: kept),
 * 5,000 rows a call; the function keeps each detail's digest, so the seal
 * chain still verifies, and audits the erasure without what was erased.
 * A full call is followed by another a second later, so that the backlog
 * of a first run (a year of details) drains without one long
 * transaction. Loop thread only. */
#include "handle.h"
#include "loop_wake.h"
#include "db.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

#define RETENTION_BATCH 5000
#define RETENTION_AGAIN_US 1000000 /* after a full batch */

static void tick(lws_sorted_usec_list_t *sul);

static void next(struct broker *b, int64_t us)
{
	loop_wake_timer(b->ctx, &b->sul_retention, tick, us);
}

static void swept(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	long n;

	b->retention_sweeping = 0;
	if (err) {
		if (!err->lost)
			log_error("retention sweep failed: %s", err->message);
		return;
	}
	n = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (n > 0)
		log_info("retention: erased the details of %ld audit row%s older than %d days", n,
			 n == 1 ? "" : "s", b->conf.retention_audit_detail_days);
	if (n >= RETENTION_BATCH)
		next(b, RETENTION_AGAIN_US);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_retention);
	char days[16], limit[16];
	const char *params[2] = { days, limit };

	next(b, (int64_t)b->conf.retention_sweep_s * 1000000);
	if (b->retention_sweeping || b->stopping || !db_is_up(b->db) ||
	    b->conf.retention_audit_detail_days <= 0)
		return;
	snprintf(days, sizeof days, "%d", b->conf.retention_audit_detail_days);
	snprintf(limit, sizeof limit, "%d", RETENTION_BATCH);
	b->retention_sweeping = 1; /* before: a lost connection calls back at once */
	if (db_query(b->db, "SELECT tocsin_retention_audit_detail("
			    "clock_timestamp() - make_interval(days => $1::integer), $2::integer)",
		     2, params, swept, NULL))
		b->retention_sweeping = 0;
}

void retention_start(struct broker *b)
{
	log_info("retention: audit details %s; a sweep every %d s",
		 b->conf.retention_audit_detail_days > 0 ? "erased after retention-audit-detail-days"
							  : "kept",
		 b->conf.retention_sweep_s);
	next(b, (int64_t)b->conf.retention_sweep_s * 1000000);
}
