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
 * Bounded: one batch a call (kinds[].batch), one call in flight; a full
 * batch is followed by the next a second later, so that the backlog of a
 * first run (years of alerts) drains as many short transactions with the
 * broker's own queries between them rather than one long one. The
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

#define RETENTION_AGAIN_US 1000000 /* after a full batch */

/* What one call erases. Batches: an alert to every site of the bench's
 * city takes 1,034 recipient rows and their receipts with it, so 50
 * alerts; a delivery batch is up to 16,000 deliveries (450 kB) whose
 * digest is computed first, so 200; reports and audit details are a row
 * each, so 5,000, as the crime sweep. */
static const struct kind {
	const char *fn;      /* the SQL function: (p_before timestamptz, p_limit integer) */
	size_t days;         /* offsetof struct conf: its setting, in days */
	int batch;
	enum metrics_retention metric;
	const char *what;    /* for the log */
} kinds[] = {
	{ "tocsin_retention_alerts", offsetof(struct conf, retention_alert_days), 50,
	  METRICS_RET_ALERTS, "alerts" },
	{ "tocsin_retention_deliveries", offsetof(struct conf, retention_delivery_days), 200,
	  METRICS_RET_DELIVERIES, "delivery batches" },
	{ "tocsin_retention_partner_reports", offsetof(struct conf, retention_report_days), 5000,
	  METRICS_RET_PARTNER_REPORTS, "partner reports" },
	{ "tocsin_retention_status_reports", offsetof(struct conf, retention_status_days), 5000,
	  METRICS_RET_STATUS_REPORTS, "status reports" },
	{ "tocsin_retention_audit_detail", offsetof(struct conf, retention_audit_detail_days),
	  5000, METRICS_RET_AUDIT_DETAILS, "audit details" },
};
#define N_KINDS (int)(sizeof kinds / sizeof kinds[0])

static void tick(lws_sorted_usec_list_t *sul);

static void next(struct broker *b, int64_t us)
{
	loop_wake_timer(b->ctx, &b->sul_retention, tick, us);
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
	if (err) {
		if (!err->lost) {
			b->metrics.retention_errors++;
			log_error("retention sweep of %s failed: %s", k->what, err->message);
		}
		b->retention_kind = 0; /* again from the first, after the period */
		next(b, (int64_t)b->conf.retention_sweep_s * 1000000);
		return;
	}
	n = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (n > 0) {
		b->metrics.retention_erased[k->metric] += (uint64_t)n;
		log_info("retention: erased %ld %s older than %d days", n, k->what, days_of(b, k));
	}
	if (n >= k->batch) { /* more of this kind: again in a second */
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
	if (!db_is_up(b->db)) {
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
	if (db_query(b->db, q, 2, params, swept, NULL)) {
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
