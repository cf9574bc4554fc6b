/* ctl_crime.c: tocsinctl crime import FILE: a data.police.uk street-level
 * CSV into crime_records (sql/functions/crime.sql), in one transaction.
 *
 * The file's shape is checked here, line by line, before anything is sent:
 * the header, the number of columns (quotes counted as CSV does), UTF-8,
 * no NUL byte. Each line then goes into a temporary table as it is, with
 * its line number in front (COPY ... FORMAT csv), and
 * tocsin_admin_crime_import checks the values (coordinates, month, crime
 * type), naming the first bad line, and applies the rows. Any refusal
 * rolls the whole file back: nothing of a bad file is half-imported.
 * A single-threaded command-line tool. */
#include "ctl.h"
#include "ctl_args.h"
#include "ctl_commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A month of the whole Metropolitan Police is about 90,000 rows of about
 * 250 bytes (22 MB); 64 MiB leaves room and bounds what junk can cost. */
#define CRIME_FILE_MAX ((size_t)64 * 1024 * 1024)
#define CRIME_COLUMNS 12

static const char crime_header[] =
	"Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
	"LSOA code,LSOA name,Crime type,Last outcome category,Context";

static const char crime_import_help[] =
	"usage: tocsinctl crime import FILE [--actor NAME] [--database URL] [--json]\n"
	"Imports a data.police.uk street-level crime CSV (FILE, or - for standard\n"
	"input). Idempotent: a row already imported is not added again, and its\n"
	"outcome is updated when a later download changed it. A file with a wrong\n"
	"header, a wrong number of columns, bad coordinates, a month in the future\n"
	"or an unknown crime type is refused with the line named, and nothing of it\n"
	"is imported. Prints the rows read, added, updated and unchanged, and those\n"
	"skipped for having no location. Audited (crime_records_added).\n"
	"  --actor NAME       who to name in the audit (default tocsinctl:$USER)\n"
	"  --database URL     default DATABASE_URL (the role tocsin_admin)\n"
	"Exit: 0 done, 1 refused, 2 usage, 3 database unreachable.\n";

/* The number of CSV fields of line (len bytes, no line end), or -1 when a
 * quote is left open. */
static int csv_fields(const char *line, size_t len)
{
	int n = 1, quoted = 0;

	for (size_t i = 0; i < len; i++) {
		if (line[i] == '"')
			quoted = !quoted; /* "" inside quotes toggles twice */
		else if (line[i] == ',' && !quoted)
			n++;
	}
	return quoted ? -1 : n;
}

/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
static int utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];
		size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
			 : (c & 0xF8) == 0xF0 ? 3 : 9;
		unsigned cp = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;

		if (n == 9 || i + n >= len) /* not a lead byte, or cut short */
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* The next line from *p (before end): its start, its length without the
 * line end (\n or \r\n) in *n; *p moves past it. NULL at the end. */
static const char *next_line(const char **p, const char *end, size_t *n)
{
	const char *start = *p, *nl;

	if (start >= end)
		return NULL;
	nl = memchr(start, '\n', (size_t)(end - start));
	*n = nl ? (size_t)(nl - start) : (size_t)(end - start);
	*p = nl ? nl + 1 : end;
	if (*n && start[*n - 1] == '\r')
		(*n)--;
	return start;
}

/* The file after a byte-order mark, if any. */
static const char *file_start(const char *buf, size_t len)
{
	return buf + (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3) ? 3 : 0);
}

/* Checks the header and every line's shape; returns 0, or -1 after a
 * message naming the first bad line. */
static int check_shape(const char *cmd, const char *buf, size_t len)
{
	const char *p = file_start(buf, len), *end = buf + len, *l;
	size_t n, hlen = sizeof crime_header - 1;
	int line = 0, fields;

	if (strlen(buf) != len) {
		for (const char *q = buf; *q; q++)
			line += *q == '\n';
		fprintf(stderr, "tocsinctl %s: line %d: a NUL byte: not a CSV file\n", cmd, line + 1);
		return -1;
	}
	while ((l = next_line(&p, end, &n))) {
		line++;
		if (line == 1 && (n != hlen || memcmp(l, crime_header, hlen))) {
			fprintf(stderr, "tocsinctl %s: line 1: not the police.uk street-level header "
				"(expected \"%s\")\n", cmd, crime_header);
			return -1;
		}
		if (!utf8_valid((const unsigned char *)l, n)) {
			fprintf(stderr, "tocsinctl %s: line %d: not UTF-8 text\n", cmd, line);
			return -1;
		}
		fields = csv_fields(l, n);
		if (n && fields != CRIME_COLUMNS) {
			fprintf(stderr, "tocsinctl %s: line %d: %s, a police.uk row has %d\n", cmd, line,
				fields < 0 ? "a quote is not closed" : "wrong number of columns",
				CRIME_COLUMNS);
			return -1;
		}
	}
	if (line == 0) {
		fprintf(stderr, "tocsinctl %s: line 1: the file is empty\n", cmd);
		return -1;
	}
	return 0;
}

/* COPYs every line after the header, with its line number in front;
 * 0, or -1 after a message. */
static int copy_lines(const char *cmd, PGconn *conn, const char *buf, size_t len)
{
	PGresult *res = PQexec(conn, "COPY crime_import_in FROM STDIN (FORMAT csv)");
	const char *p = file_start(buf, len), *end = buf + len, *l;
	char num[16];
	size_t n;
	int line = 0, ok = PQresultStatus(res) == PGRES_COPY_IN;

	PQclear(res);
	while (ok && (l = next_line(&p, end, &n))) {
		int k = snprintf(num, sizeof num, "%d,", ++line);
		if (line > 1 && n)
			ok = PQputCopyData(conn, num, k) == 1 && PQputCopyData(conn, l, (int)n) == 1 &&
			     PQputCopyData(conn, "\n", 1) == 1;
	}
	if (PQputCopyEnd(conn, ok ? NULL : "tocsinctl stopped") != 1)
		ok = 0;
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "tocsinctl %s: %s", cmd, PQresultErrorMessage(res));
		ok = 0;
	}
	PQclear(res);
	while ((res = PQgetResult(conn)))
		PQclear(res);
	return ok ? 0 : -1;
}

static int import_body(struct ctl_run *r)
{
	size_t len;
	char *buf = ctl_read_file(r->cmd, r->pos[0], CRIME_FILE_MAX, &len);
	const char *params[2] = { r->actor, r->pos[0] };
	PGresult *res = NULL;
	int rc = CTL_FAILED;

	if (!buf)
		return CTL_FAILED;
	if (check_shape(r->cmd, buf, len))
		goto out;
	res = ctl_exec(r->cmd, r->conn, "BEGIN", 0, NULL, &rc);
	PQclear(res);
	if (!res)
		goto out;
	res = ctl_exec(r->cmd, r->conn, "SELECT tocsin_crime_import_begin()", 0, NULL, &rc);
	PQclear(res);
	if (!res || copy_lines(r->cmd, r->conn, buf, len)) {
		rc = res ? CTL_FAILED : rc;
		goto out;
	}
	res = ctl_exec(r->cmd, r->conn,
		       "SELECT * FROM tocsin_admin_crime_import($1, $2)", 2, params, &rc);
	if (!res)
		goto out;
	PQclear(ctl_exec(r->cmd, r->conn, "COMMIT", 0, NULL, &rc));
	if (rc == CTL_OK)
		ctl_print_result(res, r->o.json);
	PQclear(res);
out:
	if (rc != CTL_OK)
		PQclear(PQexec(r->conn, "ROLLBACK"));
	free(buf);
	return rc;
}

int ctl_crime_import(int argc, char **argv)
{
	struct ctl_arg args[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };

	return ctl_run("crime import", crime_import_help, argc, argv, args, 1, 1, import_body);
}
