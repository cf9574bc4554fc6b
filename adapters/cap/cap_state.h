/* cap_state.h: the adapter's memory of which CAP message became which
 * Tocsin alert, so that a later Update or Cancel naming a CAP message by
 * (sender, identifier) can reference the alert. One file, DIR/ids, one
 * line per import: "sender<TAB>identifier<TAB>alert_id", appended and
 * fsync'd. CAP forbids white space in senders and identifiers. */
#ifndef TOCSIN_CAP_STATE_H
#define TOCSIN_CAP_STATE_H

#include <stdint.h>

/* Creates dir if missing. 0, or -1 after logging why. */
int cap_state_open(const char *dir);

/* 0 and *alert_id set, 1 when unknown, -1 after logging why. The last
 * line for a pair wins. A negative id is a message held as a pending
 * import: minus its inbox report id (cap_import.c). */
int cap_state_lookup(const char *dir, const char *sender, const char *identifier,
		     int64_t *alert_id);

/* Records a pair. 0, or -1 after logging why. */
int cap_state_record(const char *dir, const char *sender, const char *identifier,
		     int64_t alert_id);

/* The bus sequence number given to the publish of a CAP message, kept in
 * DIR/pending before it is first sent, so that a retry after no answer
 * (a crash, a timeout) resends the same seq and the broker answers with
 * the alert it already made instead of publishing twice. 0 and *seq set,
 * 1 when none, -1 after logging why. */
int cap_state_pending(const char *dir, const char *sender, const char *identifier,
		      int64_t *seq);
int cap_state_set_pending(const char *dir, const char *sender, const char *identifier,
			  int64_t seq);

#endif
