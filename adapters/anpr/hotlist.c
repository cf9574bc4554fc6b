/* hotlist.c: loading the hotlist file and matching plates against it.
 *
 * The file is small (thousands of lines) and read at start and on SIGHUP,
 * so jansson parses it; the table is what every read touches: linear
 * probing over PLATE_SIZE-byte keys at a load factor of at most one half. */
#include "hotlist.h"

#include "anpr_log.h"
#include "read_scan.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const severities[] = { "minor", "moderate", "severe", "extreme", NULL };

/* FNV-1a over the padded plate: plates are short and mostly distinct in
 * their last characters, which FNV mixes well enough for linear probing. */
static uint64_t plate_hash(const char plate[PLATE_SIZE])
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < PLATE_SIZE && plate[i]; i++) {
		h ^= (unsigned char)plate[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* The slot holding plate, or the free slot where it would go. */
static struct hotlist_entry *slot_for(const struct hotlist *hl, const char plate[PLATE_SIZE])
{
	size_t mask = hl->cap - 1, i = plate_hash(plate) & mask;

	while (hl->slots[i].plate[0] && memcmp(hl->slots[i].plate, plate, PLATE_SIZE))
		i = (i + 1) & mask;
	return &hl->slots[i];
}

/* Every read comes through here: one hash, a few 16-byte compares. */
struct hotlist_entry *hotlist_find(const struct hotlist *hl, const char plate[PLATE_SIZE])
{
	struct hotlist_entry *e;

	if (!hl->cap)
		return NULL;
	e = slot_for(hl, plate);
	return e->plate[0] ? e : NULL;
}

/* Entries may expire while the adapter runs, not only before a load. */
int hotlist_live(const struct hotlist_entry *e, int64_t now_ms)
{
	return e->expires_ms > now_ms;
}

/* Expiry times with offsets and fractions, as RFC 3339 allows. */
int hotlist_parse_time(const char *s, int64_t *unix_ms)
{
	struct tm tm = { 0 };
	size_t len = strlen(s), i = 19;
	int64_t ms = 0, off_min = 0;
	int scale = 100;
	time_t t;

	if (!read_time_ok(s, len))
		return -1;
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	if (s[i] == '.')
		for (i++; s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
			ms += (s[i] - '0') * scale;
	if (s[i] == '+' || s[i] == '-')
		off_min = (s[i] == '+' ? 1 : -1) * (atoi(s + i + 1) * 60 + atoi(s + i + 4));
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*unix_ms = ((int64_t)t - off_min * 60) * 1000 + ms;
	return 0;
}

/* Code points in a UTF-8 string (jansson has checked the encoding). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* A relative image path resolved against the hotlist's folder; owned by
 * the caller. NULL when out of memory. */
static char *image_path(const char *hotlist_path, const char *image)
{
	const char *slash = strrchr(hotlist_path, '/');
	char *out;

	if (image[0] == '/' || !slash)
		return strdup(image);
	if (asprintf(&out, "%.*s/%s", (int)(slash - hotlist_path), hotlist_path, image) < 0)
		return NULL;
	return out;
}

/* Checks one parsed line and fills e (reason and image allocated). Returns
 * 0, 1 for an expired entry, -1 with *field and *why set, or -2 when out
 * of memory. */
static int entry_from_json(json_t *j, const char *path, int64_t now_ms, struct hotlist_entry *e,
			   const char **field, const char **why)
{
	const char *key, *sev;
	json_t *v;

	memset(e, 0, sizeof *e);
	*field = NULL;
	if (!json_is_object(j)) {
		*why = "not a JSON object";
		return -1;
	}
	json_object_foreach(j, key, v) {
		if (strcmp(key, "plate") && strcmp(key, "reason") && strcmp(key, "severity") &&
		    strcmp(key, "image") && strcmp(key, "expires")) {
			*field = key;
			*why = "unknown member (plate, reason, severity, image, expires)";
			return -1;
		}
	}
	v = json_object_get(j, "plate");
	*field = "plate";
	*why = "must be 1 to 15 letters and digits (spaces and hyphens are ignored)";
	if (!json_is_string(v) ||
	    plate_normalise(json_string_value(v), json_string_length(v), e->plate) < 0)
		return -1;
	v = json_object_get(j, "reason");
	*field = "reason";
	*why = "must be a string of 1 to 500 characters";
	if (!json_is_string(v) || !json_string_length(v) || strlen(json_string_value(v)) !=
	    json_string_length(v) || utf8_chars(json_string_value(v)) > HOTLIST_REASON_MAX)
		return -1;
	v = json_object_get(j, "severity");
	*field = "severity";
	*why = "must be one of minor, moderate, severe, extreme";
	sev = json_is_string(v) ? json_string_value(v) : "";
	for (int i = 0; severities[i]; i++)
		if (!strcmp(sev, severities[i]))
			e->severity = severities[i];
	if (!e->severity)
		return -1;
	v = json_object_get(j, "image");
	*field = "image";
	*why = "must be a non-empty file path";
	if (v && (!json_is_string(v) || !json_string_length(v) ||
		  strlen(json_string_value(v)) != json_string_length(v)))
		return -1;
	v = json_object_get(j, "expires");
	*field = "expires";
	*why = "must be an RFC 3339 time";
	e->expires_ms = INT64_MAX;
	if (v && (!json_is_string(v) || hotlist_parse_time(json_string_value(v), &e->expires_ms)))
		return -1;
	if (e->expires_ms <= now_ms)
		return 1;
	e->reason = strdup(json_string_value(json_object_get(j, "reason")));
	v = json_object_get(j, "image");
	if (v)
		e->image = image_path(path, json_string_value(v));
	if (!e->reason || (v && !e->image)) {
		free(e->reason);
		free(e->image);
		return -2;
	}
	return 0;
}

/* Puts e into the table (taking its strings), growing it to keep the load
 * factor at most one half. 0, 1 when it replaced an entry, -1 (out of
 * memory: e's strings freed). */
static int table_put(struct hotlist *hl, struct hotlist_entry *e)
{
	struct hotlist_entry *s;

	if ((hl->count + 1) * 2 > hl->cap) {
		struct hotlist bigger = { NULL, hl->cap ? hl->cap * 2 : 1024, 0 };

		bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
		if (!bigger.slots) {
			free(e->reason);
			free(e->image);
			return -1;
		}
		for (size_t i = 0; i < hl->cap; i++)
			if (hl->slots[i].plate[0]) {
				*slot_for(&bigger, hl->slots[i].plate) = hl->slots[i];
				bigger.count++;
			}
		free(hl->slots);
		*hl = bigger;
	}
	s = slot_for(hl, e->plate);
	if (s->plate[0]) {
		free(s->reason);
		free(s->image);
		*s = *e;
		return 1;
	}
	*s = *e;
	hl->count++;
	return 0;
}

/* One line of the file into the table; counts it in *st. -1 only when out
 * of memory. */
static int load_line(struct hotlist *hl, const char *path, size_t lineno, const char *line,
		     size_t len, int64_t now_ms, struct hotlist_stats *st)
{
	struct hotlist_entry e;
	const char *field, *why;
	json_error_t jerr;
	json_t *j;
	int rc;

	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		alog_warn("hotlist %s line %zu: bad JSON: %s (skipped)", path, lineno, jerr.text);
		st->bad++;
		return 0;
	}
	rc = entry_from_json(j, path, now_ms, &e, &field, &why);
	if (rc == -2) {
		json_decref(j);
		return -1;
	}
	if (rc < 0) {
		alog_warn("hotlist %s line %zu: %s%s%s (skipped)", path, lineno, field ? field : "",
			  field ? ": " : "", why);
		st->bad++;
	}
	json_decref(j);
	if (rc == 1)
		st->expired++;
	if (rc)
		return 0;
	rc = table_put(hl, &e);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		alog_warn("hotlist %s line %zu: plate %s named again; this line replaces the earlier one",
			  path, lineno, e.plate);
		st->replaced++;
	}
	return 0;
}

/* Blank lines (and a trailing newline at the end) are not entries. */
static int blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* A fresh table is built aside, so a failed reload leaves the old one. */
int hotlist_load(const char *path, int64_t now_ms, struct hotlist *hl, struct hotlist_stats *st)
{
	struct hotlist fresh = { NULL, 0, 0 };
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	FILE *f;

	memset(st, 0, sizeof *st);
	f = fopen(path, "r");
	if (!f) {
		alog_error("hotlist %s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (blank(line, (size_t)n))
			continue;
		st->lines++;
		if (load_line(&fresh, path, lineno, line, (size_t)n, now_ms, st))
			goto fail;
	}
	if (ferror(f)) {
		alog_error("hotlist %s: read error after line %zu: %s", path, lineno, strerror(errno));
		goto fail;
	}
	free(line);
	fclose(f);
	st->loaded = fresh.count;
	*hl = fresh;
	return 0;
fail:
	if (!ferror(f))
		alog_error("hotlist %s: out of memory at line %zu", path, lineno);
	free(line);
	fclose(f);
	hotlist_free(&fresh);
	return -1;
}

/* Looks each folded plate up in the new table: O(old size), once per reload. */
void hotlist_carry_folds(const struct hotlist *old_hl, struct hotlist *new_hl)
{
	for (size_t i = 0; i < old_hl->cap; i++) {
		const struct hotlist_entry *o = &old_hl->slots[i];
		struct hotlist_entry *n;

		if (!o->plate[0] || !o->last_alert_ms)
			continue;
		n = hotlist_find(new_hl, o->plate);
		if (n)
			n->last_alert_ms = o->last_alert_ms;
	}
}

/* Frees the table and every entry's strings; hl is left empty. */
void hotlist_free(struct hotlist *hl)
{
	for (size_t i = 0; i < hl->cap; i++) {
		free(hl->slots[i].reason);
		free(hl->slots[i].image);
	}
	free(hl->slots);
	hl->slots = NULL;
	hl->cap = 0;
	hl->count = 0;
}
