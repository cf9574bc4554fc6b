/* db.h: the broker's asynchronous PostgreSQL connections.
 *
 * Each struct db is one libpq connection in non-blocking pipeline mode whose socket (a dup)
 * is adopted into the libwebsockets loop, so no call here ever blocks the
 * loop. Each query is its own pipeline segment (query + sync), hence its
 * own transaction: one failing request never rolls back another, while
 * many requests are in flight at once. If the connection drops, every
 * queued and in-flight query fails with err->lost set and the module
 * reconnects with back-off. A connection whose server stops answering is
 * lost the same way (db_new's answer_ms), so that what waits on it takes
 * its lost path (the journal) instead of waiting for ever.
 *
 * Runs on the lws service thread only. */
#ifndef TOCSIN_DB_H
#define TOCSIN_DB_H

#include <libpq-fe.h>
#include <libwebsockets.h>
#include <stddef.h>

struct broker;
struct db;

struct db_error {
	int lost;            /* 1: no connection, or lost with the query in flight */
	char sqlstate[6];    /* e.g. "TS404"; "" when lost */
	char message[256];
	char column[64];     /* PG_DIAG_COLUMN_NAME: the field our functions blame */
};

/* Called exactly once per query: res is the query's result (valid only
 * during the call) and err NULL, or res NULL and err set. */
typedef void (*db_result_fn)(struct broker *b, void *arg, PGresult *res,
			     const struct db_error *err);

/* name labels the connection in the log ("database") and, as "tocsind
 * <name>", in pg_stat_activity's application_name unless conninfo sets
 * one; on_up, when not NULL, runs each time the connection is made.
 * answer_ms: with queries in flight, the server may be silent that long
 * before the connection is lost (the watchdog, on the monotonic clock);
 * the server cancels a statement at three quarters of it
 * (statement_timeout) and a lock wait at half (lock_timeout), and such a
 * cancellation loses the connection too. */
struct db *db_new(struct broker *b, const char *conninfo, const char *name, int answer_ms,
		  void (*on_up)(struct broker *b));
/* a and b reach the same database: each, on connecting, also ends the
 * backends that the other's lost connections left running. */
void db_pair(struct db *a, struct db *b);
/* Begins connecting; progress happens on the loop. */
void db_start(struct db *db);
/* Queues a query with text parameters (copied). Returns 0, or -1 when the
 * database is not connected (nothing queued, cb not called). */
int db_query(struct db *db, const char *sql, int nparams, const char *const *params,
	     db_result_fn cb, void *arg);
int db_is_up(const struct db *db);
/* The server process of the connection (PQbackendPID) while it is up, 0
 * otherwise: a notification from it is this broker's own (peers.c). */
int db_backend_pid(const struct db *db);
/* Hears each notification (LISTEN) the connection receives: channel and
 * payload valid only during the call; be_pid the notifying server
 * process. */
typedef void (*db_notify_fn)(struct broker *b, const char *channel, const char *payload,
			     int be_pid);
void db_on_notify(struct db *db, db_notify_fn fn);
/* Runs each time the connection, having been up, goes down. */
void db_on_down(struct db *db, void (*fn)(struct broker *b));
/* preferred while it is up, otherwise fallback (up or not): the broker's
 * two connections reach the same database, and each takes the other's
 * work while that one is down. */
struct db *db_up_or(struct db *preferred, struct db *fallback);
/* Queries queued or in flight. */
size_t db_outstanding(const struct db *db);
/* Fails what is outstanding (err->lost) and closes the connection. */
void db_free(struct db *db);

/* Appends value as element i of a PostgreSQL array literal being built in
 * buf ("{" before the first element, "," before the others); the caller
 * sized buf for every element and the closing "}" and NUL. */
void db_array_add(char *buf, size_t *len, size_t i, const char *value);
/* Ends the literal begun by db_array_add: "}" and a NUL. */
void db_array_end(char *buf, size_t *len);

/* The lws protocol callback for the adopted sockets ("tocsin-db"): each
 * carries its struct db as the wsi's opaque user data. */
int db_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len);

#endif
