/* audit_sealer.c: seals the audit trail as it grows.
 *
 * Every second, while the database is up, the broker reads (over the
 * delivery records connection, see sealer_db) the audit rows
 * not yet sealed (tocsin_audit_to_seal: in id order, up to an id every
 * writer at or below which has ended, so that a late commit is never
 * sealed past), chains each to the one before with its keyed BLAKE2b
 * seal (audit_chain.c), and stores the seals. Settling an id takes two
 * rounds: each round's answer carries a mark (the last id given out and
 * the transactions then writing audit rows) that the next round hands
 * back (b->seal_mark, b->seal_writers). The key is read from a file
 * at start and never sent to the database, so nobody who can only edit
 * the database can forge a seal. With several brokers on one database it
 * runs on the leader only (peers.h); two sealers would be safe
 * (tocsin_audit_to_seal), one does the work once. Loop thread only. */
#include "audit_chain.h"
#include "broker.h"
#include "loop_wake.h"
#include "handle.h"
#include "db.h"
#include "log.h"
#include "peers.h"
#include "stream.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_EVERY_US (1000 * 1000)
#define SEAL_BATCH_TEXT "5000" /* rows read at most per round */

static void tick(lws_sorted_usec_list_t *sul);

/* The connection the sealer uses: the delivery records one, whose batches
 * can wait, rather than the main one, where a publish would otherwise wait
 * behind reading back up to 5,000 rows (about 80 ms under load, once a
 * second); the main one while the records one is down. */
static struct db *sealer_db(struct broker *b)
{
	return db_up_or(b->db_records, b->db);
}

static void stored(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	b->sealing = 0;
	if (err && !err->lost)
		log_error("audit sealing failed: %s", err->message);
}

/* Keeps the mark an answer carries (columns mark, writers of its first
 * row) for the next round. */
static void keep_mark(struct broker *b, PGresult *res)
{
	char *writers = strdup(PQgetvalue(res, 0, 4));

	if (!writers)
		return; /* the old mark stays: it settles later, never wrongly */
	snprintf(b->seal_mark, sizeof b->seal_mark, "%s", PQgetvalue(res, 0, 3));
	free(b->seal_writers);
	b->seal_writers = writers;
}

/* Columns: audit_id (NULL on the one row of an answer with nothing to
 * seal), canonical, prev_seal (NULL before the first seal), mark, writers. */
static void unsealed(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	unsigned char prev[AUDIT_SEAL_BYTES], seal[AUDIT_SEAL_BYTES];
	int n, have_prev;
	char *ids, *seals;
	size_t ioff = 0, soff = 0;

	if (err || PQntuples(res) == 0) {
		if (err && !err->lost)
			log_error("audit sealing failed: %s", err->message);
		b->sealing = 0;
		return;
	}
	keep_mark(b, res);
	if (PQgetisnull(res, 0, 0)) {
		b->sealing = 0;
		return;
	}
	n = PQntuples(res);
	have_prev = !PQgetisnull(res, 0, 2);
	if (have_prev && audit_chain_parse_seal(PQgetvalue(res, 0, 2), prev)) {
		log_error("audit sealing: the last seal is malformed; not sealing");
		b->sealing = 0;
		return;
	}
	ids = malloc((size_t)n * 21 + 3);
	seals = malloc((size_t)n * (2 * AUDIT_SEAL_BYTES + 6) + 3);
	if (!ids || !seals) {
		free(ids);
		free(seals);
		b->sealing = 0;
		return;
	}
	ids[ioff++] = '{';
	seals[soff++] = '{';
	for (int i = 0; i < n; i++) {
		const char *canonical = PQgetvalue(res, i, 1);
		audit_chain_seal(b->audit_key, have_prev ? prev : NULL, canonical,
				 (size_t)PQgetlength(res, i, 1), seal);
		memcpy(prev, seal, sizeof prev);
		have_prev = 1;
		ioff += (size_t)sprintf(ids + ioff, "%s%s", i ? "," : "", PQgetvalue(res, i, 0));
		soff += (size_t)sprintf(seals + soff, "%s\"\\\\x", i ? "," : "");
		sodium_bin2hex(seals + soff, 2 * AUDIT_SEAL_BYTES + 1, seal, sizeof seal);
		soff += 2 * AUDIT_SEAL_BYTES;
		seals[soff++] = '"';
	}
	ids[ioff++] = '}';
	ids[ioff] = '\0';
	seals[soff++] = '}';
	seals[soff] = '\0';
	{
		const char *params[2] = { ids, seals };
		if (db_query(sealer_db(b), "SELECT tocsin_audit_seal($1::bigint[], $2::bytea[])", 2, params,
			     stored, NULL))
			b->sealing = 0;
	}
	free(ids);
	free(seals);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_seal);
	const char *params[3] = { SEAL_BATCH_TEXT, b->seal_mark[0] ? b->seal_mark : NULL,
				  b->seal_writers };

	if (!b->sealing && !b->stopping && stream_writes_direct(b) && peers_leading(b->peers)) {
		b->sealing = 1; /* before: a lost connection calls back at once */
		if (db_query(sealer_db(b),
			     "SELECT audit_id, canonical, prev_seal, mark, writers"
			     "  FROM tocsin_audit_to_seal($1::integer, $2::bigint, $3::text[])",
			     3, params, unsealed, NULL))
			b->sealing = 0;
	}
	loop_wake_timer(b->ctx, &b->sul_seal, tick, SEAL_EVERY_US);
}

void audit_sealer_start(struct broker *b)
{
	loop_wake_timer(b->ctx, &b->sul_seal, tick, SEAL_EVERY_US);
}

void audit_sealer_free(struct broker *b)
{
	free(b->seal_writers);
	b->seal_writers = NULL;
}
