/* delivery_log.h: records deliveries in PostgreSQL in batches.
 *
 * Each alert frame handed to a console's socket is a delivery (alert,
 * site, user, time). Writing one row per delivery per transaction would
 * cap fan-out at the database's commit rate, so deliveries are buffered
 * and written by tocsin_record_deliveries() every few milliseconds, one
 * transaction per batch; the new tallies it returns go to the on_tally
 * hook given at start.
 * PostgreSQL stores each batch compactly, one delivery_batches row and one
 * sealed 'deliver' audit row per alert in it (sql/functions/delivery.sql, docs/audit.md).
 * Batches go over their own connection (b->db_records), so that no other
 * query waits behind one; over the main one while that is down.
 * A batch that fails for want of a connection is kept and retried, up to
 * a bound. Loop thread only. */
#ifndef TOCSIN_DELIVERY_LOG_H
#define TOCSIN_DELIVERY_LOG_H

#include "tally.h"

#include <stddef.h>
#include <stdint.h>

struct broker;
struct delivery_log;

/* on_tally hears the new tallies each stored batch returns (the server
 * registers the deliver layer's fan-out of tallies). */
struct delivery_log *delivery_log_new(struct broker *b, tally_hook on_tally);
/* site_id 0 means "not a site console" (a company operator). */
void delivery_log_add(struct delivery_log *log, int64_t alert_id, int64_t site_id,
		      int64_t user_id);
/* Starts writing what is buffered now (used at shutdown). */
void delivery_log_flush(struct delivery_log *log);
/* Deliveries buffered or being written. */
size_t delivery_log_pending(const struct delivery_log *log);
void delivery_log_free(struct delivery_log *log);

#endif
