/* tocsinctl: Tocsin's administration tool: hash-password (for loading
 * users) and audit verify (walks the audit trail's seal chain). More
 * commands arrive with the administration issue. */
#include "audit_chain.h"
#include "log.h"
#include "password.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: tocsinctl COMMAND\n"
	"\n"
	"commands:\n"
	"  hash-password   read a password from standard input (one line) and print\n"
	"                  its argon2id hash, as stored in users.password_hash\n"
	"  audit verify [--database URL] [--audit-key FILE]\n"
	"                  recompute the audit trail's seal chain and report the first\n"
	"                  row edited, deleted or inserted behind the broker's back\n"
	"                  (defaults: DATABASE_URL, TOCSIN_AUDIT_KEY or\n"
	"                  ./var/secrets/audit.key)\n"
	"  help            this text\n"
	"\n"
	"exit codes: 0 success (audit verify: the chain is intact), 1 failure\n"
	"(audit verify: the chain is broken), 2 usage error, 3 cannot connect\n";

static int hash_password(void)
{
	char line[512], hash[PASSWORD_HASH_MAX];
	size_t len;

	if (!fgets(line, sizeof line, stdin)) {
		fprintf(stderr, "tocsinctl: no password on standard input\n");
		return 1;
	}
	len = strcspn(line, "\r\n");
	line[len] = '\0';
	if (len == 0 || len > 256) {
		fprintf(stderr, "tocsinctl: the password must be 1 to 256 characters\n");
		return 1;
	}
	if (password_hash(line, len, hash)) {
		fprintf(stderr, "tocsinctl: out of memory while hashing\n");
		return 1;
	}
	sodium_memzero(line, sizeof line);
	puts(hash);
	return 0;
}

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
static int audit_verify(int argc, char **argv)
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
		else {
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

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "tocsinctl: libsodium failed to start\n");
		return 1;
	}
	if (argc == 2 && !strcmp(argv[1], "hash-password"))
		return hash_password();
	if (argc >= 3 && !strcmp(argv[1], "audit") && !strcmp(argv[2], "verify"))
		return audit_verify(argc - 3, argv + 3);
	if (argc == 2 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help"))) {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	return 2;
}
