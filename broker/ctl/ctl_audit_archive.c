/* ctl_audit_archive.c: tocsinctl audit archive --to FILE, the sealed audit
 * chain in a file, and tocsinctl audit verify --archive FILE, its check
 * offline, with the audit key and no database (issue 19: an auditor's
 * copy, or what stays of the chain's rows once the database is gone).
 *
 * The file is JSON lines:
 *   {"format":"tocsin-audit-archive","version":1,"last_sealed":N,"written_at":T}
 *   {"id":N,"row":CANONICAL|null,"seal":"\\x..."|null,"detail":TEXT}  one per id
 *   {"end":true,"entries":N}
 * "row" is the row's canonical text (tocsin_audit_canonical: every column,
 * what the seal covers), so the archive holds the rows themselves and the
 * check recomputes each seal exactly as verify does over the database
 * (ctl_audit_chain.c). Since 044_audit_detail_erasure a seal covers the
 * SHA-256 of the detail, not its text: "detail" (absent once erased by
 * retention) is the text, checked against that digest (detail_matches). The entries stop at the last sealed row: the rows
 * awaiting their seal are not yet part of the chain. A row missing or
 * unsealed below the last seal is written as it is, so that the archive
 * shows it BROKEN as the database would. A file cut short has no end
 * line, or one whose count is not the entries read: BROKEN too. One
 * thread. */
#include "ctl.h"
#include "ctl_audit_chain.h"
#include "ctl_commands.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ARCHIVE_FORMAT "tocsin-audit-archive"

static const char archive_help[] =
	"usage: tocsinctl audit archive --to FILE [--database URL]\n"
	"Writes the sealed audit chain (every row up to the last seal, as the\n"
	"seal covers it, with its seal and its detail unless erased) to FILE,\n"
	"as JSON lines, for keeping\n"
	"offline. `tocsinctl audit verify --archive FILE --audit-key KEY` checks\n"
	"it without a database. FILE is written whole or not at all (mode 0640).\n"
	"Exit: 0 done, 1 cannot write, 2 usage, 3 cannot connect.\n";

/* One line of JSON; 0 or -1. */
static int put_line(FILE *f, json_t *j)
{
	int rc = j && json_dumpf(j, f, JSON_COMPACT) == 0 && fputc('\n', f) != EOF ? 0 : -1;

	json_decref(j);
	return rc;
}

static json_t *entry_json(PGresult *res, int i)
{
	int has_row = !strcmp(PQgetvalue(res, i, 1), "t");
	json_t *e = json_pack("{s:I,s:o,s:o}", "id",
			      (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "row",
			      has_row ? json_stringn(PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2))
				      : json_null(),
			      "seal",
			      PQgetisnull(res, i, 3) ? json_null() : json_string(PQgetvalue(res, i, 3)));

	if (e && has_row && !PQgetisnull(res, i, 5))
		json_object_set_new(e, "detail", json_string(PQgetvalue(res, i, 5)));
	return e;
}

/* The entries of res up to the last seal into f; the count, or -1. */
static long long write_entries(FILE *f, PGresult *res, long long last_sealed)
{
	char when[32];
	time_t now = time(NULL);
	long long n = 0;

	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	if (put_line(f, json_pack("{s:s,s:i,s:I,s:s}", "format", ARCHIVE_FORMAT, "version", 1,
				  "last_sealed", (json_int_t)last_sealed, "written_at", when)))
		return -1;
	for (int i = 0; i < PQntuples(res); i++, n++)
		if (put_line(f, entry_json(res, i)))
			return -1;
	if (put_line(f, json_pack("{s:b,s:I}", "end", 1, "entries", (json_int_t)n)))
		return -1;
	return n;
}

static int archive_body(PGconn *conn, const char *to)
{
	const char *last_sql = "SELECT COALESCE(max(audit_id), 0) FROM audit_seal";
	char tmp[4096];
	PGresult *last = PQexec(conn, last_sql), *res = NULL;
	const char *params[1];
	long long n = -1;
	FILE *f = NULL;
	int rc = 3;

	if (PQresultStatus(last) != PGRES_TUPLES_OK)
		goto out;
	params[0] = PQgetvalue(last, 0, 0);
	res = PQexecParams(conn, ctl_audit_chain_sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto out;
	rc = 1;
	snprintf(tmp, sizeof tmp, "%s.part", to);
	f = fopen(tmp, "we");
	if (!f || fchmod(fileno(f), 0640))
		goto out;
	n = write_entries(f, res, strtoll(params[0], NULL, 10));
	if (n < 0 || fflush(f) || fsync(fileno(f)) || fclose(f)) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if (rename(tmp, to))
		goto out;
	printf("audit archive: %lld entries, up to audit row %s, in %s\n", n, params[0], to);
	rc = 0;
out:
	if (rc == 3)
		fprintf(stderr, "tocsinctl: %s", PQerrorMessage(conn));
	else if (rc == 1) {
		perror(to);
		if (f)
			fclose(f);
		remove(tmp);
	}
	PQclear(last);
	PQclear(res);
	return rc;
}

int ctl_audit_archive(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL"), *to = NULL;
	PGconn *conn;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--database") && i + 1 < argc)
			url = argv[++i];
		else if (!strcmp(argv[i], "--to") && i + 1 < argc)
			to = argv[++i];
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(archive_help, stdout);
			return 0;
		} else {
			fprintf(stderr, "tocsinctl audit archive: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!url || !to) {
		fputs(archive_help, stderr);
		return 2;
	}
	conn = PQconnectdb(url);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "tocsinctl: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 3;
	}
	rc = archive_body(conn, to);
	PQfinish(conn);
	return rc;
}

/* ------------------------------------------------------------ offline check */

/* The header; its last_sealed, or -1 after a message. */
static long long read_header(json_t *h)
{
	const char *format = NULL;
	json_int_t last = -1;
	int version = 0;

	if (!h || json_unpack(h, "{s:s,s:i,s:I}", "format", &format, "version", &version,
			      "last_sealed", &last) ||
	    strcmp(format, ARCHIVE_FORMAT) || version != 1 || last < 0) {
		printf("BROKEN: not a tocsin audit archive (version 1): its first line\n");
		return -1;
	}
	return (long long)last;
}

/* Whether detail is the one canonical's seal covers: its last field (after
 * the last \x1f, up to a deliver row's \x1e and batch digest; JSON text
 * holds neither byte raw) is the detail's text or "sha256:" and its
 * SHA-256 in hex (sql/functions/audit.sql, tocsin_audit_canonical_detail). */
static int detail_matches(const char *canonical, const char *detail)
{
	const char *field = strrchr(canonical, '\x1f');
	size_t len, dlen = strlen(detail);
	unsigned char sum[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];

	if (!field)
		return 0;
	field++;
	len = strcspn(field, "\x1e");
	if (len != 7 + 2 * crypto_hash_sha256_BYTES || strncmp(field, "sha256:", 7))
		return len == dlen && !memcmp(field, detail, len);
	crypto_hash_sha256(sum, (const unsigned char *)detail, dlen);
	sodium_bin2hex(hex, sizeof hex, sum, sizeof sum);
	return !memcmp(field + 7, hex, 2 * crypto_hash_sha256_BYTES);
}

/* One entry line through the walk; 0, 1 (broken) or 2 (the end line). */
static int check_line(struct ctl_audit_chain *c, json_t *j, long long *n, long long *last_id)
{
	json_t *row = NULL, *seal = NULL, *detail;
	json_int_t id = 0, entries = -1;
	int end = 0;

	if (j && !json_unpack(j, "{s:b,s:I}", "end", &end, "entries", &entries) && end)
		return entries == *n ? 2 : (printf("BROKEN: the archive's end counts %lld entries, "
						   "it has %lld\n", (long long)entries, *n), 1);
	if (!j || json_unpack(j, "{s:I,s:o,s:o}", "id", &id, "row", &row, "seal", &seal) ||
	    !(json_is_string(row) || json_is_null(row)) ||
	    !(json_is_string(seal) || json_is_null(seal)) || id <= *last_id) {
		printf("BROKEN: entry %lld of the archive is malformed or out of order\n", *n + 1);
		return 1;
	}
	(*n)++;
	*last_id = id;
	detail = json_object_get(j, "detail");
	if (detail && (!json_is_string(row) || !json_is_string(detail) ||
		       !detail_matches(json_string_value(row), json_string_value(detail)))) {
		printf("BROKEN at audit row %lld: its detail is not the one sealed\n", (long long)id);
		return 1;
	}
	return ctl_audit_chain_step(c, id, json_is_string(row) ? json_string_value(row) : NULL,
				    json_is_string(row) ? json_string_length(row) : 0,
				    json_is_string(seal) ? json_string_value(seal) : NULL);
}

static int check_file(struct ctl_audit_chain *c, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	long long n = 0, last_id = 0;
	int rc = 1, state = 0;
	json_t *j = NULL;

	if (getline(&line, &cap, f) >= 0)
		j = json_loads(line, 0, NULL);
	c->last_sealed = read_header(j);
	json_decref(j);
	if (c->last_sealed < 0)
		goto out;
	while (state == 0 && getline(&line, &cap, f) >= 0) {
		j = json_loads(line, 0, NULL);
		state = check_line(c, j, &n, &last_id);
		json_decref(j);
	}
	if (state == 0)
		printf("BROKEN: the archive is cut short after %lld entries (no end line)\n", n);
	else if (state == 2 && last_id != c->last_sealed)
		printf("BROKEN: the archive ends at audit row %lld, its header says %lld\n", last_id,
		       c->last_sealed);
	else if (state == 2)
		rc = 0;
out:
	free(line);
	return rc;
}

int ctl_audit_archive_verify(const char *file, const char *keyfile)
{
	struct ctl_audit_chain c;
	FILE *f;
	int rc;

	if (ctl_audit_chain_start(&c, keyfile, 0))
		return 2;
	f = fopen(file, "re");
	if (!f) {
		perror(file);
		ctl_audit_chain_end(&c, 2);
		return 2;
	}
	rc = check_file(&c, f);
	fclose(f);
	ctl_audit_chain_end(&c, rc);
	return rc;
}
