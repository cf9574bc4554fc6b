/* clock.h: the broker's two clocks, and the protocol's RFC 3339 times.
 *
 * The rule: a time that is shown, stored, or compared with a time from
 * elsewhere is wall-clock time, clock_now_us(): sent_at, acked_at,
 * delivered_at, a token's iat and exp, an alert id's milliseconds, the
 * journal's boot id, a log line. Every interval the broker measures on
 * itself is monotonic, clock_mono_us(): timeouts, deadlines, ages and
 * rates (liveness, the hello deadline, the message rate, the stop
 * deadline, the revocation sweep's hour, the bus's key-query ages,
 * loop_wake's due times, db.c's watchdog). The wall clock steps when NTP or an operator sets it: on
 * it, a step of more than 2 x --ping-interval + 5 s (55 s) forward dropped
 * every console, and a step back left each connection's message rate in
 * debt, and every deadline late, by the size of the step (e2e 86). */
#ifndef TOCSIN_CLOCK_H
#define TOCSIN_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_ISO_LEN 32

/* Microseconds since the Unix epoch (CLOCK_REALTIME): wall-clock time. */
int64_t clock_now_us(void);
/* Microseconds since an arbitrary start (CLOCK_MONOTONIC): for intervals
 * only, never shown or stored. */
int64_t clock_mono_us(void);
/* RFC 3339 (2026-11-22T14:15:00.123Z or with an offset) to Unix
 * milliseconds; 0, or -1 when malformed. */
int clock_parse_iso(const char *s, int64_t *unix_ms);
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" for a time in microseconds. */
void clock_format_iso(int64_t us, char out[CLOCK_ISO_LEN]);

/* The same for many times in a row (a batch of delivery records), keeping
 * the date and time of the last second formatted: only the milliseconds
 * change within it. Zero-initialise; one per caller, not shared between
 * threads. Returns the length written. */
struct clock_iso_cache {
	int valid;
	int64_t secs;
	char date[24];   /* "YYYY-MM-DDTHH:MM:SS" of secs */
	size_t date_len;
};
size_t clock_format_iso_cached(struct clock_iso_cache *c, int64_t us, char out[CLOCK_ISO_LEN]);

#endif
