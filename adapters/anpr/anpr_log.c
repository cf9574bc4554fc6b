/* anpr_log.c: leveled logging to stderr with UTC timestamps. */
#include "anpr_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The one process-wide setting: set once from --log-level, read by both
 * threads. */
static atomic_int min_level = ALOG_INFO;

/* From --log-level, before the publishing thread starts. */
void alog_set_level(enum alog_level level)
{
	atomic_store(&min_level, (int)level);
}

/* The names --log-level accepts. */
int alog_level_from_name(const char *name, enum alog_level *out)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(name, names[i])) {
			*out = (enum alog_level)i;
			return 0;
		}
	return -1;
}

/* Formats the whole line first so threads never interleave within one. */
void alog(enum alog_level level, const char *fmt, ...)
{
	static const char *const tags[] = { "debug", "info", "warn", "error" };
	char line[2048], stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if ((int)level < atomic_load(&min_level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ tocsin-anpr %s: %s\n", stamp, ts.tv_nsec / 1000000L, tags[level],
		line);
}
