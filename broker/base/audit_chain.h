/* audit_chain.h: the seal of one audit row (sql/functions/audit.sql):
 * seal = BLAKE2b-256 keyed with the audit key, over the previous seal
 * (absent for the first row) followed by the row's canonical text. Used
 * by the broker's sealer and by `tocsinctl audit verify`. Pure. */
#ifndef TOCSIN_AUDIT_CHAIN_H
#define TOCSIN_AUDIT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_KEY_BYTES 32
#define AUDIT_SEAL_BYTES 32

void audit_chain_seal(const unsigned char key[AUDIT_KEY_BYTES],
		      const unsigned char *prev /* AUDIT_SEAL_BYTES or NULL */,
		      const char *canonical, size_t len, unsigned char out[AUDIT_SEAL_BYTES]);

/* Parses PostgreSQL's text form of a bytea ("\x0a1b...") of exactly
 * AUDIT_SEAL_BYTES; 0 or -1. */
int audit_chain_parse_seal(const char *text, unsigned char out[AUDIT_SEAL_BYTES]);

#endif
