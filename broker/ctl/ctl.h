/* ctl.h: what tocsinctl's commands share (ctl.c).
 *
 * Each command lives in a ctl_<group>.c file as `int ctl_<group>_<name>(int
 * argc, char **argv)`, gets the arguments after its name, prints its own
 * --help, and returns one of the exit codes below. tocsinctl.c holds the
 * table of commands. */
#ifndef TOCSIN_CTL_H
#define TOCSIN_CTL_H

#include <libpq-fe.h>

#include "ctl_args.h"

/* Exit codes that scripts can rely on (also in `tocsinctl help`). */
enum {
	CTL_OK = 0,          /* done */
	CTL_FAILED = 1,      /* the operation was refused or found a problem */
	CTL_USAGE = 2,       /* bad arguments */
	CTL_UNREACHABLE = 3, /* the database (or broker) could not be reached */
	CTL_NOT_FOUND = 4,   /* the named thing does not exist */
};

/* Options most commands take: --database URL (default DATABASE_URL) and
 * --json (output a JSON array of objects instead of a table). */
struct ctl_opts {
	const char *database;
	int json;
};

/* Fills o from the environment, then removes --database URL, --json and
 * --help from argv (compacting it) and returns the new argc. Sets *help
 * when --help or -h was given. Returns -1 (after a message naming cmd)
 * when --database has no value. */
int ctl_take_common(const char *cmd, struct ctl_opts *o, int argc, char **argv, int *help);

/* Connects to o->database; NULL after printing why (exit CTL_UNREACHABLE,
 * or CTL_USAGE when no database was named: see ctl_connect_status). */
PGconn *ctl_connect(const char *cmd, const struct ctl_opts *o, int *exit_code);

/* Prints a result as an aligned text table (header, one line per row) or,
 * with json set, as a JSON array of objects; a column whose name ends in
 * "_json" is embedded as JSON. Returns CTL_OK. */
int ctl_print_result(PGresult *res, int json);

/* Runs one parameterised statement and prints its rows (ctl_print_result).
 * A failed statement prints the server's message; SQLSTATE TS404 gives
 * CTL_NOT_FOUND, TS403/TS409/TS422 and other errors CTL_FAILED. */
int ctl_exec_print(const char *cmd, PGconn *conn, const char *sql, int n,
		   const char *const *params, int json);

/* Runs one statement and returns its result (caller PQclear()s) or NULL
 * after printing the error and setting *exit_code as ctl_exec_print does. */
PGresult *ctl_exec(const char *cmd, PGconn *conn, const char *sql, int n,
		   const char *const *params, int *exit_code);

/* What a command body gets once its options are parsed and the database
 * is connected (ctl_run). */
struct ctl_run {
	const char *cmd;
	PGconn *conn;
	struct ctl_opts o;
	struct ctl_arg *args;
	const char *pos[2];
	int npos;
	char actor[160]; /* who to name in the audit (ctl_args_actor) */
};

/* The frame around a database command, so that every command behaves alike
 * for scripts: takes the common options, prints help for --help, parses
 * args with min..max positional words (at most 2), connects, runs body and
 * disconnects. Returns body's exit code or the frame's own (usage,
 * unreachable). */
int ctl_run(const char *cmd, const char *help, int argc, char **argv, struct ctl_arg *args,
	    int min, int max, int (*body)(struct ctl_run *r));

/* Reads a file of at most max bytes into a NUL-terminated buffer (caller
 * frees); "-" reads standard input. NULL after printing why. */
char *ctl_read_file(const char *cmd, const char *path, size_t max, size_t *len);

#endif
