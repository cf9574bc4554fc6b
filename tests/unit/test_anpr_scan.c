// links: adapters/anpr/plate.c adapters/anpr/read_scan.c
/* Unit tests for the ANPR adapter's plate normalisation and read scanner
 * (adapters/anpr/plate.c, read_scan.c): good lines in every shape, each
 * kind of malformed line with the field it names, and a differential fuzz
 * against jansson (the scanner must accept exactly what jansson accepts,
 * with the same values, apart from the documented differences). Every
 * input is copied into a buffer of exactly its length, so AddressSanitizer
 * catches any read past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../adapters/anpr/read_scan.h"

/* Scans s from an exact-size heap copy (no NUL after it). */
static int scan(const char *s, size_t len, struct anpr_read *r, struct scan_error *e)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, len);
	rc = read_scan(copy, len, r, e);
	free(copy);
	return rc;
}

static int scan_str(const char *s, struct anpr_read *r, struct scan_error *e)
{
	return scan(s, strlen(s), r, e);
}

/* Asserts s is refused, naming field (NULL: a syntax error). */
static void refused(const char *s, const char *field)
{
	struct anpr_read r;
	struct scan_error e;

	if (scan_str(s, &r, &e) == 0)
		fail_msg("accepted: %s", s);
	assert_non_null(e.message);
	if (field == NULL && e.field != NULL)
		fail_msg("%s: want a syntax error, got field %s: %s", s, e.field, e.message);
	if (field != NULL && (e.field == NULL || strcmp(field, e.field)))
		fail_msg("%s: want field %s, got %s: %s", s, field, e.field ? e.field : "(none)",
			 e.message);
}

static void test_plate_normalise(void **state)
{
	char out[PLATE_SIZE];

	assert_int_equal(plate_normalise("AB12 CDE", 8, out), 7);
	assert_string_equal(out, "AB12CDE");
	assert_int_equal(plate_normalise("ab12cde", 7, out), 7);
	assert_string_equal(out, "AB12CDE");
	assert_int_equal(plate_normalise(" a-b 1-2 c ", 11, out), 5);
	assert_string_equal(out, "AB12C");
	assert_int_equal(plate_normalise("123456789012345", 15, out), 15);
	assert_int_equal(plate_normalise("1234567890123456", 16, out), -1);
	assert_int_equal(plate_normalise("1 2 3 4 5 6 7 8 9 0 1 2 3 4 5", 29, out), 15);
	assert_int_equal(plate_normalise("", 0, out), -1);
	assert_int_equal(plate_normalise("  - ", 4, out), -1);
	assert_int_equal(plate_normalise("AB12.CDE", 8, out), -1);
	assert_int_equal(plate_normalise("AB\tCD", 5, out), -1);
	assert_int_equal(plate_normalise("ÄB12", 5, out), -1);
	assert_int_equal(plate_normalise("AB\0CD", 5, out), -1);
	/* Padding is zero, so two plates compare as 16-byte blocks. */
	plate_normalise("x", 1, out);
	for (int i = 1; i < PLATE_SIZE; i++)
		assert_int_equal(out[i], 0);
}

static void test_good_lines(void **state)
{
	struct anpr_read r;
	struct scan_error e;

	assert_int_equal(scan_str("{\"plate\":\"AB12 CDE\",\"camera\":\"cam-17\",\"lat\":51.51,"
				  "\"lon\":-0.09,\"time\":\"2026-11-22T10:00:00Z\"}", &r, &e), 0);
	assert_string_equal(r.plate, "AB12CDE");
	assert_string_equal(r.plate_raw, "AB12 CDE");
	assert_string_equal(r.camera, "cam-17");
	assert_string_equal(r.time, "2026-11-22T10:00:00Z");
	assert_true(r.lat == 51.51 && r.lon == -0.09);

	/* Any order, white space, CR, unknown members of every type, escapes. */
	assert_int_equal(scan_str(" \t{ \"time\" : \"2026-11-22T10:00:00.123+01:00\" ,\r\n"
				  "\"x\":{\"a\":[1,2.5e-3,{\"b\":null}],\"c\":\"\\u00e9\\\"\"},"
				  "\"lon\":180,\"lat\":-90,\"ok\":true,\"no\":false,\"n\":null,"
				  "\"camera\":\"c\\u00e9\\/\\\\m\",\"plate\":\"x\\u0079-1\","
				  "\"arr\":[],\"obj\":{}} \r\n", &r, &e), 0);
	assert_string_equal(r.plate, "XY1");
	assert_string_equal(r.camera, "c\xc3\xa9/\\m");
	assert_true(r.lat == -90 && r.lon == 180);
	assert_string_equal(r.time, "2026-11-22T10:00:00.123+01:00");

	/* A member name written with escapes is still that member. */
	assert_int_equal(scan_str("{\"pl\\u0061te\":\"A1\",\"camera\":\"c\",\"lat\":0,\"lon\":-0,"
				  "\"time\":\"2026-11-22T10:00:00Z\"}", &r, &e), 0);
	assert_string_equal(r.plate, "A1");

	/* Exponents, a surrogate pair and raw UTF-8 in the camera name. */
	assert_int_equal(scan_str("{\"plate\":\"A1\",\"camera\":\"\\ud83d\\ude97 \xe2\x82\xac\","
				  "\"lat\":5.151E1,\"lon\":-9e-2,\"time\":\"2026-11-22T10:00:00Z\"}",
				  &r, &e), 0);
	assert_string_equal(r.camera, "\xf0\x9f\x9a\x97 \xe2\x82\xac");
	assert_true(fabs(r.lat - 51.51) < 1e-12 && fabs(r.lon + 0.09) < 1e-12);

	/* Limits: a 64-byte camera, a 63-byte raw plate. */
	assert_int_equal(scan_str("{\"plate\":\"A  -  -  -  -  -  -  -  -  -  -  -  -  -  -  -  -  -  -  -  B\","
				  "\"camera\":\"0123456789012345678901234567890123456789012345678901234567890123\","
				  "\"lat\":1,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", &r, &e), 0);
	assert_string_equal(r.plate, "AB");
	assert_int_equal(strlen(r.camera), 64);
}

static void test_malformed_lines(void **state)
{
	const char *ok_tail = ",\"camera\":\"c\",\"lat\":1,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}";
	char buf[512];

	/* Syntax. */
	refused("", NULL);
	refused("   ", NULL);
	refused("[]", NULL);
	refused("\"plate\"", NULL);
	refused("{", NULL);
	refused("{\"plate\"", NULL);
	refused("{\"plate\":", NULL);
	refused("{\"plate\":\"A1", NULL);
	refused("{\"plate\":\"A1\"", NULL);
	refused("{\"plate\":\"A1\",", NULL);
	refused("{\"plate\":\"A1\",}", NULL);
	refused("{,}", NULL);
	refused("{\"plate\" \"A1\"}", NULL);
	refused("{plate:\"A1\"}", NULL);
	refused("{'plate':'A1'}", NULL);
	refused("{\"plate\":\"A1\"}}", NULL);
	refused("{\"plate\":\"A1\"} x", NULL);
	refused("{\"plate\":\"A1\"}{}", NULL);
	refused("{\"x\":tru,\"plate\":\"A1\"}", NULL);
	refused("{\"x\":nul}", NULL);
	refused("{\"x\":[1,]}", NULL);
	refused("{\"x\":[1 2]}", NULL);
	refused("{\"x\":{\"a\"}}", NULL);
	refused("{\"x\":{\"a\":1,}}", NULL);
	refused("{\"x\":01}", NULL);
	refused("{\"x\":+1}", NULL);
	refused("{\"x\":.5}", NULL);
	refused("{\"x\":1.}", NULL);
	refused("{\"x\":1e}", NULL);
	refused("{\"x\":-}", NULL);
	refused("{\"x\":NaN}", NULL);
	refused("{\"x\":\"a\\x\"}", NULL);
	refused("{\"x\":\"a\\u12\"}", NULL);
	refused("{\"x\":\"a\\u12g4\"}", NULL);
	refused("{\"x\":\"\\ud800\"}", NULL);
	refused("{\"x\":\"\\ud800\\u0041\"}", NULL);
	refused("{\"x\":\"\\udc00\"}", NULL);
	refused("{\"x\":\"\\u0000\"}", NULL);
	refused("{\"x\":\"a\tb\"}", NULL);
	refused("{\"x\":\"\xff\"}", NULL);
	refused("{\"x\":\"\xc0\x80\"}", NULL);     /* overlong */
	refused("{\"x\":\"\xe0\x80\xaf\"}", NULL); /* overlong, 3 bytes */
	refused("{\"x\":\"\xf0\x80\x80\xaf\"}", NULL); /* overlong, 4 bytes */
	refused("{\"x\":\"\xed\xa0\x80\"}", NULL); /* a surrogate in UTF-8 */
	refused("{\"x\":\"\xf4\x90\x80\x80\"}", NULL); /* above U+10FFFF */
	refused("{\"x\":\"\xe2\x82\"}", NULL);     /* cut short */
	refused("{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", NULL);
	/* Fields. */
	refused("{}", "plate");
	refused("{\"camera\":\"c\",\"lat\":1,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "plate");
	refused("{\"plate\":\"A1\",\"lat\":1,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "camera");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "lat");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":1,\"time\":\"2026-11-22T10:00:00Z\"}", "lon");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":1,\"lon\":2}", "time");
	const char *bad_plates[] = { "\"\"", "\" \"", "\"A.1\"", "\"1234567890123456\"", "12",
				     "null", "[\"A1\"]", "\"\\u00c4B\"",
				     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"" };
	for (size_t i = 0; i < sizeof bad_plates / sizeof *bad_plates; i++) {
		snprintf(buf, sizeof buf, "{\"plate\":%s%s", bad_plates[i], ok_tail);
		refused(buf, "plate");
	}
	refused("{\"plate\":\"A1\",\"camera\":\"\",\"lat\":1,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "camera");
	refused("{\"plate\":\"A1\",\"camera\":7,\"lat\":1,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "camera");
	refused("{\"plate\":\"A1\",\"camera\":\"c\\n\",\"lat\":1,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "camera");
	refused("{\"plate\":\"A1\",\"camera\":\"01234567890123456789012345678901234567890123456789012345678901234\","
		"\"lat\":1,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "camera");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":90.0001,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "lat");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":-91,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "lat");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":\"51\",\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "lat");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":null,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "lat");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":1e999,\"lon\":2,\"time\":\"2026-11-22T10:00:00Z\"}", "lat");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":1,\"lon\":180.5,\"time\":\"2026-11-22T10:00:00Z\"}", "lon");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":1,\"lon\":true,\"time\":\"2026-11-22T10:00:00Z\"}", "lon");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":1,\"lon\":"
		"1.00000000000000000000000000000000000000000000000000000000000000001,"
		"\"time\":\"2026-11-22T10:00:00Z\"}", "lon");
	const char *bad_times[] = { "2026-11-22", "2026-11-22T10:00:00", "2026-11-22 10:00:00Z",
				    "2026-13-22T10:00:00Z", "2026-11-32T10:00:00Z",
				    "2026-11-22T24:00:00Z", "2026-11-22T10:60:00Z",
				    "2026-11-22T10:00:61Z", "2026-11-22T10:00:00.Z",
				    "2026-11-22T10:00:00+0100", "2026-11-22T10:00:00+24:00",
				    "2026-11-22T10:00:00z", "2026-11-22T10:00:00ZZ",
				    "2026-11-22T10:00:00.12345678901234567Z", "x026-11-22T10:00:00Z" };
	for (size_t i = 0; i < sizeof bad_times / sizeof *bad_times; i++) {
		snprintf(buf, sizeof buf, "{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":1,\"lon\":2,"
			 "\"time\":\"%s\"}", bad_times[i]);
		refused(buf, "time");
	}
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":1,\"lon\":2,\"time\":1}", "time");
	/* Duplicates of the five are refused (which one would count?). */
	refused("{\"plate\":\"A1\",\"plate\":\"B2\",\"camera\":\"c\",\"lat\":1,\"lon\":2,"
		"\"time\":\"2026-11-22T10:00:00Z\"}", "plate");
	refused("{\"plate\":\"A1\",\"camera\":\"c\",\"lat\":1,\"lat\":1,\"lon\":2,"
		"\"time\":\"2026-11-22T10:00:00Z\"}", "lat");
}

/* Every prefix of a good line is refused, never read past. */
static void test_every_prefix(void **state)
{
	const char *good = "{\"plate\":\"AB12 CDE\",\"camera\":\"cam\\u00e9\",\"lat\":5.15e1,"
			   "\"lon\":-0.09,\"x\":[{\"y\":\"\\ud83d\\ude97\"},true,null],"
			   "\"time\":\"2026-11-22T10:00:00.5-02:30\"}";
	struct anpr_read r;
	struct scan_error e;
	size_t n = strlen(good);

	for (size_t i = 0; i < n; i++)
		assert_int_equal(scan(good, i, &r, &e), -1);
	assert_int_equal(scan(good, n, &r, &e), 0);
}

/* ---- differential fuzz against jansson ---- */

/* What jansson (JSON_REJECT_DUPLICATES) makes of a line, with the same
 * field rules: 0 and *r filled, or -1; *jerr gets jansson's error text. */
static int oracle(const char *s, size_t len, struct anpr_read *r, char *jerr, size_t flags)
{
	json_error_t err;
	json_t *j = json_loadb(s, len, flags, &err), *v;
	const char *p;
	int rc = -1;

	snprintf(jerr, 160, "%s", j ? "" : err.text);
	memset(r, 0, sizeof *r);
	if (!json_is_object(j))
		goto out;
	v = json_object_get(j, "plate");
	if (!json_is_string(v) || json_string_length(v) > READ_PLATE_RAW_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v) ||
	    plate_normalise(json_string_value(v), json_string_length(v), r->plate) < 0)
		goto out;
	strcpy(r->plate_raw, json_string_value(v));
	v = json_object_get(j, "camera");
	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > READ_CAMERA_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		goto out;
	for (p = json_string_value(v); *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			goto out;
	strcpy(r->camera, json_string_value(v));
	v = json_object_get(j, "time");
	if (!json_is_string(v) || !read_time_ok(json_string_value(v), json_string_length(v)))
		goto out;
	strcpy(r->time, json_string_value(v));
	v = json_object_get(j, "lat");
	if (!json_is_number(v) || fabs(json_number_value(v)) > 90)
		goto out;
	r->lat = json_number_value(v);
	v = json_object_get(j, "lon");
	if (!json_is_number(v) || fabs(json_number_value(v)) > 180)
		goto out;
	r->lon = json_number_value(v);
	rc = 0;
out:
	json_decref(j);
	return rc;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* One to four random edits: JSON-significant bytes, any byte, deletions,
 * insertions, truncation, a repeated slice. */
static size_t mutate(const char *seed, char *out, size_t cap)
{
	static const char sig[] = "{}[]\":,\\ -+.0123456789eEtrufalsn\t\n\r\x01\x80\xc3\xa9\xff";
	size_t n = strlen(seed);
	int edits = 1 + (int)(rnd() % 4);

	memcpy(out, seed, n);
	for (int k = 0; k < edits && n > 0; k++) {
		size_t at = rnd() % n;
		char ch = rnd() % 3 ? sig[rnd() % (sizeof sig - 1)] : (char)(rnd() & 0xff);

		switch (rnd() % 6) {
		case 0:
		case 1:
			out[at] = ch;
			break;
		case 2:
			memmove(out + at, out + at + 1, n - at - 1);
			n--;
			break;
		case 3:
			if (n + 1 < cap) {
				memmove(out + at + 1, out + at, n - at);
				out[at] = ch;
				n++;
			}
			break;
		case 4:
			n = at;
			break;
		default: {
			size_t len = 1 + rnd() % 12;

			if (at + len <= n && n + len < cap) {
				memmove(out + at + len, out + at, n - at);
				n += len;
			}
		}
		}
	}
	return n;
}

static void test_differential_fuzz(void **state)
{
	const char *seeds[] = {
		"{\"plate\":\"AB12 CDE\",\"camera\":\"cam-17\",\"lat\":51.51,\"lon\":-0.09,\"time\":\"2026-11-22T10:00:00Z\"}",
		"{\"time\":\"2026-11-22T10:00:00.250+01:00\",\"lon\":0,\"lat\":-0.5e1,\"camera\":\"c\\u00e9\",\"plate\":\"ab-12\"}",
		" {\"plate\":\"X\\u0031\",\"x\":{\"a\":[1,{\"b\":[true,false,null]}],\"c\":\"\\\"\"},\"camera\":\"\xe2\x82\xac\",\"lat\":1E2,\"lon\":-180,\"time\":\"2026-01-01T00:00:00Z\"} ",
		"{\"plate\":\"Q9\",\"camera\":\"\\ud83d\\ude97\",\"lat\":90,\"lon\":180,\"time\":\"2026-11-22T10:00:60.1Z\",\"y\":[]}",
	};
	char buf[512], jerr[160];
	size_t agree_ok = 0, agree_bad = 0, allowed = 0;

	for (int i = 0; i < 200000; i++) {
		size_t n = mutate(seeds[rnd() % 4], buf, sizeof buf);
		struct anpr_read mine, want;
		struct scan_error e;
		int a = scan(buf, n, &mine, &e);
		int b = oracle(buf, n, &want, jerr, JSON_REJECT_DUPLICATES);

		if (a == 0 && b == 0) {
			assert_memory_equal(mine.plate, want.plate, PLATE_SIZE);
			assert_string_equal(mine.plate_raw, want.plate_raw);
			assert_string_equal(mine.camera, want.camera);
			assert_string_equal(mine.time, want.time);
			assert_true(mine.lat == want.lat && mine.lon == want.lon);
			agree_ok++;
			continue;
		}
		if (a != 0 && b != 0) {
			agree_bad++;
			continue;
		}
		/* The documented differences: jansson also refuses numbers it
		 * cannot hold and repeated names in ignored members; the
		 * scanner refuses deep nesting and over-long coordinates. */
		if (a == 0 && (strstr(jerr, "too big") || strstr(jerr, "overflow"))) {
			allowed++;
			continue;
		}
		if (a == 0 && strstr(jerr, "duplicate") &&
		    oracle(buf, n, &want, jerr, 0) == 0 && !strcmp(mine.plate, want.plate)) {
			allowed++;
			continue;
		}
		if (a != 0 && (!strcmp(e.message, "nested too deeply") ||
			       !strcmp(e.message, "number too long"))) {
			allowed++;
			continue;
		}
		fail_msg("scanner %s, jansson %s (%s) on: %.*s", a ? e.message : "accepts",
			 b ? "refuses" : "accepts", jerr, (int)n, buf);
	}
	print_message("differential fuzz: %zu accepted by both, %zu refused by both, %zu allowed differences\n",
		      agree_ok, agree_bad, allowed);
	assert_true(agree_ok > 1000); /* the fuzz reaches both outcomes */
	assert_true(agree_bad > 1000);
}

/* Random bytes: refused, never a crash or an over-read. */
static void test_random_bytes(void **state)
{
	char buf[256];
	struct anpr_read r;
	struct scan_error e;

	for (int i = 0; i < 100000; i++) {
		size_t n = rnd() % sizeof buf;

		for (size_t k = 0; k < n; k++)
			buf[k] = (char)(rnd() & 0xff);
		if (n)
			buf[0] = '{';
		assert_int_equal(scan(buf, n, &r, &e), -1);
		assert_non_null(e.message);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plate_normalise),
		cmocka_unit_test(test_good_lines),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_differential_fuzz),
		cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
