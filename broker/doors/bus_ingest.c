/* bus_ingest.c: one request from an adapter on the ingest ROUTER.
 *
 * The peer passed the ZAP handler, so its messages carry a User-Id: the
 * adapter's id. The request is checked (JSON object, seq, type, size), the
 * adapter looked up again (it may have been revoked since it connected),
 * and then it takes the same path as a WebSocket request, with a
 * requester that answers over the bus: publish_request() and
 * report_request() (session.h). Images are checked as POST /api/images
 * checks them and stored with tocsin_image_store(); cap_sender looks up a
 * registered CAP sender's key (tocsin_bus_cap_sender). Loop thread only. */
#include "broker.h"
#include "handle.h"
#include "bus_internal.h"
#include "doors.h"
#include "db.h"
#include "image.h"
#include "journal.h"
#include "log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEQ_MAX ((int64_t)1 << 53) /* seq fits a JavaScript number */
#define IMAGE_REQUEST_MAX (3 * 1024 * 1024)
#define CAPTION_MAX 200

static void reply_error(struct bus *bus, const struct requester *r, const char *code,
			const char *field, const char *message)
{
	requester_error(bus->b, r, code, field, message);
}

/* The seq member: 0 and *seq set, or -1 after replying (seq null). */
static int take_seq(struct bus *bus, struct requester *r, json_t *root)
{
	json_t *v = json_object_get(root, "seq");

	if (!v) {
		reply_error(bus, r, "missing_field", "seq",
			    "seq is required: the adapter's own sequence number");
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) >= SEQ_MAX) {
		reply_error(bus, r, "bad_field", "seq", "seq must be a positive integer below 2^53");
		return -1;
	}
	r->seq = json_integer_value(v);
	return 0;
}

/* The adapter behind the User-Id, if it may still submit; else replies
 * forbidden and returns NULL. */
static const struct bus_adapter *take_adapter(struct bus *bus, struct requester *r,
					      const char *user_id)
{
	const struct bus_adapter *a = user_id ? bus_zap_adapter_by_id(bus, strtoll(user_id, NULL, 10))
					      : NULL;

	if (!a || a->revoked || a->disabled) {
		reply_error(bus, r, "forbidden", NULL,
			    !a ? "this key is no longer registered"
			       : a->revoked ? "this adapter was revoked"
					    : "this adapter's user is disabled");
		return NULL;
	}
	r->adapter_id = a->id;
	snprintf(r->adapter, sizeof r->adapter, "%s", a->name);
	r->who = a->who;
	return a;
}

/* publish and report: checked by frame_parse as a WebSocket frame would
 * be (the extra "seq" member is ignored there). */
static void submit_frame(struct bus *bus, struct requester *r, const char *data, size_t len)
{
	struct client_frame f;
	struct frame_error err;

	if (frame_parse(data, len, &f, &err)) {
		requester_check_error(bus->b, r, &err);
		return;
	}
	if (f.type == FRAME_PUBLISH)
		publish_request(bus->b, r, &f);
	else if (f.type == FRAME_REPORT)
		report_request(bus->b, r, &f);
	else if (f.type == FRAME_PING)
		requester_send(bus->b, r, json_pack("{s:s}", "type", "pong"));
	frame_free(&f);
}

/* What image_stored needs: the requester, and the image's id. */
struct image_ctx {
	struct requester req;
	char id[IMAGE_ID_LEN + 1];
};

/* Columns: image_id (the first one's when the seq was used before),
 * duplicate. */
static void image_stored(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	struct image_ctx *c = arg;

	if (err)
		requester_db_error(b, &c->req, err, "unknown_target");
	else
		requester_send(b, &c->req, json_pack("{s:s, s:s, s:b}", "type", "image_stored",
						     "image_id", PQgetvalue(res, 0, 0), "duplicate",
						     !strcmp(PQgetvalue(res, 0, 1), "t")));
	free(c);
}

/* Checks an image request's members; returns the decoded bytes (caller
 * frees) or NULL after replying. */
static unsigned char *decode_image(struct bus *bus, const struct requester *r, json_t *root,
				   size_t *n, const char **mime)
{
	json_t *m = json_object_get(root, "mime"), *d = json_object_get(root, "data");
	json_t *cap = json_object_get(root, "caption");
	const char *kind;
	unsigned char *bin;

	if (!m || !d) {
		reply_error(bus, r, "missing_field", !m ? "mime" : "data",
			    !m ? "mime is required (image/jpeg or image/png)"
			       : "data is required (the image in base64)");
		return NULL;
	}
	*mime = json_is_string(m) ? image_mime_from_header(json_string_value(m)) : NULL;
	if (!*mime) {
		reply_error(bus, r, "bad_field", "mime", "mime must be image/jpeg or image/png");
		return NULL;
	}
	if (cap && (!json_is_string(cap) || json_string_length(cap) > CAPTION_MAX)) {
		reply_error(bus, r, "bad_field", "caption", "caption must be a string of at most 200 characters");
		return NULL;
	}
	if (!json_is_string(d) || json_string_length(d) == 0) {
		reply_error(bus, r, "bad_field", "data", "data must be the image in base64");
		return NULL;
	}
	bin = malloc(json_string_length(d) / 4 * 3 + 3);
	if (!bin) {
		reply_error(bus, r, "internal", NULL, "out of memory");
		return NULL;
	}
	if (sodium_base642bin(bin, json_string_length(d) / 4 * 3 + 3, json_string_value(d),
			      json_string_length(d), " \r\n", n, NULL,
			      sodium_base64_VARIANT_ORIGINAL)) {
		reply_error(bus, r, "bad_field", "data", "data is not valid base64");
		goto fail;
	}
	if (*n == 0 || *n > IMAGE_MAX_BYTES) {
		reply_error(bus, r, "bad_field", "data", "an image has 1 byte to 2 MiB (2097152 bytes)");
		goto fail;
	}
	kind = image_sniff(bin, *n);
	if (!kind || strcmp(kind, *mime)) {
		reply_error(bus, r, "bad_field", "data",
			    !kind ? "data is not a JPEG or PNG image"
				  : "data is not the image type that mime names");
		goto fail;
	}
	return bin;
fail:
	free(bin);
	return NULL;
}

/* An image, stored as POST /api/images stores it (tocsin_image_store
 * checks the user's role and audits the upload), once per (adapter, seq):
 * a resend gets the first image's id (tocsin_bus_image). */
static void submit_image(struct bus *bus, const struct requester *r, json_t *root)
{
	unsigned char digest[32], *bin;
	char sha_hex[65], adapter[24], seq[24], *hex;
	const char *mime, *params[7];
	struct image_ctx *c;
	size_t n = 0;

	if (!(bin = decode_image(bus, r, root, &n, &mime)))
		return;
	crypto_hash_sha256(digest, bin, n);
	sodium_bin2hex(sha_hex, sizeof sha_hex, digest, sizeof digest);
	hex = malloc(2 * n + 3);
	c = calloc(1, sizeof *c);
	if (!hex || !c) {
		reply_error(bus, r, "internal", NULL, "out of memory");
		goto out;
	}
	hex[0] = '\\';
	hex[1] = 'x';
	sodium_bin2hex(hex + 2, 2 * n + 1, bin, n);
	c->req = *r;
	image_id_new(c->id);
	snprintf(adapter, sizeof adapter, "%lld", (long long)r->adapter_id);
	snprintf(seq, sizeof seq, "%lld", (long long)r->seq);
	params[0] = adapter;
	params[1] = seq;
	params[2] = c->id;
	params[3] = mime;
	params[4] = hex;
	params[5] = sha_hex;
	params[6] = r->remote;
	if (db_query(bus->b->db,
		     "SELECT image_id, duplicate FROM tocsin_bus_image($1::integer, $2::bigint, $3, $4,"
		     " $5::bytea, $6, $7)", 7, params, image_stored, c)) {
		reply_error(bus, r, "unavailable", NULL,
			    "the database is not reachable; the image was not stored");
		goto out;
	}
	c = NULL; /* the query owns it */
out:
	free(c);
	free(hex);
	free(bin);
}

/* What cap_sender_found needs: the requester, and the sender asked for. */
struct cap_sender_ctx {
	struct requester req;
	char sender[256];
};

/* Columns: public_key, on_failure, fingerprint; no row when the sender is
 * not registered. */
static void cap_sender_found(struct broker *b, void *arg, PGresult *res,
			     const struct db_error *err)
{
	struct cap_sender_ctx *c = arg;

	if (err)
		requester_db_error(b, &c->req, err, "bad_field");
	else if (PQntuples(res) != 1)
		requester_send(b, &c->req, json_pack("{s:s, s:s, s:b}", "type", "cap_sender",
						     "sender", c->sender, "registered", 0));
	else
		requester_send(b, &c->req,
			       json_pack("{s:s, s:s, s:b, s:s, s:s, s:s}", "type", "cap_sender",
					 "sender", c->sender, "registered", 1, "public_key",
					 PQgetvalue(res, 0, 0), "on_failure", PQgetvalue(res, 0, 1),
					 "fingerprint", PQgetvalue(res, 0, 2)));
	free(c);
}

/* cap_sender: the key and policy the administrator registered for a CAP
 * <sender> (tocsinctl cap sender add), which the CAP importer verifies
 * that sender's signatures with. Read-only: no dedupe on seq, like ping. */
static void submit_cap_sender(struct bus *bus, const struct requester *r, json_t *root)
{
	json_t *v = json_object_get(root, "sender");
	struct cap_sender_ctx *c;
	char adapter[24];
	const char *params[2];

	if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > 255 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		reply_error(bus, r, v ? "bad_field" : "missing_field", "sender",
			    "sender must be a CAP sender of 1 to 255 characters");
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		reply_error(bus, r, "internal", NULL, "out of memory");
		return;
	}
	c->req = *r;
	snprintf(c->sender, sizeof c->sender, "%s", json_string_value(v));
	snprintf(adapter, sizeof adapter, "%lld", (long long)r->adapter_id);
	params[0] = adapter;
	params[1] = c->sender;
	if (db_query(bus->b->db,
		     "SELECT public_key, on_failure, fingerprint FROM tocsin_bus_cap_sender($1::integer, $2)",
		     2, params, cap_sender_found, c)) {
		reply_error(bus, r, "unavailable", NULL,
			    "the database is not reachable; the CAP sender cannot be looked up");
		free(c);
	}
}

/* A resend of a publish the journal holds (journaled during an outage, by
 * this broker or the one before a restart): the first outcome. Once the
 * journal is written back, adapter_submissions has it (tocsin_journal_apply). */
static int journaled_duplicate(struct bus *bus, const struct requester *r)
{
	int64_t alert_id;

	if (!bus->b->journal ||
	    !journal_submission(bus->b->journal, r->adapter_id, r->seq, &alert_id))
		return 0;
	requester_send(bus->b, r, json_pack("{s:s, s:I, s:n, s:s, s:b}", "type", "published",
					    "alert_id", (json_int_t)alert_id, "stream_seq",
					    "durable", "journal", "duplicate", 1));
	return 1;
}

void bus_ingest_request(struct bus *bus, const void *peer, size_t peer_len, const char *data,
			size_t len, const char *user_id, const char *address)
{
	struct requester r;
	json_error_t jerr;
	json_t *root, *type;
	const char *name;
	char msg[256];

	memset(&r, 0, sizeof r);
	memcpy(r.peer, peer, peer_len < sizeof r.peer ? peer_len : sizeof r.peer);
	r.peer_len = peer_len < sizeof r.peer ? peer_len : sizeof r.peer;
	snprintf(r.remote, sizeof r.remote, "%s", address ? address : "");
	r.via_bus = 1;
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		snprintf(msg, sizeof msg, "invalid JSON at line %d, column %d: %.160s",
			 jerr.line, jerr.column, jerr.text);
		reply_error(bus, &r, "bad_json", NULL, msg);
		return;
	}
	if (!json_is_object(root)) {
		reply_error(bus, &r, "bad_frame", NULL, "a request must be a JSON object");
		goto out;
	}
	if (take_seq(bus, &r, root))
		goto out;
	type = json_object_get(root, "type");
	if (!json_is_string(type)) {
		reply_error(bus, &r, "bad_frame", "type", "a request needs a string type");
		goto out;
	}
	name = json_string_value(type);
	if (len > (strcmp(name, "image") ? bus->b->conf.max_frame : IMAGE_REQUEST_MAX)) {
		reply_error(bus, &r, "frame_too_large", NULL, "the request is over the size limit");
		goto out;
	}
	if (!take_adapter(bus, &r, user_id))
		goto out;
	if (!strcmp(name, "ping") || !strcmp(name, "report"))
		submit_frame(bus, &r, data, len);
	else if (!strcmp(name, "publish")) {
		if (!journaled_duplicate(bus, &r))
			submit_frame(bus, &r, data, len);
	} else if (!strcmp(name, "image"))
		submit_image(bus, &r, root);
	else if (!strcmp(name, "cap_sender"))
		submit_cap_sender(bus, &r, root);
	else {
		snprintf(msg, sizeof msg, "unknown request type \"%.40s\" (publish, report, image, cap_sender, ping)",
			 name);
		reply_error(bus, &r, "unknown_type", "type", msg);
	}
out:
	json_decref(root);
}
