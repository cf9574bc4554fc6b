/* cap_verify.h: the enveloped XML Signature of a CAP document from a
 * registered sender (issues 18 and 23; docs/security.md, "Signed CAP from
 * registered senders"), checked with libxmlsec1 (OpenSSL) against the
 * public key the administrator registered (tocsinctl cap sender add).
 * No I/O: the document and the key are given in memory. Single-threaded
 * (libxml2 and xmlsec keep per-process state); tocsin-cap is. */
#ifndef TOCSIN_CAP_VERIFY_H
#define TOCSIN_CAP_VERIFY_H

#include <stddef.h>

enum cap_sig {
	CAP_SIG_VERIFIED, /* one enveloped signature over the whole alert, by the key */
	CAP_SIG_MISSING,  /* no ds:Signature at all */
	CAP_SIG_FAILED,   /* a signature, but not one accepted: why says which */
	CAP_SIG_ERROR,    /* the key or xmlsec could not be used: why says which */
};

/* Checks xml (a CAP document that cap_parse accepted) against public_key
 * (PEM SubjectPublicKeyInfo). Accepted only: exactly one ds:Signature in
 * the document, a child of the root <alert>, whose SignedInfo has exactly
 * one Reference with URI="" and no transforms but enveloped-signature and
 * canonicalisation, RSA or ECDSA over SHA-256/384/512, and which verifies
 * with that key (any KeyInfo in the document is ignored). why gets a
 * sentence for anything but VERIFIED. */
enum cap_sig cap_verify(const char *xml, size_t len, const char *public_key, char *why,
			size_t why_size);

/* Ends xmlsec when cap_verify started it (at the end of main). */
void cap_verify_end(void);

#endif
