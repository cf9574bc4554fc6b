/* main.c: tocsind, the Tocsin broker. Reads its settings and every secret
 * it needs (token keys, audit key, TLS certificate and key) while it may
 * still be root, then runs the server loop (server.c), which drops to
 * --user once listening, until SIGINT or SIGTERM. */
#include "broker.h"
#include "doors.h"
#include "key_file.h"
#include "log.h"
#include "tls_files.h"
#include "token_keys.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Default --allowed-origin under TLS: the https origins of the port on
 * 127.0.0.1, localhost and the listen address. Without TLS the default
 * stays admission.c's (http and https on 127.0.0.1 and localhost). */
static void default_tls_origins(struct conf *c)
{
	static char origins[3][96]; /* referenced by conf for the process's life */
	const char *hosts[3] = { "127.0.0.1", "localhost", c->listen_host };

	if (c->n_origins || !c->tls_cert)
		return;
	for (int i = 0; i < 3; i++) {
		if (i == 2 && (!strcmp(hosts[i], "127.0.0.1") || !strcmp(hosts[i], "localhost") ||
			       !strcmp(hosts[i], "0.0.0.0") || !*hosts[i]))
			break;
		snprintf(origins[i], sizeof origins[i], "https://%s:%d", hosts[i], c->port);
		c->origins[c->n_origins++] = origins[i];
	}
}

/* Reads every secret: token keys, audit key, TLS files. */
static int read_secrets(struct broker *b)
{
	static char audit_path[4096];

	if (token_keys_init(b->token_keys, b->conf.token_key))
		return -1;
	if (!b->conf.audit_key) {
		/* default: audit.key beside the token key */
		const char *slash = strrchr(b->conf.token_key, '/');
		snprintf(audit_path, sizeof audit_path, "%.*saudit.key",
			 slash ? (int)(slash - b->conf.token_key + 1) : 0, b->conf.token_key);
		b->conf.audit_key = audit_path;
	}
	if (key_file_load_or_create(b->conf.audit_key, "audit key", b->audit_key))
		goto fail;
	if (b->conf.tls_cert && tls_files_check(b->conf.tls_cert, b->conf.tls_key))
		goto fail;
	return 0;
fail:
	token_keys_free(b->token_keys);
	sodium_memzero(b->audit_key, sizeof b->audit_key);
	return -1;
}

/* Order matters: settings, the privilege plan, every secret, the journal's
 * owner, then the loop (which drops privileges once listening). */
int main(int argc, char **argv)
{
	static struct broker b; /* large (session table); lives for the process */
	static struct token_keys keys; /* b's token keys, for the process */
	sigset_t set;
	int r;

	b.token_keys = &keys;
	r = conf_load(&b.conf, argc, argv);
	if (r)
		return r > 0 ? 0 : 2;
	log_set_level((enum log_level)b.conf.log_level);
	if (privileges_plan(&b.conf, &b.run_as))
		return 2;
	default_tls_origins(&b.conf);
	if (sodium_init() < 0) {
		log_error("libsodium failed to start");
		return 1;
	}
	/* Signals are read from a signalfd in the loop (server.c); block them
	 * before any thread starts so that every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
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
	token_keys_free(b.token_keys);
	sodium_memzero(b.audit_key, sizeof b.audit_key);
	return r;
}
