/* clock.c: wall-clock helpers. */
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t clock_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void clock_format_iso(int64_t us, char out[CLOCK_ISO_LEN])
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;
	char date[24];

	gmtime_r(&secs, &tm);
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, CLOCK_ISO_LEN, "%s.%03dZ", date, (int)((us / 1000) % 1000));
}

/* Formats the date and time once per second (gmtime_r and strftime cost
 * more than the rest of a delivery record). */
size_t clock_format_iso_cached(struct clock_iso_cache *c, int64_t us, char out[CLOCK_ISO_LEN])
{
	int64_t secs = us / 1000000, ms = (us / 1000) % 1000;

	if (us < 0) { /* before 1970: the plain way (never in practice) */
		clock_format_iso(us, out);
		return strlen(out);
	}
	if (!c->valid || c->secs != secs) {
		time_t t = (time_t)secs;
		struct tm tm;

		gmtime_r(&t, &tm);
		c->date_len = strftime(c->date, sizeof c->date, "%Y-%m-%dT%H:%M:%S", &tm);
		c->secs = secs;
		c->valid = 1;
	}
	memcpy(out, c->date, c->date_len);
	out[c->date_len] = '.';
	out[c->date_len + 1] = (char)('0' + ms / 100);
	out[c->date_len + 2] = (char)('0' + ms / 10 % 10);
	out[c->date_len + 3] = (char)('0' + ms % 10);
	out[c->date_len + 4] = 'Z';
	out[c->date_len + 5] = '\0';
	return c->date_len + 5;
}
