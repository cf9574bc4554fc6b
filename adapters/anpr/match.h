/* match.h: one input line through the whole matching path: scan, normalise,
 * hash lookup, expiry, folding. Used by the adapter's reading thread and by
 * bench/anpr_bench.c, so the benchmark times exactly what runs. */
#ifndef TOCSIN_ANPR_MATCH_H
#define TOCSIN_ANPR_MATCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "hotlist.h"
#include "read_scan.h"

enum match_result {
	MATCH_BLANK,   /* an empty or white-space line: not a read */
	MATCH_BAD,     /* malformed: see the scan_error */
	MATCH_MISS,    /* not on the hotlist */
	MATCH_EXPIRED, /* on the hotlist, past its expiry */
	MATCH_FOLDED,  /* a hit within --fold-seconds of the plate's last alert */
	MATCH_HIT,     /* a hit to publish */
};

struct match_counts {
	uint64_t reads, bad, misses, expired, folded, hits;
};

/* A hit, copied out of the hotlist so that the publishing thread never
 * touches the table (which SIGHUP replaces). */
struct anpr_hit {
	struct anpr_read read;
	const char *severity;                      /* static */
	char reason[HOTLIST_REASON_MAX * 4 + 1];   /* UTF-8 */
	char image[PATH_MAX];                      /* "" when none */
	int image_days;                            /* keep the image this long: the
	                                              entry's expires, 0 when it has none */
};

/* The most days an ANPR image is kept, whatever the hotlist entry's
 * expires says: the force's retention of hotlist images (the broker's
 * default for any image, 90 days). */
#define MATCH_IMAGE_DAYS_MAX 90

/* Matches line[0..len) against hl at wall_ms (Unix ms, for expiry) and
 * mono_ms (monotonic ms, for folding, window fold_ms). Counts the result
 * in *n. MATCH_HIT fills *hit; MATCH_BAD fills *err. The entry's fold
 * time is updated on a hit (match_unfold() undoes it). */
enum match_result match_line(struct hotlist *hl, const char *line, size_t len, int64_t wall_ms,
			     int64_t mono_ms, int64_t fold_ms, struct match_counts *n,
			     struct anpr_hit *hit, struct scan_error *err);

/* Undoes the fold time a hit set (when it could not be queued), so the
 * next read of that plate alerts. (A hit is only admitted when the last
 * alert was outside the window, so "never" is equivalent.) */
void match_unfold(struct hotlist *hl, const char plate[PLATE_SIZE]);

#endif
