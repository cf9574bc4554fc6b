/* fold.h: one vehicle, one alert per window. A camera network reads a
 * hotlisted car again at every junction; only the first read in
 * --fold-seconds alerts, the rest are counted. */
#ifndef TOCSIN_ANPR_FOLD_H
#define TOCSIN_ANPR_FOLD_H

#include <stdint.h>

/* 1 (and *last_ms = now_ms) when a hit at now_ms (monotonic ms, > 0)
 * should alert: never alerted (*last_ms 0) or last alert window_ms or more
 * ago. 0 when it folds into the last alert. */
int fold_admit(int64_t *last_ms, int64_t now_ms, int64_t window_ms);

#endif
