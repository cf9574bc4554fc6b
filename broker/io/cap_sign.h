/* cap_sign.h: the enveloped XML Signature of exported CAP (issue 23,
 * "Signed alerts"; docs/security.md, "CAP signatures").
 *
 * --cap-sign-key FILE (default cap_sign.key beside the token key; made by
 * `tocsinctl keys init`) is an ECDSA P-256 private key in PEM; its public
 * half, FILE with .pub.pem for .key, is what readers check with
 * `xmlsec1 --verify --pubkey-pem cap_sign.pub.pem export.xml`. Read once at
 * start, before privileges are dropped. Loop thread only (libxml2 and
 * xmlsec keep per-process state; the broker calls them from the lws
 * service thread alone). */
#ifndef TOCSIN_CAP_SIGN_H
#define TOCSIN_CAP_SIGN_H

#include <stddef.h>

struct cap_signer;

/* Loads the key at path. *out NULL and 0 when there is no file (exports
 * go unsigned; logged); -1 after logging when it cannot be used. */
int cap_sign_load(const char *path, struct cap_signer **out);

void cap_sign_free(struct cap_signer *s);

/* The CAP document xml, pretty-printed, with an enveloped ds:Signature as
 * the last child of <alert> (the CAP 1.2 schema's place for it); for the
 * Atom feed (GET /api/cap/feed), before its first entry.
 * Returns a malloc'd NUL-terminated document and its length in *out_len,
 * or NULL after logging (not XML, out of memory, the signing failed). */
char *cap_sign_doc(const struct cap_signer *s, const char *xml, size_t len, size_t *out_len);

#endif
