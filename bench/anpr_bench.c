/* anpr_bench.c: how many camera reads a second the ANPR adapter matches on
 * one core (issue #8: at least 50,000).
 *
 * Generates a hotlist (default 10,000 plates, written to a temporary file
 * and loaded with the adapter's own loader) and, in memory, JSON read lines
 * (default 2,000,000) of which a given share (default 1 %) name a hotlisted
 * plate; then times match_line() over all of them in this one thread: the
 * very path the adapter runs per read (scan, normalise, hash lookup,
 * expiry, folding). For comparison it also times json_loadb() + unpack of
 * the first 200,000 lines. Checks that every planted hit was found and no
 * other, and prints one JSON object:
 *   {"reads":…,"hotlist":…,"planted_hits":…,"hits":…,"folded":…,
 *    "seconds":…,"cpu_seconds":…,"reads_per_s":…,"reads_per_cpu_s":…,
 *    "ns_per_read":…,"jansson_reads_per_s":…,"target_reads_per_s":50000,
 *    "pass":true}
 * Exit 0, or 1 when the matching was wrong (not when it was slow: the
 * machine may be shared; "pass" says whether the target was met).
 *
 * Usage: anpr-bench [--reads N] [--hotlist N] [--hit-permille N] */
#include "hotlist.h"
#include "match.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TARGET 50000

struct lines {
	char *text;      /* all lines, each ending in '\n', owned */
	size_t *start;   /* offset of each line, owned */
	size_t n;
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

/* xorshift64*: reproducible runs, no library state. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* A random UK-style plate "AB12 CDE" not starting with 'H' (hotlisted
 * plates do), so a miss can never be a hit by accident. */
static void make_plate(char out[9])
{
	static const char letters[] = "ABCDEFGJKLMNOPRSTUVWXYZ"; /* no H, I, Q */

	out[0] = letters[rnd() % (sizeof letters - 1)];
	out[1] = letters[rnd() % (sizeof letters - 1)];
	out[2] = (char)('0' + rnd() % 10);
	out[3] = (char)('0' + rnd() % 10);
	out[4] = ' ';
	for (int i = 5; i < 8; i++)
		out[i] = letters[rnd() % (sizeof letters - 1)];
	out[8] = '\0';
}

/* The i-th hotlisted plate: "H" then letters and digits from i * 7919 in
 * mixed radix (23, 10, 10, 23, 23, 23): distinct for every i below
 * 23^4 * 100, since 7919 is prime to that. */
static void hot_plate(size_t i, char out[9])
{
	static const char letters[] = "ABCDEFGJKLMNOPRSTUVWXYZ";
	uint64_t k = (uint64_t)i * 7919 % (23ULL * 23 * 23 * 23 * 100);

	out[0] = 'H';
	out[1] = letters[k % 23];
	k /= 23;
	out[2] = (char)('0' + k % 10);
	k /= 10;
	out[3] = (char)('0' + k % 10);
	k /= 10;
	out[4] = ' ';
	for (int j = 5; j < 8; j++, k /= 23)
		out[j] = letters[k % 23];
	out[8] = '\0';
}

static double seconds(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Writes n hotlisted plates to a temporary file and loads it; their text
 * (n * 9 bytes) in *plates. 0 or -1. */
static int make_hotlist(size_t n, struct hotlist *hl, char **plates)
{
	char path[] = "/tmp/anpr-bench-XXXXXX";
	struct hotlist_stats st;
	int fd = mkstemp(path), rc;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	*plates = malloc(n * 9);
	if (!f || !*plates) {
		fprintf(stderr, "anpr-bench: cannot make the hotlist file\n");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char *p = *plates + i * 9;

		hot_plate(i, p);
		fprintf(f, "{\"plate\":\"%s\",\"reason\":\"Bench plate %zu\",\"severity\":\"%s\","
			"\"expires\":\"2099-01-01T00:00:00Z\"}\n", p, i, i % 2 ? "severe" : "moderate");
	}
	fclose(f);
	rc = hotlist_load(path, 0, hl, &st);
	unlink(path);
	return rc;
}

/* n read lines; permille of them name a hotlisted plate. The count of
 * those in *planted. */
static int make_reads(size_t n, const char *plates, size_t n_plates, const struct hotlist *hl,
		      int permille, struct lines *out, size_t *planted)
{
	size_t cap = n * 128, used = 0;

	out->text = malloc(cap);
	out->start = malloc(n * sizeof *out->start);
	if (!out->text || !out->start)
		return -1;
	*planted = 0;
	for (size_t i = 0; i < n; i++) {
		char plate[9], norm[PLATE_SIZE];
		int hot = (int)(rnd() % 1000) < permille;

		if (hot) {
			memcpy(plate, plates + (rnd() % n_plates) * 9, 9);
			(*planted)++;
		} else {
			make_plate(plate);
			plate_normalise(plate, 8, norm);
			if (hotlist_find(hl, norm))
				return -1;
		}
		out->start[i] = used;
		used += (size_t)snprintf(out->text + used, cap - used,
			"{\"plate\":\"%s\",\"camera\":\"cam-%03d\",\"lat\":51.%06d,\"lon\":-0.%06d,"
			"\"time\":\"2026-11-22T10:%02d:%02dZ\"}\n",
			plate, (int)(rnd() % 500), (int)(rnd() % 1000000), (int)(rnd() % 1000000),
			(int)(i / 60 % 60), (int)(i % 60));
	}
	out->n = n;
	return 0;
}

static size_t line_len(const struct lines *l, size_t i)
{
	const char *s = l->text + l->start[i];

	return (size_t)((const char *)memchr(s, '\n', 200) - s);
}

/* jansson on the same lines, for the record of why the adapter scans. */
static double jansson_rate(const struct lines *l, size_t n)
{
	double t0 = seconds(CLOCK_THREAD_CPUTIME_ID), t;
	size_t ok = 0;

	for (size_t i = 0; i < n; i++) {
		json_t *j = json_loadb(l->text + l->start[i], line_len(l, i), 0, NULL);
		const char *plate, *camera, *time_s;
		double lat, lon;

		if (j && !json_unpack(j, "{s:s, s:s, s:F, s:F, s:s}", "plate", &plate, "camera",
				      &camera, "lat", &lat, "lon", &lon, "time", &time_s))
			ok++;
		json_decref(j);
	}
	t = seconds(CLOCK_THREAD_CPUTIME_ID) - t0;
	return ok == n && t > 0 ? (double)n / t : 0;
}

static long arg_long(int argc, char **argv, const char *name, long def, long lo, long hi)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name)) {
			long v = strtol(argv[i + 1], NULL, 10);

			if (v < lo || v > hi) {
				fprintf(stderr, "anpr-bench: %s must be %ld to %ld\n", name, lo, hi);
				exit(2);
			}
			return v;
		}
	return def;
}

int main(int argc, char **argv)
{
	size_t n_reads = (size_t)arg_long(argc, argv, "--reads", 2000000, 1000, 50000000);
	size_t n_hot = (size_t)arg_long(argc, argv, "--hotlist", 10000, 1, 1000000);
	int permille = (int)arg_long(argc, argv, "--hit-permille", 10, 0, 1000);
	struct match_counts c = { 0 };
	struct hotlist hl;
	struct lines l;
	struct anpr_hit *hit = malloc(sizeof *hit);
	struct scan_error err;
	size_t planted;
	char *plates;
	double w0, c0, wall, cpu, jrate;

	if (!hit || make_hotlist(n_hot, &hl, &plates) ||
	    make_reads(n_reads, plates, n_hot, &hl, permille, &l, &planted)) {
		fprintf(stderr, "anpr-bench: setting up failed\n");
		return 1;
	}
	w0 = seconds(CLOCK_MONOTONIC);
	c0 = seconds(CLOCK_THREAD_CPUTIME_ID);
	for (size_t i = 0; i < l.n; i++) {
		/* One read per millisecond of "monotonic time": a 300 s fold window. */
		match_line(&hl, l.text + l.start[i], line_len(&l, i), 1700000000000, 1 + (int64_t)i,
			   300000, &c, hit, &err);
	}
	cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
	wall = seconds(CLOCK_MONOTONIC) - w0;
	jrate = jansson_rate(&l, l.n < 200000 ? l.n : 200000);
	printf("{\"reads\":%zu,\"hotlist\":%zu,\"planted_hits\":%zu,\"hits\":%llu,\"folded\":%llu,"
	       "\"misses\":%llu,\"bad\":%llu,\"seconds\":%.4f,\"cpu_seconds\":%.4f,"
	       "\"reads_per_s\":%.0f,\"reads_per_cpu_s\":%.0f,\"ns_per_read\":%.1f,"
	       "\"jansson_reads_per_s\":%.0f,\"target_reads_per_s\":%d,\"pass\":%s}\n",
	       l.n, hl.count, planted, (unsigned long long)c.hits, (unsigned long long)c.folded,
	       (unsigned long long)c.misses, (unsigned long long)c.bad, wall, cpu,
	       (double)l.n / wall, (double)l.n / cpu, cpu * 1e9 / (double)l.n, jrate, TARGET,
	       (double)l.n / cpu >= TARGET ? "true" : "false");
	if (c.bad || c.hits + c.folded != planted || c.misses != l.n - planted || hl.count != n_hot) {
		fprintf(stderr, "anpr-bench: wrong matching: %llu hits + %llu folded for %zu planted, "
				"%llu bad\n", (unsigned long long)c.hits, (unsigned long long)c.folded,
			planted, (unsigned long long)c.bad);
		return 1;
	}
	hotlist_free(&hl);
	free(plates);
	free(l.text);
	free(l.start);
	free(hit);
	return 0;
}
