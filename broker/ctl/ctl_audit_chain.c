/* ctl_audit_chain.c: the seal chain walk that tocsinctl audit verify runs
 * over the database or over an archive (ctl_audit_chain.h). One thread. */
#include "ctl_audit_chain.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The rows and seals as verify walks them: every id of either, in order,
 * up to the last seal or beyond (rows awaiting their seal). The archive
 * (ctl_audit_archive.c) writes the same entries up to the last seal. */
const char ctl_audit_chain_sql[] =
	"SELECT COALESCE(a.id, s.audit_id), a.id IS NOT NULL,"
	"       tocsin_audit_canonical(a), s.seal,"
	"       (SELECT max(audit_id) FROM audit_seal),"
	"       CASE WHEN a.detail_sha256 IS NULL THEN a.detail::text END"
	"  FROM audit a FULL JOIN audit_seal s ON s.audit_id = a.id"
	" WHERE $1::bigint IS NULL OR COALESCE(a.id, s.audit_id) <= $1::bigint"
	" ORDER BY 1";

int ctl_audit_chain_start(struct ctl_audit_chain *c, const char *path, long long last_sealed)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	memset(c, 0, sizeof *c);
	c->last_sealed = last_sealed;
	n = fd < 0 ? -1 : read(fd, c->key, AUDIT_KEY_BYTES);
	if (fd >= 0)
		close(fd);
	if (n != AUDIT_KEY_BYTES) {
		fprintf(stderr, "tocsinctl: cannot read a %d-byte audit key from %s\n",
			AUDIT_KEY_BYTES, path);
		return -1;
	}
	return 0;
}

/* A row with no seal below the last sealed id was inserted behind the
 * broker's back; a seal with no row is a deleted row; a seal that does not
 * match is an edited row (or a broken chain). Rows above the last seal
 * await sealing. */
int ctl_audit_chain_step(struct ctl_audit_chain *c, long long id, const char *canonical,
			 size_t len, const char *seal)
{
	unsigned char want[AUDIT_SEAL_BYTES], got[AUDIT_SEAL_BYTES];

	if (!canonical) {
		printf("BROKEN at audit row %lld: the row was deleted (its seal remains)\n", id);
		return 1;
	}
	if (!seal) {
		if (id < c->last_sealed) {
			printf("BROKEN at audit row %lld: the row has no seal but later rows do: "
			       "inserted behind the broker's back\n", id);
			return 1;
		}
		c->waiting++;
		return 0;
	}
	if (audit_chain_parse_seal(seal, got)) {
		printf("BROKEN at audit row %lld: its seal is malformed\n", id);
		return 1;
	}
	audit_chain_seal(c->key, c->have_prev ? c->prev : NULL, canonical, len, want);
	if (sodium_memcmp(want, got, sizeof want) != 0) {
		printf("BROKEN at audit row %lld: the row or the chain before it was changed (the "
		       "seal does not match)\n", id);
		return 1;
	}
	memcpy(c->prev, got, sizeof c->prev);
	c->have_prev = 1;
	c->sealed++;
	return 0;
}

void ctl_audit_chain_end(struct ctl_audit_chain *c, int rc)
{
	if (!rc)
		printf("audit chain intact: %lld rows sealed, %lld awaiting their seal\n", c->sealed,
		       c->waiting);
	sodium_memzero(c->key, sizeof c->key);
}
