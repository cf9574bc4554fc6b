/* reload.c: SIGHUP, a renewed certificate or a changed setting without a
 * restart, and without dropping a connection.
 *
 * In order: the settings are read again exactly as at start (the same
 * command line and environment, the file again; conf_load) and those
 * SIGHUP may change are taken (conf_reload logs each, and names the ones
 * that need a restart); the token keys and the TLS ticket key are looked
 * at (token_keys.c and ticket_keys.c also do that every 2 s); the TLS certificate and key are checked
 * (tls_files.c: a key that is not the certificate's would fail every new
 * handshake) and loaded into the listening vhost's SSL_CTX
 * (lws_tls_cert_updated), which new handshakes use: a connection already
 * made keeps the session it has. Settings with errors change nothing but
 * do not stop the certificate: a renewal is often urgent. Under the
 * unit the broker is already the user tocsin, so the files must be
 * readable by it, as tocsinctl keys init makes them. Loop thread only. */
#include "broker.h"
#include "doors.h"
#include "log.h"
#include "tls_files.h"
#include "ticket_keys.h"
#include "token_keys.h"

#include <stdlib.h>

/* The settings again; 0 when taken (or nothing changed), -1 when not. */
static int reload_settings(struct broker *b)
{
	struct conf *fresh = malloc(sizeof *fresh); /* 70 kB: not on the stack */
	int rc = -1;

	if (!fresh) {
		log_error("reload: out of memory; the settings stay as they were");
		return -1;
	}
	if (conf_load(fresh, b->argc, b->argv) != CONF_RUN) {
		log_error("reload: the settings have errors (above); they stay as they were");
		goto out;
	}
	if (conf_reload(&b->conf, fresh) < 0)
		goto out;
	log_set_level((enum log_level)b->conf.log_level);
	log_set_format((enum log_format)b->conf.log_format);
	rc = 0;
out:
	free(fresh);
	return rc;
}

/* The certificate and key again, into the vhost; 0 or -1. */
static int reload_tls(struct broker *b)
{
	char about[160];

	if (!b->conf.tls_cert)
		return 0;
	if (tls_files_check(b->conf.tls_cert, b->conf.tls_key)) {
		log_error("reload: the TLS certificate and key stay as they were");
		return -1;
	}
	lws_tls_cert_updated(b->ctx, b->conf.tls_cert, b->conf.tls_key, NULL, 0, NULL, 0);
	tls_files_describe(b->conf.tls_cert, about, sizeof about);
	log_info("reload: TLS certificate %s loaded (%s); new connections get it", b->conf.tls_cert,
		 about);
	return 0;
}

void reload_run(struct broker *b)
{
	int bad = 0;

	log_info("SIGHUP: reloading the settings, the token keys and the TLS certificate");
	bad |= reload_settings(b);
	bad |= token_keys_check(b->token_keys) < 0;
	if (b->ticket_keys)
		bad |= ticket_keys_check(b->ticket_keys) < 0;
	bad |= reload_tls(b);
	log_info("reload %s; %u connections kept", bad ? "done with errors (above)" : "done",
		 b->n_sessions);
}
