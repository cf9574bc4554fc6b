/* db.c: asynchronous PostgreSQL on the lws loop (see db.h).
 *
 * States: DOWN (waiting to retry) -> CONNECTING (PQconnectPoll driven by
 * the adopted socket) -> UP (pipeline mode). Jobs wait in `queued` until
 * sent, then in `inflight` until their PGRES_PIPELINE_SYNC arrives.
 *
 * A server that stops answering without closing anything (hung, stopped,
 * or behind a dead network path: TCP keeps such a socket open for many
 * minutes) is found by a watchdog on the monotonic clock: queries in
 * flight and not a byte received for the connection's answer_ms, or a
 * connection attempt unfinished after DB_CONNECT_LIMIT_US, and the
 * connection is lost as if it had dropped. The server is told, at
 * connect, to give up on a statement (statement_timeout, lock_timeout)
 * before the watchdog gives up on it; a statement it cancels loses the
 * connection too, as does one it aborts in a deadlock (must_redo). What a
 * lost connection had sent may still run when a hung server resumes: the
 * next connection ends those backends before anything else (end_lost).
 * Loop thread only. */
#include "db.h"
#include "broker.h"
#include "clock.h"
#include "loop_wake.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DB_MAX_INFLIGHT 512
#define DB_RETRY_MIN_US (250 * 1000)
#define DB_RETRY_MAX_US (5 * 1000 * 1000)
/* libpq's connect_timeout is not enforced for an asynchronous connect: a
 * stopped postmaster leaves PQconnectPoll waiting for ever (the kernel
 * accepts the connection into its backlog). A connection, authentication
 * included, takes 2 ms here, up to 140 ms while the e2e suite loads both
 * cores (the log says "connected in"); 5 s leaves room for a distant
 * server. */
#define DB_CONNECT_LIMIT_US (5 * 1000 * 1000)
#define DB_LOST_MAX 8 /* backends of lost connections remembered (end_lost) */

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
	char *options;                    /* startup options: the server's limits (options_for) */
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
	/* the watchdog (clock_mono_us) */
	int64_t answer_us;                /* patience with a silent server (db_new) */
	int64_t heard_us;                 /* last byte received, or when queries began to wait */
	int64_t connect_us;               /* when the connection attempt began */
	lws_sorted_usec_list_t sul_watch;
	int watching;                     /* sul_watch is scheduled */
	/* backends of connections lost with work in flight, to end (end_lost) */
	struct db *sibling;               /* the other connection to the database (db_pair) */
	int lost_pids[DB_LOST_MAX];
	int n_lost;
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

/* Remembers the backend of a connection lost with work in flight: a hung
 * server that resumes runs what it had received, unless told to go. */
static void remember_lost(struct db *db)
{
	int pid = PQbackendPID(db->conn);

	if (!pid || (!db->n_inflight && !db->want_write))
		return;
	if (db->n_lost == DB_LOST_MAX) {
		memmove(db->lost_pids, db->lost_pids + 1, (DB_LOST_MAX - 1) * sizeof *db->lost_pids);
		db->n_lost--;
	}
	db->lost_pids[db->n_lost++] = pid;
}

/* Drops the connection and schedules a new attempt with back-off. */
static void go_down(struct db *db, const char *why)
{
	int was_up = db->state == DB_UP;

	if (!db->logged_down || was_up)
		log_error("%s: %s", db->name, why);
	db->logged_down = 1;
	db->state = DB_DOWN;
	lws_sul_cancel(&db->sul_watch);
	db->watching = 0;
	let_go_of_socket(db);
	if (db->conn) {
		if (was_up)
			remember_lost(db);
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

static void watch_cb(lws_sorted_usec_list_t *sul);

static void watch(struct db *db, int64_t us)
{
	if (db->watching)
		return;
	db->watching = 1;
	loop_wake_timer(db->b->ctx, &db->sul_watch, watch_cb, us > 0 ? us : 1);
}

/* Bytes from the server wait in the socket: the loop, not the server, was
 * late (a long pass of the loop), and the read callback will take them. */
static int readable(struct db *db)
{
	struct pollfd p = { .fd = PQsocket(db->conn), .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* The watchdog: a connection attempt that has not finished, or queries in
 * flight with nothing received for answer_us, lose the connection. */
static void watch_cb(lws_sorted_usec_list_t *sul)
{
	struct db *db = lws_container_of(sul, struct db, sul_watch);
	int64_t now = clock_mono_us(), due;
	char why[128];

	db->watching = 0;
	if (db->state == DB_CONNECTING) {
		due = db->connect_us + DB_CONNECT_LIMIT_US;
		snprintf(why, sizeof why, "no connection within %lld s",
			 (long long)(DB_CONNECT_LIMIT_US / 1000000));
	} else if (db->state == DB_UP && db->n_inflight) {
		if (readable(db))
			db->heard_us = now;
		due = db->heard_us + db->answer_us;
		snprintf(why, sizeof why, "no answer for %lld ms with %zu queries in flight",
			 (long long)((now - db->heard_us) / 1000), db->n_inflight);
	} else {
		return;
	}
	if (now >= due)
		go_down(db, why);
	else
		watch(db, due - now);
}

/* Notices (a warning from pg_terminate_backend, say) into our log rather
 * than libpq's bare stderr. */
static void on_notice(void *arg, const char *message)
{
	struct db *db = arg;
	size_t n = strlen(message);

	while (n && message[n - 1] == '\n')
		n--;
	log_warn("%s: %.*s", db->name, (int)n, message);
}

/* Each key here is a default that the connection string may override
 * (libpq: an entry before the expanded dbname gives way to the string's).
 * TCP keepalives and tcp_user_timeout find a dead peer behind an idle
 * connection in about 25 s (ignored on a Unix socket); the watchdog finds
 * it sooner while queries wait. */
#define DB_TCP_KEYS "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", \
		    "tcp_user_timeout"
#define DB_TCP_VALUES "1", "10", "5", "3", "10000"

void db_start(struct db *db)
{
	const char *const keys[] = { DB_TCP_KEYS, "dbname", "fallback_application_name",
				     "options", NULL };
	const char *const values[] = { DB_TCP_VALUES, db->conninfo, db->app_name, db->options,
				       NULL };

	if (db->state != DB_DOWN || db->b->stopping)
		return;
	/* expand_dbname: conninfo is a whole connection string or URL */
	db->conn = PQconnectStartParams(keys, values, 1);
	if (!db->conn || PQstatus(db->conn) == CONNECTION_BAD) {
		go_down(db, db->conn ? PQerrorMessage(db->conn) : "out of memory");
		return;
	}
	PQsetNoticeProcessor(db->conn, on_notice, db);
	if (adopt_socket(db)) {
		go_down(db, "cannot watch the database socket");
		return;
	}
	db->state = DB_CONNECTING;
	db->poll_want = PGRES_POLLING_WRITING;
	db->connect_us = clock_mono_us();
	watch(db, DB_CONNECT_LIMIT_US);
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
		if (!db->n_inflight++) {
			/* the server's silence counts from now */
			db->heard_us = clock_mono_us();
			watch(db, db->answer_us);
		}
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

/* 1 when the server cancelled the statement (statement_timeout,
 * lock_timeout, or pg_cancel_backend: it is not keeping up) or aborted it
 * for another transaction's sake (a deadlock, 40P01; a serialization
 * failure, class 40: the work is sound and must be run again; the SQL
 * functions that catch errors item by item raise these). The
 * connection is lost as a silent one is, so that every job in flight
 * takes its lost path together. A job failed alone would leave later ones
 * answered on a live connection: the journal, which writes its records in
 * order and counts their answers in order (journal.c), would lose its
 * place, and an acknowledgement or status report would be refused for a
 * delay. */
static int must_redo(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s && (!strcmp(s, "57014") || !strcmp(s, "55P03") || !strncmp(s, "40", 2));
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
			if (must_redo(j->res)) {
				char why[320];
				snprintf(why, sizeof why, "the server gave up on a query (%s)",
					 PQresultErrorField(j->res, PG_DIAG_MESSAGE_PRIMARY));
				go_down(db, why);
				return;
			}
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

/* What end_lost asked to end. */
struct ending {
	struct db *db;
	int n;
	int pids[2 * DB_LOST_MAX];
};

/* Drops the pids of e from db's list. */
static void forget(struct db *db, const struct ending *e)
{
	int kept = 0;

	for (int i = 0; i < db->n_lost; i++) {
		int gone = 0;
		for (int k = 0; k < e->n; k++)
			gone |= db->lost_pids[i] == e->pids[k];
		if (!gone)
			db->lost_pids[kept++] = db->lost_pids[i];
	}
	db->n_lost = kept;
}

static void lost_ended(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct ending *e = arg;

	if (!err) {
		forget(e->db, e);
		if (e->db->sibling)
			forget(e->db->sibling, e);
	} else if (!err->lost) {
		log_warn("%s: cannot end the backends of lost connections: %s", e->db->name,
			 err->message);
	}
	free(e);
}

static void collect(struct ending *e, const struct db *from)
{
	for (int i = 0; from && i < from->n_lost; i++)
		e->pids[e->n++] = from->lost_pids[i];
}

/* Ends the backends of this connection's and its sibling's lost
 * connections before anything else is sent: a hung server that resumes
 * runs what they had received (a publish, a delivery batch) beside the
 * journal being written back, which then finds the same alert or batch
 * held by another transaction, and records a unique violation as a
 * refused journal record. A role may end its own backends; from
 * PostgreSQL 14, pg_terminate_backend waits until they are gone, for up
 * to half of answer_us (a backend that is still stopped keeps the signal
 * for when it runs). */
static void end_lost(struct db *db)
{
	static const char sql[] =
		"SELECT pg_terminate_backend(pid, $2::bigint) FROM pg_stat_activity"
		" WHERE pid = ANY ($1::integer[]) AND usename = current_user";
	static const char sql_13[] = /* no wait: ends them all the same */
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		" WHERE pid = ANY ($1::integer[]) AND usename = current_user";
	int waits = PQserverVersion(db->conn) >= 140000;
	char list[2 * DB_LOST_MAX * 12 + 3], wait[24], pid[12];
	const char *params[2] = { list, wait };
	size_t len = 0;
	struct ending *e;

	if (!db->n_lost && !(db->sibling && db->sibling->n_lost))
		return;
	e = calloc(1, sizeof *e);
	if (!e)
		return;
	e->db = db;
	collect(e, db);
	collect(e, db->sibling);
	for (int i = 0; i < e->n; i++) {
		snprintf(pid, sizeof pid, "%d", e->pids[i]);
		db_array_add(list, &len, (size_t)i, pid);
	}
	db_array_end(list, &len);
	snprintf(wait, sizeof wait, "%lld", (long long)(db->answer_us / 2000));
	if (db_query(db, waits ? sql : sql_13, waits ? 2 : 1, params, lost_ended, e))
		free(e);
}

static void on_connected(struct db *db)
{
	if (PQsetnonblocking(db->conn, 1) || !PQenterPipelineMode(db->conn)) {
		go_down(db, "cannot enter pipeline mode");
		return;
	}
	db->state = DB_UP;
	lws_sul_cancel(&db->sul_watch); /* the connect limit */
	db->watching = 0;
	db->retry_us = 0;
	db->logged_down = 0;
	log_info("%s: connected in %lld ms (server %d, backend %d)", db->name,
		 (long long)((clock_mono_us() - db->connect_us) / 1000), PQserverVersion(db->conn),
		 PQbackendPID(db->conn));
	end_lost(db);
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
		db->heard_us = clock_mono_us();
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

/* The server's own limits, as startup options: a statement is cancelled
 * at three quarters of answer_ms and a lock wait at half, so that the
 * server gives up on runaway work, and says why, before the watchdog gives
 * up on the server. The options of the connection string (or else
 * PGOPTIONS, which ours would hide) come after ours, and win (the last -c
 * of a name does). NULL when out of memory. */
static char *options_for(const char *conninfo, int answer_ms)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *theirs = getenv("PGOPTIONS") ? getenv("PGOPTIONS") : "";
	char *out;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, "options") && o->val)
			theirs = o->val;
	if (asprintf(&out, "-c statement_timeout=%d -c lock_timeout=%d%s%s", answer_ms * 3 / 4,
		     answer_ms / 2, *theirs ? " " : "", theirs) < 0)
		out = NULL;
	PQconninfoFree(opts);
	return out;
}

static void db_destroy(struct db *db)
{
	free(db->conninfo);
	free(db->name);
	free(db->app_name);
	free(db->options);
	free(db);
}

struct db *db_new(struct broker *b, const char *conninfo, const char *name, int answer_ms,
		  void (*on_up)(struct broker *b))
{
	struct db *db = calloc(1, sizeof *db);

	if (!db)
		return NULL;
	db->b = b;
	db->on_up = on_up;
	db->answer_us = (int64_t)answer_ms * 1000;
	db->conninfo = strdup(conninfo);
	db->name = strdup(name);
	db->app_name = malloc(strlen(name) + sizeof "tocsind ");
	db->options = options_for(conninfo, answer_ms);
	if (!db->conninfo || !db->name || !db->app_name || !db->options) {
		db_destroy(db);
		return NULL;
	}
	sprintf(db->app_name, "tocsind %s", name);
	return db;
}

void db_pair(struct db *a, struct db *b)
{
	a->sibling = b;
	b->sibling = a;
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
	lws_sul_cancel(&db->sul_watch);
	fail_all(db, "broker stopping");
	let_go_of_socket(db);
	if (db->conn)
		PQfinish(db->conn);
	if (db->sibling)
		db->sibling->sibling = NULL;
	db_destroy(db);
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
