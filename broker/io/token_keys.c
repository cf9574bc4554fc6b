/* token_keys.c: the signing and previous token keys, and picking up a
 * rotation without a restart (see token_keys.h). */
#include "token_keys.h"
#include "loop_wake.h"
#include "key_file.h"
#include "log.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

_Static_assert(KEY_FILE_BYTES == TOKEN_KEY_BYTES, "token keys are key files");

/* Reads FILE.prev into key: 1 when read, 0 when there is none, -1 after
 * logging why it cannot be used. */
static int read_previous(const char *path, unsigned char key[TOKEN_KEY_BYTES])
{
	switch (key_file_read(path, key)) {
	case KEY_FILE_OK:
		return 1;
	case KEY_FILE_MISSING:
		return 0;
	case KEY_FILE_UNREADABLE:
		log_error("cannot read the previous token key %s: %s", path, strerror(errno));
		return -1;
	case KEY_FILE_BAD_SIZE:
		break;
	}
	log_error("previous token key %s must hold exactly %d bytes", path, TOKEN_KEY_BYTES);
	return -1;
}

/* Puts new keys in place under the lock, and wipes the copies. */
static void install(struct token_keys *k, unsigned char keys[2][TOKEN_KEY_BYTES], size_t n)
{
	pthread_mutex_lock(&k->lock);
	memcpy(k->keys, keys, sizeof k->keys);
	k->n_keys = n;
	pthread_mutex_unlock(&k->lock);
	sodium_memzero(keys, sizeof k->keys);
}

/* At start, before any thread and any privilege drop. */
int token_keys_init(struct token_keys *k, const char *path)
{
	unsigned char keys[2][TOKEN_KEY_BYTES];
	int prev;

	memset(k, 0, sizeof *k);
	if (snprintf(k->path, sizeof k->path, "%s", path) >= (int)sizeof k->path ||
	    snprintf(k->prev_path, sizeof k->prev_path, "%s.prev", path) >=
		    (int)sizeof k->prev_path) {
		log_error("token key path too long: %s", path);
		return -1;
	}
	if (pthread_mutex_init(&k->lock, NULL) != 0) {
		log_error("cannot create the token key lock");
		return -1;
	}
	memset(keys, 0, sizeof keys);
	if (key_file_load(k->path, "token key", keys[0]) != 0 ||
	    (prev = read_previous(k->prev_path, keys[1])) < 0) {
		sodium_memzero(keys, sizeof keys);
		pthread_mutex_destroy(&k->lock);
		return -1;
	}
	key_file_stamp(k->path, &k->seen[0]);
	key_file_stamp(k->prev_path, &k->seen[1]);
	install(k, keys, prev ? 2 : 1);
	if (prev)
		log_info("token keys: signing with %s; also accepting %s", k->path, k->prev_path);
	return 0;
}

/* The rotation pickup: cheap stats every tick, a reread only on change. */
int token_keys_check(struct token_keys *k)
{
	unsigned char keys[2][TOKEN_KEY_BYTES];
	struct key_stamp now[2];
	enum key_file_status st;
	int prev;

	key_file_stamp(k->path, &now[0]);
	key_file_stamp(k->prev_path, &now[1]);
	if (key_file_stamp_same(&now[0], &k->seen[0]) && key_file_stamp_same(&now[1], &k->seen[1]))
		return 0;
	/* whatever the outcome, this state of the files has been looked at: a
	 * failure is logged once, and retried when the files change again */
	k->seen[0] = now[0];
	k->seen[1] = now[1];
	st = key_file_read(k->path, keys[0]);
	if (st != KEY_FILE_OK) {
		log_error("token key %s changed but cannot be used (%s); still signing with the "
			  "key read before", k->path,
			  st == KEY_FILE_MISSING ? "missing"
			  : st == KEY_FILE_BAD_SIZE ? "not 32 bytes" : strerror(errno));
		sodium_memzero(keys, sizeof keys);
		return -1;
	}
	prev = read_previous(k->prev_path, keys[1]);
	if (prev < 0) {
		log_error("token keys unchanged: fix %s, or restart the broker", k->prev_path);
		sodium_memzero(keys, sizeof keys);
		return -1;
	}
	install(k, keys, prev ? 2 : 1);
	log_info("token keys reread: signing with the key now in %s%s", k->path,
		 prev ? "; tokens signed with the previous key stay valid until they expire" : "");
	return 1;
}

/* The loop's timer for token_keys_check. */
static void tick(lws_sorted_usec_list_t *sul)
{
	struct token_keys *k = lws_container_of(sul, struct token_keys, sul);

	token_keys_check(k);
	loop_wake_timer(k->ctx, &k->sul, tick, TOKEN_KEYS_CHECK_S * LWS_US_PER_SEC);
}

/* Called once listening, after any privilege drop: what the files look
 * like to the user the broker now runs as becomes the baseline, and a key
 * that user cannot read is said once (rotations then need a restart). */
void token_keys_watch(struct token_keys *k, struct lws_context *ctx)
{
	key_file_stamp(k->path, &k->seen[0]);
	key_file_stamp(k->prev_path, &k->seen[1]);
	if (access(k->path, R_OK) != 0)
		log_warn("token key %s is not readable by this process (%s): a rotation "
			 "(tocsinctl keys rotate) takes effect only at the next start",
			 k->path, strerror(errno));
	k->ctx = ctx;
	loop_wake_timer(ctx, &k->sul, tick, TOKEN_KEYS_CHECK_S * LWS_US_PER_SEC);
}

/* Under the lock: a worker thread must not sign with half a new key. */
int token_keys_sign(struct token_keys *k, const struct token_claims *claims, char *out,
		    size_t out_size)
{
	int n;

	pthread_mutex_lock(&k->lock);
	n = token_sign(k->keys[0], claims, out, out_size);
	pthread_mutex_unlock(&k->lock);
	return n;
}

/* Under the lock, for the same reason as token_keys_sign. */
enum token_status token_keys_verify(struct token_keys *k, const char *token, size_t len,
				    int64_t now, struct token_claims *claims)
{
	enum token_status st;

	pthread_mutex_lock(&k->lock);
	st = token_verify_any((const unsigned char (*)[TOKEN_KEY_BYTES])k->keys, k->n_keys,
			      token, len, now, claims, NULL);
	pthread_mutex_unlock(&k->lock);
	return st;
}

/* The timer lives in k: cancel it before the lws context goes. */
void token_keys_unwatch(struct token_keys *k)
{
	if (k->ctx)
		lws_sul_cancel(&k->sul);
	k->ctx = NULL;
}

/* Keys do not outlive the process's use of them. */
void token_keys_free(struct token_keys *k)
{
	pthread_mutex_lock(&k->lock);
	sodium_memzero(k->keys, sizeof k->keys);
	k->n_keys = 0;
	pthread_mutex_unlock(&k->lock);
	pthread_mutex_destroy(&k->lock);
}
