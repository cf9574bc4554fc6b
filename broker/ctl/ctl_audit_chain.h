/* ctl_audit_chain.h: walking the audit trail's seal chain (audit_chain.h)
 * one entry at a time, in id order, whether the entries come from the
 * database (tocsinctl audit verify) or from an archive file (tocsinctl
 * audit verify --archive, ctl_audit_archive.c). One thread. */
#ifndef TOCSIN_CTL_AUDIT_CHAIN_H
#define TOCSIN_CTL_AUDIT_CHAIN_H

#include "audit_chain.h"

#include <stddef.h>

struct ctl_audit_chain {
	unsigned char key[AUDIT_KEY_BYTES];
	unsigned char prev[AUDIT_SEAL_BYTES];
	int have_prev;
	long long last_sealed; /* the highest id with a seal: below it every row must have one */
	long long sealed, waiting;
};

/* The entries in id order: id, whether the row is there ("t"/"f"), its
 * canonical text, its seal (NULL: none), the last sealed id (NULL: none),
 * its detail unless erased (NULL), up to the id $1 (NULL: all). */
extern const char ctl_audit_chain_sql[];

/* Reads the audit key from path into c (and zeroes the rest); 0, or -1
 * after a message. */
int ctl_audit_chain_start(struct ctl_audit_chain *c, const char *path, long long last_sealed);

/* One entry: the row id; canonical (len bytes) or NULL when the row is
 * gone; seal (PostgreSQL's "\x..." text) or NULL when it has none. 0 when
 * it holds, 1 after printing "BROKEN at audit row ...". */
int ctl_audit_chain_step(struct ctl_audit_chain *c, long long id, const char *canonical,
			 size_t len, const char *seal);

/* Prints the summary of an intact walk and zeroes the key. */
void ctl_audit_chain_end(struct ctl_audit_chain *c, int rc);

#endif
