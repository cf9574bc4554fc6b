/* tls_files.h: the TLS certificate and key named in the settings, checked
 * at start-up before anything listens, so that a wrong path or file gets
 * a message naming it instead of a bare failure from deep inside lws. */
#ifndef TOCSIN_TLS_FILES_H
#define TOCSIN_TLS_FILES_H

#include <stddef.h>
#include <openssl/ssl.h>

/* Reads cert (PEM, a certificate chain) and key (PEM, unencrypted) and
 * checks that the key belongs to the certificate. Returns 0, or -1 after
 * logging an error that names the file at fault. Warns (only) when the
 * certificate has expired or is not yet valid. */
int tls_files_check(const char *cert, const char *key);

/* "serial HEX, valid until TIME" of the first certificate of cert, for the
 * log ("serial ?" when it cannot be read). */
void tls_files_describe(const char *cert, char *out, size_t size);
/* Sets what lws leaves at OpenSSL's defaults on the server's context
 * (tls_files.c says what and why). Returns 0, or -1 after a log. */
int tls_files_tune(SSL_CTX *ctx);

#endif
