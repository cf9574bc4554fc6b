/* clock.c: the wall and monotonic clocks and RFC 3339 times (clock.h).
 * Pure; any thread. */
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

int64_t clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
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

int clock_parse_iso(const char *s, int64_t *unix_ms)
{
	int y, mo, d, h, mi, sec, n = 0, ms = 0, off = 0;
	struct tm tm = { 0 };
	const char *p;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -1;
	p = s + 19;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		if (!digits)
			return -1;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (*p == 'Z' && p[1] == '\0') {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh, om;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
			return -1;
		off = (oh * 60 + om) * (*p == '+' ? 1 : -1);
	} else {
		return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 2000 ||
	    y > 2200)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*unix_ms = ((int64_t)timegm(&tm) - off * 60) * 1000 + ms;
	return 0;
}
