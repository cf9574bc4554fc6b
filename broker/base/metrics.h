/* metrics.h: the broker's counters and histograms, and GET /metrics in
 * the Prometheus text exposition format (version 0.0.4).
 *
 * Debian has no Prometheus client library for C, and the format is a few
 * lines of text per metric, so the broker writes it itself. Every counter
 * lives in struct metrics (one in struct broker), is added to where the
 * event happens (publish.c, flush.c, receipt.c, escalation.c, session.c,
 * http_api.c, bus.c, listener.c) and is only ever read by
 * metrics_render; what is true only at the moment of a scrape (connections
 * by role, journal, database up) comes in a struct metrics_now. The
 * histograms have fixed buckets, so a scrape costs the same at any load.
 * Pure; loop thread only (the sign-in workers' outcomes are counted when
 * the loop collects them). */
#ifndef TOCSIN_METRICS_H
#define TOCSIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "token.h"

#define METRICS_SEVERITIES 4 /* minor, moderate, severe, extreme */
#define METRICS_BUCKETS 12
#define METRICS_ROLES (ROLE_INSPECTOR + 1) /* [ROLE_NONE]: not signed in yet */

enum metrics_source { METRICS_CONSOLE, METRICS_ADAPTER };

/* What a retention sweep erases (retention.c, crime_sweep.c), the label
 * kind of tocsin_retention_erased_total. */
enum metrics_retention {
	METRICS_RET_ALERTS,
	METRICS_RET_DELIVERIES,
	METRICS_RET_PARTNER_REPORTS,
	METRICS_RET_STATUS_REPORTS,
	METRICS_RET_AUDIT_DETAILS,
	METRICS_RET_CRIME_RECORDS,
	METRICS_RET_KINDS
};

/* Counts per bucket (the last: +Inf), their sum and number. */
struct metrics_hist {
	uint64_t counts[METRICS_BUCKETS + 1];
	double sum;
	uint64_t n;
};

struct metrics {
	uint64_t published[METRICS_SEVERITIES][2]; /* publish.c: by severity, source */
	uint64_t deliveries;                       /* flush.c: alert frames written */
	uint64_t acks, reads;                      /* receipt.c: stored */
	uint64_t escalations;                      /* escalation.c: sites escalated */
	uint64_t slow_closes;                      /* session.c: closed at the queue limit */
	uint64_t accept_pauses;                    /* listener.c: stopped at max-handshakes */
	uint64_t accept_no_files;                  /* listener.c: accept refused, EMFILE/ENFILE */
	uint64_t signins, signin_failures, signin_lockouts; /* http_api.c */
	uint64_t bus_in, bus_out;                  /* bus.c: requests in, events out */
	uint64_t retention_erased[METRICS_RET_KINDS]; /* retention.c, crime_sweep.c: rows */
	uint64_t retention_errors;                 /* retention.c, crime_sweep.c: failed calls */
	int64_t retention_last_us;                 /* retention.c: wall-clock end of the last
	                                            * sweep through every kind (0: none yet) */
	struct metrics_hist fanout;                /* seconds: fan-out to written */
	struct metrics_hist durable;               /* seconds: publish to durable */
	int64_t fanout_since_us;                   /* fanout.c: the oldest fan-out not
	                                            * yet written (0: none); flush.c
	                                            * observes it */
	int64_t unacked_severe;                    /* metrics_probe.c: -1 unknown */
	double db_rtt_s;                           /* metrics_probe.c: -1 unknown */
};

/* What is true at the moment of a scrape (http_ops.c fills it). */
struct metrics_now {
	unsigned connections[METRICS_ROLES];
	unsigned handshakes;                       /* accepted, not yet signed in */
	size_t journal_pending;
	int db_up, db_records_up, ready;
	int64_t head;
	double uptime_s;
};

/* A struct metrics with nothing counted yet. */
void metrics_init(struct metrics *m);

/* Adds one observation (seconds) to a histogram of fanout or durable. */
void metrics_observe_fanout(struct metrics *m, double seconds);
void metrics_observe_durable(struct metrics *m, double seconds);

/* The label of a retention kind (alerts, deliveries, ...). */
const char *metrics_retention_name(enum metrics_retention k);

/* The index of a severity name (minor..extreme), or -1. */
int metrics_severity(const char *name);

/* The exposition text (malloc'd, *len bytes, NUL-terminated), or NULL
 * when out of memory. */
char *metrics_render(const struct metrics *m, const struct metrics_now *now, size_t *len);

#endif
