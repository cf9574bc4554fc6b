/* ctl_audit.c: tocsinctl audit verify (walks the audit trail's seal chain,
 * ctl_audit_chain.c; or an archive's, ctl_audit_archive.c)
 * and tocsinctl audit export (the DPA 2018 s.62 logs for an inspector, as
 * CSV or JSON: docs/audit.md). */
#include "ctl.h"
#include "ctl_args.h"
#include "ctl_audit_chain.h"
#include "ctl_commands.h"

#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char verify_help[] =
	"usage: tocsinctl audit verify [--database URL] [--audit-key FILE]\n"
	"       tocsinctl audit verify --archive FILE [--audit-key FILE]\n"
	"Recomputes the audit trail's seal chain and reports the first row\n"
	"edited, deleted or inserted behind the broker's back; with --archive,\n"
	"that of an archive (tocsinctl audit archive), offline, without a\n"
	"database. Defaults: DATABASE_URL, TOCSIN_AUDIT_KEY or\n"
	"./var/secrets/audit.key.\n"
	"Exit: 0 intact, 1 broken, 2 usage, 3 cannot connect.\n";

/* The walk over the database's rows and seals. */
static int verify_database(const char *url, const char *keyfile)
{
	const char *no_limit[1] = { NULL };
	struct ctl_audit_chain c;
	int rc = 0;
	PGconn *conn = PQconnectdb(url);
	PGresult *res = NULL;

	if (ctl_audit_chain_start(&c, keyfile, 0)) {
		rc = 2;
		goto out;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "tocsinctl: %s", PQerrorMessage(conn));
		rc = 3;
		goto out;
	}
	res = PQexecParams(conn, ctl_audit_chain_sql, 1, NULL, no_limit, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "tocsinctl: %s", PQerrorMessage(conn));
		rc = 3;
		goto out;
	}
	if (PQntuples(res) && !PQgetisnull(res, 0, 4))
		c.last_sealed = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	for (int i = 0; i < PQntuples(res) && !rc; i++)
		rc = ctl_audit_chain_step(&c, strtoll(PQgetvalue(res, i, 0), NULL, 10),
					  strcmp(PQgetvalue(res, i, 1), "t") ? NULL : PQgetvalue(res, i, 2),
					  (size_t)PQgetlength(res, i, 2),
					  PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3));
out:
	ctl_audit_chain_end(&c, rc);
	PQclear(res);
	PQfinish(conn);
	return rc;
}

int ctl_audit_verify(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL"), *keyfile = getenv("TOCSIN_AUDIT_KEY");
	const char *archive = NULL;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--database") && i + 1 < argc)
			url = argv[++i];
		else if (!strcmp(argv[i], "--audit-key") && i + 1 < argc)
			keyfile = argv[++i];
		else if (!strcmp(argv[i], "--archive") && i + 1 < argc)
			archive = argv[++i];
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(verify_help, stdout);
			return 0;
		} else {
			fprintf(stderr, "tocsinctl audit verify: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!keyfile)
		keyfile = "./var/secrets/audit.key";
	if (archive)
		return ctl_audit_archive_verify(archive, keyfile);
	if (!url) {
		fprintf(stderr, "tocsinctl: no database: give --database or set DATABASE_URL\n");
		return 2;
	}
	return verify_database(url, keyfile);
}


/* ------------------------------------------------------------ audit export */

static const char export_help[] =
	"usage: tocsinctl audit export --from TIME --to TIME [--subject TYPE:VALUE]\n"
	"                              [--kind KIND] [--format csv|json] [--actor NAME]\n"
	"                              [--database URL] [--json]\n"
	"Prints the audit records of [--from, --to) as the logs of the Data Protection\n"
	"Act 2018 s.62 (docs/audit.md): one record per line (CSV, RFC 4180, with a\n"
	"header) or a JSON array, oldest first, each with its date and time (UTC),\n"
	"category, action, identity (user id, username, role, organisation, address),\n"
	"the alert, site and object concerned, and the details held (JSON).\n"
	"\n"
	"  --from, --to   RFC 3339 times (2026-11-22T14:15:00Z, 2026-11-22T14:15:00+01:00)\n"
	"                 or dates (2026-11-22 is its midnight UTC); --from is included,\n"
	"                 --to is not, so --from 2026-11-22 --to 2026-11-23 is one day\n"
	"  --subject      only records concerning one subject:\n"
	"                   alert:ID     the alert, its updates, relays, disclosures,\n"
	"                                deliveries, reads, receipts, image views\n"
	"                   site:ID|SLUG the site: disclosures to it, its deliveries,\n"
	"                                acks, reports, history views, and\n"
	"                                consultations listing it\n"
	"                   image:ID     upload, attachment, views, refusals, erasure\n"
	"                   report:ID    a status or partner report and the inbox\n"
	"                                reads that showed it\n"
	"                   user:NAME    what the user did and records about the user\n"
	"                   org:ID       what the organisation's users did\n"
	"  --kind         consultation, disclosure, erasure, collection, alteration,\n"
	"                 combination, access (sign-ins), other, or all (default)\n"
	"  --format       csv (default) or json; --json is --format json\n"
	"  --actor        who is exporting, for the record of the export (default\n"
	"                 tocsinctl:<login name>); each export is itself audited\n"
	"                 (audit_export: window, subject, kind, format, rows)\n"
	"Exit: 0 done, 1 the database refused, 2 usage, 3 cannot connect.\n";

/* The categories of tocsin_audit_category() (sql/functions/audit.sql). */
static const char *const export_kinds[] = { "all", "consultation", "disclosure", "erasure",
					    "collection", "alteration", "combination", "access",
					    "other", NULL };

/* Reads n decimal digits at s into *v; 0, or -1 when they are not digits. */
static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* An RFC 3339 time, or a date meaning its midnight UTC, to Unix
 * milliseconds. Strict, so that a typo is a usage error rather than a
 * window PostgreSQL guessed. 0, or -1 when malformed. */
static int parse_when(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0, oh, om;
	size_t len = strlen(s);
	const char *p;

	if (len < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d))
		return -1;
	p = s + 10;
	if (*p) {
		if ((*p != 'T' && *p != 't' && *p != ' ') || strlen(p) < 9 || digits(p + 1, 2, &h) ||
		    p[3] != ':' || digits(p + 4, 2, &mi) || p[6] != ':' || digits(p + 7, 2, &sec))
			return -1;
		p += 9;
		if (*p == '.') {
			int n = 0;
			for (p++; *p >= '0' && *p <= '9'; p++, n++)
				if (n < 3)
					frac = frac * 10 + (*p - '0');
			if (n == 0)
				return -1;
			for (; n < 3; n++)
				frac *= 10;
		}
		if ((*p == 'Z' || *p == 'z') && !p[1]) {
			off = 0;
		} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && !digits(p + 1, 2, &oh) &&
			   p[3] == ':' && !digits(p + 4, 2, &om) && oh <= 23 && om <= 59) {
			off = (oh * 60 + om) * (*p == '+' ? 1 : -1);
		} else {
			return -1;
		}
	}
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	/* timegm normalises 31 February into March: refuse what moved */
	{
		time_t t = timegm(&tm);
		if (tm.tm_mday != d || tm.tm_mon != mo - 1)
			return -1;
		*ms = ((int64_t)t - (int64_t)off * 60) * 1000 + frac;
	}
	return 0;
}

/* Each character of s is in set, and s has 1..max of them. */
static int only(const char *s, const char *set, size_t max)
{
	size_t n = strlen(s);

	return n >= 1 && n <= max && strspn(s, set) == n;
}

#define DIGITS "0123456789"
#define LOWER "abcdefghijklmnopqrstuvwxyz"

/* --subject TYPE:VALUE into type and value (pointing into s, which is
 * changed). 0, or -1 after a message naming the flag. */
static int parse_subject(char *s, const char **type, const char **value)
{
	char *colon = strchr(s, ':');
	int ok = 0;

	if (colon) {
		*colon = '\0';
		*type = s;
		*value = colon + 1;
		if (!strcmp(s, "alert") || !strcmp(s, "report") || !strcmp(s, "org"))
			ok = only(*value, DIGITS, 18);
		else if (!strcmp(s, "site"))
			ok = only(*value, DIGITS LOWER "-", 40);
		else if (!strcmp(s, "image"))
			ok = only(*value, DIGITS LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-", 64);
		else if (!strcmp(s, "user"))
			ok = only(*value, DIGITS LOWER "._-", 64);
	}
	if (!ok) {
		fprintf(stderr, "tocsinctl audit export: --subject must be TYPE:VALUE with TYPE alert, "
			"site, image, report, user or org (e.g. alert:41, site:threadneedle, "
			"user:controller)\n");
		return -1;
	}
	return 0;
}

/* One CSV field per RFC 4180: quoted when it holds a comma, a quote, CR or
 * LF, with quotes doubled. Nothing else is changed: the export reproduces
 * the record (docs/audit.md on opening it in a spreadsheet). */
static void csv_field(FILE *out, const char *v)
{
	if (!v[strcspn(v, ",\"\r\n")]) {
		fputs(v, out);
		return;
	}
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', out);
		fputc(*v, out);
	}
	fputc('"', out);
}

static void csv_row(FILE *out, PGresult *res, int header)
{
	for (int c = 0; c < PQnfields(res); c++) {
		if (c)
			fputc(',', out);
		if (header)
			csv_field(out, PQfname(res, c));
		else if (!PQgetisnull(res, 0, c))
			csv_field(out, PQgetvalue(res, 0, c));
	}
	fputs("\r\n", out);
}

#define OID_INT8 20
#define OID_INT4 23
#define OID_JSONB 3802

/* One row as a JSON object: ids are numbers, detail is embedded, NULL is
 * null. */
static int json_row(FILE *out, PGresult *res, int first)
{
	json_t *obj = json_object();
	char *text;

	if (!obj)
		return -1;
	for (int c = 0; c < PQnfields(res); c++) {
		const char *v = PQgetvalue(res, 0, c);
		json_t *j;

		if (PQgetisnull(res, 0, c))
			j = json_null();
		else if (PQftype(res, c) == OID_INT8 || PQftype(res, c) == OID_INT4)
			j = json_integer(strtoll(v, NULL, 10));
		else if (PQftype(res, c) == OID_JSONB)
			j = json_loads(v, JSON_DECODE_ANY, NULL);
		else
			j = json_string(v);
		if (!j || json_object_set_new(obj, PQfname(res, c), j)) {
			json_decref(obj);
			return -1;
		}
	}
	text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (!text)
		return -1;
	fprintf(out, "%s\n  %s", first ? "" : ",", text);
	free(text);
	return 0;
}

struct export_req {
	char from[32], to[32];   /* Unix milliseconds, as text for the query */
	const char *from_arg, *to_arg; /* as given, for the record of the export */
	const char *kind;        /* one of export_kinds */
	const char *subject_type, *subject_value; /* NULL when no --subject */
	int json;
};

/* Streams the rows (single-row mode: an export of years does not sit in
 * memory) and returns how many, or -1 after printing the server's error. */
static long long export_rows(PGconn *conn, const struct export_req *r)
{
	const char *params[5] = { r->from, r->to, r->kind, r->subject_type, r->subject_value };
	long long rows = 0;
	int failed = 0, header_done = 0;
	PGresult *res;

	if (!PQsendQueryParams(conn,
			       "SELECT * FROM tocsin_audit_s62(to_timestamp($1::bigint / 1000.0),"
			       " to_timestamp($2::bigint / 1000.0), $3, $4, $5)",
			       5, NULL, params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(conn)) {
		fprintf(stderr, "tocsinctl audit export: %s", PQerrorMessage(conn));
		return -1;
	}
	if (r->json)
		fputs("[", stdout);
	while ((res = PQgetResult(conn))) {
		ExecStatusType st = PQresultStatus(res);

		if ((st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) && !r->json && !header_done) {
			csv_row(stdout, res, 1);
			header_done = 1;
		}
		if (st == PGRES_SINGLE_TUPLE) {
			if (r->json ? json_row(stdout, res, rows == 0) : (csv_row(stdout, res, 0), 0)) {
				fprintf(stderr, "tocsinctl audit export: out of memory\n");
				failed = 1;
			}
			rows++;
		} else if (st != PGRES_TUPLES_OK) {
			fprintf(stderr, "tocsinctl audit export: %s", PQresultErrorMessage(res));
			failed = 1;
		}
		PQclear(res);
	}
	if (r->json)
		fputs(rows ? "\n]\n" : "]\n", stdout);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "tocsinctl audit export: cannot write the output\n");
		failed = 1;
	}
	return failed ? -1 : rows;
}

/* The export's own audit row (tocsin_audit_export_record). */
static int record_export(PGconn *conn, const struct export_req *r, const char *actor,
			 long long rows)
{
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:I}", "from", r->from_arg, "to", r->to_arg,
			      "kind", r->kind, "format", r->json ? "json" : "csv",
			      "rows", (json_int_t)rows);
	char *detail = NULL, subject[128];
	const char *params[2];
	int code = CTL_FAILED;
	PGresult *res;

	if (d && r->subject_type) {
		snprintf(subject, sizeof subject, "%s:%s", r->subject_type, r->subject_value);
		json_object_set_new(d, "subject", json_string(subject));
	}
	detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	if (!detail) {
		fprintf(stderr, "tocsinctl audit export: out of memory\n");
		return CTL_FAILED;
	}
	params[0] = actor;
	params[1] = detail;
	res = ctl_exec("audit export", conn,
		       "SELECT tocsin_audit_export_record($1, $2::jsonb)", 2, params, &code);
	free(detail);
	if (!res) {
		fprintf(stderr, "tocsinctl audit export: the export above was not recorded\n");
		return code;
	}
	PQclear(res);
	return CTL_OK;
}

/* Checks the options into r; CTL_OK or CTL_USAGE (after a message naming
 * the flag). */
static int export_options(struct ctl_arg *args, int json_flag, struct export_req *r,
			  char *subject_buf, size_t subject_len)
{
	const char *from = ctl_args_get(args, "--from"), *to = ctl_args_get(args, "--to"),
		   *kind = ctl_args_get(args, "--kind"), *format = ctl_args_get(args, "--format"),
		   *subject = ctl_args_get(args, "--subject");
	int64_t from_ms, to_ms;

	if (parse_when(from, &from_ms)) {
		fprintf(stderr, "tocsinctl audit export: --from must be an RFC 3339 time "
			"(2026-11-22T14:15:00Z) or a date (2026-11-22), not '%s'\n", from);
		return CTL_USAGE;
	}
	if (parse_when(to, &to_ms)) {
		fprintf(stderr, "tocsinctl audit export: --to must be an RFC 3339 time "
			"(2026-11-22T14:15:00Z) or a date (2026-11-22), not '%s'\n", to);
		return CTL_USAGE;
	}
	if (to_ms <= from_ms) {
		fprintf(stderr, "tocsinctl audit export: --to must be after --from\n");
		return CTL_USAGE;
	}
	r->from_arg = from;
	r->to_arg = to;
	snprintf(r->from, sizeof r->from, "%lld", (long long)from_ms);
	snprintf(r->to, sizeof r->to, "%lld", (long long)to_ms);
	r->kind = "all";
	if (kind) {
		const char *const *k;
		for (k = export_kinds; *k && strcmp(*k, kind); k++)
			;
		if (!*k) {
			fprintf(stderr, "tocsinctl audit export: --kind must be consultation, "
				"disclosure, erasure, collection, alteration, combination, access, "
				"other or all\n");
			return CTL_USAGE;
		}
		r->kind = *k;
	}
	r->json = json_flag;
	if (format && strcmp(format, "csv") && strcmp(format, "json")) {
		fprintf(stderr, "tocsinctl audit export: --format must be csv or json\n");
		return CTL_USAGE;
	}
	if (format && json_flag && !strcmp(format, "csv")) {
		fprintf(stderr, "tocsinctl audit export: --format csv contradicts --json\n");
		return CTL_USAGE;
	}
	if (format && !strcmp(format, "json"))
		r->json = 1;
	if (subject) {
		snprintf(subject_buf, subject_len, "%s", subject);
		if (strlen(subject) >= subject_len ||
		    parse_subject(subject_buf, &r->subject_type, &r->subject_value))
			return CTL_USAGE;
	}
	return CTL_OK;
}

/* The s.62 export: options, then one transaction that streams the rows and
 * records the export, so that a failed export leaves no record and a
 * recorded one names how many rows it gave. */
int ctl_audit_export(int argc, char **argv)
{
	struct ctl_arg args[] = {
		{ "--from", 0, 1, NULL },   { "--to", 0, 1, NULL },    { "--subject", 0, 0, NULL },
		{ "--kind", 0, 0, NULL },   { "--format", 0, 0, NULL }, { "--actor", 0, 0, NULL },
		{ NULL, 0, 0, NULL },
	};
	struct export_req r = { .kind = "all" };
	struct ctl_opts o;
	char subject[128], actor[128];
	long long rows;
	int help, code;
	PGconn *conn;
	PGresult *res;

	argc = ctl_take_common("audit export", &o, argc, argv, &help);
	if (argc < 0)
		return CTL_USAGE;
	if (help) {
		fputs(export_help, stdout);
		return CTL_OK;
	}
	if (ctl_args_parse("audit export", argc, argv, args, NULL, 0, 0) < 0)
		return CTL_USAGE;
	code = export_options(args, o.json, &r, subject, sizeof subject);
	if (code != CTL_OK)
		return code;
	ctl_args_actor(ctl_args_get(args, "--actor"), actor, sizeof actor);
	conn = ctl_connect("audit export", &o, &code);
	if (!conn)
		return code;
	res = PQexec(conn, "BEGIN");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "tocsinctl audit export: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return CTL_FAILED;
	}
	PQclear(res);
	rows = export_rows(conn, &r);
	code = rows < 0 ? CTL_FAILED : record_export(conn, &r, actor, rows);
	res = PQexec(conn, code == CTL_OK ? "COMMIT" : "ROLLBACK");
	if (code == CTL_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "tocsinctl audit export: the record of the export failed: %s",
			PQerrorMessage(conn));
		code = CTL_FAILED;
	}
	PQclear(res);
	PQfinish(conn);
	return code;
}
