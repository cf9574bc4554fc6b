/* token_keys.h: the keys the broker signs and checks tokens with.
 *
 * --token-key FILE holds the signing key; FILE.prev, when present, the key
 * it replaced (`tocsinctl keys rotate` writes both). Tokens signed with
 * either verify, so the tokens issued before a rotation keep working until
 * they expire, and refresh hands out tokens under the new key. The files
 * are read at start, before privileges are dropped, and again whenever
 * either changes: the loop looks at them every TOKEN_KEYS_CHECK_S seconds,
 * so a rotation needs no restart. A reread that fails (unreadable by the
 * user the broker now runs as, wrong size) is logged and the keys in use
 * stay. Sign-in workers sign on their own threads, hence the lock. */
#ifndef TOCSIN_TOKEN_KEYS_H
#define TOCSIN_TOKEN_KEYS_H

#include <libwebsockets.h>
#include <pthread.h>
#include <sys/stat.h>

#include "key_file.h"
#include "token.h"

#define TOKEN_KEYS_CHECK_S 2

struct token_keys {
	pthread_mutex_t lock;
	unsigned char keys[2][TOKEN_KEY_BYTES]; /* guarded by lock: [0] signs, [1] previous */
	size_t n_keys;                          /* guarded by lock: 1 or 2 */
	char path[4096];                        /* FILE */
	char prev_path[4096];                   /* FILE.prev */
	struct key_stamp seen[2];               /* loop thread: FILE, FILE.prev */
	struct lws_context *ctx;                /* set while watching */
	lws_sorted_usec_list_t sul;
};

/* Reads FILE (tocsinctl keys init makes it) and FILE.prev (optional). Returns 0,
 * or -1 after logging an error that names the file. */
int token_keys_init(struct token_keys *k, const char *path);

/* Starts looking for changed key files on the loop of ctx. */
void token_keys_watch(struct token_keys *k, struct lws_context *ctx);

/* Looks at the files now; rereads them if they changed. Returns 1 when new
 * keys are in use, 0 when nothing changed, -1 when a reread failed. */
int token_keys_check(struct token_keys *k);

/* token_sign with the signing key (any thread). */
int token_keys_sign(struct token_keys *k, const struct token_claims *claims, char *out,
		    size_t out_size);

/* token_verify_any with the signing key, then the previous one (any thread). */
enum token_status token_keys_verify(struct token_keys *k, const char *token, size_t len,
				    int64_t now, struct token_claims *claims);

/* Stops looking (before the lws context goes). */
void token_keys_unwatch(struct token_keys *k);

/* Wipes the keys. */
void token_keys_free(struct token_keys *k);

#endif
