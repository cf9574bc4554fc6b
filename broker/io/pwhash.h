/* pwhash.h: one-time passwords for accounts the administrator makes in
 * the browser (handle/admin.c), made and hashed off the loop.
 *
 * argon2id costs ~0.4 s and 64 MiB (password.h), so, as for sign-in
 * (signin.c), a worker thread makes each password (random, from an
 * alphabet without look-alike characters) and its hash; the loop is woken
 * with lws_cancel_service(), and pwhash_lws_callback (the "tocsin-pwhash"
 * protocol, registered in server.c) hands each result to the hook given
 * at start. The password exists in clear only in that result, for the
 * hook to show once; pwhash zeroes it after the hook returns. */
#ifndef TOCSIN_PWHASH_H
#define TOCSIN_PWHASH_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "password.h"

#define PWHASH_PASSWORD_LEN 19 /* "abcd-efgh-jkmn-pqrs": 16 of 31 characters, ~79 bits */

struct broker;
struct pwhash;

/* On the loop, once per submitted job: the password and its hash, or
 * both NULL when the worker could not make them (out of memory) or the
 * broker is stopping. */
typedef void (*pwhash_done_fn)(struct broker *b, uint64_t job, const char *password,
			       const char *hash);

/* Starts the worker. NULL on failure. */
struct pwhash *pwhash_new(struct broker *b, pwhash_done_fn done);
/* Queues a job. 0, or -1 when PWHASH_QUEUE_MAX jobs wait already. */
int pwhash_submit(struct pwhash *p, uint64_t job);
/* Stops and joins the worker; jobs not done are dropped unanswered. */
void pwhash_free(struct pwhash *p);
/* The protocol callback: on LWS_CALLBACK_EVENT_WAIT_CANCELLED, the
 * finished jobs go to the hook. */
int pwhash_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len);

#endif
