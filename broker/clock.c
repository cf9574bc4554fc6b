/* clock.c: wall-clock helpers. */
#include "clock.h"

#include <stdio.h>
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
