/* crime_sweep.c: the retention of crime records (issue 21, item 6).
 *
 * A timer asks tocsin_crime_erase_expired() to erase the crime records
 * older than crime-retention-days (conf.c; default 2557, seven years),
 * at most CRIME_SWEEP_BATCH a time, oldest first; the function writes one
 * audit row per sweep that erased something (crime_records_erased, an
 * erasure under DPA 2018 s.62). It runs every crime-sweep-seconds
 * (default 3600) while the database is up; a batch that came back full
 * asks again at once rather than waiting. What it erases and its failures
 * count on /metrics with retention.c's (kind crime_records). Loop thread
 * only. */
#include "handle.h"
#include "loop_wake.h"
#include "db.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

/* 5,000 rows a statement keeps a sweep of a year's backlog (500,000
 * records in the bench) to short transactions that do not hold the
 * table for long. */
#define CRIME_SWEEP_BATCH 5000

static void tick(lws_sorted_usec_list_t *sul);

static void swept(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	long n;

	b->crime_sweeping = 0;
	if (err) {
		if (!err->lost) {
			b->metrics.retention_errors++;
			log_error("crime retention sweep failed: %s", err->message);
		}
		return;
	}
	n = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (n > 0)
		b->metrics.retention_erased[METRICS_RET_CRIME_RECORDS] += (uint64_t)n;
	if (n > 0)
		log_info("crime: erased %ld record%s past the retention of %d days", n,
			 n == 1 ? "" : "s", b->conf.crime_retention_days);
	if (n >= CRIME_SWEEP_BATCH && !b->stopping) /* more to erase: again now */
		loop_wake_timer(b->ctx, &b->sul_crime, tick, 0);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_crime);
	char days[16], limit[16];
	const char *params[2] = { days, limit };

	if (!b->crime_sweeping && !b->stopping && db_is_up(b->db)) {
		snprintf(days, sizeof days, "%d", b->conf.crime_retention_days);
		snprintf(limit, sizeof limit, "%d", CRIME_SWEEP_BATCH);
		b->crime_sweeping = 1; /* before: a lost connection calls back at once */
		if (db_query(b->db, "SELECT tocsin_crime_erase_expired($1::int, $2::int)", 2, params,
			     swept, NULL))
			b->crime_sweeping = 0;
	}
	loop_wake_timer(b->ctx, &b->sul_crime, tick, (int64_t)b->conf.crime_sweep_s * 1000000);
}

void crime_sweep_start(struct broker *b)
{
	log_info("crime: records kept %d days, swept every %d s", b->conf.crime_retention_days,
		 b->conf.crime_sweep_s);
	loop_wake_timer(b->ctx, &b->sul_crime, tick, (int64_t)b->conf.crime_sweep_s * 1000000);
}
