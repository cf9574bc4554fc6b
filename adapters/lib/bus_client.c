/* bus_client.c: the adapters' side of the ZeroMQ bus (docs/bus.md).
 *
 * Key files, a CURVE DEALER that calls the broker and resends until the
 * reply with the same sequence number arrives, and the crash-safe sequence
 * counter. Blocking by design: adapters are simple one-request-at-a-time
 * programs. Errors go to stderr, prefixed "bus:". */
#include "bus_client.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define SEND_RETRY_MS 50 /* while the connection is not up */

struct bus_client {
	void *ctx;  /* owned */
	void *sock; /* owned: the DEALER */
};

/* Copies the z85 word after "name " on line into out; 0 if it is one. */
static int key_word(const char *line, const char *name, char *out)
{
	size_t n = strlen(name), len;

	if (strncmp(line, name, n) || line[n] != ' ')
		return -1;
	line += n + 1;
	len = strcspn(line, " \t\r\n");
	if (len != BUS_KEY_Z85 - 1)
		return -1;
	memcpy(out, line, len);
	out[len] = '\0';
	return 0;
}

/* Key files are small text files so they can be inspected and copied
 * with ordinary tools; a bad one is named with the reason. */
int bus_key_load(const char *path, struct bus_key *k)
{
	char line[256];
	FILE *f = fopen(path, "r");
	int bad = 0;

	memset(k, 0, sizeof *k);
	if (!f) {
		fprintf(stderr, "bus: cannot open key file %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "public", 6) && key_word(line, "public", k->public_z85)) {
			fprintf(stderr, "bus: %s: the public line is not 40 characters of Z85\n", path);
			bad = 1;
			break;
		}
		if (!strncmp(line, "secret", 6) && key_word(line, "secret", k->secret_z85)) {
			fprintf(stderr, "bus: %s: the secret line is not 40 characters of Z85\n", path);
			bad = 1;
			break;
		}
	}
	fclose(f);
	if (bad) {
		memset(k, 0, sizeof *k);
		return -1;
	}
	if (!k->public_z85[0]) {
		fprintf(stderr, "bus: %s holds no valid 'public <z85>' line\n", path);
		return -1;
	}
	return 0;
}

/* Writes text to path with mode, replacing it atomically (tmp + rename). */
static int write_file(const char *path, const char *text, mode_t mode)
{
	char tmp[4096];
	int fd;
	size_t len = strlen(text);

	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp) {
		fprintf(stderr, "bus: path too long: %s\n", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0) {
		fprintf(stderr, "bus: cannot create %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) || close(fd)) {
		fprintf(stderr, "bus: cannot write %s: %s\n", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path)) {
		fprintf(stderr, "bus: cannot rename %s to %s: %s\n", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* A new CURVE pair from libzmq (which uses libsodium underneath). */
int bus_key_generate(const char *path, struct bus_key *k)
{
	char text[128], pub_path[4096];

	memset(k, 0, sizeof *k);
	if (zmq_curve_keypair(k->public_z85, k->secret_z85)) {
		fprintf(stderr, "bus: libzmq cannot make CURVE keys: %s\n", zmq_strerror(errno));
		return -1;
	}
	if (snprintf(pub_path, sizeof pub_path, "%s.pub", path) >= (int)sizeof pub_path) {
		fprintf(stderr, "bus: path too long: %s\n", path);
		return -1;
	}
	snprintf(text, sizeof text, "public %s\nsecret %s\n", k->public_z85, k->secret_z85);
	if (write_file(path, text, 0600))
		return -1;
	snprintf(text, sizeof text, "public %s\n", k->public_z85);
	return write_file(pub_path, text, 0644);
}

struct bus_client *bus_client_open(const char *endpoint, const char *server_public_z85,
				   const struct bus_key *client)
{
	struct bus_client *c = calloc(1, sizeof *c);
	int linger = 0, immediate = 1;

	if (!c) {
		fprintf(stderr, "bus: out of memory\n");
		return NULL;
	}
	if (!client->secret_z85[0]) {
		fprintf(stderr, "bus: the adapter's key file has no secret line\n");
		free(c);
		return NULL;
	}
	c->ctx = zmq_ctx_new();
	c->sock = c->ctx ? zmq_socket(c->ctx, ZMQ_DEALER) : NULL;
	if (!c->sock ||
	    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger) ||
	    /* queue only on a completed connection: while the broker is away a
	     * send fails (EAGAIN) and the next resend tries again, instead of
	     * every resend piling up to be delivered at once */
	    zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate) ||
	    zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, server_public_z85, BUS_KEY_Z85 - 1) ||
	    zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, client->public_z85, BUS_KEY_Z85 - 1) ||
	    zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, client->secret_z85, BUS_KEY_Z85 - 1) ||
	    zmq_connect(c->sock, endpoint)) {
		fprintf(stderr, "bus: cannot connect to %s: %s\n", endpoint, zmq_strerror(errno));
		bus_client_close(c);
		return NULL;
	}
	return c;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends the request text; 0, or -1 with errno (EAGAIN: not connected yet,
 * the next resend tries again). */
static int send_text(struct bus_client *c, const char *text)
{
	return zmq_send(c->sock, text, strlen(text), ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* Reads one waiting reply; returns it if it carries seq, else NULL (a late
 * reply to an earlier call, or not JSON, is dropped). */
static json_t *take_reply(struct bus_client *c, int64_t seq)
{
	zmq_msg_t m;
	json_t *reply;
	json_t *s;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		return NULL;
	}
	reply = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
	zmq_msg_close(&m);
	s = reply ? json_object_get(reply, "seq") : NULL;
	if (!json_is_integer(s) || json_integer_value(s) != seq) {
		json_decref(reply);
		return NULL;
	}
	return reply;
}

/* Resending is safe because the broker deduplicates on (adapter, seq):
 * the first reply that carries our seq is the answer. */
json_t *bus_client_call(struct bus_client *c, json_t *req, int64_t seq, int resend_ms,
			int timeout_ms)
{
	json_t *copy = json_copy(req);
	char *text;
	int64_t deadline = now_ms() + timeout_ms, next_send = 0;
	json_t *reply = NULL;

	if (!copy || json_object_set_new(copy, "seq", json_integer(seq))) {
		json_decref(copy);
		fprintf(stderr, "bus: out of memory\n");
		return NULL;
	}
	text = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	if (!text) {
		fprintf(stderr, "bus: cannot serialise the request\n");
		return NULL;
	}
	while (!reply) {
		int64_t now = now_ms(), wait;
		zmq_pollitem_t item = { c->sock, 0, ZMQ_POLLIN, 0 };

		if (now >= deadline)
			break;
		if (now >= next_send) {
			int unsent = send_text(c, text);
			if (unsent && errno != EAGAIN) {
				fprintf(stderr, "bus: send failed: %s\n", zmq_strerror(errno));
				break;
			}
			/* not connected yet (EAGAIN): try again shortly */
			next_send = now + (unsent ? SEND_RETRY_MS
					 : resend_ms > 0 ? resend_ms : timeout_ms);
		}
		wait = (next_send < deadline ? next_send : deadline) - now;
		int rc = zmq_poll(&item, 1, (long)wait);
		if (rc < 0 && errno == EINTR)
			break;
		if (rc < 0) {
			fprintf(stderr, "bus: poll failed: %s\n", zmq_strerror(errno));
			break;
		}
		while (!reply && rc > 0 && (item.revents & ZMQ_POLLIN)) {
			int events = 0;
			size_t elen = sizeof events;
			reply = take_reply(c, seq);
			if (reply || zmq_getsockopt(c->sock, ZMQ_EVENTS, &events, &elen) ||
			    !(events & ZMQ_POLLIN))
				break;
		}
	}
	free(text);
	if (!reply && errno != EINTR)
		errno = ETIMEDOUT;
	return reply;
}

void bus_client_close(struct bus_client *c)
{
	if (!c)
		return;
	if (c->sock)
		zmq_close(c->sock);
	if (c->ctx)
		zmq_ctx_term(c->ctx);
	free(c);
}

/* Reads the last number used from the state file; 0 when there is none. */
static int read_last(const char *state_file, int64_t *last)
{
	char buf[64];
	FILE *f = fopen(state_file, "r");

	*last = 0;
	if (!f) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "bus: cannot open %s: %s\n", state_file, strerror(errno));
		return -1;
	}
	if (!fgets(buf, sizeof buf, f) || sscanf(buf, "%" SCNd64, last) != 1 || *last < 0) {
		fprintf(stderr, "bus: %s does not hold a sequence number\n", state_file);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Makes the rename that replaced the state file durable too. */
static void sync_dir(const char *state_file)
{
	char *copy = strdup(state_file);
	int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY) : -1;

	if (fd >= 0) {
		if (fsync(fd))
			fprintf(stderr, "bus: fsync of %s's folder: %s\n", state_file, strerror(errno));
		close(fd);
	}
	free(copy);
}

/* The number is written and fsync'd before it is handed out, so a crash
 * after a send never reuses it for a different request. */
int64_t bus_seq_next(const char *state_file)
{
	int64_t last;
	char text[32];

	if (read_last(state_file, &last))
		return -1;
	snprintf(text, sizeof text, "%" PRId64 "\n", last + 1);
	if (write_file(state_file, text, 0644))
		return -1;
	sync_dir(state_file);
	return last + 1;
}
