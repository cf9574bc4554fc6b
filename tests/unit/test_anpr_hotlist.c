// links: adapters/anpr/plate.c adapters/anpr/read_scan.c adapters/anpr/hotlist.c adapters/anpr/fold.c adapters/anpr/match.c adapters/anpr/anpr_log.c
/* Unit tests for the ANPR hotlist (loading, bad lines, expiry, image
 * paths, lookups in a large table), folding, and match_line(), the
 * per-read path (adapters/anpr/hotlist.c, fold.c, match.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../adapters/anpr/anpr_log.h"
#include "../../adapters/anpr/fold.h"
#include "../../adapters/anpr/hotlist.h"
#include "../../adapters/anpr/match.h"

#define NOW_MS 1795000000000LL /* 2026-11-18T... */

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/anpr-unit-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	alog_set_level(ALOG_ERROR); /* the bad lines below are meant */
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to dir/name; its path in out. */
static void write_file(const char *name, const char *text, char *out, size_t size)
{
	FILE *f;

	snprintf(out, size, "%s/%s", dir, name);
	f = fopen(out, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct hotlist_entry *find(struct hotlist *hl, const char *plate)
{
	char norm[PLATE_SIZE];

	assert_true(plate_normalise(plate, strlen(plate), norm) > 0);
	return hotlist_find(hl, norm);
}

static void test_parse_time(void **state)
{
	int64_t ms;

	assert_int_equal(hotlist_parse_time("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(hotlist_parse_time("2026-11-22T10:00:00.5Z", &ms), 0);
	assert_int_equal(ms, 1795341600500LL);
	assert_int_equal(hotlist_parse_time("2026-11-22T11:30:00+01:30", &ms), 0);
	assert_int_equal(ms, 1795341600000LL);
	assert_int_equal(hotlist_parse_time("2026-11-22T08:00:00.123-02:00", &ms), 0);
	assert_int_equal(ms, 1795341600123LL);
	assert_int_equal(hotlist_parse_time("2026-11-22", &ms), -1);
	assert_int_equal(hotlist_parse_time("tomorrow", &ms), -1);
}

static void test_load_good_bad_expired(void **state)
{
	char path[128];
	struct hotlist hl;
	struct hotlist_stats st;
	struct hotlist_entry *e;

	write_file("h1.jsonl",
		   "{\"plate\":\"AB12 CDE\",\"reason\":\"Stolen\",\"severity\":\"severe\"}\n"
		   "\n"
		   "   \n"
		   "{\"plate\":\"old 1\",\"reason\":\"Gone\",\"severity\":\"minor\",\"expires\":\"2020-01-01T00:00:00Z\"}\n"
		   "{\"plate\":\"LIVE 2\",\"reason\":\"Wanted \xe2\x80\x94 armed\",\"severity\":\"extreme\","
		   "\"expires\":\"2099-01-01T00:00:00Z\",\"image\":\"img/live2.jpg\"}\n"
		   "{\"plate\":\"ABS 1\",\"reason\":\"x\",\"severity\":\"moderate\",\"image\":\"/abs/p.png\"}\n"
		   "not json\n"
		   "[1,2]\n"
		   "{\"plate\":\"A.1\",\"reason\":\"x\",\"severity\":\"minor\"}\n"
		   "{\"plate\":\"B1\",\"reason\":\"\",\"severity\":\"minor\"}\n"
		   "{\"plate\":\"B2\",\"reason\":\"x\",\"severity\":\"high\"}\n"
		   "{\"plate\":\"B3\",\"reason\":\"x\",\"severity\":\"minor\",\"expires\":\"soon\"}\n"
		   "{\"plate\":\"B4\",\"reason\":\"x\",\"severity\":\"minor\",\"image\":\"\"}\n"
		   "{\"plate\":\"B5\",\"reason\":\"x\",\"severity\":\"minor\",\"expiry\":\"2099-01-01T00:00:00Z\"}\n"
		   "{\"plate\":\"B6\",\"reason\":\"x\",\"severity\":\"minor\",\"plate\":\"B7\"}\n"
		   "{\"plate\":7,\"reason\":\"x\",\"severity\":\"minor\"}\n"
		   "{\"plate\":\"ab12cde\",\"reason\":\"Stolen again\",\"severity\":\"extreme\"}\n"
		   "{\"plate\":\"C1\",\"reason\":\"no newline at the end\",\"severity\":\"minor\"}",
		   path, sizeof path);
	assert_int_equal(hotlist_load(path, NOW_MS, &hl, &st), 0);
	assert_int_equal(st.lines, 16);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.bad, 10);
	assert_int_equal(st.replaced, 1);
	assert_int_equal(st.loaded, 4);
	assert_int_equal(hl.count, 4);

	e = find(&hl, "AB12CDE");
	assert_non_null(e);
	assert_string_equal(e->reason, "Stolen again"); /* the later line wins */
	assert_string_equal(e->severity, "extreme");
	assert_null(e->image);
	assert_int_equal(e->expires_ms, INT64_MAX);
	assert_null(find(&hl, "OLD1"));
	e = find(&hl, "live-2");
	assert_non_null(e);
	assert_string_equal(e->reason, "Wanted \xe2\x80\x94 armed");
	char want[160];
	snprintf(want, sizeof want, "%s/img/live2.jpg", dir); /* relative to the hotlist */
	assert_string_equal(e->image, want);
	assert_string_equal(find(&hl, "ABS1")->image, "/abs/p.png");
	assert_non_null(find(&hl, "C1"));
	assert_null(find(&hl, "B1"));
	assert_null(find(&hl, "B5"));
	assert_null(find(&hl, "ZZZ"));
	hotlist_free(&hl);
	assert_int_equal(hl.cap, 0);
}

static void test_reason_length(void **state)
{
	char path[128], *text = malloc(4096);
	struct hotlist hl;
	struct hotlist_stats st;
	int n = 0;

	assert_non_null(text);
	/* 500 characters (two-byte ones) fit; 501 do not. */
	n += sprintf(text + n, "{\"plate\":\"R1\",\"severity\":\"minor\",\"reason\":\"");
	for (int i = 0; i < 500; i++)
		n += sprintf(text + n, "\xc3\xa9");
	n += sprintf(text + n, "\"}\n{\"plate\":\"R2\",\"severity\":\"minor\",\"reason\":\"");
	for (int i = 0; i < 501; i++)
		n += sprintf(text + n, "e");
	sprintf(text + n, "\"}\n{\"plate\":\"R3\",\"severity\":\"minor\",\"reason\":\"a\\u0000b\"}\n");
	write_file("h2.jsonl", text, path, sizeof path);
	free(text);
	assert_int_equal(hotlist_load(path, NOW_MS, &hl, &st), 0);
	assert_non_null(find(&hl, "R1"));
	assert_null(find(&hl, "R2"));
	assert_null(find(&hl, "R3"));
	assert_int_equal(st.bad, 2);
	hotlist_free(&hl);
}

static void test_missing_file(void **state)
{
	struct hotlist hl = { NULL, 0, 0 };
	struct hotlist_stats st;
	char path[128];

	snprintf(path, sizeof path, "%s/nope.jsonl", dir);
	assert_int_equal(hotlist_load(path, NOW_MS, &hl, &st), -1);
	assert_null(hl.slots);
	assert_int_equal(hotlist_load(dir, NOW_MS, &hl, &st), -1); /* a folder */
	/* An empty file is an empty hotlist; lookups find nothing. */
	write_file("empty.jsonl", "", path, sizeof path);
	assert_int_equal(hotlist_load(path, NOW_MS, &hl, &st), 0);
	assert_int_equal(hl.count, 0);
	assert_null(find(&hl, "AB12CDE"));
	hotlist_free(&hl);
}

/* 20,000 plates: every one is found, and 20,000 others are not. */
static void test_large_table(void **state)
{
	char path[128];
	FILE *f;
	struct hotlist hl;
	struct hotlist_stats st;

	snprintf(path, sizeof path, "%s/big.jsonl", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 20000; i++)
		fprintf(f, "{\"plate\":\"H%06d X\",\"reason\":\"r%d\",\"severity\":\"minor\"}\n", i, i);
	fclose(f);
	assert_int_equal(hotlist_load(path, NOW_MS, &hl, &st), 0);
	assert_int_equal(hl.count, 20000);
	assert_true(hl.cap >= 40000 && (hl.cap & (hl.cap - 1)) == 0);
	for (int i = 0; i < 20000; i++) {
		char p[32], r[16];
		struct hotlist_entry *e;

		snprintf(p, sizeof p, "h%06dx", i);
		e = find(&hl, p);
		assert_non_null(e);
		snprintf(r, sizeof r, "r%d", i);
		assert_string_equal(e->reason, r);
		snprintf(p, sizeof p, "H%06dY", i);
		assert_null(find(&hl, p));
	}
	hotlist_free(&hl);
}

static void test_fold(void **state)
{
	int64_t last = 0;

	assert_int_equal(fold_admit(&last, 1000, 300000), 1);
	assert_int_equal(last, 1000);
	assert_int_equal(fold_admit(&last, 1001, 300000), 0);
	assert_int_equal(fold_admit(&last, 300999, 300000), 0);
	assert_int_equal(last, 1000); /* folded reads do not extend the window */
	assert_int_equal(fold_admit(&last, 301000, 300000), 1);
	assert_int_equal(last, 301000);
	/* A window of 0 alerts on every read. */
	assert_int_equal(fold_admit(&last, 301000, 0), 1);
	assert_int_equal(fold_admit(&last, 301000, 0), 1);
}

static const char *read_line(const char *plate, char *buf, size_t size)
{
	snprintf(buf, size, "{\"plate\":\"%s\",\"camera\":\"cam-1\",\"lat\":51.5,\"lon\":-0.1,"
		 "\"time\":\"2026-11-22T10:00:00Z\"}", plate);
	return buf;
}

static void test_match_line(void **state)
{
	char path[128], line[256];
	struct hotlist hl;
	struct hotlist_stats st;
	struct match_counts n = { 0 };
	struct anpr_hit *hit = malloc(sizeof *hit);
	struct scan_error err;
	const int64_t fold = 300000;

	assert_non_null(hit);
	write_file("h3.jsonl",
		   "{\"plate\":\"AB12 CDE\",\"reason\":\"Stolen\",\"severity\":\"severe\",\"image\":\"a.jpg\"}\n"
		   "{\"plate\":\"SOON 1\",\"reason\":\"Until noon\",\"severity\":\"minor\","
		   "\"expires\":\"2026-11-18T12:00:00Z\"}\n",
		   path, sizeof path);
	int64_t noon;
	assert_int_equal(hotlist_parse_time("2026-11-18T12:00:00Z", &noon), 0);
	assert_int_equal(hotlist_load(path, noon - 60000, &hl, &st), 0);
	assert_int_equal(hl.count, 2);

	assert_int_equal(match_line(&hl, "", 0, noon, 1, fold, &n, hit, &err), MATCH_BLANK);
	assert_int_equal(match_line(&hl, " \r", 2, noon, 1, fold, &n, hit, &err), MATCH_BLANK);
	assert_int_equal(n.reads, 0);
	assert_int_equal(match_line(&hl, "{", 1, noon, 1, fold, &n, hit, &err), MATCH_BAD);
	assert_null(err.field);
	read_line("XX1", line, sizeof line);
	assert_int_equal(match_line(&hl, line, strlen(line), noon, 1, fold, &n, hit, &err), MATCH_MISS);
	/* A hit copies what the publisher needs. */
	read_line("ab 12 cde", line, sizeof line);
	assert_int_equal(match_line(&hl, line, strlen(line), noon, 10, fold, &n, hit, &err), MATCH_HIT);
	assert_string_equal(hit->read.plate, "AB12CDE");
	assert_string_equal(hit->read.plate_raw, "ab 12 cde");
	assert_string_equal(hit->reason, "Stolen");
	assert_string_equal(hit->severity, "severe");
	assert_non_null(strstr(hit->image, "/a.jpg"));
	assert_int_equal(hit->image_days, 0); /* no expires: the broker's default */
	/* 49 more reads of it within the window fold into that alert. */
	for (int i = 0; i < 49; i++)
		assert_int_equal(match_line(&hl, line, strlen(line), noon, 11 + i, fold, &n, hit, &err),
				 MATCH_FOLDED);
	/* After the window it alerts again. */
	assert_int_equal(match_line(&hl, line, strlen(line), noon, 10 + fold, fold, &n, hit, &err),
			 MATCH_HIT);
	/* Undoing a fold (the queue was full) lets the next read alert. */
	match_unfold(&hl, hit->read.plate);
	assert_int_equal(match_line(&hl, line, strlen(line), noon, 11 + fold, fold, &n, hit, &err),
			 MATCH_HIT);
	/* Live until its expiry, ignored from then on (the hotlist was loaded
	 * before). */
	read_line("SOON1", line, sizeof line);
	assert_int_equal(match_line(&hl, line, strlen(line), noon - 1, 1, fold, &n, hit, &err),
			 MATCH_HIT);
	assert_string_equal(hit->severity, "minor");
	assert_string_equal(hit->image, "");
	assert_int_equal(hit->image_days, 1); /* 1 ms left: kept the least, a day */
	assert_int_equal(match_line(&hl, line, strlen(line), noon, 1 + fold, fold, &n, hit, &err),
			 MATCH_EXPIRED);
	assert_int_equal(n.reads, 56);
	assert_int_equal(n.bad, 1);
	assert_int_equal(n.misses, 1);
	assert_int_equal(n.hits, 4);
	assert_int_equal(n.folded, 49);
	assert_int_equal(n.expired, 1);
	hotlist_free(&hl);
	free(hit);
}

/* SIGHUP: plates still listed keep their fold time, dropped ones go. */
static void test_reload_carries_folds(void **state)
{
	char path[128], line[256];
	struct hotlist old_hl, new_hl;
	struct hotlist_stats st;
	struct match_counts n = { 0 };
	struct anpr_hit *hit = malloc(sizeof *hit);
	struct scan_error err;

	assert_non_null(hit);
	write_file("h4.jsonl",
		   "{\"plate\":\"KEEP1\",\"reason\":\"a\",\"severity\":\"minor\"}\n"
		   "{\"plate\":\"DROP1\",\"reason\":\"b\",\"severity\":\"minor\"}\n", path, sizeof path);
	assert_int_equal(hotlist_load(path, NOW_MS, &old_hl, &st), 0);
	read_line("KEEP1", line, sizeof line);
	assert_int_equal(match_line(&old_hl, line, strlen(line), NOW_MS, 100, 300000, &n, hit, &err),
			 MATCH_HIT);
	write_file("h4.jsonl",
		   "{\"plate\":\"KEEP1\",\"reason\":\"a2\",\"severity\":\"severe\"}\n"
		   "{\"plate\":\"NEW1\",\"reason\":\"c\",\"severity\":\"minor\"}\n", path, sizeof path);
	assert_int_equal(hotlist_load(path, NOW_MS, &new_hl, &st), 0);
	hotlist_carry_folds(&old_hl, &new_hl);
	hotlist_free(&old_hl);
	assert_int_equal(match_line(&new_hl, line, strlen(line), NOW_MS, 200, 300000, &n, hit, &err),
			 MATCH_FOLDED);
	read_line("DROP1", line, sizeof line);
	assert_int_equal(match_line(&new_hl, line, strlen(line), NOW_MS, 200, 300000, &n, hit, &err),
			 MATCH_MISS);
	read_line("NEW1", line, sizeof line);
	assert_int_equal(match_line(&new_hl, line, strlen(line), NOW_MS, 200, 300000, &n, hit, &err),
			 MATCH_HIT);
	hotlist_free(&new_hl);
	free(hit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_load_good_bad_expired),
		cmocka_unit_test(test_reason_length),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_large_table),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_match_line),
		cmocka_unit_test(test_reload_carries_folds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
