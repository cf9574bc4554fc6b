/* plate.h: number plates as the hotlist and the cameras spell them. */
#ifndef TOCSIN_ANPR_PLATE_H
#define TOCSIN_ANPR_PLATE_H

#include <stddef.h>

/* A normalised plate: 1 to 15 characters A-Z 0-9, NUL-padded to 16 bytes so
 * that two plates compare as two 16-byte blocks. */
#define PLATE_MAX 15
#define PLATE_SIZE 16

/* Writes the normalised form of in[0..len) to out (PLATE_SIZE bytes, zero
 * padded): ASCII letters upper-cased, spaces and hyphens dropped. Returns
 * its length, or -1 when anything else is left (other characters, empty,
 * longer than PLATE_MAX). */
int plate_normalise(const char *in, size_t len, char out[PLATE_SIZE]);

#endif
