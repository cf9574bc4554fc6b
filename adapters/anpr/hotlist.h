/* hotlist.h: the plates to alert on, loaded from a JSON-lines file
 *   {"plate":"AB12 CDE","reason":"Stolen in a burglary","severity":"severe",
 *    "image":"ab12cde.jpg","expires":"2026-12-01T00:00:00Z"}
 * (image and expires optional; a relative image path is relative to the
 * hotlist file's folder), kept in an open-addressing hash table so that a
 * read is matched with one hash and a few 16-byte compares, allocating
 * nothing. Built by the reading thread and only used by it. */
#ifndef TOCSIN_ANPR_HOTLIST_H
#define TOCSIN_ANPR_HOTLIST_H

#include <stddef.h>
#include <stdint.h>

#include "plate.h"

#define HOTLIST_REASON_MAX 500 /* characters */

struct hotlist_entry {
	char plate[PLATE_SIZE];  /* normalised; all zero: a free slot */
	int64_t expires_ms;      /* Unix ms; INT64_MAX when the line had none */
	int64_t last_alert_ms;   /* fold.h: monotonic ms of the last alert, 0 = never */
	const char *severity;    /* a static string: minor, moderate, severe, extreme */
	char *reason;            /* owned by the table */
	char *image;             /* owned by the table; NULL when none */
};

struct hotlist {
	struct hotlist_entry *slots; /* cap entries, owned */
	size_t cap;                  /* a power of two, at least twice count */
	size_t count;                /* live entries */
};

/* What hotlist_load() saw, for its log line. */
struct hotlist_stats {
	size_t lines;     /* non-blank lines */
	size_t loaded;    /* entries in the table */
	size_t expired;   /* lines already past their expiry: left out */
	size_t bad;       /* lines refused (each logged with its line number and field) */
	size_t replaced;  /* lines naming a plate an earlier line named (the later wins) */
};

/* Loads path into *hl (which the caller later hotlist_free()s) as of
 * now_ms (Unix ms). Bad lines are logged and skipped. 0, or -1 when the
 * file cannot be read (logged; *hl untouched). */
int hotlist_load(const char *path, int64_t now_ms, struct hotlist *hl, struct hotlist_stats *st);

/* The entry for a normalised plate (PLATE_SIZE bytes, zero padded), or
 * NULL. No allocation; expiry is the caller's check (hotlist_live). */
struct hotlist_entry *hotlist_find(const struct hotlist *hl, const char plate[PLATE_SIZE]);

/* 1 when e has not expired at now_ms (Unix ms). */
int hotlist_live(const struct hotlist_entry *e, int64_t now_ms);

/* After a reload: carries each plate's last alert time from old to new, so
 * a SIGHUP does not reopen the fold window of every vehicle. */
void hotlist_carry_folds(const struct hotlist *old_hl, struct hotlist *new_hl);

void hotlist_free(struct hotlist *hl);

/* Parses an RFC 3339 time (read_scan.h's read_time_ok form) to Unix ms;
 * 0 or -1. */
int hotlist_parse_time(const char *s, int64_t *unix_ms);

#endif
