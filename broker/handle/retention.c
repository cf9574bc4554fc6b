/* retention.c: the retention sweep (issue 19, part 7).
 *
 * Every retention-sweep-seconds (conf.c; default 3600) while the database
 * is up, a sweep goes through the kinds below in turn and asks each one's
 * function (sql/functions/retention.sql) to erase what is older than its
 * setting (0: kept): alerts (a thread at a time, never one in force, with
 * their recipients, deliveries and receipts), delivery records, partner
 * reports, status history, and the details of sealed audit rows. Each
 * function keeps the digests the audit seal covers, so tocsinctl audit
 * verify stays intact, and audits its erasure without what was erased.
 *
 * Bounded: one batch a call (kinds[].batch), one call in flight, on the
 * delivery records connection (whose batches can wait) rather than the
 * main one, where a publish would wait behind it; a call that erased
 * something is followed by the next a second later, so that the backlog
 * of a first run (years of alerts) drains as many short transactions with
 * the broker's own queries between them rather than one long one. The
 * counters and the end of the last full sweep are on /metrics
 * (tocsin_retention_*). Loop thread only. */
#include "handle.h"
#include "loop_wake.h"
#include "db.h"
#include "log.h"
#include "clock.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define RETENTION_AGAIN_US 1000000 /* after a call that erased something */

/* What one call erases, measured on a copy of the demo database with 200
 * alerts to 1,034 sites each (2 shared cores, under a test run, jit off as
 * for the broker's role): alerts, up to 1,000 recipient rows (at least one
 * thread): a city-wide alert with its receipts and deliveries took
 * 115-240 ms, nearly all of it PostgreSQL checking the four keys that
 * point at each recipient row; delivery batches of 16,000 deliveries
 * (450 kB, digest first), 50: 50-125 ms; reports and audit details, a row
 * each, 5,000 (30-45 ms for partner reports), as the crime sweep. */
static const struct kind {
	const char *fn;      /* the SQL function: (p_before timestamptz, p_limit integer) */
	size_t days;         /* offsetof struct conf: its setting, in days */
	int batch;           /* its p_limit */
	enum metrics_retention metric;
	const char *lead, *one, *many; /* the log's words: erased <lead>N <one|many> */
} kinds[] = {
	{ "tocsin_retention_alerts", offsetof(struct conf, retention_alert_days), 1000,
	  METRICS_RET_ALERTS, "", "alert", "alerts" },
	{ "tocsin_retention_deliveries", offsetof(struct conf, retention_delivery_days), 50,
	  METRICS_RET_DELIVERIES, "", "delivery batch", "delivery batches" },
	{ "tocsin_retention_partner_reports", offsetof(struct conf, retention_report_days), 5000,
	  METRICS_RET_PARTNER_REPORTS, "", "partner report", "partner reports" },
	{ "tocsin_retention_status_reports", offsetof(struct conf, retention_status_days), 5000,
	  METRICS_RET_STATUS_REPORTS, "", "status report", "status reports" },
	{ "tocsin_retention_audit_detail", offsetof(struct conf, retention_audit_detail_days),
	  5000, METRICS_RET_AUDIT_DETAILS, "the details of ", "audit row", "audit rows" },
};
#define N_KINDS (int)(sizeof kinds / sizeof kinds[0])

static void tick(lws_sorted_usec_list_t *sul);

static void next(struct broker *b, int64_t us)
{
	loop_wake_timer(b->ctx, &b->sul_retention, tick, us);
}

/* The records connection; the main one while that one is down. */
static struct db *retention_db(struct broker *b)
{
	return db_up_or(b->db_records, b->db);
}

static int days_of(const struct broker *b, const struct kind *k)
{
	return *(const int *)((const char *)&b->conf + k->days);
}

/* The sweep is through every kind: note when, start again at the first
 * after the period. */
static void sweep_done(struct broker *b)
{
	b->retention_kind = 0;
	b->metrics.retention_last_us = clock_now_us();
	next(b, (int64_t)b->conf.retention_sweep_s * 1000000);
}

static void swept(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	const struct kind *k = &kinds[b->retention_kind];
	long n;

	b->retention_sweeping = 0;
	if (err && err->lost) { /* the connection: again from the first, after the period */
		b->retention_kind = 0;
		next(b, (int64_t)b->conf.retention_sweep_s * 1000000);
		return;
	}
	if (err) { /* this kind: on to the next, so that one failing starves no other */
		b->metrics.retention_errors++;
		log_error("retention sweep of %s failed: %s", k->many, err->message);
		b->retention_kind++;
		next(b, 0);
		return;
	}
	n = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (n > 0) {
		b->metrics.retention_erased[k->metric] += (uint64_t)n;
		log_info("retention: erased %s%ld %s older than %d days", k->lead, n,
			 n == 1 ? k->one : k->many, days_of(b, k));
	}
	if (n > 0) { /* maybe more of this kind: again in a second */
		next(b, RETENTION_AGAIN_US);
		return;
	}
	b->retention_kind++;
	next(b, 0);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_retention);
	const struct kind *k;
	char q[160], days[16], limit[16];
	const char *params[2] = { days, limit };

	if (b->retention_sweeping || b->stopping)
		return;
	if (!db_is_up(retention_db(b))) {
		b->retention_kind = 0;
		next(b, (int64_t)b->conf.retention_sweep_s * 1000000);
		return;
	}
	while (b->retention_kind < N_KINDS && days_of(b, &kinds[b->retention_kind]) <= 0)
		b->retention_kind++;
	if (b->retention_kind >= N_KINDS) {
		sweep_done(b);
		return;
	}
	k = &kinds[b->retention_kind];
	snprintf(q, sizeof q, "SELECT %s(clock_timestamp() - make_interval(days => $1::integer),"
			      " $2::integer)", k->fn);
	snprintf(days, sizeof days, "%d", days_of(b, k));
	snprintf(limit, sizeof limit, "%d", k->batch);
	b->retention_sweeping = 1; /* before: a lost connection calls back at once */
	if (db_query(retention_db(b), q, 2, params, swept, NULL)) {
		b->retention_sweeping = 0;
		b->retention_kind = 0;
		next(b, (int64_t)b->conf.retention_sweep_s * 1000000);
	}
}

void retention_start(struct broker *b)
{
	log_info("retention: alerts %d, deliveries %d, partner reports %d, status %d, audit "
		 "details %d days (0: kept); a sweep every %d s",
		 b->conf.retention_alert_days, b->conf.retention_delivery_days,
		 b->conf.retention_report_days, b->conf.retention_status_days,
		 b->conf.retention_audit_detail_days, b->conf.retention_sweep_s);
	next(b, (int64_t)b->conf.retention_sweep_s * 1000000);
}
