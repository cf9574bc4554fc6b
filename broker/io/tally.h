/* tally.h: an alert's receipt counts, as the SQL functions return them.
 *
 * Recipients, delivered, acknowledged, read and escalated: what the sender
 * of an alert watches (tally frames, docs/protocol.md). PostgreSQL counts
 * them; the delivery records, receipts and relays read them from their
 * answers with tally_from_row. Loop thread only (PGresult is borrowed). */
#ifndef TOCSIN_TALLY_H
#define TOCSIN_TALLY_H

#include <libpq-fe.h>
#include <stdint.h>

struct broker;

struct tally {
	long recipients, delivered, read, acknowledged, escalated;
};

/* Reads a tally from result columns first..first+4 (recipients, delivered,
 * acknowledged, read, escalated: the order our SQL functions return). */
struct tally tally_from_row(PGresult *res, int row, int first);

/* A hook that hears a new tally of alert_id for the desks of sender_org
 * (and of watcher_org, the organisation that sent the original of a
 * relay; 0 for none): registered at start by whoever sends tallies. */
typedef void (*tally_hook)(struct broker *b, int64_t alert_id, int64_t sender_org,
			   int64_t watcher_org, const struct tally *t);

#endif
