/* log.h: leveled logging to stderr, one line per event.
 *
 * Two formats (log-format, conf.c): text, "TIME tocsind LEVEL: message",
 * and json, {"ts":..., "level":..., "msg":..., "session":..., "ref":...}.
 * Under systemd (JOURNAL_STREAM names our stderr, log_detect_journal)
 * each line begins with its syslog priority, <3> error, <4> warn, <6>
 * info, <7> debug, which journald takes off and files the line under, so
 * that journalctl -p warning shows warnings and errors only.
 *
 * A request being handled sets its context (log_context_set: the session
 * and the frame's ref), and every line logged meanwhile on that thread
 * carries it, without each call naming them. Thread-safe: one write per
 * line, the context per thread; used by the loop and the workers. */
#ifndef TOCSIN_LOG_H
#define TOCSIN_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
int log_level_from_name(const char *name, enum log_level *out);
int log_format_from_name(const char *name, enum log_format *out);

/* Turns the priority prefixes on when the environment's JOURNAL_STREAM
 * ("DEV:INODE", systemd.exec(5)) is the file stderr is: 1 when on. */
int log_detect_journal(void);

/* The request this thread is handling: its session (0: none) and ref
 * (NULL or "": none), until log_context_clear. */
void log_context_set(uint64_t session, const char *ref);
void log_context_clear(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
