/* anpr_log.h: the adapter's log, one line per event on stderr:
 *   2026-11-22T10:00:00.123Z tocsin-anpr warn: line 17: lat: must be ...
 * Thread-safe (one fprintf per line). */
#ifndef TOCSIN_ANPR_LOG_H
#define TOCSIN_ANPR_LOG_H

enum alog_level { ALOG_DEBUG, ALOG_INFO, ALOG_WARN, ALOG_ERROR };

void alog_set_level(enum alog_level level);
/* "debug", "info", "warn", "error": 0, or -1 for anything else. */
int alog_level_from_name(const char *name, enum alog_level *out);
void alog(enum alog_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define alog_debug(...) alog(ALOG_DEBUG, __VA_ARGS__)
#define alog_info(...) alog(ALOG_INFO, __VA_ARGS__)
#define alog_warn(...) alog(ALOG_WARN, __VA_ARGS__)
#define alog_error(...) alog(ALOG_ERROR, __VA_ARGS__)

#endif
