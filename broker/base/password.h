/* password.h: argon2id password hashes (libsodium). Each call costs about
 * 0.4 s and 64 MiB: call only from a worker thread or a command-line tool,
 * never from the event loop. */
#ifndef TOCSIN_PASSWORD_H
#define TOCSIN_PASSWORD_H

#include <stddef.h>

#define PASSWORD_HASH_MAX 128

/* 0 on success, -1 when memory runs out. */
int password_hash(const char *password, size_t len, char out[PASSWORD_HASH_MAX]);
/* 1 when the password matches the stored hash, 0 when it does not or the
 * hash is malformed. */
int password_matches(const char *stored_hash, const char *password, size_t len);
/* Spends the same effort as a real check, for unknown users, so that the
 * time of a refusal does not tell whether the username exists. */
void password_burn(const char *password, size_t len);

#endif
