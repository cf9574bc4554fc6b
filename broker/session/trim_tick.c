/* trim_tick.c: once a second, tells heap_trim.c how many connections
 * there are, and trims the heap when it says so: after a reconnect storm
 * or a wave of sign-ins has settled (base/heap_trim.c says why and what
 * it costs). Loop thread only. */
#include "broker.h"
#include "loop_wake.h"
#include "session.h"
#include "clock.h"
#include "heap_trim.h"
#include "log.h"

#define TICK_US (1000 * 1000)

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_trim);
	int64_t now = clock_mono_us();

	if (!b->stopping && heap_trim_due(&b->heap_trim, b->n_sessions, now)) {
		long released = heap_trim_run();
		int64_t took = clock_mono_us() - now;

		heap_trim_done(&b->heap_trim, clock_mono_us());
		log_info("heap trimmed after connections settled at %u: %ld KiB given back in %lld ms",
			 b->n_sessions, released / 1024, (long long)(took / 1000));
	}
	loop_wake_timer(b->ctx, &b->sul_trim, tick, TICK_US);
}

void trim_tick_start(struct broker *b)
{
	loop_wake_timer(b->ctx, &b->sul_trim, tick, TICK_US);
}
