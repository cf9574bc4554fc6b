/* journal.c: the local journal (see journal.h).
 *
 * One record per line: the BLAKE2b-128 of the record's JSON in hex, a
 * space, the JSON, a newline. A record is confirmed only once its whole
 * line is fdatasync'd; a write or sync that fails (a full disk, an I/O
 * error) cuts the file back to its last whole record and syncs that, so no
 * later record ever follows a fragment. On a full tmpfs a short write used
 * to leave the fragment: the next records were confirmed after it, and the
 * loader, stopping at the fragment, dropped them (issue 16: 5 of 12
 * confirmed alerts lost). The checksum makes each line check itself: the
 * loader skips a damaged record that good ones follow, saying so, and
 * drops only what follows the last good one (a torn tail, never
 * confirmed). Lines without a checksum (brokers before issue 16) load when
 * they parse. Loop thread only. */
#include "journal.h"
#include "broker.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The write-back sends runs of records, each run one statement and so one
 * transaction and one WAL flush. One record a transaction applied 189
 * records/s on this machine under load (the soak, issue 16), less than the
 * 370/s a steady stream of publishes, deliveries and acknowledgements adds
 * to the journal while it drains: the journal never emptied. A run is cut
 * in half when a statement is lost (statement_timeout on a busy server is
 * three quarters of db.c's answer deadline) and grows back by doubling.
 *
 * One run in flight: each run is its own transaction (a statement and its
 * Sync), so a run sent behind another runs whether or not that one
 * commits. With eight in flight, a run rolled back (cancelled by
 * statement_timeout, or a lock timeout raised at its commit) left the
 * runs queued behind it applied without it: an ack written before its publish was refused ("no
 * alert with id ...") and kept as refused, so the resend skipped it; the
 * 60-minute soak of 83510dd lost 16 acknowledgements so (e2e 88). */
#define JOURNAL_RUN_MAX 64        /* records in a run */
#define SUM_BYTES 16              /* BLAKE2b-128 of a record's JSON */
#define SUM_HEX (2 * SUM_BYTES)   /* as it starts the record's line */

struct record {
	struct record *next;
	char jid[48];
	char kind[16];
	char *rec;          /* owned: the record's JSON */
};

/* A publish from an adapter that the journal holds: its (adapter, seq),
 * from the record's adapter_id and adapter_seq, and the alert it was given. */
struct submission {
	int64_t adapter_id, seq, alert_id;
};

struct journal {
	struct broker *b;
	void (*on_drained)(struct broker *b); /* the hook given at open */
	char *path;
	int fd;
	struct record *head, *tail; /* pending, oldest first */
	struct record *unsent;      /* first record not yet sent */
	off_t size;                 /* the file up to the end of its last whole record */
	int dirty;                  /* a failed write may have left bytes after size */
	size_t pending;
	size_t run_len;             /* records of the run in flight (0: none) */
	size_t run_max;             /* records in the next run */
	unsigned long long counter;
	long long boot_us;
	/* the adapters' publishes held, until the journal is drained: a
	 * resend is answered from here (journal_submission), then from
	 * adapter_submissions, which replay fills in the publish's transaction */
	struct submission *subs;    /* owned */
	size_t n_subs, cap_subs;
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

/* Remembers the (adapter, seq) of a publish record that names them. */
static void note_submission(struct journal *j, const char *kind, json_t *rec)
{
	json_t *adapter = json_object_get(rec, "adapter_id");

	if (strcmp(kind, "publish") != 0 || !json_is_integer(adapter))
		return;
	if (j->n_subs == j->cap_subs) {
		size_t cap = j->cap_subs ? 2 * j->cap_subs : 16;
		struct submission *grown = realloc(j->subs, cap * sizeof *grown);
		if (!grown) {
			log_error("journal: out of memory: a resend of adapter %lld's publish would be "
				  "published again", (long long)json_integer_value(adapter));
			return;
		}
		j->subs = grown;
		j->cap_subs = cap;
	}
	j->subs[j->n_subs++] = (struct submission){
		json_integer_value(adapter), json_integer_value(json_object_get(rec, "adapter_seq")),
		json_integer_value(json_object_get(rec, "alert_id"))
	};
}

/* The checksum of a record's JSON, in hex (SUM_HEX characters and a NUL). */
static void checksum(const char *json, size_t len, char out[SUM_HEX + 1])
{
	unsigned char sum[SUM_BYTES];

	crypto_generichash(sum, sizeof sum, (const unsigned char *)json, len, NULL, 0);
	sodium_bin2hex(out, SUM_HEX + 1, sum, sizeof sum);
}

/* Takes one line of the journal (n bytes, its newline included) as a
 * pending record: 0, 1 when it is torn or damaged (no newline, a checksum
 * that does not hold, JSON that is not a record), -1 out of memory. */
static int load_line(struct journal *j, const char *line, size_t n)
{
	const char *json = line;
	size_t len = n - 1;
	json_t *obj, *r;
	struct record *rec = NULL;
	char *text, want[SUM_HEX + 1];

	if (n == 0 || line[n - 1] != '\n')
		return 1;
	if (line[0] != '{') { /* else a line from before the checksum */
		if (len < SUM_HEX + 1 || line[SUM_HEX] != ' ')
			return 1;
		json = line + SUM_HEX + 1;
		len -= SUM_HEX + 1;
		checksum(json, len, want);
		if (memcmp(want, line, SUM_HEX) != 0)
			return 1;
	}
	obj = json_loadb(json, len, 0, NULL);
	r = json_object_get(obj, "r");
	if (!json_is_string(json_object_get(obj, "jid")) ||
	    !json_is_string(json_object_get(obj, "k")) || !json_is_object(r)) {
		json_decref(obj);
		return 1;
	}
	text = json_dumps(r, JSON_COMPACT);
	if (text)
		rec = record_new(json_string_value(json_object_get(obj, "jid")),
				 json_string_value(json_object_get(obj, "k")), text);
	free(text);
	if (rec) {
		push(j, rec);
		note_submission(j, rec->kind, r);
	}
	json_decref(obj);
	return rec ? 0 : -1;
}

/* Loads the records of an existing journal. A damaged record that good
 * ones follow is skipped and said loudly (it may have been confirmed); what
 * follows the last good record is cut off (a torn line was never
 * confirmed to anyone). */
static int load(struct journal *j)
{
	FILE *f = fdopen(dup(j->fd), "r");
	char *line = NULL;
	size_t cap = 0, bad = 0;
	ssize_t n;
	off_t at = 0, good = 0, bad_at = 0;
	int rc = 0, torn = 0;

	if (!f)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		rc = load_line(j, line, (size_t)n);
		if (rc < 0)
			break;
		if (rc == 0) {
			if (bad)
				log_error("journal: %zu damaged record(s) at byte %lld of %s skipped: "
					  "what they held is lost", bad, (long long)bad_at, j->path);
			bad = 0;
			good = at + n;
		} else if (!bad++) {
			bad_at = at;
		}
		torn = line[n - 1] != '\n';
		at += n;
	}
	free(line);
	fclose(f);
	if (rc < 0 || ftruncate(j->fd, good) != 0)
		return -1;
	if (bad == 1 && torn)
		log_warn("journal: a torn record at the end of %s (%lld bytes, a write that never "
			 "finished, never confirmed) dropped", j->path, (long long)(at - good));
	else if (bad)
		log_error("journal: %zu damaged record(s) at the end of %s (from byte %lld) dropped: "
			  "what they held is lost", bad, j->path, (long long)bad_at);
	j->size = good;
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
	j->run_max = JOURNAL_RUN_MAX;
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

/* Cuts the file back to its last whole record and syncs that. 0, or -1
 * while it cannot (the journal then takes no record). */
static int cut_back(struct journal *j)
{
	if (ftruncate(j->fd, j->size) != 0 || fsync(j->fd) != 0) {
		log_error("journal: cannot cut %s back to its last whole record (%lld bytes): %s; "
			  "no record is taken until it can", j->path, (long long)j->size,
			  strerror(errno));
		j->dirty = 1;
		return -1;
	}
	j->dirty = 0;
	return 0;
}

/* Appends one line and syncs it, all or nothing: on a failed or short
 * write or sync the file is cut back to what it was. 0 or -1. */
static int write_line(struct journal *j, const char *buf, size_t len)
{
	size_t done = 0;
	int err = 0;

	if (j->dirty && cut_back(j))
		return -1;
	while (done < len && !err) {
		ssize_t n = write(j->fd, buf + done, len - done);
		if (n > 0)
			done += (size_t)n;
		else if (n == 0 || errno != EINTR)
			err = n == 0 ? ENOSPC : errno;
	}
	if (!err && fdatasync(j->fd) != 0)
		err = errno;
	if (!err) {
		j->size += (off_t)len;
		return 0;
	}
	log_error("journal: write to %s failed after %zu of %zu bytes: %s", j->path, done, len,
		  strerror(err));
	cut_back(j);
	return -1;
}

/* The line of a record: checksum, space, JSON, newline (malloc'd, its
 * length in *len), or NULL. */
static char *record_line(const char *jid, const char *kind, json_t *rec, size_t *len)
{
	json_t *obj = json_pack("{s:s, s:s, s:O}", "jid", jid, "k", kind, "r", rec);
	char *json = obj ? json_dumps(obj, JSON_COMPACT) : NULL, *line = NULL;
	size_t n = json ? strlen(json) : 0;

	json_decref(obj);
	if (json && (line = malloc(SUM_HEX + 1 + n + 1))) {
		char sum[SUM_HEX + 1];
		checksum(json, n, sum);
		memcpy(line, sum, SUM_HEX);
		line[SUM_HEX] = ' ';
		memcpy(line + SUM_HEX + 1, json, n);
		line[SUM_HEX + 1 + n] = '\n';
		*len = SUM_HEX + 1 + n + 1;
	}
	free(json);
	return line;
}

int journal_append_id(struct journal *j, const char *jid, const char *kind, json_t *rec)
{
	size_t len = 0;
	char *line = record_line(jid, kind, rec, &len), *rtext = json_dumps(rec, JSON_COMPACT);
	struct record *r;
	int ok;

	if (!line || !rtext) {
		free(line);
		free(rtext);
		return -1;
	}
	ok = write_line(j, line, len) == 0;
	free(line);
	if (!ok) {
		free(rtext);
		return -1;
	}
	r = record_new(jid, kind, rtext);
	free(rtext);
	if (!r)
		return -1; /* durable on disk; reloaded at the next start */
	push(j, r);
	note_submission(j, kind, rec);
	journal_pump(j);
	return 0;
}

size_t journal_pending(const struct journal *j)
{
	return j->pending;
}

int journal_submission(const struct journal *j, int64_t adapter_id, int64_t seq,
		       int64_t *alert_id)
{
	for (size_t i = j->n_subs; i-- > 0;) {
		if (j->subs[i].adapter_id == adapter_id && j->subs[i].seq == seq) {
			*alert_id = j->subs[i].alert_id;
			return 1;
		}
	}
	return 0;
}

/* Frees the oldest record, answered by the database with outcome. */
static void record_done(struct journal *j, const char *outcome)
{
	struct record *r = j->head;

	if (strcmp(outcome, "applied") != 0)
		log_warn("journal: record %s (%s): %s", r->jid, r->kind, outcome);
	j->head = r->next;
	if (!j->head)
		j->tail = NULL;
	j->pending--;
	free(r->rec);
	free(r);
}

static void applied(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct journal *j = arg;
	size_t n = j->run_len;

	j->run_len = 0;
	if (err || (size_t)PQntuples(res) != n) {
		/* Only a lost connection lands here (the function catches the
		 * rest): resend from the oldest once it returns, in shorter runs. */
		j->run_max = j->run_max > 1 ? j->run_max / 2 : 1;
		j->unsent = j->head;
		return;
	}
	for (size_t i = 0; i < n; i++)
		record_done(j, PQgetvalue(res, (int)i, 0));
	if (j->run_max < JOURNAL_RUN_MAX)
		j->run_max *= 2;
	if (!j->pending) {
		if (ftruncate(j->fd, 0) != 0)
			log_error("journal: cannot empty %s: %s", j->path, strerror(errno));
		else
			j->size = 0;
		j->n_subs = 0; /* adapter_submissions has them all now */
		log_info("journal: every record is in the database");
		j->on_drained(b);
		return;
	}
	journal_pump(j);
}

/* The next run from unsent: its ids and kinds as JSON arrays, its records
 * as one JSON array of the records' own texts, and the record after it in
 * *after; 0, or -1 out of memory. */
static int run_build(struct journal *j, size_t *n, char **ids, char **kinds, char **recs,
		     struct record **after)
{
	json_t *ja = json_array(), *ka = json_array();
	size_t len = 2;
	struct record *r = j->unsent;
	int rc = -1;

	*n = 0;
	*ids = *kinds = *recs = NULL;
	for (; r && *n < j->run_max; r = r->next, (*n)++) {
		if (!ja || !ka || json_array_append_new(ja, json_string(r->jid)) ||
		    json_array_append_new(ka, json_string(r->kind)))
			goto out;
		len += strlen(r->rec) + 1;
	}
	*after = r;
	*recs = malloc(len + 1);
	*ids = json_dumps(ja, JSON_COMPACT);
	*kinds = json_dumps(ka, JSON_COMPACT);
	if (!*recs || !*ids || !*kinds)
		goto out;
	char *w = *recs;
	*w++ = '[';
	r = j->unsent;
	for (size_t i = 0; i < *n; i++, r = r->next) {
		size_t l = strlen(r->rec);
		if (i)
			*w++ = ',';
		memcpy(w, r->rec, l);
		w += l;
	}
	*w++ = ']';
	*w = 0;
	rc = 0;
out:
	json_decref(ja);
	json_decref(ka);
	return rc;
}

/* Sends the next run, unless the database refuses it at once. */
static void run_send(struct journal *j)
{
	char *ids, *kinds, *recs;
	struct record *next;
	size_t n;

	if (run_build(j, &n, &ids, &kinds, &recs, &next) || !n)
		goto out;
	const char *params[3] = { ids, kinds, recs };
	/* Count it first: a lost connection can call back before
	 * db_query returns. */
	j->run_len = n;
	struct record *first = j->unsent;
	j->unsent = next;
	if (db_query(j->b->db,
		     "SELECT outcome FROM tocsin_journal_apply_run($1::jsonb, $2::jsonb, $3::jsonb)",
		     3, params, applied, j)) {
		j->run_len = 0;
		j->unsent = first;
	}
out:
	free(ids);
	free(kinds);
	free(recs);
}

void journal_pump(struct journal *j)
{
	if (!j->pending) {
		j->on_drained(j->b);
		return;
	}
	if (j->unsent && !j->run_len && db_is_up(j->b->db))
		run_send(j);
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
	free(j->subs);
	free(j->path);
	free(j);
}
