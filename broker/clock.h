/* clock.h: wall-clock helpers for the protocol's RFC 3339 times. */
#ifndef TOCSIN_CLOCK_H
#define TOCSIN_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_ISO_LEN 32

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_now_us(void);
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" for a time in microseconds. */
void clock_format_iso(int64_t us, char out[CLOCK_ISO_LEN]);

#endif
