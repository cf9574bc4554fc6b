/* journal.h: the broker's local journal, for when PostgreSQL is away.
 *
 * While the database is unreachable (or the journal still holds records),
 * every write the broker must not lose (publish, ack, read, deliveries) is
 * appended to one file as a JSON line with its checksum and fdatasync'd
 * before the client is told it is durable; a write that fails leaves the
 * file as it was (journal.c). When the database returns, the records are written
 * to it in order through tocsin_journal_apply(), which applies each record
 * id once, so a crash during replay never duplicates anything; the file is
 * emptied once everything has been applied. Records survive a broker crash:
 * journal_open() reloads them.
 *
 * Loop thread only. The fsync blocks the loop briefly; it happens only in
 * degraded mode. */
#ifndef TOCSIN_JOURNAL_H
#define TOCSIN_JOURNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct journal;

/* Opens (creating the file and its folder) and loads pending records.
 * on_drained is the hook that runs each time every record is in the
 * database (the server registers it: resumes that waited may go). NULL
 * after logging why. */
struct journal *journal_open(struct broker *b, const char *path,
			     void (*on_drained)(struct broker *b));
#define JOURNAL_ID_LEN 48

/* A new record id, unique across brokers and restarts. A write sent
 * straight to the database carries one too, so that if its outcome is lost
 * and it is journaled under the same id, replay skips it when it had in
 * fact committed (tocsin_journal_apply, sql/functions/alerts.sql). */
void journal_new_id(struct journal *j, char out[JOURNAL_ID_LEN]);
/* Appends {"jid","k":kind,"r":rec} and syncs it. rec is borrowed.
 * 0, or -1 when the record could not be made durable. */
int journal_append(struct journal *j, const char *kind, json_t *rec);
/* The same, under an id from journal_new_id(). */
int journal_append_id(struct journal *j, const char *jid, const char *kind, json_t *rec);
/* Records not yet applied to the database. */
size_t journal_pending(const struct journal *j);
/* While records are pending: 1 with *alert_id set when the journal holds
 * a publish from adapter_id with that seq (its record's adapter_id and
 * adapter_seq: publish.c), this run's or a previous one's; else 0. */
int journal_submission(const struct journal *j, int64_t adapter_id, int64_t seq,
		       int64_t *alert_id);
/* Sends pending records to the database if it is up; runs the
 * on_drained hook once everything is applied, at once when nothing is
 * pending. */
void journal_pump(struct journal *j);
void journal_free(struct journal *j);

#endif
