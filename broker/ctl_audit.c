/* ctl_audit.c: tocsinctl audit verify (walks the audit trail's seal chain). */
#include "audit_chain.h"
#include "ctl.h"
#include "ctl_commands.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_key(const char *path, unsigned char key[AUDIT_KEY_BYTES])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, key, AUDIT_KEY_BYTES);

	if (fd >= 0)
		close(fd);
	if (n != AUDIT_KEY_BYTES) {
		fprintf(stderr, "tocsinctl: cannot read a %d-byte audit key from %s\n",
			AUDIT_KEY_BYTES, path);
		return -1;
	}
	return 0;
}

/* Walks audit rows and seals in id order. A row with no seal below the
 * last sealed id was inserted behind the broker's back; a seal with no row
 * is a deleted row; a seal that does not match is an edited row (or a
 * broken chain). Rows above the last seal await sealing. */
int ctl_audit_verify(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL"), *keyfile = getenv("TOCSIN_AUDIT_KEY");
	unsigned char key[AUDIT_KEY_BYTES], prev[AUDIT_SEAL_BYTES], want[AUDIT_SEAL_BYTES],
		got[AUDIT_SEAL_BYTES];
	long long sealed = 0, waiting = 0, last_sealed = 0;
	int have_prev = 0, rc = 0;
	PGconn *conn;
	PGresult *res;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--database") && i + 1 < argc)
			url = argv[++i];
		else if (!strcmp(argv[i], "--audit-key") && i + 1 < argc)
			keyfile = argv[++i];
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs("usage: tocsinctl audit verify [--database URL] [--audit-key FILE]\n"
			      "Recomputes the audit trail's seal chain and reports the first row\n"
			      "edited, deleted or inserted behind the broker's back. Defaults:\n"
			      "DATABASE_URL, TOCSIN_AUDIT_KEY or ./var/secrets/audit.key.\n"
			      "Exit: 0 intact, 1 broken, 2 usage, 3 cannot connect.\n", stdout);
			return 0;
		} else {
			fprintf(stderr, "tocsinctl audit verify: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!url) {
		fprintf(stderr, "tocsinctl: no database: give --database or set DATABASE_URL\n");
		return 2;
	}
	if (read_key(keyfile ? keyfile : "./var/secrets/audit.key", key))
		return 2;
	conn = PQconnectdb(url);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "tocsinctl: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 3;
	}
	res = PQexec(conn, "SELECT COALESCE(a.id, s.audit_id), a.id IS NOT NULL,"
			   "       tocsin_audit_canonical(a), s.seal,"
			   "       (SELECT max(audit_id) FROM audit_seal)"
			   "  FROM audit a FULL JOIN audit_seal s ON s.audit_id = a.id"
			   " ORDER BY 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "tocsinctl: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return 3;
	}
	if (PQntuples(res))
		last_sealed = PQgetisnull(res, 0, 4) ? 0 : strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	for (int i = 0; i < PQntuples(res) && !rc; i++) {
		long long id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		int has_row = !strcmp(PQgetvalue(res, i, 1), "t"), has_seal = !PQgetisnull(res, i, 3);

		if (!has_row) {
			printf("BROKEN at audit row %lld: the row was deleted (its seal remains)\n", id);
			rc = 1;
		} else if (!has_seal) {
			if (id < last_sealed) {
				printf("BROKEN at audit row %lld: the row has no seal but later rows do: "
				       "inserted behind the broker's back\n", id);
				rc = 1;
			} else {
				waiting++;
			}
		} else if (audit_chain_parse_seal(PQgetvalue(res, i, 3), got)) {
			printf("BROKEN at audit row %lld: its seal is malformed\n", id);
			rc = 1;
		} else {
			audit_chain_seal(key, have_prev ? prev : NULL, PQgetvalue(res, i, 2),
					 (size_t)PQgetlength(res, i, 2), want);
			if (sodium_memcmp(want, got, sizeof want) != 0) {
				printf("BROKEN at audit row %lld: the row or the chain before it was "
				       "changed (the seal does not match)\n", id);
				rc = 1;
			}
			memcpy(prev, got, sizeof prev);
			have_prev = 1;
			sealed++;
		}
	}
	if (!rc)
		printf("audit chain intact: %lld rows sealed, %lld awaiting their seal\n", sealed,
		       waiting);
	sodium_memzero(key, sizeof key);
	PQclear(res);
	PQfinish(conn);
	return rc;
}

