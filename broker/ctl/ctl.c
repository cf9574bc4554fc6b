/* ctl.c: option parsing, connecting and printing for tocsinctl's
 * commands, so that every command behaves the same for scripts. */
#include "ctl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_take_common(const char *cmd, struct ctl_opts *o, int argc, char **argv, int *help)
{
	int out = 0;

	o->database = getenv("DATABASE_URL");
	o->json = 0;
	*help = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--database")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "tocsinctl %s: --database needs a URL\n", cmd);
				return -1;
			}
			o->database = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			o->json = 1;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			*help = 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	return out;
}

PGconn *ctl_connect(const char *cmd, const struct ctl_opts *o, int *exit_code)
{
	PGconn *conn;

	if (!o->database || !*o->database) {
		fprintf(stderr, "tocsinctl %s: no database: give --database URL or set DATABASE_URL\n",
			cmd);
		*exit_code = CTL_USAGE;
		return NULL;
	}
	conn = PQconnectdb(o->database);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "tocsinctl %s: cannot connect: %s", cmd, PQerrorMessage(conn));
		PQfinish(conn);
		*exit_code = CTL_UNREACHABLE;
		return NULL;
	}
	return conn;
}

/* PostgreSQL type OIDs (pg_type.h is a server header; these never change). */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_JSON = 114,
       OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700, OID_JSONB = 3802 };

/* One value as JSON, typed by its column so that scripts get numbers,
 * booleans and nested JSON rather than strings of them. */
static json_t *typed_value(PGresult *res, int row, int col, int as_json)
{
	const char *val = PQgetvalue(res, row, col);
	Oid type = PQftype(res, col);

	if (PQgetisnull(res, row, col))
		return json_null();
	if (as_json || type == OID_JSON || type == OID_JSONB)
		return json_loads(val, JSON_DECODE_ANY, NULL);
	switch (type) {
	case OID_BOOL:
		return json_boolean(val[0] == 't');
	case OID_INT2: case OID_INT4: case OID_INT8:
		return json_integer(strtoll(val, NULL, 10));
	case OID_FLOAT4: case OID_FLOAT8: case OID_NUMERIC:
		return json_real(strtod(val, NULL));
	default:
		return json_string(val);
	}
}

/* One row as a JSON object; a column named "x_json" is embedded as x. */
static json_t *row_object(PGresult *res, int row)
{
	json_t *obj = json_object();

	for (int c = 0; c < PQnfields(res); c++) {
		const char *name = PQfname(res, c);
		size_t nlen = strlen(name);
		int as_json = nlen > 5 && !strcmp(name + nlen - 5, "_json");
		json_t *v = typed_value(res, row, c, as_json);
		char key[128];

		snprintf(key, sizeof key, "%.*s", (int)(as_json ? nlen - 5 : nlen), name);
		json_object_set_new(obj, key, v ? v : json_null());
	}
	return obj;
}

static void print_json(PGresult *res)
{
	json_t *arr = json_array();
	char *text;

	for (int r = 0; r < PQntuples(res); r++)
		json_array_append_new(arr, row_object(res, r));
	text = json_dumps(arr, JSON_INDENT(2));
	if (text)
		puts(text);
	free(text);
	json_decref(arr);
}

/* Column widths are capped so that one long field does not push the rest
 * off the screen; the full value is in --json. */
#define CTL_COL_MAX 60

static void print_table(PGresult *res)
{
	int nf = PQnfields(res), nr = PQntuples(res);
	int *w = calloc((size_t)nf + 1, sizeof *w);

	if (!w)
		return;
	for (int c = 0; c < nf; c++) {
		w[c] = (int)strlen(PQfname(res, c));
		for (int r = 0; r < nr; r++)
			if (PQgetlength(res, r, c) > w[c])
				w[c] = PQgetlength(res, r, c);
		if (w[c] > CTL_COL_MAX)
			w[c] = CTL_COL_MAX;
	}
	for (int c = 0; c < nf; c++)
		printf("%-*.*s%s", w[c], w[c], PQfname(res, c), c + 1 < nf ? "  " : "\n");
	for (int r = 0; r < nr; r++)
		for (int c = 0; c < nf; c++)
			printf("%-*.*s%s", w[c], w[c], PQgetisnull(res, r, c) ? "-" : PQgetvalue(res, r, c),
			       c + 1 < nf ? "  " : "\n");
	printf("(%d row%s)\n", nr, nr == 1 ? "" : "s");
	free(w);
}

int ctl_print_result(PGresult *res, int json)
{
	if (json)
		print_json(res);
	else
		print_table(res);
	return CTL_OK;
}

PGresult *ctl_exec(const char *cmd, PGconn *conn, const char *sql, int n,
		   const char *const *params, int *exit_code)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	const char *state;

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*exit_code = CTL_OK;
		return res;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	fprintf(stderr, "tocsinctl %s: %s", cmd, PQresultErrorMessage(res));
	*exit_code = state && !strcmp(state, "TS404") ? CTL_NOT_FOUND
		   : PQstatus(conn) == CONNECTION_BAD ? CTL_UNREACHABLE : CTL_FAILED;
	PQclear(res);
	return NULL;
}

int ctl_exec_print(const char *cmd, PGconn *conn, const char *sql, int n,
		   const char *const *params, int json)
{
	int rc;
	PGresult *res = ctl_exec(cmd, conn, sql, n, params, &rc);

	if (!res)
		return rc;
	rc = ctl_print_result(res, json);
	PQclear(res);
	return rc;
}

char *ctl_read_file(const char *cmd, const char *path, size_t max, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "tocsinctl %s: cannot open %s: %m\n", cmd, path);
		return NULL;
	}
	buf = malloc(max + 1);
	n = buf ? fread(buf, 1, max + 1, f) : 0;
	if (f != stdin)
		fclose(f);
	if (!buf || n > max) {
		fprintf(stderr, "tocsinctl %s: %s is larger than %zu bytes\n", cmd, path, max);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int ctl_run(const char *cmd, const char *help, int argc, char **argv, struct ctl_arg *args,
	    int min, int max, int (*body)(struct ctl_run *r))
{
	struct ctl_run r = { .cmd = cmd, .args = args };
	int want_help, rc;

	argc = ctl_take_common(cmd, &r.o, argc, argv, &want_help);
	if (argc < 0)
		return CTL_USAGE;
	if (want_help) {
		fputs(help, stdout);
		return CTL_OK;
	}
	r.npos = ctl_args_parse(cmd, argc, argv, args, r.pos, min, max);
	if (r.npos < 0)
		return CTL_USAGE;
	ctl_args_actor(ctl_args_get(args, "--actor"), r.actor, sizeof r.actor);
	r.conn = ctl_connect(cmd, &r.o, &rc);
	if (!r.conn)
		return rc;
	PQsetErrorVerbosity(r.conn, PQERRORS_TERSE); /* the message, not the PL/pgSQL stack */
	rc = body(&r);
	PQfinish(r.conn);
	return rc;
}
