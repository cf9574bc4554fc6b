/* db.c: asynchronous PostgreSQL on the lws loop (see db.h).
 *
 * States: DOWN (waiting to retry) -> CONNECTING (PQconnectPoll driven by
 * the adopted socket) -> UP (pipeline mode). Jobs wait in `queued` until
 * sent, then in `inflight` until their PGRES_PIPELINE_SYNC arrives. */
#include "db.h"
#include "broker.h"
#include "loop_wake.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DB_MAX_INFLIGHT 512
#define DB_RETRY_MIN_US (250 * 1000)
#define DB_RETRY_MAX_US (5 * 1000 * 1000)

enum db_state { DB_DOWN, DB_CONNECTING, DB_UP };

struct db_job {
	struct db_job *next;
	db_result_fn cb;
	void *arg;
	PGresult *res;      /* the statement's first result */
	int nparams;
	char *sql;          /* owned, with the params in the same block */
	const char **params;
};

struct db {
	struct broker *b;
	char *conninfo;
	char *name;                       /* label in the log ("database") */
	char *app_name;                   /* application_name: "tocsind <name>" */
	void (*on_up)(struct broker *b);
	db_notify_fn on_notify;           /* NULL: notifications are dropped */
	void (*on_down)(struct broker *b);
	PGconn *conn;
	struct lws *raw;          /* adopted dup of PQsocket(), NULL when none */
	enum db_state state;
	PostgresPollingStatusType poll_want;
	struct db_job *queued, *queued_tail;
	struct db_job *inflight, *inflight_tail;
	size_t n_queued, n_inflight;
	lws_sorted_usec_list_t sul_retry;
	lws_sorted_usec_list_t sul_flush; /* re-asks for POLLOUT (see pollout_later) */
	int want_write;                   /* libpq has output the socket did not take */
	int64_t retry_us;
	int logged_down;
};

static void job_finish(struct db *db, struct db_job *j, const struct db_error *err)
{
	if (!err && j->res && (PQresultStatus(j->res) == PGRES_TUPLES_OK ||
			       PQresultStatus(j->res) == PGRES_COMMAND_OK)) {
		j->cb(db->b, j->arg, j->res, NULL);
	} else {
		struct db_error e = { 0 };
		if (err) {
			e = *err;
		} else if (j->res) {
			const char *s = PQresultErrorField(j->res, PG_DIAG_SQLSTATE);
			const char *m = PQresultErrorField(j->res, PG_DIAG_MESSAGE_PRIMARY);
			const char *c = PQresultErrorField(j->res, PG_DIAG_COLUMN_NAME);
			snprintf(e.sqlstate, sizeof e.sqlstate, "%s", s ? s : "XX000");
			snprintf(e.message, sizeof e.message, "%s",
				 m ? m : PQresStatus(PQresultStatus(j->res)));
			snprintf(e.column, sizeof e.column, "%s", c ? c : "");
		} else {
			snprintf(e.sqlstate, sizeof e.sqlstate, "XX000");
			snprintf(e.message, sizeof e.message, "no result");
		}
		j->cb(db->b, j->arg, NULL, &e);
	}
	PQclear(j->res);
	free(j->sql);
	free(j);
}

/* Fails every queued and in-flight job: their outcome is unknown to the
 * caller only for in-flight ones, which the message says. */
static void fail_all(struct db *db, const char *why)
{
	struct db_error e = { .lost = 1 };
	struct db_job *j;

	snprintf(e.message, sizeof e.message, "%s", why);
	while ((j = db->inflight)) {
		db->inflight = j->next;
		db->n_inflight--;
		job_finish(db, j, &e);
	}
	db->inflight_tail = NULL;
	while ((j = db->queued)) {
		db->queued = j->next;
		db->n_queued--;
		job_finish(db, j, &e);
	}
	db->queued_tail = NULL;
}

static void retry_cb(lws_sorted_usec_list_t *sul);

/* Closes the adopted socket later (lws owns it); its callbacks, which may
 * still come, find no struct db on it and are ignored. */
static void let_go_of_socket(struct db *db)
{
	struct lws *raw = db->raw;

	if (!raw)
		return;
	db->raw = NULL;
	lws_set_opaque_user_data(raw, NULL);
	lws_set_timeout(raw, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

/* Drops the connection and schedules a new attempt with back-off. */
static void go_down(struct db *db, const char *why)
{
	int was_up = db->state == DB_UP;

	if (!db->logged_down || was_up)
		log_error("%s: %s", db->name, why);
	db->logged_down = 1;
	db->state = DB_DOWN;
	let_go_of_socket(db);
	if (db->conn) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	fail_all(db, was_up ? "database connection lost" : "database not connected");
	if (was_up && db->on_down)
		db->on_down(db->b);
	db->retry_us = db->retry_us ? db->retry_us * 2 : DB_RETRY_MIN_US;
	if (db->retry_us > DB_RETRY_MAX_US)
		db->retry_us = DB_RETRY_MAX_US;
	if (!db->b->stopping)
		loop_wake_timer(db->b->ctx, &db->sul_retry, retry_cb, db->retry_us);
}

static int adopt_socket(struct db *db)
{
	lws_sock_file_fd_type fd;
	int dupfd = dup(PQsocket(db->conn));

	if (dupfd < 0)
		return -1;
	fd.filefd = dupfd;
	db->raw = lws_adopt_descriptor_vhost(db->b->vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
					     "tocsin-db", NULL);
	if (!db->raw) {
		close(dupfd);
		return -1;
	}
	lws_set_opaque_user_data(db->raw, db);
	return 0;
}

void db_start(struct db *db)
{
	const char *const keys[] = { "dbname", "fallback_application_name", NULL };
	const char *const values[] = { db->conninfo, db->app_name, NULL };

	if (db->state != DB_DOWN || db->b->stopping)
		return;
	/* expand_dbname: conninfo is a whole connection string or URL */
	db->conn = PQconnectStartParams(keys, values, 1);
	if (!db->conn || PQstatus(db->conn) == CONNECTION_BAD) {
		go_down(db, db->conn ? PQerrorMessage(db->conn) : "out of memory");
		return;
	}
	if (adopt_socket(db)) {
		go_down(db, "cannot watch the database socket");
		return;
	}
	db->state = DB_CONNECTING;
	db->poll_want = PGRES_POLLING_WRITING;
	lws_callback_on_writable(db->raw);
}

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	struct db *db = lws_container_of(sul, struct db, sul_retry);
	db_start(db);
}

/* Sends queued jobs, each as its own pipeline segment. */
static void send_queued(struct db *db)
{
	struct db_job *j;

	while (db->state == DB_UP && (j = db->queued) && db->n_inflight < DB_MAX_INFLIGHT) {
		if (!PQsendQueryParams(db->conn, j->sql, j->nparams, NULL, j->params, NULL, NULL,
				       0) ||
		    !PQpipelineSync(db->conn)) {
			go_down(db, PQerrorMessage(db->conn));
			return;
		}
		db->queued = j->next;
		if (!db->queued)
			db->queued_tail = NULL;
		db->n_queued--;
		j->next = NULL;
		if (db->inflight_tail)
			db->inflight_tail->next = j;
		else
			db->inflight = j;
		db->inflight_tail = j;
		db->n_inflight++;
	}
	if (db->state == DB_UP) {
		int r = PQflush(db->conn);
		db->want_write = r > 0;
		if (r < 0)
			go_down(db, PQerrorMessage(db->conn));
		else if (r > 0)
			lws_callback_on_writable(db->raw);
	}
}

static void flush_cb(lws_sorted_usec_list_t *sul)
{
	struct db *db = lws_container_of(sul, struct db, sul_flush);

	if (db->state == DB_UP && db->raw)
		send_queued(db);
}

/* lws' raw-file role clears POLLOUT after RAW_WRITEABLE_FILE returns, so a
 * lws_callback_on_writable() made inside that callback is lost: a query
 * larger than the socket buffer would then wait for some other traffic.
 * Ask again from a timer, outside the callback. */
static void pollout_later(struct db *db)
{
	if (db->state == DB_UP && db->want_write)
		loop_wake_timer(db->b->ctx, &db->sul_flush, flush_cb, 1);
}

/* Reads every complete result. A job is done at its PIPELINE_SYNC; the
 * NULL that ends each statement's results needs no action. */
static void read_results(struct db *db)
{
	int nulls = 0;

	while (db->inflight && !PQisBusy(db->conn)) {
		PGresult *r = PQgetResult(db->conn);
		struct db_job *j = db->inflight;

		if (!r) {
			if (++nulls > 1)
				break; /* nothing more is ready */
			continue;
		}
		nulls = 0;
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			db->inflight = j->next;
			if (!db->inflight)
				db->inflight_tail = NULL;
			db->n_inflight--;
			job_finish(db, j, NULL);
			continue;
		}
		if (!j->res)
			j->res = r;
		else
			PQclear(r);
	}
}

/* Hands each notification that arrived to the hook, while the connection
 * stays up (a hook may make it go down). */
static void read_notifications(struct db *db)
{
	PGnotify *n;

	while (db->state == DB_UP && (n = PQnotifies(db->conn))) {
		if (db->on_notify)
			db->on_notify(db->b, n->relname, n->extra, n->be_pid);
		PQfreemem(n);
	}
}

static void on_connected(struct db *db)
{
	if (PQsetnonblocking(db->conn, 1) || !PQenterPipelineMode(db->conn)) {
		go_down(db, "cannot enter pipeline mode");
		return;
	}
	db->state = DB_UP;
	db->retry_us = 0;
	db->logged_down = 0;
	log_info("%s: connected (server %d)", db->name, PQserverVersion(db->conn));
	if (db->on_up)
		db->on_up(db->b);
	send_queued(db);
}

static void connect_poll(struct db *db)
{
	int fd_before = PQsocket(db->conn);

	db->poll_want = PQconnectPoll(db->conn);
	if (db->poll_want == PGRES_POLLING_FAILED) {
		go_down(db, PQerrorMessage(db->conn));
		return;
	}
	if (PQsocket(db->conn) != fd_before) {
		/* libpq moved to another host or address: watch the new socket. */
		let_go_of_socket(db);
		if (adopt_socket(db)) {
			go_down(db, "cannot watch the database socket");
			return;
		}
	}
	if (db->poll_want == PGRES_POLLING_OK)
		on_connected(db);
	else if (db->poll_want == PGRES_POLLING_WRITING)
		lws_callback_on_writable(db->raw);
}

int db_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct db *db = lws_get_opaque_user_data(wsi);

	if (!db || wsi != db->raw)
		return 0; /* a socket we have already let go of */
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (db->state == DB_CONNECTING) {
			if (db->poll_want == PGRES_POLLING_READING)
				connect_poll(db);
			break;
		}
		if (!PQconsumeInput(db->conn)) {
			go_down(db, PQerrorMessage(db->conn));
			break;
		}
		read_results(db);
		read_notifications(db);
		send_queued(db);
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (db->state == DB_CONNECTING) {
			if (db->poll_want == PGRES_POLLING_WRITING)
				connect_poll(db);
			break;
		}
		send_queued(db);
		pollout_later(db);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		db->raw = NULL;
		go_down(db, "database socket closed");
		break;
	default:
		break;
	}
	return 0;
}

struct db *db_new(struct broker *b, const char *conninfo, const char *name,
		  void (*on_up)(struct broker *b))
{
	struct db *db = calloc(1, sizeof *db);

	if (!db)
		return NULL;
	db->b = b;
	db->on_up = on_up;
	db->conninfo = strdup(conninfo);
	db->name = strdup(name);
	db->app_name = malloc(strlen(name) + sizeof "tocsind ");
	if (!db->conninfo || !db->name || !db->app_name) {
		free(db->conninfo);
		free(db->name);
		free(db->app_name);
		free(db);
		return NULL;
	}
	sprintf(db->app_name, "tocsind %s", name);
	return db;
}

int db_query(struct db *db, const char *sql, int nparams, const char *const *params,
	     db_result_fn cb, void *arg)
{
	size_t need = strlen(sql) + 1, off;
	struct db_job *j;
	char *block;

	if (db->state != DB_UP)
		return -1;
	for (int i = 0; i < nparams; i++)
		need += params[i] ? strlen(params[i]) + 1 : 0;
	j = calloc(1, sizeof *j + (size_t)nparams * sizeof(char *));
	block = malloc(need);
	if (!j || !block) {
		free(j);
		free(block);
		return -1;
	}
	j->params = (const char **)(j + 1);
	off = strlen(sql) + 1;
	memcpy(block, sql, off);
	for (int i = 0; i < nparams; i++) {
		if (!params[i]) {
			j->params[i] = NULL;
			continue;
		}
		size_t n = strlen(params[i]) + 1;
		memcpy(block + off, params[i], n);
		j->params[i] = block + off;
		off += n;
	}
	j->sql = block;
	j->nparams = nparams;
	j->cb = cb;
	j->arg = arg;
	if (db->queued_tail)
		db->queued_tail->next = j;
	else
		db->queued = j;
	db->queued_tail = j;
	db->n_queued++;
	send_queued(db);
	return 0;
}

int db_is_up(const struct db *db)
{
	return db->state == DB_UP;
}

int db_backend_pid(const struct db *db)
{
	return db && db->state == DB_UP ? PQbackendPID(db->conn) : 0;
}

void db_on_notify(struct db *db, db_notify_fn fn)
{
	db->on_notify = fn;
}

void db_on_down(struct db *db, void (*fn)(struct broker *b))
{
	db->on_down = fn;
}

struct db *db_up_or(struct db *preferred, struct db *fallback)
{
	return db_is_up(preferred) ? preferred : fallback;
}

size_t db_outstanding(const struct db *db)
{
	return db->n_queued + db->n_inflight;
}

void db_free(struct db *db)
{
	if (!db)
		return;
	lws_sul_cancel(&db->sul_retry);
	lws_sul_cancel(&db->sul_flush);
	fail_all(db, "broker stopping");
	let_go_of_socket(db);
	if (db->conn)
		PQfinish(db->conn);
	free(db->conninfo);
	free(db->name);
	free(db->app_name);
	free(db);
}

void db_array_add(char *buf, size_t *len, size_t i, const char *value)
{
	*len += (size_t)sprintf(buf + *len, "%s%s", i ? "," : "{", value);
}

void db_array_end(char *buf, size_t *len)
{
	memcpy(buf + *len, "}", 2);
	*len += 1;
}
