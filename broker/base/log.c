/* log.c: leveled logging to stderr with UTC timestamps, as text or JSON,
 * with syslog priorities for the journal (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REF_MAX 64

/* Set at start and by a reload on the loop thread, read by every thread:
 * relaxed atomics, since a line logged as the setting changes may take
 * either value. */
static int min_level = LOG_INFO;
static int format = LOG_TEXT;
static int journal;

static __thread uint64_t ctx_session;
static __thread char ctx_ref[REF_MAX + 1];

static const char *const names[] = { "debug", "info", "warn", "error" };
static const int priorities[] = { 7, 6, 4, 3 }; /* syslog's: debug, info, warning, err */

void log_set_level(enum log_level level)
{
	__atomic_store_n(&min_level, (int)level, __ATOMIC_RELAXED);
}

void log_set_format(enum log_format f)
{
	__atomic_store_n(&format, (int)f, __ATOMIC_RELAXED);
}

int log_level_from_name(const char *name, enum log_level *out)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

int log_format_from_name(const char *name, enum log_format *out)
{
	if (!strcmp(name, "text") || !strcmp(name, "json")) {
		*out = name[0] == 'j' ? LOG_JSON : LOG_TEXT;
		return 0;
	}
	return -1;
}

int log_detect_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	journal = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
		  (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
	return journal;
}

void log_context_set(uint64_t session, const char *ref)
{
	ctx_session = session;
	snprintf(ctx_ref, sizeof ctx_ref, "%s", ref ? ref : "");
}

void log_context_clear(void)
{
	ctx_session = 0;
	ctx_ref[0] = '\0';
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		   : (s[0] & 0xf8) == 0xf0 ? 4 : 0;

	if (!len || len > n || (len == 2 && s[0] < 0xc2))
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* Appends s as the inside of a JSON string: quotes, backslashes and
 * control characters escaped, bytes that are not UTF-8 as U+FFFD (a
 * message may quote what a client sent). */
static size_t json_escape(char *out, size_t size, size_t at, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	for (size_t i = 0; i < n && at + 7 < size;) {
		size_t len = utf8_len(p + i, n - i);
		if (!len) {
			at += (size_t)snprintf(out + at, size - at, "\\ufffd");
			i++;
		} else if (p[i] == '"' || p[i] == '\\') {
			out[at++] = '\\';
			out[at++] = (char)p[i++];
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			at += (size_t)snprintf(out + at, size - at, "\\u%04x", p[i++]);
		} else {
			memcpy(out + at, p + i, len);
			at += len;
			i += len;
		}
	}
	out[at < size ? at : size - 1] = '\0';
	return at;
}

/* A text line keeps to one line: control characters become '?'. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void write_json(char *out, size_t size, const char *prefix, const char *stamp,
		       enum log_level level, const char *msg)
{
	size_t at = (size_t)snprintf(out, size, "%s{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"",
				     prefix, stamp, names[level]);

	at = json_escape(out, size - 64 - REF_MAX * 6, at, msg);
	at += (size_t)snprintf(out + at, size - at, "\"");
	if (ctx_session)
		at += (size_t)snprintf(out + at, size - at, ",\"session\":%llu",
				       (unsigned long long)ctx_session);
	if (ctx_ref[0]) {
		at += (size_t)snprintf(out + at, size - at, ",\"ref\":\"");
		at = json_escape(out, size - 4, at, ctx_ref);
		at += (size_t)snprintf(out + at, size - at, "\"");
	}
	snprintf(out + at, size - at, "}\n");
}

static void write_text(char *out, size_t size, const char *prefix, const char *stamp,
		       enum log_level level, char *msg)
{
	char ref[REF_MAX + 1];
	size_t at;

	one_line(msg);
	at = (size_t)snprintf(out, size, "%s%s tocsind %s: %s", prefix, stamp, names[level], msg);
	if (at < size && ctx_session)
		at += (size_t)snprintf(out + at, size - at, " [session %llu",
				       (unsigned long long)ctx_session);
	if (at < size && ctx_session && ctx_ref[0]) {
		snprintf(ref, sizeof ref, "%s", ctx_ref);
		one_line(ref);
		at += (size_t)snprintf(out + at, size - at, " ref %s", ref);
	}
	if (at < size && ctx_session)
		at += (size_t)snprintf(out + at, size - at, "]");
	if (at >= size - 1)
		at = size - 2;
	out[at] = '\n';
	out[at + 1] = '\0';
}

/* One formatted line per call, written at once, so concurrent threads
 * never interleave within a line. */
void log_msg(enum log_level level, const char *fmt, ...)
{
	char msg[2048], line[2048 * 6 + 256], stamp[40], prefix[8] = "";
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if ((int)level < __atomic_load_n(&min_level, __ATOMIC_RELAXED))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof stamp - strlen(stamp), ".%03ldZ",
		 ts.tv_nsec / 1000000L);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (journal)
		snprintf(prefix, sizeof prefix, "<%d>", priorities[level]);
	if (__atomic_load_n(&format, __ATOMIC_RELAXED) == LOG_JSON)
		write_json(line, sizeof line, prefix, stamp, level, msg);
	else
		write_text(line, sizeof line, prefix, stamp, level, msg);
	fputs(line, stderr);
}
