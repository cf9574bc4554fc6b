/* alert_build.c: turning a hotlist hit into bus requests (alert_build.h). */
#include "alert_build.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The headline limit is in characters; cutting bytes could split one. */
void utf8_truncate(const char *s, size_t max_chars, char *out, size_t out_size)
{
	size_t n = 0, chars = 0;

	while (s[n]) {
		size_t k = 1;

		while ((s[n + k] & 0xC0) == 0x80)
			k++;
		if (chars == max_chars || n + k >= out_size)
			break;
		n += k;
		chars++;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

/* s with white space and commas made '_': CAP identifiers and senders
 * have none (they are written into references triplets). */
static void cap_token(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; s[n] && n + 1 < size; n++)
		out[n] = strchr(" \t\r\n,", s[n]) ? '_' : s[n];
	out[n] = '\0';
}

/* Where the hit comes from, as an import's origin (docs/protocol.md,
 * "Alerts in full": source): the camera as sender ("anpr:cam-17") and by
 * name and place, the read as the message (camera and read time), sent
 * at the read time as CAP writes it (seconds, with an offset: read_time_ok
 * guarantees YYYY-MM-DDTHH:MM:SS[.f](Z|+HH:MM|-HH:MM)). Consoles and the
 * control room show "ANPR camera cam-17 at 51.513600, -0.089000". */
static json_t *origin_of(const struct anpr_read *r)
{
	char cam[READ_CAMERA_MAX + 1], id[READ_CAMERA_MAX + READ_TIME_MAX + 8];
	char sender[READ_CAMERA_MAX + 8], sent[32], name[READ_CAMERA_MAX + 64];
	size_t len = strlen(r->time);
	const char *zone = len && (r->time[len - 1] == 'Z' || r->time[len - 1] == 'z')
			   ? "+00:00" : r->time + (len >= 6 ? len - 6 : len);

	cap_token(r->camera, cam, sizeof cam);
	snprintf(id, sizeof id, "anpr:%s:%s", cam, r->time);
	snprintf(sender, sizeof sender, "anpr:%s", cam);
	snprintf(sent, sizeof sent, "%.19s%s", r->time, zone);
	snprintf(name, sizeof name, "ANPR camera %s at %.6f, %.6f", r->camera, r->lat, r->lon);
	return json_pack("{s:s, s:s, s:s, s:s}", "identifier", id, "sender", sender, "sent", sent,
			 "sender_name", name);
}

/* Everything a console needs to act is in the body; the headline is
 * the plate and the reason, for lists. */
json_t *alert_build_publish(const struct anpr_hit *hit, int radius_m, const char *image_id)
{
	const struct anpr_read *r = &hit->read;
	char headline[ALERT_HEADLINE_MAX * 4 + 1], *full = NULL, *body = NULL;
	json_t *req = NULL;

	if (asprintf(&full, "Hotlisted vehicle %s: %s", r->plate, hit->reason) < 0)
		return NULL;
	utf8_truncate(full, ALERT_HEADLINE_MAX, headline, sizeof headline);
	if (asprintf(&body,
		     "ANPR hotlist hit.\nPlate: %s (read as \"%s\")\nCamera: %s at %.6f, %.6f\n"
		     "Read at: %s\nReason: %s",
		     r->plate, r->plate_raw, r->camera, r->lat, r->lon, r->time, hit->reason) < 0)
		goto out;
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
			" s:{s:{s:f, s:f, s:i}}, s:{s:b}}",
			"type", "publish", "headline", headline, "body", body,
			"severity", hit->severity, "category", "offender",
			"urgency", "immediate", "certainty", "observed",
			"area", "circle", "lat", r->lat, "lon", r->lon, "radius_m", radius_m,
			"targets", "area", 1);
	if (req && json_object_set_new(req, "origin", origin_of(r))) {
		json_decref(req);
		req = NULL;
	}
	if (req && image_id && json_object_set_new(req, "images", json_pack("[s]", image_id))) {
		json_decref(req);
		req = NULL;
	}
	if (req && image_id && hit->image_days > 0 &&
	    json_object_set_new(req, "image_days", json_integer(hit->image_days))) {
		json_decref(req);
		req = NULL;
	}
out:
	free(full);
	free(body);
	return req;
}

/* The control room must hear of a hotlisted vehicle even where no
 * partner site is near the camera: the same facts as the alert, as an
 * inbox item (a "report" of kind sighting, placed at the camera). */
json_t *alert_build_report(const struct anpr_hit *hit, int radius_m, const char *image_id)
{
	const struct anpr_read *r = &hit->read;
	char *full = NULL, text[ALERT_REPORT_MAX * 4 + 1];
	json_t *req = NULL;

	if (asprintf(&full,
		     "ANPR hotlist hit with no partner site within %d m of the camera: no alert "
		     "was sent.\nPlate: %s (read as \"%s\")\nCamera: %s at %.6f, %.6f\n"
		     "Read at: %s\nReason: %s",
		     radius_m, r->plate, r->plate_raw, r->camera, r->lat, r->lon, r->time,
		     hit->reason) < 0)
		return NULL;
	utf8_truncate(full, ALERT_REPORT_MAX, text, sizeof text);
	req = json_pack("{s:s, s:s, s:s, s:f, s:f, s:s}", "type", "report", "kind", "sighting",
			"text", text, "lat", r->lat, "lon", r->lon, "occurred_at", r->time);
	if (req && image_id && json_object_set_new(req, "image", json_string(image_id))) {
		json_decref(req);
		req = NULL;
	}
	free(full);
	return req;
}

/* The MIME type the first bytes name, or NULL. */
static const char *sniff_mime(const unsigned char *b, size_t n)
{
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };

	if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
		return "image/jpeg";
	if (n >= sizeof png && !memcmp(b, png, sizeof png))
		return "image/png";
	return NULL;
}

/* Reads at most max bytes of path into a new buffer: its size in *n, or
 * NULL with why filled ("too large" when there is more). */
static unsigned char *read_file(const char *path, size_t max, size_t *n, char *why, size_t ws)
{
	unsigned char *buf = malloc(max + 1);
	FILE *f;

	if (!buf) {
		snprintf(why, ws, "image %s: out of memory", path);
		return NULL;
	}
	f = fopen(path, "rb");
	if (!f) {
		snprintf(why, ws, "image %s: %s", path, strerror(errno));
		free(buf);
		return NULL;
	}
	*n = fread(buf, 1, max + 1, f);
	if (ferror(f) || *n > max) {
		snprintf(why, ws, "image %s: %s", path,
			 ferror(f) ? "read error" : "larger than 2 MiB");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/* The broker checks the bytes again; checking here first gives a clear
 * log line naming the hotlist's file. */
json_t *alert_build_image(const char *path, const char *plate, char *why, size_t why_size)
{
	unsigned char *bytes;
	const char *mime;
	char *b64 = NULL, caption[64];
	size_t n = 0, b64_len;
	json_t *req = NULL;

	bytes = read_file(path, IMAGE_MAX_BYTES, &n, why, why_size);
	if (!bytes)
		return NULL;
	mime = sniff_mime(bytes, n);
	if (!mime) {
		snprintf(why, why_size, "image %s: not a JPEG or PNG", path);
		goto out;
	}
	b64_len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	b64 = malloc(b64_len);
	if (!b64) {
		snprintf(why, why_size, "image %s: out of memory", path);
		goto out;
	}
	sodium_bin2base64(b64, b64_len, bytes, n, sodium_base64_VARIANT_ORIGINAL);
	snprintf(caption, sizeof caption, "ANPR hotlist: %s", plate);
	req = json_pack("{s:s, s:s, s:s, s:s}", "type", "image", "mime", mime, "data", b64,
			"caption", caption);
	if (!req)
		snprintf(why, why_size, "image %s: out of memory", path);
out:
	free(bytes);
	free(b64);
	return req;
}
