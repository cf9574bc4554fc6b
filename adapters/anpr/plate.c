/* plate.c: plate normalisation, shared by the hotlist loader and the read
 * scanner so that "ab12 cde", "AB12CDE" and "AB-12-CDE" are one plate. */
#include "plate.h"

#include <string.h>

/* Cameras and hotlists disagree on spacing and case, never on the letters
 * and digits: keep those, drop the separators, refuse anything else (a plate
 * with punctuation is a garbled read, not a vehicle). */
int plate_normalise(const char *in, size_t len, char out[PLATE_SIZE])
{
	int n = 0;

	memset(out, 0, PLATE_SIZE);
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == ' ' || c == '-')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			goto bad;
		if (n == PLATE_MAX)
			goto bad;
		out[n++] = c;
	}
	if (n == 0)
		goto bad;
	return n;
bad:
	memset(out, 0, PLATE_SIZE);
	return -1;
}
