/* fold.c: the folding rule (fold.h). The window is measured on the
 * adapter's monotonic clock, not the cameras' timestamps: a camera with a
 * wrong clock must neither flood consoles nor silence a vehicle. */
#include "fold.h"

/* Folded reads do not move the window: a car parked in front of a camera
 * alerts again every window, not never. */
int fold_admit(int64_t *last_ms, int64_t now_ms, int64_t window_ms)
{
	if (*last_ms && now_ms - *last_ms < window_ms)
		return 0;
	*last_ms = now_ms;
	return 1;
}
