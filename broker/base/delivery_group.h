/* delivery_group.h: a batch of deliveries, ordered alert by alert.
 *
 * Deliveries are recorded in the order frames are handed to consoles, so a
 * batch holds the deliveries of several alerts interleaved (a session
 * written once gets every alert queued for it). PostgreSQL stores a batch
 * as one row per alert (sql/functions/delivery.sql); when each alert's deliveries are already
 * together it takes them as array slices instead of sorting the whole
 * batch (tocsin_record_deliveries). Pure: no broker, no I/O. */
#ifndef TOCSIN_DELIVERY_GROUP_H
#define TOCSIN_DELIVERY_GROUP_H

#include <stddef.h>
#include <stdint.h>

struct delivery {
	int64_t alert_id, site_id, user_id, at_us;
};

/* Most alerts one batch is grouped for; a batch with more is copied as it
 * is (PostgreSQL then sorts it itself). */
#define DELIVERY_GROUP_MAX_ALERTS 1024

/* Copies n deliveries from src to dst (which must not overlap) with each
 * alert's together: alerts in the order of their first delivery, each
 * alert's deliveries in their order in src. Returns the number of alerts,
 * or 0 when there were more than DELIVERY_GROUP_MAX_ALERTS (or n is 0) and
 * dst is a plain copy. */
size_t delivery_group_by_alert(struct delivery *dst, const struct delivery *src, size_t n);

#endif
