/* journal.c: the local journal (see journal.h). */
#include "journal.h"
#include "broker.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_MAX_INFLIGHT 64

struct record {
	struct record *next;
	char jid[48];
	char kind[16];
	char *rec;          /* owned: the record's JSON */
};

struct journal {
	struct broker *b;
	void (*on_drained)(struct broker *b); /* the hook given at open */
	char *path;
	int fd;
	struct record *head, *tail; /* pending, oldest first */
	struct record *unsent;      /* first record not yet sent */
	size_t pending;
	size_t inflight;
	unsigned long long counter;
	long long boot_us;
	int rewind;                 /* the connection dropped: resend from head */
};

static struct record *record_new(const char *jid, const char *kind, const char *rec)
{
	struct record *r = calloc(1, sizeof *r);

	if (!r || !(r->rec = strdup(rec))) {
		free(r);
		return NULL;
	}
	snprintf(r->jid, sizeof r->jid, "%s", jid);
	snprintf(r->kind, sizeof r->kind, "%s", kind);
	return r;
}

static void push(struct journal *j, struct record *r)
{
	if (j->tail)
		j->tail->next = r;
	else
		j->head = r;
	j->tail = r;
	if (!j->unsent)
		j->unsent = r;
	j->pending++;
}

/* Loads the complete lines of an existing journal; a torn last line was
 * never confirmed to anyone and is dropped. */
static int load(struct journal *j)
{
	FILE *f = fdopen(dup(j->fd), "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	off_t good = 0;

	if (!f)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		json_t *obj, *r;
		struct record *rec;
		char *text;

		if (line[n - 1] != '\n')
			break;
		obj = json_loadb(line, (size_t)n, 0, NULL);
		r = json_object_get(obj, "r");
		if (!json_is_string(json_object_get(obj, "jid")) ||
		    !json_is_string(json_object_get(obj, "k")) || !json_is_object(r)) {
			json_decref(obj);
			break;
		}
		text = json_dumps(r, JSON_COMPACT);
		rec = text ? record_new(json_string_value(json_object_get(obj, "jid")),
					json_string_value(json_object_get(obj, "k")), text)
			   : NULL;
		free(text);
		json_decref(obj);
		if (!rec)
			break;
		push(j, rec);
		good += n;
	}
	free(line);
	fclose(f);
	if (ftruncate(j->fd, good) != 0)
		return -1;
	return 0;
}

struct journal *journal_open(struct broker *b, const char *path,
			     void (*on_drained)(struct broker *b))
{
	struct journal *j = calloc(1, sizeof *j);
	char *dir;

	if (!j)
		return NULL;
	j->b = b;
	j->on_drained = on_drained;
	j->boot_us = clock_now_us();
	j->path = strdup(path);
	dir = strdup(path);
	if (!j->path || !dir)
		goto fail;
	if (paths_mkdir_p(dirname(dir), 0700) != 0) {
		log_error("journal: cannot create the folder of %s: %s", path, strerror(errno));
		goto fail;
	}
	j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		log_error("journal: cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	if (load(j)) {
		log_error("journal: cannot read %s: %s", path, strerror(errno));
		close(j->fd);
		goto fail;
	}
	if (j->pending)
		log_warn("journal: %zu records from a previous run wait for the database",
			 j->pending);
	free(dir);
	return j;
fail:
	free(dir);
	free(j->path);
	free(j);
	return NULL;
}

void journal_new_id(struct journal *j, char out[JOURNAL_ID_LEN])
{
	snprintf(out, JOURNAL_ID_LEN, "%u-%lld-%llu", j->b->ids.node, j->boot_us, ++j->counter);
}

int journal_append(struct journal *j, const char *kind, json_t *rec)
{
	char jid[JOURNAL_ID_LEN];

	journal_new_id(j, jid);
	return journal_append_id(j, jid, kind, rec);
}

int journal_append_id(struct journal *j, const char *jid, const char *kind, json_t *rec)
{
	json_t *line;
	char *text, *rtext;
	size_t len;
	struct record *r;
	int ok;

	line = json_pack("{s:s, s:s, s:O}", "jid", jid, "k", kind, "r", rec);
	text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	rtext = json_dumps(rec, JSON_COMPACT);
	if (!text || !rtext) {
		free(text);
		free(rtext);
		return -1;
	}
	len = strlen(text);
	text[len] = '\n'; /* replaces the NUL; length is known */
	ok = write(j->fd, text, len + 1) == (ssize_t)(len + 1) && fdatasync(j->fd) == 0;
	free(text);
	if (!ok) {
		log_error("journal: write to %s failed: %s", j->path, strerror(errno));
		free(rtext);
		return -1;
	}
	r = record_new(jid, kind, rtext);
	free(rtext);
	if (!r)
		return -1; /* durable on disk; reloaded at the next start */
	push(j, r);
	journal_pump(j);
	return 0;
}

size_t journal_pending(const struct journal *j)
{
	return j->pending;
}

static void applied(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct journal *j = arg;
	struct record *r = j->head;

	j->inflight--;
	if (err) {
		/* Only a lost connection lands here (the function catches the
		 * rest): resend from the oldest once it returns. */
		j->rewind = 1;
		if (!j->inflight) {
			j->unsent = j->head;
			j->rewind = 0;
		}
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "applied") != 0)
		log_warn("journal: record %s (%s): %s", r->jid, r->kind, PQgetvalue(res, 0, 0));
	j->head = r->next;
	if (!j->head)
		j->tail = NULL;
	j->pending--;
	free(r->rec);
	free(r);
	if (!j->pending) {
		if (ftruncate(j->fd, 0) != 0)
			log_error("journal: cannot empty %s: %s", j->path, strerror(errno));
		log_info("journal: every record is in the database");
		j->on_drained(b);
		return;
	}
	journal_pump(j);
}

void journal_pump(struct journal *j)
{
	if (!j->pending) {
		j->on_drained(j->b);
		return;
	}
	while (j->unsent && !j->rewind && j->inflight < JOURNAL_MAX_INFLIGHT &&
	       db_is_up(j->b->db)) {
		struct record *r = j->unsent;
		const char *params[3] = { r->jid, r->kind, r->rec };

		/* Count it first: a lost connection can call back before
		 * db_query returns. */
		j->inflight++;
		j->unsent = r->next;
		if (db_query(j->b->db, "SELECT tocsin_journal_apply($1, $2, $3::jsonb)", 3, params,
			     applied, j)) {
			j->inflight--;
			j->unsent = r;
			return;
		}
	}
}

void journal_free(struct journal *j)
{
	if (!j)
		return;
	if (j->pending)
		log_warn("journal: stopping with %zu records kept in %s for the next start",
			 j->pending, j->path);
	while (j->head) {
		struct record *r = j->head;
		j->head = r->next;
		free(r->rec);
		free(r);
	}
	close(j->fd);
	free(j->path);
	free(j);
}
