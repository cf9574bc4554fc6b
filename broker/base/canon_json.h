/* canon_json.h: the canonical text of a JSON value, the bytes an alert's
 * Ed25519 signature covers (docs/protocol.md, "Signed alerts").
 *
 * The form is the one RFC 8785 (JCS) defines, so a browser rebuilds it
 * with JSON.stringify alone: no whitespace; object members sorted by their
 * names compared as UTF-16 code units; strings written as ECMAScript's
 * JSON.stringify writes them (\" \\ \b \f \n \r \t, other characters
 * below U+0020 as \u00xx in lower-case hex, everything else as itself in
 * UTF-8); numbers as ECMAScript's Number::toString writes them (the
 * shortest decimal that reads back as the same double; 5, 0.1, 51.5074,
 * 1e-7, 1e+21); true, false, null. An integer beyond +-(2^53 - 1) cannot be
 * written so that a browser agrees, and is refused.
 * Pure: no I/O; unit-tested (tests/unit/test_canon_json.c). */
#ifndef TOCSIN_CANON_JSON_H
#define TOCSIN_CANON_JSON_H

#include <jansson.h>
#include <stddef.h>

/* The canonical text of v (malloc'd, NUL-terminated, *len without the
 * NUL), or NULL when out of memory or v holds an integer beyond +-(2^53 - 1). */
char *canon_json_dump(const json_t *v, size_t *len);

/* ECMAScript's Number::toString of x into out (at least 32 bytes);
 * returns the length, or -1 for NaN or an infinity (not JSON). */
int canon_json_number(double x, char *out, size_t size);

#endif
