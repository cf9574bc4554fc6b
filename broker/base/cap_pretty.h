/* cap_pretty.h: an exported CAP document pretty-printed (two-space
 * indentation, one element per line), for people and diff tools; the
 * broker's export (broker/doors/http_api.c, signed by broker/io/cap_sign.c
 * when it has a key) and `tocsinctl cap export` print the same text.
 * Pure (libxml2 on memory, no network, no entities); any thread. */
#ifndef TOCSIN_CAP_PRETTY_H
#define TOCSIN_CAP_PRETTY_H

#include <stddef.h>

/* The document xml (len bytes) formatted: a malloc'd NUL-terminated
 * string and its length in *out_len, or NULL when xml is not a document
 * (over 16 MiB, not well formed) or memory ran out. */
char *cap_pretty(const char *xml, size_t len, size_t *out_len);

#endif
