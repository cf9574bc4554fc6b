/* metrics_probe.c: what /metrics must ask the database for.
 *
 * Every PROBE_EVERY_US, while the main connection is up, one query gives
 * the live severe and extreme alerts that some recipient site has not
 * acknowledged (tocsin_metrics_unacked_severe, sql/functions/metrics.sql),
 * and its round trip is the database's: the time a request of the broker
 * waits for PostgreSQL, queue included. A scrape never waits for the
 * database: it shows the last probe's figures, and asks for a probe when
 * the last one is over a second old, so that a scraper polling faster
 * than PROBE_EVERY_US sees figures as fresh as its own interval. Loop
 * thread only. */
#include "broker.h"
#include "loop_wake.h"
#include "handle.h"
#include "clock.h"
#include "db.h"
#include "log.h"

#include <stdlib.h>

#define PROBE_EVERY_US (15LL * 1000 * 1000)
#define KICK_AFTER_US (1000 * 1000)

static void answered(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	b->probing = 0;
	if (err) {
		if (!err->lost)
			log_error("metrics probe failed: %s", err->message);
		b->metrics.db_rtt_s = -1;
		return;
	}
	b->metrics.db_rtt_s = (double)(clock_now_us() - b->probe_sent_us) / 1e6;
	if (PQntuples(res) == 1)
		b->metrics.unacked_severe = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
}

static void probe(struct broker *b)
{
	if (b->probing || b->stopping || !db_is_up(b->db))
		return;
	b->probing = 1; /* before: a lost connection calls back at once */
	b->probe_sent_us = clock_now_us();
	if (db_query(b->db, "SELECT tocsin_metrics_unacked_severe()", 0, NULL, answered, NULL))
		b->probing = 0;
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_probe);

	probe(b);
	loop_wake_timer(b->ctx, &b->sul_probe, tick, PROBE_EVERY_US);
}

void metrics_probe_kick(struct broker *b)
{
	if (clock_now_us() - b->probe_sent_us > KICK_AFTER_US)
		probe(b);
}

/* The first probe a second after start, then every PROBE_EVERY_US. */
void metrics_probe_start(struct broker *b)
{
	loop_wake_timer(b->ctx, &b->sul_probe, tick, 1000 * 1000);
}
