// links: adapters/anpr/alert_build.c adapters/anpr/publish_queue.c
/* Unit tests for the ANPR adapter's bus requests (alert_build.c: the
 * publish built from a hit, the image upload, UTF-8 truncation) and the
 * bounded publish queue between the two threads (publish_queue.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../adapters/anpr/alert_build.h"
#include "../../adapters/anpr/publish_queue.h"

static struct anpr_hit *make_hit(const char *plate, const char *reason)
{
	struct anpr_hit *h = calloc(1, sizeof *h);

	assert_non_null(h);
	snprintf(h->read.plate, sizeof h->read.plate, "%s", plate);
	snprintf(h->read.plate_raw, sizeof h->read.plate_raw, "%s", "ab12 cde");
	snprintf(h->read.camera, sizeof h->read.camera, "cam-17");
	snprintf(h->read.time, sizeof h->read.time, "2026-11-22T10:00:00Z");
	h->read.lat = 51.5136;
	h->read.lon = -0.0890;
	h->severity = "severe";
	snprintf(h->reason, sizeof h->reason, "%s", reason);
	return h;
}

static void test_publish_request(void **state)
{
	struct anpr_hit *h = make_hit("AB12CDE", "Stolen in a burglary");
	json_t *req = alert_build_publish(h, 750, NULL), *circle, *origin;
	const char *body;

	assert_non_null(req);
	assert_string_equal(json_string_value(json_object_get(req, "type")), "publish");
	assert_null(json_object_get(req, "seq")); /* bus_client_call sets it */
	assert_string_equal(json_string_value(json_object_get(req, "headline")),
			    "Hotlisted vehicle AB12CDE: Stolen in a burglary");
	assert_string_equal(json_string_value(json_object_get(req, "severity")), "severe");
	assert_string_equal(json_string_value(json_object_get(req, "category")), "offender");
	assert_string_equal(json_string_value(json_object_get(req, "urgency")), "immediate");
	assert_string_equal(json_string_value(json_object_get(req, "certainty")), "observed");
	body = json_string_value(json_object_get(req, "body"));
	assert_non_null(strstr(body, "AB12CDE"));
	assert_non_null(strstr(body, "\"ab12 cde\""));
	assert_non_null(strstr(body, "cam-17"));
	assert_non_null(strstr(body, "2026-11-22T10:00:00Z"));
	assert_non_null(strstr(body, "Stolen in a burglary"));
	circle = json_object_get(json_object_get(req, "area"), "circle");
	assert_true(json_real_value(json_object_get(circle, "lat")) == 51.5136);
	assert_true(json_real_value(json_object_get(circle, "lon")) == -0.0890);
	assert_int_equal(json_integer_value(json_object_get(circle, "radius_m")), 750);
	assert_true(json_is_true(json_object_get(json_object_get(req, "targets"), "area")));
	assert_int_equal(json_object_size(json_object_get(req, "targets")), 1);
	assert_null(json_object_get(req, "images"));
	/* the camera is the source: consoles name it */
	origin = json_object_get(req, "origin");
	assert_string_equal(json_string_value(json_object_get(origin, "sender")), "anpr:cam-17");
	assert_string_equal(json_string_value(json_object_get(origin, "identifier")),
			    "anpr:cam-17:2026-11-22T10:00:00Z");
	assert_string_equal(json_string_value(json_object_get(origin, "sent")),
			    "2026-11-22T10:00:00+00:00");
	assert_string_equal(json_string_value(json_object_get(origin, "sender_name")),
			    "ANPR camera cam-17 at 51.513600, -0.089000");
	json_decref(req);

	req = alert_build_publish(h, 500, "AAAAAAAAAAAAAAAAAAAAAA");
	assert_string_equal(json_string_value(json_array_get(json_object_get(req, "images"), 0)),
			    "AAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(json_array_size(json_object_get(req, "images")), 1);
	assert_null(json_object_get(req, "image_days")); /* no expires: the broker's default */
	json_decref(req);
	h->image_days = 3; /* the entry expires in 3 days: so does the image */
	req = alert_build_publish(h, 500, "AAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(json_integer_value(json_object_get(req, "image_days")), 3);
	json_decref(req);
	req = alert_build_publish(h, 500, NULL);
	assert_null(json_object_get(req, "image_days")); /* no image, no retention */
	json_decref(req);
	free(h);
}

/* A 500-character reason of 3-byte characters: the headline is cut to 200
 * characters without splitting one; the body keeps it whole. */
static void test_headline_truncated(void **state)
{
	char reason[1600] = "";
	struct anpr_hit *h;
	json_t *req;
	const char *hl;
	size_t chars = 0;

	for (int i = 0; i < 500; i++)
		strcat(reason, "\xe2\x82\xac");
	h = make_hit("AB12CDE", reason);
	req = alert_build_publish(h, 500, NULL);
	assert_non_null(req);
	hl = json_string_value(json_object_get(req, "headline"));
	for (const char *p = hl; *p; p++)
		chars += ((unsigned char)*p & 0xC0) != 0x80;
	assert_int_equal(chars, 200);
	assert_int_equal(strlen(hl), strlen("Hotlisted vehicle AB12CDE: ") + (200 - 27) * 3);
	assert_non_null(strstr(json_string_value(json_object_get(req, "body")), reason));
	json_decref(req);
	free(h);
}

static void test_utf8_truncate(void **state)
{
	char out[8];

	utf8_truncate("abc", 10, out, sizeof out);
	assert_string_equal(out, "abc");
	utf8_truncate("abcdef", 3, out, sizeof out);
	assert_string_equal(out, "abc");
	utf8_truncate("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 10, out, sizeof out); /* 8 bytes: 3 fit */
	assert_string_equal(out, "\xc3\xa9\xc3\xa9\xc3\xa9");
	utf8_truncate("", 3, out, sizeof out);
	assert_string_equal(out, "");
	utf8_truncate("abc", 0, out, sizeof out);
	assert_string_equal(out, "");
}

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

static void test_image_request(void **state)
{
	static const unsigned char jpeg[] = { 0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0 };
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0 };
	static const unsigned char gif[] = { 'G', 'I', 'F', '8', '9', 'a' };
	char dir[] = "/tmp/anpr-img-XXXXXX", path[64], why[256];
	unsigned char decoded[64];
	size_t dlen;
	json_t *req;
	unsigned char *big;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/a.jpg", dir);
	write_bytes(path, jpeg, sizeof jpeg);
	req = alert_build_image(path, "AB12CDE", why, sizeof why);
	assert_non_null(req);
	assert_string_equal(json_string_value(json_object_get(req, "type")), "image");
	assert_string_equal(json_string_value(json_object_get(req, "mime")), "image/jpeg");
	assert_non_null(strstr(json_string_value(json_object_get(req, "caption")), "AB12CDE"));
	assert_int_equal(sodium_base642bin(decoded, sizeof decoded,
					   json_string_value(json_object_get(req, "data")),
					   strlen(json_string_value(json_object_get(req, "data"))),
					   NULL, &dlen, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(dlen, sizeof jpeg);
	assert_memory_equal(decoded, jpeg, sizeof jpeg);
	json_decref(req);

	snprintf(path, sizeof path, "%s/b.png", dir);
	write_bytes(path, png, sizeof png);
	req = alert_build_image(path, "AB12CDE", why, sizeof why);
	assert_string_equal(json_string_value(json_object_get(req, "mime")), "image/png");
	json_decref(req);

	snprintf(path, sizeof path, "%s/c.gif", dir);
	write_bytes(path, gif, sizeof gif);
	assert_null(alert_build_image(path, "AB12CDE", why, sizeof why));
	assert_non_null(strstr(why, "not a JPEG or PNG"));
	assert_non_null(strstr(why, path));

	snprintf(path, sizeof path, "%s/empty.jpg", dir);
	write_bytes(path, jpeg, 0);
	assert_null(alert_build_image(path, "AB12CDE", why, sizeof why));

	snprintf(path, sizeof path, "%s/missing.jpg", dir);
	assert_null(alert_build_image(path, "AB12CDE", why, sizeof why));
	assert_non_null(strstr(why, "No such file"));

	/* Exactly 2 MiB is fine; one byte more is not. */
	big = calloc(1, IMAGE_MAX_BYTES + 1);
	assert_non_null(big);
	memcpy(big, jpeg, sizeof jpeg);
	snprintf(path, sizeof path, "%s/big.jpg", dir);
	write_bytes(path, big, IMAGE_MAX_BYTES);
	req = alert_build_image(path, "AB12CDE", why, sizeof why);
	assert_non_null(req);
	json_decref(req);
	write_bytes(path, big, IMAGE_MAX_BYTES + 1);
	assert_null(alert_build_image(path, "AB12CDE", why, sizeof why));
	assert_non_null(strstr(why, "larger than 2 MiB"));
	free(big);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_queue(void **state)
{
	struct pubq q;
	struct anpr_hit *a = make_hit("A1", "a"), *b = make_hit("B2", "b"), *c = make_hit("C3", "c");
	struct anpr_hit *out = calloc(1, sizeof *out);

	assert_non_null(out);
	assert_int_equal(pubq_init(&q, 2), 0);
	assert_int_equal(pubq_push(&q, a), 0);
	assert_int_equal(pubq_push(&q, b), 0);
	assert_int_equal(pubq_push(&q, c), -1); /* full: refused at once */
	assert_int_equal(pubq_pop(&q, out), 1);
	assert_string_equal(out->read.plate, "A1");
	assert_int_equal(pubq_push(&q, c), 0); /* wraps around */
	pubq_close(&q, 0);
	assert_int_equal(pubq_push(&q, a), -1); /* closed */
	assert_int_equal(pubq_deadline(&q), 0);
	assert_int_equal(pubq_pop(&q, out), 1);
	assert_string_equal(out->read.plate, "B2");
	assert_int_equal(pubq_pop(&q, out), 1);
	assert_string_equal(out->read.plate, "C3");
	assert_int_equal(pubq_pop(&q, out), 0); /* closed and empty: no wait */
	pubq_destroy(&q);

	/* A deadline that has passed: nothing more is handed out. */
	assert_int_equal(pubq_init(&q, 4), 0);
	assert_int_equal(pubq_push(&q, a), 0);
	assert_int_equal(pubq_push(&q, b), 0);
	pubq_close(&q, mono_ms() - 1);
	assert_int_equal(pubq_pop(&q, out), 0);
	assert_int_equal(pubq_abandon(&q), 2);
	assert_int_equal(pubq_abandon(&q), 0);
	/* A later close may bring the deadline closer, never push it away. */
	int64_t d = pubq_deadline(&q);
	pubq_close(&q, d + 100000);
	assert_int_equal(pubq_deadline(&q), d);
	pubq_destroy(&q);

	/* A deadline in the future ends a wait on an empty open queue. */
	assert_int_equal(pubq_init(&q, 1), 0);
	q.deadline_ms = mono_ms() + 50;
	assert_int_equal(pubq_pop(&q, out), 0);
	pubq_destroy(&q);
	free(a);
	free(b);
	free(c);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_request),
		cmocka_unit_test(test_headline_truncated),
		cmocka_unit_test(test_utf8_truncate),
		cmocka_unit_test(test_image_request),
		cmocka_unit_test(test_queue),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
