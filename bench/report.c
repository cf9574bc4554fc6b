/* report.c: the table, ratios and targets of `make bench`, and
 * build/bench/results.json, from the "key value" files that loadgen.c and
 * bench/run.sh write.
 *
 *   report --meta FILE --tocsin FILE [--mosquitto FILE] [--floor FILE] --json OUT
 *
 * Prints to stdout. Whatever a run did not measure (a scenario cut short,
 * no Mosquitto) is printed as "-" and is null in the JSON; a target that
 * was not measured is "n/a", never PASS. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KV 512

struct kv {
	int n;
	char *k[MAX_KV], *v[MAX_KV];
};

static struct kv meta, toc, mos, flo; /* flo: send_floor.c's, the kernel alone */
static int have_mos, have_floor;

static void load(struct kv *kv, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];

	if (!f) {
		fprintf(stderr, "report: cannot read %s\n", path);
		return;
	}
	while (fgets(line, sizeof line, f) && kv->n < MAX_KV) {
		char *sp = strchr(line, ' ');
		size_t l = strlen(line);
		while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (!sp)
			continue;
		*sp = '\0';
		/* a later value of the same key replaces the earlier one */
		for (int i = 0; i < kv->n; i++)
			if (!strcmp(kv->k[i], line)) {
				free(kv->v[i]);
				kv->v[i] = strdup(sp + 1);
				goto next;
			}
		kv->k[kv->n] = strdup(line);
		kv->v[kv->n] = strdup(sp + 1);
		kv->n++;
next:;
	}
	fclose(f);
}

static const char *get(const struct kv *kv, const char *k)
{
	for (int i = 0; i < kv->n; i++)
		if (!strcmp(kv->k[i], k))
			return kv->v[i];
	return NULL;
}

static double num(const struct kv *kv, const char *k)
{
	const char *v = get(kv, k);
	char *end;
	double d;

	if (!v)
		return NAN;
	d = strtod(v, &end);
	return end != v && !*end ? d : NAN;
}

/* A number for a table cell: "-" when missing. */
static const char *cell(char *buf, size_t n, double v, int decimals)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.*f", decimals, v);
	return buf;
}

#define C(v, d) cell((char[32]){ 0 }, 32, (v), (d))

/* ---- JSON -------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_value(FILE *f, const char *v)
{
	char *end;
	double d = strtod(v, &end);

	if (!strcmp(v, "-")) {
		fputs("null", f);
		return;
	}
	if (end != v && !*end && *v != '+' && strncmp(v, "0x", 2)) {
		if (isnan(d) || isinf(d))
			fputs("null", f);
		else
			fputs(v, f);
	} else {
		json_str(f, v);
	}
}

static void json_kv(FILE *f, const struct kv *kv)
{
	fputc('{', f);
	for (int i = 0; i < kv->n; i++) {
		fputs(i ? ",\n    " : "\n    ", f);
		json_str(f, kv->k[i]);
		fputs(": ", f);
		json_value(f, kv->v[i]);
	}
	fputs("\n  }", f);
}

/* ---- targets ------------------------------------------------------------- */

struct target {
	const char *name;
	const char *result; /* PASS, MISS, n/a */
	double measured, limit;
	const char *unit;
	char detail[256];
};

static struct target targets[12];
static int n_targets;

static struct target *target(const char *name, double measured, double limit, int less_is_better,
			     const char *unit)
{
	struct target *t = &targets[n_targets++];
	t->name = name;
	t->measured = measured;
	t->limit = limit;
	t->unit = unit;
	if (isnan(measured))
		t->result = "n/a";
	else if (less_is_better)
		t->result = measured <= limit ? "PASS" : "MISS";
	else
		t->result = measured >= limit ? "PASS" : "MISS";
	return t;
}

/* ---- the table ------------------------------------------------------------ */

/* "broker/pg/loadgen/rest" CPU seconds of a phase ("pg" only for Tocsin). */
static const char *cpu_cell(const struct kv *kv, const char *ph)
{
	static char buf[4][96];
	static int i;
	char k[64], *b = buf[i++ % 4];
	double v[4];
	const char *names[4] = { "cpu_broker_s", "cpu_pg_s", "cpu_loadgen_s", "cpu_rest_s" };

	for (int j = 0; j < 4; j++) {
		snprintf(k, sizeof k, "%s.%s", ph, names[j]);
		v[j] = num(kv, k);
	}
	if (isnan(v[1])) { /* no PostgreSQL: everything else is "rest" */
		snprintf(k, sizeof k, "%s.cpu_other_s", ph);
		v[3] = num(kv, k);
	}
	snprintf(b, 96, "%s/%s/%s/%s", C(v[0], 1), C(v[1], 1), C(v[2], 1), C(v[3], 1));
	return b;
}

static void fanout_row(const char *label, const char *who, const struct kv *kv, const char *ph)
{
	char k[64];
#define F(x) (snprintf(k, sizeof k, "%s.%s", ph, x), num(kv, k))
	printf("%-26s %-9s %9s %6s %8s %8s %8s %8s %8s %11s   %s\n", label, who,
	       C(F("delivered"), 0), C(F("lost"), 0), C(F("lat_p50_ms"), 1), C(F("lat_p99_ms"), 1),
	       C(F("lat_max_ms"), 1), C(F("compl_p50_ms"), 1), C(F("compl_p99_ms"), 1),
	       C(F("deliveries_per_s"), 0), cpu_cell(kv, ph));
#undef F
}

static double ratio(double a, double b)
{
	return isnan(a) || isnan(b) || b == 0 ? NAN : a / b;
}

int main(int argc, char **argv)
{
	const char *json = NULL;
	double n, v;
	char label[64];
	FILE *f;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--meta"))
			load(&meta, argv[i + 1]);
		else if (!strcmp(argv[i], "--tocsin"))
			load(&toc, argv[i + 1]);
		else if (!strcmp(argv[i], "--mosquitto")) {
			load(&mos, argv[i + 1]);
			have_mos = 1;
		} else if (!strcmp(argv[i], "--floor")) {
			load(&flo, argv[i + 1]);
			have_floor = 1;
		} else if (!strcmp(argv[i], "--json"))
			json = argv[i + 1];
	}
	n = num(&meta, "n");

	printf("\nTocsin bench: N=%.0f consoles over %.0f sites, %s (UTC)\n", n,
	       num(&meta, "sites"), get(&meta, "date") ? get(&meta, "date") : "?");
	printf("machine: %s x %s, Linux %s, %s GiB; tocsind %s (-O2), libwebsockets %s, "
	       "PostgreSQL %s, Mosquitto %s\n",
	       get(&meta, "nproc") ? get(&meta, "nproc") : "?",
	       get(&meta, "cpu") ? get(&meta, "cpu") : "?",
	       get(&meta, "kernel") ? get(&meta, "kernel") : "?",
	       get(&meta, "mem_gib") ? get(&meta, "mem_gib") : "?",
	       get(&meta, "commit") ? get(&meta, "commit") : "?",
	       get(&meta, "libwebsockets") ? get(&meta, "libwebsockets") : "?",
	       get(&meta, "postgresql") ? get(&meta, "postgresql") : "?",
	       get(&meta, "mosquitto") ? get(&meta, "mosquitto") : "not run");
	printf("the broker, PostgreSQL and the load generator share these cores; load average "
	       "before: %s\n",
	       get(&meta, "loadavg_before") ? get(&meta, "loadavg_before") : "?");
	printf("long-lived other programs' CPU during the runs (s): Tocsin run: %s; Mosquitto run: %s\n",
	       get(&meta, "others_cpu_tocsin") && *get(&meta, "others_cpu_tocsin")
		       ? get(&meta, "others_cpu_tocsin") : "none over 1 s",
	       get(&meta, "others_cpu_mosquitto") && *get(&meta, "others_cpu_mosquitto")
		       ? get(&meta, "others_cpu_mosquitto") : "none over 1 s");
	printf("connect: Tocsin %s of %.0f consoles signed in in %s s, Mosquitto %s in %s s\n\n",
	       C(num(&toc, "connect.ready"), 0), n, C(num(&toc, "connect.s"), 2),
	       C(num(&mos, "connect.ready"), 0), C(num(&mos, "connect.s"), 2));

	printf("%-26s %-9s %9s %6s %8s %8s %8s %8s %8s %11s   %s\n", "scenario", "broker",
	       "delivered", "lost", "p50 ms", "p99 ms", "max ms", "done p50", "done p99",
	       "deliv/s", "cpu s broker/pg/loadgen/rest");
	printf("%-26s %-9s %9s %6s %8s %8s %8s %8s %8s %11s\n", "", "", "", "",
	       "(publish to receipt, each delivery)", "", "", "(publish to last console)", "", "");
	{
		struct { const char *ph, *fmt; } rows[3] = {
			{ "solo", "1 fan-out solo %.0fx" },
			{ "paced", "1 fan-out %.0f @ %.0f/s" },
			{ "burst", "1 fan-out burst %.0f" },
		};
		for (int r = 0; r < 3; r++) {
			char k1[64], k2[64];
			snprintf(k1, sizeof k1, "%s.alerts", rows[r].ph);
			snprintf(k2, sizeof k2, "%s.rate_per_s", rows[r].ph);
			snprintf(label, sizeof label, rows[r].fmt, num(&toc, k1), num(&toc, k2));
			fanout_row(label, "Tocsin", &toc, rows[r].ph);
			if (have_mos)
				fanout_row("", "Mosquitto", &mos, rows[r].ph);
		}
	}
	printf("   solo: one alert at a time, %s s apart; burst: 200 publishes sent back to back; "
	       "cpu rest = busy CPU of neither broker, PostgreSQL nor load generator\n"
	       "   (other programs on this machine, kernel work not charged to a process)\n",
	       C(num(&toc, "solo.gap_s"), 1));
	if (have_floor)
		printf("   kernel floor, no broker (bench/send_floor.c): one %s-byte send() to each of %s "
		       "loopback connections, read with epoll,\n"
		       "   first send to last read: p50 %s ms, p99 %s ms from one thread; p50 %s ms, p99 %s ms "
		       "from two (%s rounds each)\n",
		       C(num(&flo, "floor.bytes"), 0), C(num(&flo, "floor.n"), 0),
		       C(num(&flo, "floor.one_thread_p50_ms"), 1), C(num(&flo, "floor.one_thread_p99_ms"), 1),
		       C(num(&flo, "floor.two_threads_p50_ms"), 1),
		       C(num(&flo, "floor.two_threads_p99_ms"), 1), C(num(&flo, "floor.rounds"), 0));
	printf("   Tocsin 'published' confirmations p50/p99 ms: solo %s/%s, paced %s/%s, burst %s/%s; "
	       "publish errors %s\n",
	       C(num(&toc, "solo.confirm_p50_ms"), 1), C(num(&toc, "solo.confirm_p99_ms"), 1),
	       C(num(&toc, "paced.confirm_p50_ms"), 1), C(num(&toc, "paced.confirm_p99_ms"), 1),
	       C(num(&toc, "burst.confirm_p50_ms"), 1), C(num(&toc, "burst.confirm_p99_ms"), 1),
	       C(num(&toc, "fanout.publish_errors"), 0));
	printf("   lost = not received before 15 s passed with no new delivery; of those, received "
	       "later (late): Tocsin solo/paced/burst %s/%s/%s",
	       C(num(&toc, "solo.late"), 0), C(num(&toc, "paced.late"), 0), C(num(&toc, "burst.late"), 0));
	if (have_mos)
		printf(", Mosquitto %s/%s/%s", C(num(&mos, "solo.late"), 0), C(num(&mos, "paced.late"), 0),
		       C(num(&mos, "burst.late"), 0));
	printf("\n");
	printf("   Tocsin delivery records in PostgreSQL (cumulative): after solo %s of %s "
	       "(waited %s s), after paced %s of %s (%s s), after burst %s of %s (%s s)\n",
	       C(num(&toc, "solo.delivery_records"), 0),
	       C(num(&toc, "solo.delivery_records_expected"), 0),
	       C(num(&toc, "solo.delivery_records_wait_s"), 1),
	       C(num(&toc, "paced.delivery_records"), 0),
	       C(num(&toc, "paced.delivery_records_expected"), 0),
	       C(num(&toc, "paced.delivery_records_wait_s"), 1),
	       C(num(&toc, "burst.delivery_records"), 0),
	       C(num(&toc, "burst.delivery_records_expected"), 0),
	       C(num(&toc, "burst.delivery_records_wait_s"), 1));
	printf("\n");

	printf("%-26s %-9s ", "2 acknowledgements", "Tocsin");
	if (isnan(num(&toc, "acks.sent")))
		printf("not measured\n");
	else
		printf("%s acks sent (%s alert(s) x %s consoles), %s acked (%s already), %s errors,\n"
		       "%-37s %s audited: %s audited/s; last ack sent -> all audited %s ms "
		       "(polled every %s ms);\n%-37s ack round trip p50 %s ms, p99 %s ms; "
		       "cpu s broker/pg/loadgen/rest %s\n",
		       C(num(&toc, "acks.sent"), 0), C(num(&toc, "acks.alerts_per_console"), 0),
		       C(num(&toc, "connect.ready"), 0), C(num(&toc, "acks.acked"), 0),
		       C(num(&toc, "acks.acked_already"), 0), C(num(&toc, "acks.errors"), 0), "",
		       C(num(&toc, "acks.audited"), 0), C(num(&toc, "acks.audited_per_s"), 0),
		       C(num(&toc, "acks.last_sent_to_all_audited_ms"), 0),
		       C(num(&toc, "acks.poll_interval_ms"), 0), "",
		       C(num(&toc, "acks.rtt_last_p50_ms"), 1), C(num(&toc, "acks.rtt_last_p99_ms"), 1),
		       cpu_cell(&toc, "acks"));
	printf("%-26s %-9s ", "3 status burst", "Tocsin");
	if (!get(&toc, "status"))
		printf("not measured\n");
	else if (strcmp(get(&toc, "status"), "measured") != 0)
		printf("%s (the broker does not know the status message)\n", get(&toc, "status"));
	else
		printf("%s reports sent at once (one per console), %s status_ok, %s errors, %s stored:\n"
		       "%-37s %s stored/s; last report sent -> all stored %s ms; round trip p50 %s ms, "
		       "p99 %s ms;\n%-37s the controller's live board%s: %s updates, %s of %s sites showing "
		       "their latest report, last report sent -> board settled %s ms;\n"
		       "%-37s cpu s broker/pg/loadgen/rest %s\n",
		       C(num(&toc, "status.sent"), 0), C(num(&toc, "status.ok"), 0),
		       C(num(&toc, "status.errors"), 0), C(num(&toc, "status.stored"), 0), "",
		       C(num(&toc, "status.stored_per_s"), 0),
		       C(num(&toc, "status.last_sent_to_all_stored_ms"), 0),
		       C(num(&toc, "status.rtt_p50_ms"), 1), C(num(&toc, "status.rtt_p99_ms"), 1), "",
		       num(&toc, "status.board_watched") == 1 ? "" : " (not watched)",
		       C(num(&toc, "status.board_updates"), 0),
		       C(num(&toc, "status.board_sites_right"), 0), C(num(&toc, "status.board_sites"), 0),
		       C(num(&toc, "status.last_sent_to_board_settled_ms"), 0), "",
		       cpu_cell(&toc, "status"));
	printf("%-26s %-9s RSS %s KiB idle, %s KiB with %s connections: %s bytes per connection\n",
	       "4 idle memory", "Tocsin", C(num(&toc, "idle.rss0_kib"), 0),
	       C(num(&toc, "idle.rssn_kib"), 0), C(num(&toc, "idle.connections"), 0),
	       C(num(&toc, "idle.bytes_per_conn"), 0));
	if (have_mos)
		printf("%-26s %-9s RSS %s KiB idle, %s KiB with %s connections: %s bytes per "
		       "connection\n",
		       "", "Mosquitto", C(num(&mos, "idle.rss0_kib"), 0),
		       C(num(&mos, "idle.rssn_kib"), 0), C(num(&mos, "idle.connections"), 0),
		       C(num(&mos, "idle.bytes_per_conn"), 0));
	printf("%-26s %-9s ", "5 reconnect storm", "Tocsin");
	if (isnan(num(&toc, "storm.dropped")))
		printf("not measured\n");
	else if (num(&toc, "storm.resume") == 1)
		printf("%s consoles dropped at once (RST) and reconnected at once: %s signed in "
		       "(reconnect + hello + welcome) within %s s,\n%-37s %s resumed from their "
		       "position (welcome + backlog + resume_done) within %s s; %s retries;\n%-37s "
		       "resume statuses ok/pending/reload/other %s/%s/%s/%s; alerts published while "
		       "away: %s, recovered %s of %s deliveries (%s duplicates);\n%-37s cpu s "
		       "broker/pg/loadgen/rest %s\n",
		       C(num(&toc, "storm.dropped"), 0), C(num(&toc, "storm.back"), 0),
		       C(num(&toc, "storm.last_signed_in_s"), 2), "", C(num(&toc, "storm.resumed"), 0),
		       C(num(&toc, "storm.last_resumed_s"), 2), C(num(&toc, "storm.retries"), 0), "",
		       C(num(&toc, "storm.resume_ok"), 0), C(num(&toc, "storm.resume_pending"), 0),
		       C(num(&toc, "storm.resume_reload"), 0), C(num(&toc, "storm.resume_other"), 0),
		       C(num(&toc, "storm.missed_alerts"), 0), C(num(&toc, "storm.missed_delivered"), 0),
		       C(num(&toc, "storm.missed_expected"), 0), C(num(&toc, "storm.missed_duplicates"), 0),
		       "", cpu_cell(&toc, "storm"));
	else
		printf("%s consoles dropped at once (RST): %s back (reconnect + hello + welcome) "
		       "within %s s (%s retries); resume: not available (no stream epoch);\n%-37s cpu s "
		       "broker/pg/loadgen/rest %s\n",
		       C(num(&toc, "storm.dropped"), 0), C(num(&toc, "storm.back"), 0),
		       C(num(&toc, "storm.last_signed_in_s"), 2), C(num(&toc, "storm.retries"), 0), "",
		       cpu_cell(&toc, "storm"));
	printf("   anomalies: Tocsin drops %s, 4409 closes %s, error frames %s, tocsind alive at "
	       "the end %s, warnings in broker.log %s",
	       C(num(&toc, "drops"), 0), C(num(&toc, "closes_4409"), 0), C(num(&toc, "errors"), 0),
	       get(&meta, "tocsind_alive") ? (num(&meta, "tocsind_alive") ? "yes" : "NO") : "?",
	       C(num(&meta, "tocsind_log_warnings"), 0));
	if (have_mos)
		printf("; Mosquitto drops %s, alive %s",
		       C(num(&mos, "drops"), 0),
		       get(&meta, "mosquitto_alive") ? (num(&meta, "mosquitto_alive") ? "yes" : "NO")
						     : "?");
	printf("\n");

	/* ratios */
	{
		double r_thr = ratio(num(&toc, "burst.deliveries_per_s"), num(&mos, "burst.deliveries_per_s"));
		double r_p99 = ratio(num(&toc, "paced.lat_p99_ms"), num(&mos, "paced.lat_p99_ms"));
		double r_solo = ratio(num(&toc, "solo.compl_p99_ms"), num(&mos, "solo.compl_p99_ms"));
		double r_mem = ratio(num(&toc, "idle.bytes_per_conn"), num(&mos, "idle.bytes_per_conn"));
		double r_burst_done = ratio(num(&toc, "burst.compl_p99_ms"), num(&mos, "burst.compl_p99_ms"));

		printf("\nTocsin / Mosquitto\n");
		printf("  fan-out throughput, burst (deliveries/s)  %11s / %-11s = %s\n",
		       C(num(&toc, "burst.deliveries_per_s"), 0), C(num(&mos, "burst.deliveries_per_s"), 0),
		       C(r_thr, 2));
		printf("  p99 latency at 20/s (ms)                  %11s / %-11s = %s\n",
		       C(num(&toc, "paced.lat_p99_ms"), 1), C(num(&mos, "paced.lat_p99_ms"), 1), C(r_p99, 2));
		printf("  one alert to all, completion p99 (ms)     %11s / %-11s = %s\n",
		       C(num(&toc, "solo.compl_p99_ms"), 1), C(num(&mos, "solo.compl_p99_ms"), 1),
		       C(r_solo, 2));
		printf("  burst completion p99 (ms)                 %11s / %-11s = %s\n",
		       C(num(&toc, "burst.compl_p99_ms"), 1), C(num(&mos, "burst.compl_p99_ms"), 1),
		       C(r_burst_done, 2));
		printf("  idle RSS per connection (bytes)           %11s / %-11s = %s\n",
		       C(num(&toc, "idle.bytes_per_conn"), 0), C(num(&mos, "idle.bytes_per_conn"), 0),
		       C(r_mem, 2));

		/* targets */
		{
			struct target *t;
			double lost = 0;
			const char *ph[3] = { "solo", "paced", "burst" };
			char k[64];

			t = target("one alert to all consoles completes in <= 60 ms at p99",
				   num(&toc, "solo.compl_p99_ms"), 60, 1, "ms");
			snprintf(t->detail, sizeof t->detail,
				 "solo completion p99 %s ms (at 20/s: %s ms); kernel floor p50 %s ms",
				 C(t->measured, 1), C(num(&toc, "paced.compl_p99_ms"), 1),
				 C(num(&flo, "floor.one_thread_p50_ms"), 1));
			t = target("at 20 alerts/s, p99 publish-to-receipt <= 150 ms",
				   num(&toc, "paced.lat_p99_ms"), 150, 1, "ms");
			snprintf(t->detail, sizeof t->detail, "paced p99 %s ms", C(t->measured, 1));
			t = target("fan-out throughput >= 2.5 x Mosquitto's", r_thr, 2.5, 0, "x");
			snprintf(t->detail, sizeof t->detail, "burst %s vs %s deliveries/s = %s x",
				 C(num(&toc, "burst.deliveries_per_s"), 0),
				 C(num(&mos, "burst.deliveries_per_s"), 0), C(r_thr, 2));
			v = num(&toc, "idle.bytes_per_conn");
			t = target("broker RSS per idle connection <= 3 KiB", v, 3072, 1, "bytes");
			snprintf(t->detail, sizeof t->detail, "%s bytes (%s KiB)", C(v, 0),
				 C(v / 1024, 2));
			v = num(&toc, "acks.last_sent_to_all_audited_ms");
			if (num(&toc, "acks.audited") < num(&toc, "acks.sent"))
				v = NAN;
			t = target("10,000 acks all audited within 1 s of the last one sent", v, 1000, 1,
				   "ms");
			snprintf(t->detail, sizeof t->detail, "%s acks, last sent -> all audited %s ms",
				 C(num(&toc, "acks.sent"), 0),
				 isnan(v) ? "never (not all audited in time)" : C(v, 0));
			if (isnan(v) && !isnan(num(&toc, "acks.sent")))
				t->result = "MISS";
			v = num(&toc, "status.stored_per_s");
			if (num(&toc, "status.stored") < num(&toc, "status.sent"))
				v = NAN;
			t = target("status reports >= 20,000/s durably stored", v, 20000, 0,
				   "reports/s");
			snprintf(t->detail, sizeof t->detail,
				 "%s of %s stored, %s/s (last sent -> all stored %s ms)",
				 C(num(&toc, "status.stored"), 0), C(num(&toc, "status.sent"), 0),
				 C(num(&toc, "status.stored_per_s"), 0),
				 C(num(&toc, "status.last_sent_to_all_stored_ms"), 0));
			if (isnan(v) && !isnan(num(&toc, "status.sent")))
				t->result = "MISS";
			v = num(&toc, "storm.all_back_s");
			t = target("reconnect storm: all back within 3 s, nothing lost", v, 3, 1, "s");
			if (num(&toc, "storm.resume") == 1)
				snprintf(t->detail, sizeof t->detail,
					 "%s of %s resumed in %s s (signed in: %s s); missed alerts "
					 "lost %s",
					 C(num(&toc, "storm.resumed"), 0), C(num(&toc, "storm.dropped"), 0),
					 C(num(&toc, "storm.last_resumed_s"), 2),
					 C(num(&toc, "storm.last_signed_in_s"), 2),
					 C(num(&toc, "storm.missed_lost"), 0));
			else
				snprintf(t->detail, sizeof t->detail, "%s of %s signed in again in %s s",
					 C(num(&toc, "storm.back"), 0), C(num(&toc, "storm.dropped"), 0),
					 C(num(&toc, "storm.last_signed_in_s"), 2));
			if (isnan(v) && !isnan(num(&toc, "storm.dropped")))
				t->result = "MISS";
			/* "nothing lost": alerts missed while away must come back */
			if (num(&toc, "storm.missed_lost") > 0 || num(&toc, "storm.missed_duplicates") > 0)
				t->result = "MISS";
			for (int i = 0; i < 3; i++) {
				snprintf(k, sizeof k, "%s.lost", ph[i]);
				v = num(&toc, k);
				lost = isnan(v) || isnan(lost) ? NAN : lost + v;
			}
			t = target("fan-out messages lost = 0", lost, 0, 1, "messages");
			snprintf(t->detail, sizeof t->detail,
				 "%s lost over the three fan-out phases (of which %s arrived later)",
				 C(lost, 0), C(num(&toc, "fanout.late_deliveries"), 0));

			printf("\nTargets (defined at N = 10,000%s)\n",
			       n == 10000 ? "" : "; THIS RUN HAD ANOTHER N, so they are indicative only");
			for (int i = 0; i < n_targets; i++)
				printf("  %-4s  %-58s %s\n", targets[i].result, targets[i].name,
				       targets[i].detail);
		}

		if (json && (f = fopen(json, "w"))) {
			fputs("{\n  \"meta\": ", f);
			json_kv(f, &meta);
			fputs(",\n  \"tocsin\": ", f);
			json_kv(f, &toc);
			fputs(",\n  \"mosquitto\": ", f);
			if (have_mos)
				json_kv(f, &mos);
			else
				fputs("null", f);
			fputs(",\n  \"kernel_floor\": ", f);
			if (have_floor)
				json_kv(f, &flo);
			else
				fputs("null", f);
			fprintf(f, ",\n  \"ratios_tocsin_over_mosquitto\": {\n"
				   "    \"burst_deliveries_per_s\": ");
			json_value(f, C(r_thr, 4));
			fputs(",\n    \"paced_lat_p99\": ", f);
			json_value(f, C(r_p99, 4));
			fputs(",\n    \"solo_compl_p99\": ", f);
			json_value(f, C(r_solo, 4));
			fputs(",\n    \"burst_compl_p99\": ", f);
			json_value(f, C(r_burst_done, 4));
			fputs(",\n    \"idle_bytes_per_conn\": ", f);
			json_value(f, C(r_mem, 4));
			fputs("\n  },\n  \"targets\": [", f);
			for (int i = 0; i < n_targets; i++) {
				fprintf(f, "%s\n    {\"target\": ", i ? "," : "");
				json_str(f, targets[i].name);
				fputs(", \"result\": ", f);
				json_str(f, targets[i].result);
				fputs(", \"measured\": ", f);
				json_value(f, C(targets[i].measured, 3));
				fprintf(f, ", \"limit\": %g, \"unit\": ", targets[i].limit);
				json_str(f, targets[i].unit);
				fputs(", \"detail\": ", f);
				json_str(f, targets[i].detail);
				fputc('}', f);
			}
			fputs("\n  ]\n}\n", f);
			fclose(f);
		}
	}
	return 0;
}
