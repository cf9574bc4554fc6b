/* id_array.h: the integer arrays PostgreSQL answers with ("{1,2}"), as
 * ids: recipient lists (publish.c), changed accounts (revocation.c), and
 * the ids in a notification from another node (peers.c), whatever its
 * text. Pure. */
#ifndef TOCSIN_ID_ARRAY_H
#define TOCSIN_ID_ARRAY_H

#include <stddef.h>
#include <stdint.h>

/* Parses a PostgreSQL integer array literal ("{1,2}") into ids, in the
 * order given (n = 0 for "{}"); any other text gives each run of digits
 * in it as an id (too large: INT64_MAX). NULL when out of memory. */
int64_t *id_array_parse(const char *text, size_t *n);

#endif
