/* publisher.c: the publishing thread (publisher.h).
 *
 * One request at a time, blocking on the bus with resends: that is what
 * the bus client offers, and the reading thread never waits for it (the
 * queue between them is bounded and refuses when full). */
#include "publisher.h"

#include "alert_build.h"
#include "anpr_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNAVAILABLE_PAUSE_MS 1000 /* between resends of a request the broker could not store */
/* Image uploads are not deduplicated by the broker (docs/bus.md): resend
 * one only when the broker has been silent this long. */
#define IMAGE_RESEND_MS 10000

/* How long a request begun at start_ms may still take: the configured
 * timeout, cut short by the drain deadline of a stopping adapter. <= 0:
 * no time left. */
static int64_t time_left(struct publisher *p, int64_t start_ms)
{
	int64_t now = mono_ms(), deadline = pubq_deadline(p->q);
	int64_t left = start_ms + p->conf.timeout_ms - now;

	if (deadline && deadline - now < left)
		left = deadline - now;
	return left;
}

/* Sends req with one sequence number until a reply that is not
 * "unavailable" comes (the broker stored nothing then, and a resend of the
 * same seq is the documented retry), or time runs out. Waits in slices of
 * one resend interval (calling again with the same seq is just a resend),
 * so a stop signal's drain deadline cuts an in-flight request short. The
 * reply, or NULL after logging why (what names the request). */
static json_t *call(struct publisher *p, json_t *req, int resend_ms, const char *what)
{
	int64_t seq = bus_seq_next(p->conf.state_file), start = mono_ms();

	if (seq < 0) {
		alog_error("%s: no sequence number from %s: not sent", what, p->conf.state_file);
		return NULL;
	}
	alog_debug("%s: sending as seq %" PRId64, what, seq);
	for (;;) {
		int64_t left = time_left(p, start);
		json_t *reply, *code;

		if (left <= 0) {
			alog_warn("%s (seq %" PRId64 "): abandoned: %s", what, seq,
				  pubq_deadline(p->q) ? "stopping" : "no reply from the broker in time");
			return NULL;
		}
		reply = bus_client_call(p->bus, req, seq, resend_ms,
					left < resend_ms ? (int)left : resend_ms);
		if (!reply)
			continue; /* a slice without a reply: resend, or give up above */
		code = json_object_get(reply, "code");
		if (!json_is_string(code) || strcmp(json_string_value(code), "unavailable"))
			return reply;
		json_decref(reply);
		alog_warn("%s (seq %" PRId64 "): broker unavailable; retrying", what, seq);
		if (time_left(p, start) > UNAVAILABLE_PAUSE_MS)
			nanosleep(&(struct timespec){ 0, UNAVAILABLE_PAUSE_MS * 1000000L }, NULL);
	}
}

/* Logs an error reply (code, field, message). */
static void log_error_reply(const char *what, json_t *reply)
{
	const char *code = json_string_value(json_object_get(reply, "code"));
	const char *field = json_string_value(json_object_get(reply, "field"));
	const char *msg = json_string_value(json_object_get(reply, "message"));

	alog_warn("%s: refused by the broker: %s%s%s%s: %s", what, code ? code : "?",
		  field ? " (field " : "", field ? field : "", field ? ")" : "",
		  msg ? msg : "(no message)");
}

/* The image id for path, uploading it the first time. NULL (logged) when
 * the image cannot be used: the alert then goes without it. */
static const char *image_for(struct publisher *p, const char *path, const char *plate)
{
	char why[512], what[128];
	struct image_id *grown;
	const char *id;
	json_t *req, *reply;

	for (size_t i = 0; i < p->n_images; i++)
		if (!strcmp(p->images[i].path, path))
			return p->images[i].id;
	req = alert_build_image(path, plate, why, sizeof why);
	if (!req) {
		alog_warn("plate %s: %s; publishing without it", plate, why);
		return NULL;
	}
	snprintf(what, sizeof what, "image for plate %s", plate);
	reply = call(p, req, IMAGE_RESEND_MS, what);
	json_decref(req);
	if (!reply)
		return NULL;
	id = json_string_value(json_object_get(reply, "image_id"));
	grown = id && strlen(id) < sizeof grown->id
			? realloc(p->images, (p->n_images + 1) * sizeof *p->images)
			: NULL;
	if (!grown) {
		if (id)
			alog_error("%s: out of memory", what);
		else
			log_error_reply(what, reply);
		json_decref(reply);
		return NULL;
	}
	p->images = grown;
	p->images[p->n_images].path = strdup(path);
	snprintf(p->images[p->n_images].id, sizeof p->images[p->n_images].id, "%s", id);
	json_decref(reply);
	if (!p->images[p->n_images].path)
		return NULL;
	atomic_fetch_add(&p->counts.images, 1);
	alog_info("image %s stored as %s", path, p->images[p->n_images].id);
	return p->images[p->n_images++].id;
}

/* Forgets an uploaded image (the broker no longer accepts its id, e.g. it
 * expired), so the next use uploads it again. */
static void forget_image(struct publisher *p, const char *path)
{
	for (size_t i = 0; i < p->n_images; i++)
		if (!strcmp(p->images[i].path, path)) {
			free(p->images[i].path);
			p->images[i] = p->images[--p->n_images];
			return;
		}
}

/* 1 when reply refuses the request's images (unknown_target, images[i]). */
static int images_refused(json_t *reply)
{
	const char *code = json_string_value(json_object_get(reply, "code"));
	const char *field = json_string_value(json_object_get(reply, "field"));

	return code && field && !strcmp(code, "unknown_target") && !strncmp(field, "images", 6);
}

/* --print: the request on stdout, one line, flushed per hit. */
static void print_hit(struct publisher *p, const struct anpr_hit *hit)
{
	json_t *req = alert_build_publish(hit, p->conf.radius_m, NULL);
	char *text;

	if (req && hit->image[0])
		json_object_set_new(req, "image_file", json_string(hit->image));
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text) {
		alog_error("plate %s: out of memory building the alert", hit->read.plate);
		atomic_fetch_add(&p->counts.failed, 1);
		return;
	}
	printf("%s\n", text);
	fflush(stdout);
	free(text);
	atomic_fetch_add(&p->counts.published, 1);
}

/* 1 when reply is the broker's no_recipients: no site near the camera. */
static int no_recipients(json_t *reply)
{
	const char *code = json_string_value(json_object_get(reply, "code"));
	return code && !strcmp(code, "no_recipients");
}

/* A hit no site is near goes to the control room's inbox instead (issue
 * 18: the control room never heard of that vehicle). */
static void report_hit(struct publisher *p, const struct anpr_hit *hit, const char *image_id)
{
	char what[160];
	json_t *req = alert_build_report(hit, p->conf.radius_m, image_id), *reply;
	const char *type;

	snprintf(what, sizeof what, "inbox item for plate %s at %s", hit->read.plate,
		 hit->read.camera);
	if (!req) {
		alog_error("%s: out of memory building it", what);
		return;
	}
	reply = call(p, req, p->conf.resend_ms, what);
	json_decref(req);
	type = json_string_value(json_object_get(reply, "type"));
	if (type && !strcmp(type, "reported"))
		alog_info("%s: no site within %d m: sent to the control room's inbox as report %"
			  JSON_INTEGER_FORMAT, what, p->conf.radius_m,
			  json_integer_value(json_object_get(reply, "report_id")));
	else if (reply)
		log_error_reply(what, reply);
	json_decref(reply);
}

/* One publish over the bus; tries once more with a fresh upload when the
 * broker refuses a remembered image id. */
static void publish_hit(struct publisher *p, const struct anpr_hit *hit)
{
	char what[160];

	snprintf(what, sizeof what, "alert for plate %s at %s", hit->read.plate, hit->read.camera);
	for (int attempt = 0; attempt < 2; attempt++) {
		const char *image_id = hit->image[0] ? image_for(p, hit->image, hit->read.plate) : NULL;
		json_t *req = alert_build_publish(hit, p->conf.radius_m, image_id);
		json_t *reply;
		const char *type;

		if (!req) {
			alog_error("%s: out of memory building it", what);
			break;
		}
		reply = call(p, req, p->conf.resend_ms, what);
		json_decref(req);
		if (!reply && pubq_deadline(p->q)) {
			atomic_fetch_add(&p->counts.abandoned, 1);
			return;
		}
		if (!reply)
			break;
		type = json_string_value(json_object_get(reply, "type"));
		if (type && !strcmp(type, "published")) {
			int dup = json_is_true(json_object_get(reply, "duplicate"));

			atomic_fetch_add(dup ? &p->counts.duplicates : &p->counts.published, 1);
			alog_info("%s: published as alert %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT
				  " sites%s", what, json_integer_value(json_object_get(reply, "alert_id")),
				  json_integer_value(json_object_get(reply, "recipients")),
				  dup ? " (a duplicate: published before)" : "");
			json_decref(reply);
			return;
		}
		if (attempt == 0 && image_id && images_refused(reply)) {
			alog_warn("%s: the broker no longer knows image %s; uploading it again", what,
				  image_id);
			forget_image(p, hit->image);
			json_decref(reply);
			continue;
		}
		log_error_reply(what, reply);
		if (no_recipients(reply))
			report_hit(p, hit, image_id);
		json_decref(reply);
		break;
	}
	atomic_fetch_add(&p->counts.failed, 1);
}

/* The thread: publish until the queue is closed and drained, or the
 * drain deadline passes. */
/* Drops the uploaded images' ids after a hotlist reload (main bumps the
 * generation; only this thread touches the list). */
static void forget_images_if_reloaded(struct publisher *p)
{
	unsigned gen = atomic_load(&p->hotlist_gen);

	if (gen == p->images_gen)
		return;
	for (size_t i = 0; i < p->n_images; i++)
		free(p->images[i].path);
	p->n_images = 0;
	p->images_gen = gen;
}

void publisher_hotlist_reloaded(struct publisher *p)
{
	atomic_fetch_add(&p->hotlist_gen, 1);
}

static void *publisher_main(void *arg)
{
	struct publisher *p = arg;
	struct anpr_hit *hit = malloc(sizeof *hit);
	size_t left;

	if (!hit) {
		alog_error("publisher: out of memory");
		atomic_store(&p->done, 1);
		return NULL;
	}
	while (pubq_pop(p->q, hit)) {
		forget_images_if_reloaded(p);
		if (p->conf.print_only)
			print_hit(p, hit);
		else
			publish_hit(p, hit);
	}
	left = pubq_abandon(p->q);
	if (left) {
		alog_warn("stopping: %zu queued alerts abandoned (drain time over)", left);
		atomic_fetch_add(&p->counts.abandoned, left);
	}
	free(hit);
	atomic_store(&p->done, 1);
	return NULL;
}

/* The bus is opened before the thread starts so a bad key or endpoint
 * stops the adapter at once. */
int publisher_start(struct publisher *p, const struct publisher_conf *conf, struct pubq *q)
{
	memset(p, 0, sizeof *p);
	p->conf = *conf;
	p->q = q;
	if (!conf->print_only) {
		p->bus = bus_client_open(conf->endpoint, conf->server_public, &conf->key);
		if (!p->bus) {
			alog_error("cannot open the bus at %s", conf->endpoint);
			return -1;
		}
	}
	if (pthread_create(&p->thread, NULL, publisher_main, p)) {
		alog_error("cannot start the publishing thread");
		bus_client_close(p->bus);
		p->bus = NULL;
		return -1;
	}
	return 0;
}

/* Frees what the thread owned once it has ended. */
void publisher_join(struct publisher *p)
{
	pthread_join(p->thread, NULL);
	bus_client_close(p->bus);
	p->bus = NULL;
	for (size_t i = 0; i < p->n_images; i++)
		free(p->images[i].path);
	free(p->images);
	p->images = NULL;
	p->n_images = 0;
}
