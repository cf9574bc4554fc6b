/* cap_import.c: a parsed CAP document becomes bus requests: each inline
 * image an `image` request, then one `publish` carrying the image ids,
 * the targets, and for an Update or Cancel the id of the alert the CAP
 * references name (from the state map). The broker's answer decides:
 * published is recorded in the map; an error is a rejection naming the
 * field, except `unavailable`, which is worth retrying.
 *
 * Targets: --targets when given; else the area (a polygon or circle) and
 * the areas' geocodes and descriptions, which the administrator's mapping
 * turns into sites (tocsinctl geocode add). A message that reaches no
 * site that way (nothing to target, nothing mapped, nobody inside), or
 * an Update or Cancel of a message never imported here, is never refused
 * nor sent nowhere: it is filed as a `report` of kind cap_import, the
 * whole publish request held in it, in the control room's inbox, where a
 * controller targets and publishes it (issue 18). The report takes the
 * publish's sequence number (a refused publish stored nothing), so a
 * retry is answered with the same report.
 *
 * Signatures (issues 18 and 23): first the broker is asked whether the
 * document's <sender> is registered (cap_sender); a registered sender's
 * document must carry an XML Signature its key verifies (cap_verify.c),
 * else it is refused or held, marked "signature FAILED", as the sender's
 * policy says. */
#include "cap_import.h"
#include "cap_state.h"
#include "cap_verify.h"
#include "bus_client.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESEND_MS 2000
#define READ_MAX (8 * 1024 * 1024)
#define SIG_REASON_MAX 600

char *cap_read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "tocsin-cap: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n == cap) {
			char *grown = cap < READ_MAX ? realloc(buf, (cap = cap ? cap * 2 : 65536) + 1)
						     : NULL;
			if (!grown) {
				fprintf(stderr, "tocsin-cap: %s: rejected: document: over 8 MiB, the "
						"most tocsin-cap reads (or memory ran out)\n", path);
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				fprintf(stderr, "tocsin-cap: cannot read %s: %s\n", path,
					strerror(errno));
				free(buf);
				buf = NULL;
			}
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* One request and its answer, with seq (0: the next number). NULL reply:
 * *outcome says RETRY or STOPPED. */
static json_t *call(const struct cap_importer *im, json_t *req, int64_t seq,
		    enum cap_outcome *outcome, char *reason, size_t rsize)
{
	char seq_file[4096];
	json_t *reply;

	snprintf(seq_file, sizeof seq_file, "%s/seq", im->state_dir);
	if (seq <= 0)
		seq = bus_seq_next(seq_file);
	if (seq < 0) {
		snprintf(reason, rsize, "cannot advance the sequence number in %s", seq_file);
		*outcome = CAP_RETRY;
		return NULL;
	}
	reply = bus_client_call(im->bus, req, seq, RESEND_MS, im->timeout_ms);
	if (!reply) {
		*outcome = *im->stop ? CAP_STOPPED : CAP_RETRY;
		snprintf(reason, rsize, "%s", *im->stop ? "stopped"
							: "the broker did not answer in time");
	}
	return reply;
}

/* An error reply as a reason; RETRY for unavailable, else REJECTED. */
static enum cap_outcome broker_refused(json_t *reply, const char *what, char *reason,
				       size_t rsize)
{
	const char *code = json_string_value(json_object_get(reply, "code"));
	const char *field = json_string_value(json_object_get(reply, "field"));
	const char *msg = json_string_value(json_object_get(reply, "message"));

	snprintf(reason, rsize, "%s%s%s: %s (broker: %s)", what, field ? " " : "",
		 field ? field : "", msg ? msg : "refused", code ? code : "error");
	return code && (!strcmp(code, "unavailable") || !strcmp(code, "busy")) ? CAP_RETRY
									      : CAP_REJECTED;
}

/* Uploads the inline images; their ids go into the publish request. */
static enum cap_outcome upload_images(const struct cap_importer *im, struct cap_alert *a,
				      json_t *req, char *reason, size_t rsize)
{
	json_t *ids = json_array(), *img;
	size_t i;
	enum cap_outcome out = CAP_IMPORTED;

	json_array_foreach(a->images, i, img) {
		json_t *r = json_pack("{s:s, s:O, s:O, s:O}", "type", "image", "mime",
				      json_object_get(img, "mime"), "data",
				      json_object_get(img, "data"), "caption",
				      json_object_get(img, "caption"));
		json_t *reply = r ? call(im, r, 0, &out, reason, rsize) : NULL;
		const char *type = json_string_value(json_object_get(reply, "type"));
		char what[120];

		json_decref(r);
		if (!reply) {
			if (!r)
				out = CAP_RETRY;
			break;
		}
		snprintf(what, sizeof what, "resource \"%.80s\"",
			 json_string_value(json_object_get(img, "caption")));
		if (type && !strcmp(type, "image_stored") &&
		    json_is_string(json_object_get(reply, "image_id"))) {
			json_array_append(ids, json_object_get(reply, "image_id"));
		} else {
			out = broker_refused(reply, what, reason, rsize);
		}
		json_decref(reply);
		if (out != CAP_IMPORTED)
			break;
	}
	if (out == CAP_IMPORTED && json_array_size(ids))
		json_object_set(req, "images", ids);
	json_decref(ids);
	return out;
}

/* The alert id an Update or Cancel replaces: the last reference imported
 * here (not one held as a pending import); CAP_HELD when there is none. */
static enum cap_outcome resolve_reference(const struct cap_importer *im, struct cap_alert *a,
					  json_t *req, char *reason, size_t rsize)
{
	for (size_t i = a->n_refs; i-- > 0;) {
		int64_t id;
		int rc = cap_state_lookup(im->state_dir, a->refs[i].sender, a->refs[i].identifier,
					  &id);
		if (rc < 0) {
			snprintf(reason, rsize, "cannot read the state in %s", im->state_dir);
			return CAP_RETRY;
		}
		if (rc == 0 && id > 0) {
			json_object_set_new(req, "references", json_integer(id));
			return CAP_IMPORTED;
		}
	}
	snprintf(reason, rsize, "it refers to a message never imported here (%.100s,%.100s)",
		 a->refs[0].sender, a->refs[0].identifier);
	return CAP_HELD;
}

/* The publish request: the parsed fields, type, and targets. */
static enum cap_outcome build_request(const struct cap_importer *im, struct cap_alert *a,
				      json_t *req, char *reason, size_t rsize)
{
	const char *type = json_string_value(json_object_get(a->publish, "msg_type"));

	json_object_update(req, a->publish);
	json_object_set_new(req, "type", json_string("publish"));
	json_object_set(req, "origin", a->origin); /* the alert keeps who sent it */
	if (strcmp(type, "alert"))
		return resolve_reference(im, a, req, reason, rsize);
	if (im->targets) {
		json_object_set(req, "targets", im->targets);
		return CAP_IMPORTED;
	}
	if (!json_object_get(a->publish, "area") && !json_array_size(a->geocodes)) {
		snprintf(reason, rsize, "its area has no polygon, circle, geocode or description");
		return CAP_HELD;
	}
	json_object_set_new(req, "targets", json_object());
	if (json_object_get(a->publish, "area"))
		json_object_set_new(json_object_get(req, "targets"), "area", json_true());
	if (json_array_size(a->geocodes))
		json_object_set(json_object_get(req, "targets"), "geocodes", a->geocodes);
	return CAP_IMPORTED;
}

/* At most max bytes of s, cut before a UTF-8 character, not inside one. */
static int utf8_cut(const char *s, int max)
{
	int n = (int)strnlen(s, (size_t)max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* Files the message in the control room's inbox as a pending import:
 * a report of kind cap_import holding req, with why in its text. */
static enum cap_outcome hold(const struct cap_importer *im, struct cap_alert *a, json_t *req,
			     int64_t seq, int64_t *report_id, char *reason, size_t rsize)
{
	const char *headline = json_string_value(json_object_get(a->publish, "headline"));
	const char *name = json_string_value(json_object_get(a->origin, "sender_name"));
	char text[1800];
	enum cap_outcome out = CAP_HELD;
	json_t *r, *reply;

	snprintf(text, sizeof text, "CAP import held: %s. From %s (%s), message %s. Areas: ",
		 reason, name ? name : a->sender, a->sender, /* as sent, not the state key */
		 json_string_value(json_object_get(a->origin, "identifier")));
	for (size_t i = 0; i < json_array_size(a->geocodes) && strlen(text) < 1400; i++) {
		const char *g = json_string_value(json_array_get(a->geocodes, i));
		size_t n = strlen(text);
		snprintf(text + n, sizeof text - n, "%s%.*s", i ? "; " : "", utf8_cut(g, 300), g);
	}
	if (!json_array_size(a->geocodes))
		strcat(text, "none");
	if (headline) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof text - n, ". %.*s", utf8_cut(headline, 250), headline);
	}
	json_object_del(req, "type");
	if (a->n_refs) { /* the original links up when it is imported (tocsin_publish) */
		json_t *refs = json_array();
		for (size_t i = 0; i < a->n_refs; i++)
			json_array_append_new(refs, json_sprintf("%s,%s,%s", a->refs[i].sender,
								  a->refs[i].identifier, a->refs[i].sent));
		json_object_set_new(req, "cap_references", refs);
	}
	r = json_pack("{s:s, s:s, s:s, s:O}", "type", "report", "kind", "cap_import", "text", text,
		      "cap", req);
	reply = r ? call(im, r, seq, &out, reason, rsize) : NULL;
	json_decref(r);
	if (!reply)
		return r ? out : CAP_RETRY;
	if (json_is_integer(json_object_get(reply, "report_id"))) {
		*report_id = (int64_t)json_integer_value(json_object_get(reply, "report_id"));
		if (cap_state_record(im->state_dir, a->sender, a->identifier, -*report_id))
			fprintf(stderr, "tocsin-cap: held as pending import %" PRId64 " but not recorded\n",
				*report_id);
		out = CAP_HELD;
	} else {
		out = broker_refused(reply, "pending import", reason, rsize);
	}
	json_decref(reply);
	return out;
}

/* The registered key and policy of a->sender (bus request cap_sender):
 * *reply the broker's answer (caller frees), NULL with the outcome when
 * there was none or it was an error. */
static enum cap_outcome ask_sender(const struct cap_importer *im, struct cap_alert *a,
				   json_t **reply, char *reason, size_t rsize)
{
	json_t *r = json_pack("{s:s, s:s}", "type", "cap_sender", "sender", a->sender);
	enum cap_outcome out = CAP_IMPORTED;
	const char *type;

	*reply = r ? call(im, r, 0, &out, reason, rsize) : NULL;
	json_decref(r);
	if (!r)
		return CAP_RETRY;
	if (!*reply)
		return out;
	type = json_string_value(json_object_get(*reply, "type"));
	if (!type || strcmp(type, "cap_sender")) {
		out = broker_refused(*reply, "cap_sender", reason, rsize);
		json_decref(*reply);
		*reply = NULL;
	}
	return out;
}

/* The state key of a registered sender's document held for a failed
 * signature: its identifier and a digest of its bytes, so that a retry of
 * the same bytes finds its pending import, and the genuine document with
 * the same identifier (which a forger may have sent first) still imports. */
static int failed_key(struct cap_alert *a, const char *xml, size_t len)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1], *key = NULL;

	crypto_hash_sha256(digest, (const unsigned char *)xml, len);
	sodium_bin2hex(hex, sizeof hex, digest, 8);
	if (asprintf(&key, "%s#signature-failed-%s", a->identifier, hex) < 0)
		return -1;
	free(a->identifier);
	a->identifier = key;
	return 0;
}

/* Registered senders' documents must carry their signature (issues 18 and
 * 23): VERIFIED goes on, marked in the origin; a missing or failing one is
 * refused (CAP_REJECTED) or held (CAP_HELD, marked "failed") as the
 * sender's policy says. An unregistered sender goes on unmarked. */
static enum cap_outcome check_signature(const struct cap_importer *im, struct cap_alert *a,
					const char *xml, size_t len, char *reason, size_t rsize)
{
	json_t *reply = NULL;
	enum cap_outcome out = ask_sender(im, a, &reply, reason, rsize);
	const char *key, *policy;
	enum cap_sig sig;
	char why[400];

	if (!reply || !json_is_true(json_object_get(reply, "registered"))) {
		json_decref(reply);
		return out;
	}
	key = json_string_value(json_object_get(reply, "public_key"));
	policy = json_string_value(json_object_get(reply, "on_failure"));
	sig = key ? cap_verify(xml, len, key, why, sizeof why) : CAP_SIG_ERROR;
	if (!key)
		snprintf(why, sizeof why, "the broker sent no key");
	if (sig == CAP_SIG_VERIFIED) {
		json_object_set_new(a->origin, "signature", json_string("verified"));
		fprintf(stderr, "tocsin-cap: %s %s: signature verified (sender %s, key %.16s)\n",
			a->sender, a->identifier, a->sender,
			json_string_value(json_object_get(reply, "fingerprint")));
		out = CAP_IMPORTED;
	} else if (policy && !strcmp(policy, "refuse")) {
		snprintf(reason, rsize, "signature: sender %s is registered and its signature is %s: "
					"%s; refused, nothing stored", a->sender,
			 sig == CAP_SIG_MISSING ? "missing" : "not accepted", why);
		out = CAP_REJECTED;
	} else {
		json_object_set_new(a->origin, "signature", json_string("failed"));
		snprintf(reason, rsize, "signature FAILED (sender %s is registered): %s; not "
					"delivered, for a controller's review", a->sender, why);
		out = failed_key(a, xml, len) ? CAP_RETRY : CAP_HELD;
	}
	json_decref(reply);
	return out;
}

/* The publish's sequence number: the one a previous attempt at this CAP
 * message used, else a new one, written down before it is sent. */
static enum cap_outcome publish_seq(const struct cap_importer *im, struct cap_alert *a,
				    int64_t *seq, char *reason, size_t rsize)
{
	char seq_file[4096];
	int rc = cap_state_pending(im->state_dir, a->sender, a->identifier, seq);

	if (rc == 0)
		return CAP_IMPORTED;
	snprintf(seq_file, sizeof seq_file, "%s/seq", im->state_dir);
	if (rc < 0 || (*seq = bus_seq_next(seq_file)) < 0 ||
	    cap_state_set_pending(im->state_dir, a->sender, a->identifier, *seq)) {
		snprintf(reason, rsize, "cannot keep the adapter's state in %s", im->state_dir);
		return CAP_RETRY;
	}
	return CAP_IMPORTED;
}

/* 1 when this CAP message was imported or held here before (*out and
 * *alert_id say which and what), 0 when not, -1 when the state is
 * unreadable. */
static int seen_before(const struct cap_importer *im, struct cap_alert *a, int64_t *alert_id,
		       enum cap_outcome *out)
{
	int rc = cap_state_lookup(im->state_dir, a->sender, a->identifier, alert_id);
	int held;

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	held = *alert_id < 0;
	if (held)
		*alert_id = -*alert_id;
	fprintf(stderr, "tocsin-cap: %s %s was %s before as %s %" PRId64 "\n", a->sender,
		a->identifier, held ? "held" : "imported", held ? "pending import" : "alert",
		*alert_id);
	*out = held ? CAP_HELD : CAP_IMPORTED;
	return 1;
}

/* Before anything is sent: 1 when the message was imported or held here
 * before, or its signature refuses it (*out says which), -1 when the
 * state is unreadable, 0 to go on: sig_reason (SIG_REASON_MAX bytes) is
 * then why it must be held for its signature, or empty. */
static int screen(const struct cap_importer *im, struct cap_alert *a, const char *xml,
		  size_t len, int64_t *alert_id, enum cap_outcome *out, char *sig_reason,
		  char *reason, size_t rsize)
{
	int rc = seen_before(im, a, alert_id, out);

	sig_reason[0] = '\0';
	if (rc != 0)
		return rc;
	*out = check_signature(im, a, xml, len, reason, rsize);
	if (*out == CAP_IMPORTED)
		return 0;
	if (*out != CAP_HELD)
		return 1;
	snprintf(sig_reason, SIG_REASON_MAX, "%s", reason);
	return seen_before(im, a, alert_id, out); /* the same bytes held before */
}

enum cap_outcome cap_import_doc(const struct cap_importer *im, const char *xml, size_t len,
				int64_t *alert_id, char *reason, size_t rsize)
{
	struct cap_alert a;
	struct cap_problem prob;
	json_t *req = NULL, *reply = NULL, *note;
	int64_t seq = 0;
	enum cap_outcome out = CAP_IMPORTED;
	char sig_reason[SIG_REASON_MAX];
	size_t i;
	int rc;

	if (cap_parse(im->schema, xml, len, &a, &prob)) {
		cap_problem_format(&prob, reason, rsize);
		return CAP_REJECTED;
	}
	json_array_foreach(a.notes, i, note)
		fprintf(stderr, "tocsin-cap: %s %s: not held: %s\n", a.sender, a.identifier,
			json_string_value(note));
	rc = screen(im, &a, xml, len, alert_id, &out, sig_reason, reason, rsize);
	if (rc != 0) {
		cap_alert_free(&a);
		return rc < 0 ? CAP_RETRY : out;
	}
	req = json_object();
	out = !req ? CAP_RETRY : build_request(im, &a, req, reason, rsize);
	if (out != CAP_RETRY && sig_reason[0]) {
		snprintf(reason, rsize, "%s", sig_reason);
		out = CAP_HELD; /* never delivered as genuine */
	}
	if (out == CAP_IMPORTED || out == CAP_HELD) {
		enum cap_outcome up = upload_images(im, &a, req, reason, rsize);
		if (up != CAP_IMPORTED)
			out = up;
	}
	if (out == CAP_IMPORTED || out == CAP_HELD) {
		enum cap_outcome sq = publish_seq(im, &a, &seq, reason, rsize);
		if (sq != CAP_IMPORTED)
			out = sq;
	}
	if (out == CAP_HELD)
		out = hold(im, &a, req, seq, alert_id, reason, rsize);
	if (out == CAP_IMPORTED)
		reply = call(im, req, seq, &out, reason, rsize);
	if (reply) {
		const char *type = json_string_value(json_object_get(reply, "type"));
		const char *code = json_string_value(json_object_get(reply, "code"));
		if (code && !strcmp(code, "no_recipients") && !im->targets) {
			snprintf(reason, rsize, "its area maps to no site");
			out = hold(im, &a, req, seq, alert_id, reason, rsize);
		} else if (type && !strcmp(type, "published")) {
			*alert_id = (int64_t)json_integer_value(json_object_get(reply, "alert_id"));
			if (cap_state_record(im->state_dir, a.sender, a.identifier, *alert_id))
				fprintf(stderr, "tocsin-cap: alert %" PRId64 " published but not recorded; an Update of it will be refused\n",
					*alert_id);
			out = CAP_IMPORTED;
		} else {
			out = broker_refused(reply, "publish", reason, rsize);
		}
	}
	json_decref(reply);
	json_decref(req);
	cap_alert_free(&a);
	return out;
}
