/* match.c: the per-read path (match.h). Allocates nothing; the only copy
 * is of a hit's strings, about 1 % of reads. */
#include "match.h"

#include "fold.h"

#include <stdio.h>
#include <string.h>

/* Blank lines are not reads: not counted, not malformed. */
static int is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* Copies what the publisher needs from the read and the entry; the image
 * is kept until the entry expires (whole days, rounded up), at least one
 * day and at most MATCH_IMAGE_DAYS_MAX (issue 18: an image was kept 90 days
 * whatever the entry said). */
static void fill_hit(struct anpr_hit *hit, const struct anpr_read *r,
		     const struct hotlist_entry *e, int64_t wall_ms)
{
	const int64_t day_ms = 86400000;

	hit->image_days = 0;
	if (e->expires_ms != INT64_MAX) {
		int64_t days = (e->expires_ms - wall_ms + day_ms - 1) / day_ms;
		hit->image_days = (int)(days < 1 ? 1 : days > MATCH_IMAGE_DAYS_MAX
						   ? MATCH_IMAGE_DAYS_MAX : days);
	}
	hit->read = *r;
	hit->severity = e->severity;
	snprintf(hit->reason, sizeof hit->reason, "%s", e->reason);
	snprintf(hit->image, sizeof hit->image, "%s", e->image ? e->image : "");
}

/* The order of checks is the cost order: most reads stop at the lookup. */
enum match_result match_line(struct hotlist *hl, const char *line, size_t len, int64_t wall_ms,
			     int64_t mono_ms, int64_t fold_ms, struct match_counts *n,
			     struct anpr_hit *hit, struct scan_error *err)
{
	struct anpr_read r;
	struct hotlist_entry *e;

	if (is_blank(line, len))
		return MATCH_BLANK;
	n->reads++;
	if (read_scan(line, len, &r, err)) {
		n->bad++;
		return MATCH_BAD;
	}
	e = hotlist_find(hl, r.plate);
	if (!e) {
		n->misses++;
		return MATCH_MISS;
	}
	if (!hotlist_live(e, wall_ms)) {
		n->expired++;
		return MATCH_EXPIRED;
	}
	if (!fold_admit(&e->last_alert_ms, mono_ms, fold_ms)) {
		n->folded++;
		return MATCH_FOLDED;
	}
	n->hits++;
	fill_hit(hit, &r, e, wall_ms);
	return MATCH_HIT;
}

/* Called when the queue refused the hit (match.h). */
void match_unfold(struct hotlist *hl, const char plate[PLATE_SIZE])
{
	struct hotlist_entry *e = hotlist_find(hl, plate);

	if (e)
		e->last_alert_ms = 0;
}
