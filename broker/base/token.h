/* token.h: signed, expiring session tokens and the roles they carry.
 *
 * A token is "v1.<payload>.<tag>": payload is base64url (no padding) of a
 * compact JSON object of claims, tag is base64url of HMAC-SHA-512-256
 * (libsodium crypto_auth) over "v1.<payload>". Only the broker issues and
 * verifies tokens, so a symmetric key is enough (docs/protocol.md).
 * Pure: no I/O, no libwebsockets; unit-tested and fuzzed. */
#ifndef TOCSIN_TOKEN_H
#define TOCSIN_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_KEY_BYTES 32
#define TOKEN_MAX_LEN 1024
#define USERNAME_MAX 64

enum role {
	ROLE_NONE = 0,
	ROLE_CONTROLLER,
	ROLE_ANALYST,
	ROLE_COMPANY_OPERATOR,
	ROLE_SITE_CONSOLE,
	ROLE_ADMIN,
	ROLE_INSPECTOR, /* a duty inspector: the two-person release's second person only */
};

const char *token_role_name(enum role role);
enum role token_role_from_name(const char *name);

struct token_claims {
	int64_t user_id;               /* "sub" */
	char username[USERNAME_MAX + 1]; /* "usr" */
	enum role role;                /* "role" */
	int64_t org_id;                /* "org" */
	int64_t site_id;               /* "site": 0 when null */
	int64_t issued_at;             /* "iat", Unix seconds */
	int64_t expires_at;            /* "exp", Unix seconds */
	int cleared;                   /* "clr": cleared for OFFICIAL-SENSITIVE */
};

enum token_status {
	TOKEN_OK = 0,
	TOKEN_MALFORMED,     /* not a v1 token, bad encoding or bad claims */
	TOKEN_BAD_SIGNATURE, /* well-formed, but the tag does not verify */
	TOKEN_EXPIRED,       /* genuine, but exp <= now */
};

/* Writes a NUL-terminated token into out; returns its length, or -1 when
 * out is too small or the claims cannot be encoded. */
int token_sign(const unsigned char key[TOKEN_KEY_BYTES], const struct token_claims *claims,
	       char *out, size_t out_size);

/* Checks the signature first, then the claims, then expiry against now
 * (Unix seconds). Fills claims only when the result is TOKEN_OK or
 * TOKEN_EXPIRED. */
enum token_status token_verify(const unsigned char key[TOKEN_KEY_BYTES], const char *token,
			       size_t len, int64_t now, struct token_claims *claims);

/* As token_verify, trying each of n_keys keys in turn (the signing key
 * first, then a previous key whose tokens are still honoured after a
 * rotation). TOKEN_BAD_SIGNATURE only when no key verifies the tag. When
 * which is not NULL it gets the index of the key that verified, or -1. */
enum token_status token_verify_any(const unsigned char (*keys)[TOKEN_KEY_BYTES], size_t n_keys,
				   const char *token, size_t len, int64_t now,
				   struct token_claims *claims, int *which);

const char *token_status_code(enum token_status status);

#endif
