/* heap_trim.c: gives the heap's free pages back to the system once a wave
 * of connections has settled, and decides when (pure: no clock, no broker;
 * the caller ticks it, session/trim_tick.c).
 *
 * Why: a TLS handshake allocates tens of KiB for a moment (record buffers,
 * key shares, the transcript) among the connection's long-lived objects;
 * freed, they leave holes in glibc's heap that stay resident, since only
 * the heap's top is returned by itself. Measured in make bench (TLS, N =
 * 2,000 consoles, the machine shared with other engineers' test runs):
 * 33,765 bytes per idle connection without a trim, 19,507 with
 * malloc_trim(0) once the sign-ins settled. At N = 10,000 the trim gave
 * back 16.8 MiB (1.7 KiB a connection, 17,260 bytes each left: the rest
 * is OpenSSL's and lws' live state), and 271 MiB after a storm of
 * 46,000 failed TLS reconnections. A trim walks the heap and stalls the
 * loop while it does (5 ms at 10,000 connections, 64 ms after that storm,
 * 1.7 to 48 ms at 2,000 in the other run), so it waits for
 * HEAP_TRIM_QUIET_US without a change in the connection count and runs
 * at most once per HEAP_TRIM_GAP_US. Thread
 * rule: whoever owns the struct (the loop thread). */
#include "heap_trim.h"

#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

int heap_trim_due(struct heap_trim *t, unsigned n, int64_t now_us)
{
	if (n != t->last_n) {
		t->last_n = n;
		t->changed_us = now_us;
		if (!t->dirty)
			t->dirty_us = now_us;
		t->dirty = 1;
	}
	if (!t->dirty || (t->trimmed_us && now_us - t->trimmed_us < HEAP_TRIM_GAP_US))
		return 0;
	return now_us - t->changed_us >= HEAP_TRIM_QUIET_US ||
	       now_us - t->dirty_us >= HEAP_TRIM_LATEST_US;
}

void heap_trim_done(struct heap_trim *t, int64_t now_us)
{
	t->dirty = 0;
	t->trimmed_us = now_us;
}

/* Resident pages of this process (/proc/self/statm), or -1. */
static long resident_pages(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size, resident = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident;
}

long heap_trim_run(void)
{
	long before = resident_pages(), after;

	malloc_trim(0);
	after = resident_pages();
	if (before < 0 || after < 0 || after > before)
		return 0;
	return (before - after) * sysconf(_SC_PAGESIZE);
}
