/* main.c: tocsind, the Tocsin broker. Reads its settings and every secret
 * it needs (token keys, audit key, TLS certificate, key and ticket key) while it may
 * still be root, then runs the server loop (server.c), which drops to
 * --user once listening, until SIGINT or SIGTERM; SIGHUP reloads
 * (reload.c). */
#include "broker.h"
#include "clock.h"
#include "doors.h"
#include "key_file.h"
#include "log.h"
#include "sign_key.h"
#include "tls_files.h"
#include "ticket_keys.h"
#include "token_keys.h"
#include "cap_sign.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#ifndef TOCSIN_VERSION
#define TOCSIN_VERSION "unknown" /* the Makefile gives it (git describe, or VERSION) */
#endif

/* Reads every secret: token keys, audit key, alert signing key, TLS files,
 * CAP signing key. */
static int read_secrets(struct broker *b)
{
	if (token_keys_init(b->token_keys, b->conf.token_key))
		return -1;
	if (key_file_load(b->conf.audit_key, "audit key", b->audit_key))
		goto fail;
	if (sign_key_load(&b->alert_key, b->conf.alert_key))
		goto fail;
	if (b->conf.tls_cert && (tls_files_check(b->conf.tls_cert, b->conf.tls_key) ||
				 ticket_keys_init(b->ticket_keys, b->conf.tls_ticket_key,
						  b->conf.tls_ticket_rotate)))
		goto fail;
	if (cap_sign_load(b->conf.cap_sign_key, &b->cap_signer))
		goto fail;
	return 0;
fail:
	ticket_keys_free(b->ticket_keys);
	token_keys_free(b->token_keys);
	sign_key_free(&b->alert_key);
	sodium_memzero(b->audit_key, sizeof b->audit_key);
	return -1;
}

/* Order matters: settings, the privilege plan, every secret, the journal's
 * owner, then the loop (which drops privileges once listening). */
int main(int argc, char **argv)
{
	static struct broker b; /* large (session table); lives for the process */
	static struct token_keys keys; /* b's token keys, for the process */
	static struct ticket_keys tickets; /* b's TLS ticket keys, for the process */
	sigset_t set;
	int r;

	b.token_keys = &keys;
	b.argc = argc;
	b.argv = argv;
	b.started_us = clock_now_us();
	metrics_init(&b.metrics);
	b.ticket_keys = &tickets;
	switch (conf_load(&b.conf, argc, argv)) {
	case CONF_RUN: break;
	case CONF_CHECK: conf_print(&b.conf, stdout); return 0;
	case CONF_VERSION: printf("tocsind %s\n", TOCSIN_VERSION); return 0;
	case CONF_DONE: return 0;
	case CONF_ERROR: return 2;
	}
	log_set_level((enum log_level)b.conf.log_level);
	log_set_format((enum log_format)b.conf.log_format);
	log_detect_journal();
	if (privileges_plan(&b.conf, &b.run_as))
		return 2;
	if (sodium_init() < 0) {
		log_error("libsodium failed to start");
		return 1;
	}
	/* Signals are read from a signalfd in the loop (server.c); block them
	 * before any thread starts so that every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (read_secrets(&b))
		return 1;
	if (privileges_prepare_journal(&b.run_as, b.conf.journal)) {
		r = 1;
		goto out;
	}
	r = server_run(&b);
out:
	ticket_keys_free(b.ticket_keys);
	token_keys_free(b.token_keys);
	sign_key_free(&b.alert_key);
	sodium_memzero(b.audit_key, sizeof b.audit_key);
	cap_sign_free(b.cap_signer);
	return r;
}
