/* fuzz_fail.c: how a fuzz target reports a broken invariant (see
 * fuzz_targets.h): a message, then abort(), which libFuzzer records as a
 * crash and the corpus replay as a crashed test binary. */
#include "fuzz_targets.h"

#include <stdio.h>
#include <stdlib.h>

void fuzz_fail(const char *target, const char *why)
{
	fprintf(stderr, "fuzz_%s: invariant broken: %s\n", target, why);
	abort();
}
