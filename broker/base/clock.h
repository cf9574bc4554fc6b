/* clock.h: wall-clock helpers for the protocol's RFC 3339 times. */
#ifndef TOCSIN_CLOCK_H
#define TOCSIN_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_ISO_LEN 32

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_now_us(void);
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
