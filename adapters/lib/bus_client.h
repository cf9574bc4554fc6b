/* bus_client.h: what an adapter needs to submit to tocsind over the ZeroMQ
 * bus (docs/bus.md): a CURVE-authenticated DEALER that sends one request,
 * waits for the reply with the same sequence number and resends until it
 * comes (the broker deduplicates on adapter and sequence, so a resend never
 * publishes twice), and a sequence counter that survives a crash.
 *
 * Shared by adapters/cap, adapters/anpr and tocsinctl publish. */
#ifndef TOCSIN_BUS_CLIENT_H
#define TOCSIN_BUS_CLIENT_H

#include <jansson.h>
#include <stdint.h>

#define BUS_KEY_Z85 41 /* 40 characters of Z85 and a NUL */

/* A CURVE key pair as stored in a key file: the lines "public <z85>" and
 * "secret <z85>" (a .pub file has only the first). */
struct bus_key {
	char public_z85[BUS_KEY_Z85];
	char secret_z85[BUS_KEY_Z85]; /* "" when the file held only the public key */
};

/* Reads a key file. 0, or -1 after logging to stderr why (names the path). */
int bus_key_load(const char *path, struct bus_key *k);
/* Makes a new key pair and writes it to path (mode 0600, and path.pub with
 * the public line, mode 0644). 0 or -1 after logging why. */
int bus_key_generate(const char *path, struct bus_key *k);

struct bus_client;

/* Connects a DEALER to endpoint (e.g. tcp://127.0.0.1:7201) with the
 * broker's public key and the adapter's key pair. NULL after logging why. */
struct bus_client *bus_client_open(const char *endpoint, const char *server_public_z85,
				   const struct bus_key *client);

/* Sends req (borrowed; "seq" is set to seq) and waits for the broker's
 * reply carrying the same seq, resending every resend_ms (the broker
 * deduplicates), for at most timeout_ms in all. Returns the reply (caller
 * json_decref()s: {"type":"published"...} or {"type":"error"...}) or NULL
 * on timeout or a stop signal (errno EINTR). */
json_t *bus_client_call(struct bus_client *c, json_t *req, int64_t seq, int resend_ms,
			int timeout_ms);

void bus_client_close(struct bus_client *c);

/* The next sequence number for an adapter, from a state file holding the
 * last one used (created at 1 if missing; written and fsync'd before it is
 * returned, so a number is never used twice across a crash). -1 after
 * logging why. */
int64_t bus_seq_next(const char *state_file);

#endif
