/* tocsin-bus-probe: a small ZeroMQ bus client for the tests (docs/bus.md).
 *
 *   tocsin-bus-probe call   --endpoint E --server-key K --key FILE --seq N [options] JSON
 *   tocsin-bus-probe follow --endpoint E --server-key K --key FILE [--topic P]... [options]
 *
 * call sends one request with bus_client_call (resending until the reply
 * with that seq comes) and prints the reply as one JSON line; exit 0, or 3
 * when no reply came in time (a refused key looks like that). --raw sends
 * the text as it is (no seq added; it need not be JSON) and prints the
 * first reply. --no-reply sends once and exits without reading, as an
 * adapter that crashes right after sending would.
 *
 * follow subscribes to the PUB stream (all topics, or each --topic prefix)
 * and prints {"topic":..., "event":{...}} lines, flushed, until --count
 * events or --timeout-ms. It prints "ready" on stderr once subscribed.
 * With --verify KEYS (the broker's public alert keys: GET
 * /api/keys/alerts), each alert event's signature is checked as an
 * adapter would (bus_verify.h) and the line says "verified": "valid",
 * "bad", "unknown_key" or "unsigned".
 *
 * K is the broker's public key: 40 characters of Z85, or a key file. */
#include "bus_client.h"
#include "bus_verify.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_TOPICS 8

struct opts {
	const char *endpoint, *server_key, *key, *json, *verify;
	int64_t seq;
	int resend_ms, timeout_ms, count, raw, no_reply;
	const char *topics[MAX_TOPICS];
	int n_topics;
};

static int usage(void)
{
	fputs("usage: tocsin-bus-probe call --endpoint E --server-key K --key FILE --seq N\n"
	      "           [--resend-ms MS] [--timeout-ms MS] [--raw] [--no-reply] JSON\n"
	      "       tocsin-bus-probe follow --endpoint E --server-key K --key FILE\n"
	      "           [--topic PREFIX]... [--count N] [--timeout-ms MS] [--verify KEYS]\n", stderr);
	return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->resend_ms = 1000;
	o->timeout_ms = 15000;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--raw"))
			o->raw = 1;
		else if (!strcmp(a, "--no-reply"))
			o->no_reply = 1;
		else if (a[0] == '-' && a[1] == '-' && !v)
			return -1;
		else if (!strcmp(a, "--endpoint"))
			o->endpoint = argv[++i];
		else if (!strcmp(a, "--server-key"))
			o->server_key = argv[++i];
		else if (!strcmp(a, "--key"))
			o->key = argv[++i];
		else if (!strcmp(a, "--seq"))
			o->seq = strtoll(argv[++i], NULL, 10);
		else if (!strcmp(a, "--resend-ms"))
			o->resend_ms = atoi(argv[++i]);
		else if (!strcmp(a, "--timeout-ms"))
			o->timeout_ms = atoi(argv[++i]);
		else if (!strcmp(a, "--verify"))
			o->verify = argv[++i];
		else if (!strcmp(a, "--count"))
			o->count = atoi(argv[++i]);
		else if (!strcmp(a, "--topic") && o->n_topics < MAX_TOPICS)
			o->topics[o->n_topics++] = argv[++i];
		else if (a[0] != '-' && !o->json)
			o->json = a;
		else
			return -1;
	}
	return o->endpoint && o->server_key && o->key ? 0 : -1;
}

/* The broker's public key: given as Z85, or the public line of a file. */
static int server_key(const char *given, char out[BUS_KEY_Z85])
{
	struct bus_key k;

	if (strlen(given) == BUS_KEY_Z85 - 1 && access(given, F_OK) != 0) { /* a file wins */
		memcpy(out, given, BUS_KEY_Z85);
		return 0;
	}
	if (bus_key_load(given, &k))
		return -1;
	memcpy(out, k.public_z85, BUS_KEY_Z85);
	return 0;
}

/* A CURVE client socket of type connected to the broker. */
static void *client_socket(void *ctx, int type, const struct opts *o, int linger)
{
	char server[BUS_KEY_Z85];
	struct bus_key k;
	void *s;

	if (server_key(o->server_key, server) || bus_key_load(o->key, &k))
		return NULL;
	s = zmq_socket(ctx, type);
	if (!s || zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) ||
	    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, BUS_KEY_Z85 - 1) ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k.public_z85, BUS_KEY_Z85 - 1) ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k.secret_z85, BUS_KEY_Z85 - 1) ||
	    zmq_connect(s, o->endpoint)) {
		fprintf(stderr, "probe: cannot connect: %s\n", zmq_strerror(errno));
		if (s)
			zmq_close(s);
		return NULL;
	}
	return s;
}

/* Sends text once; with no_reply, waits only for it to leave (linger),
 * else prints the first reply. */
static int call_raw(const struct opts *o, const char *text)
{
	void *ctx = zmq_ctx_new();
	void *s = client_socket(ctx, ZMQ_DEALER, o, o->no_reply ? o->timeout_ms : 0);
	int rc = 3;

	if (!s) {
		zmq_ctx_term(ctx);
		return 1;
	}
	if (zmq_send(s, text, strlen(text), 0) < 0) {
		fprintf(stderr, "probe: send failed: %s\n", zmq_strerror(errno));
		rc = 1;
	} else if (o->no_reply) {
		rc = 0; /* zmq_ctx_term waits (up to linger) until it has left */
	} else {
		zmq_pollitem_t item = { s, 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(&item, 1, o->timeout_ms) > 0) {
			char buf[65536];
			int n = zmq_recv(s, buf, sizeof buf - 1, 0);
			if (n >= 0) {
				buf[n < (int)sizeof buf - 1 ? n : (int)sizeof buf - 1] = '\0';
				printf("%s\n", buf);
				rc = 0;
			}
		}
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	if (rc == 3)
		fprintf(stderr, "probe: no reply within %d ms\n", o->timeout_ms);
	return rc;
}

static int call(const struct opts *o)
{
	char server[BUS_KEY_Z85], *text;
	struct bus_key k;
	struct bus_client *c;
	json_error_t jerr;
	json_t *req, *reply;

	if (!o->json)
		return usage();
	if (o->raw)
		return call_raw(o, o->json);
	req = json_loads(o->json, 0, &jerr);
	if (!req) {
		fprintf(stderr, "probe: the request is not JSON: %s\n", jerr.text);
		return 2;
	}
	if (o->no_reply) {
		json_object_set_new(req, "seq", json_integer(o->seq));
		text = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		int rc = text ? call_raw(o, text) : 1;
		free(text);
		return rc;
	}
	if (server_key(o->server_key, server) || bus_key_load(o->key, &k)) {
		json_decref(req);
		return 2;
	}
	c = bus_client_open(o->endpoint, server, &k);
	if (!c) {
		json_decref(req);
		return 1;
	}
	reply = bus_client_call(c, req, o->seq, o->resend_ms, o->timeout_ms);
	bus_client_close(c);
	json_decref(req);
	if (!reply) {
		fprintf(stderr, "probe: no reply within %d ms\n", o->timeout_ms);
		return 3;
	}
	text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	printf("%s\n", text ? text : "null");
	free(text);
	return 0;
}

/* Prints one event (two frames) as a JSON line; with keys, an alert
 * event's signature checked. */
static int print_event(void *s, const json_t *keys)
{
	char topic[256], body[65536];
	int tn = zmq_recv(s, topic, sizeof topic - 1, 0), bn, more;
	size_t len = sizeof more;
	json_t *line, *ev;
	char *text;

	if (tn < 0)
		return -1;
	topic[tn < (int)sizeof topic - 1 ? tn : (int)sizeof topic - 1] = '\0';
	if (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &len) || !more)
		return 0;
	bn = zmq_recv(s, body, sizeof body - 1, 0);
	if (bn < 0)
		return -1;
	body[bn < (int)sizeof body - 1 ? bn : (int)sizeof body - 1] = '\0';
	ev = json_loads(body, 0, NULL);
	line = json_pack("{s:s, s:o}", "topic", topic, "event", ev ? ev : json_string(body));
	if (line && keys && !strncmp(topic, "alert.", 6))
		json_object_set_new(line, "verified",
				    json_string(sign_check_name(bus_verify_event(keys, ev))));
	text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	if (text)
		printf("%s\n", text);
	fflush(stdout);
	free(text);
	return 1;
}

static int follow(const struct opts *o)
{
	void *ctx = zmq_ctx_new();
	void *s = client_socket(ctx, ZMQ_SUB, o, 0);
	json_t *keys = NULL;
	int seen = 0;

	if (!s || (o->verify && (sodium_init() < 0 || !(keys = bus_verify_keys_load(o->verify))))) {
		if (s)
			zmq_close(s);
		zmq_ctx_term(ctx);
		return 1;
	}
	for (int i = 0; i < o->n_topics; i++)
		zmq_setsockopt(s, ZMQ_SUBSCRIBE, o->topics[i], strlen(o->topics[i]));
	if (!o->n_topics)
		zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
	fprintf(stderr, "ready\n");
	while (!o->count || seen < o->count) {
		zmq_pollitem_t item = { s, 0, ZMQ_POLLIN, 0 };
		int rc = zmq_poll(&item, 1, o->timeout_ms);
		if (rc <= 0)
			break;
		if (print_event(s, keys) > 0)
			seen++;
	}
	json_decref(keys);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return o->count && seen < o->count ? 3 : 0;
}

int main(int argc, char **argv)
{
	struct opts o;

	if (argc < 2 || parse(argc, argv, &o))
		return usage();
	if (!strcmp(argv[1], "call"))
		return call(&o);
	if (!strcmp(argv[1], "follow"))
		return follow(&o);
	return usage();
}
