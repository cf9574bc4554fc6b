/* tls_files.c: checking the TLS certificate and key with OpenSSL (the
 * library lws itself uses), before lws loads them: at start-up, and on
 * the loop thread when SIGHUP rereads them (reload.c); one thread at a
 * time; and the settings of the TLS context lws makes from them. */
#include "tls_files.h"
#include "log.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* OpenSSL's own reason for the last failure, for the log. */
static const char *ssl_reason(void)
{
	static char buf[256]; /* one thread at a time */
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "no usable PEM data";
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return buf;
}

/* Never prompts for a passphrase: an encrypted key is refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

/* The first certificate of the chain file: the one the key must match. */
static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (!f) {
		log_error("cannot read the TLS certificate %s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!x)
		log_error("the TLS certificate %s holds no PEM certificate (%s)", path, ssl_reason());
	return x;
}

/* The private key, or a message saying why it cannot be used. */
static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k;

	if (!f) {
		log_error("cannot read the TLS key %s: %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!k)
		log_error("the TLS key %s holds no unencrypted PEM private key (%s)", path,
			  ssl_reason());
	return k;
}

/* Everything lws would fail on later, said with the file's name now. */
int tls_files_check(const char *cert, const char *key)
{
	X509 *x = read_cert(cert);
	EVP_PKEY *k = x ? read_key(key) : NULL;
	int rc = -1;

	if (!x || !k)
		goto out;
	if (X509_check_private_key(x, k) != 1) {
		log_error("the TLS key %s does not belong to the certificate %s", key, cert);
		ERR_clear_error();
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		log_warn("the TLS certificate %s has expired", cert);
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		log_warn("the TLS certificate %s is not valid yet", cert);
	rc = 0;
out:
	EVP_PKEY_free(k);
	X509_free(x);
	return rc;
}

void tls_files_describe(const char *cert, char *out, size_t size)
{
	FILE *f = fopen(cert, "re");
	X509 *x = f ? PEM_read_X509(f, NULL, no_passphrase, NULL) : NULL;
	BIGNUM *serial = x ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
	char *hex = serial ? BN_bn2hex(serial) : NULL;
	struct tm until;

	if (f)
		fclose(f);
	snprintf(out, size, "serial %s", hex ? hex : "?");
	if (x && ASN1_TIME_to_tm(X509_get0_notAfter(x), &until) == 1)
		strftime(out + strlen(out), size - strlen(out), ", valid until %Y-%m-%dT%H:%M:%SZ",
			 &until);
	ERR_clear_error();
	OPENSSL_free(hex);
	BN_free(serial);
	X509_free(x);
}

/* What lws 4.1 does not set on the vhost's context. Measured in make bench
 * (bench/README.md, "TLS"):
 * - SSL_MODE_RELEASE_BUFFERS: an idle connection gives back its 16 KiB
 *   read and write record buffers between records;
 * - the groups X25519, then P-256 and P-384: X25519 is the cheapest key
 *   exchange for the server, and X448, P-521 and the finite-field groups,
 *   slower and used by no browser, are not offered (TLS 1.3 takes the
 *   client's key share when it is one of these, so no extra round trip);
 * - no renegotiation (TLS 1.2; 1.3 has none): a client-driven way to make
 *   the server do handshakes on one connection;
 * - one TLS 1.3 ticket per handshake, not OpenSSL's two: a console holds
 *   one connection, and each ticket costs a seal and a record. */
int tls_files_tune(SSL_CTX *ctx)
{
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1 ||
	    SSL_CTX_set_num_tickets(ctx, 1) != 1) {
		log_error("cannot set the TLS groups or tickets (%s)", ssl_reason());
		return -1;
	}
	return 0;
}
