/* heap_trim.h: when to give the heap's free pages back to the system
 * after connections came and went (heap_trim.c). */
#ifndef TOCSIN_HEAP_TRIM_H
#define TOCSIN_HEAP_TRIM_H

#include <stdint.h>

struct heap_trim {
	unsigned last_n;     /* connections at the last look */
	int dirty;           /* the count moved since the last trim */
	int64_t changed_us;  /* when it last moved (monotonic) */
	int64_t dirty_us;    /* when it first moved after the last trim */
	int64_t trimmed_us;  /* when the heap was last trimmed (0: never) */
};

/* Quiet this long after the last change before trimming ... */
#define HEAP_TRIM_QUIET_US (2 * 1000000LL)
/* ... at most once per this (a trim stalls the loop: heap_trim.c) ... */
#define HEAP_TRIM_GAP_US (30 * 1000000LL)
/* ... and, when connections never stop coming and going, this long after
 * the first change at the latest. */
#define HEAP_TRIM_LATEST_US (300 * 1000000LL)

/* Looks at the connection count n at now_us; 1 when the heap should be
 * trimmed now (the caller then calls heap_trim_run and heap_trim_done). */
int heap_trim_due(struct heap_trim *t, unsigned n, int64_t now_us);
/* Records a trim made at now_us. */
void heap_trim_done(struct heap_trim *t, int64_t now_us);
/* Gives free pages back (malloc_trim); returns the bytes of resident
 * memory it released, as far as the process can tell (may be 0). */
long heap_trim_run(void);

#endif
