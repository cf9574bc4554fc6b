/* read_scan.h: one camera read, scanned from one JSON line without
 * allocating:
 *   {"plate":"AB12 CDE","camera":"cam-17","lat":51.51,"lon":-0.09,
 *    "time":"2026-11-22T10:00:00Z"}
 * Members may come in any order; other members are checked as JSON and
 * ignored. Anything that is not one complete JSON object with those five
 * members, well typed and in range, is refused with the field and reason. */
#ifndef TOCSIN_ANPR_READ_SCAN_H
#define TOCSIN_ANPR_READ_SCAN_H

#include <stddef.h>

#include "plate.h"

#define READ_PLATE_RAW_MAX 63 /* bytes of the plate as the camera sent it */
#define READ_CAMERA_MAX 64    /* bytes of the camera name */
#define READ_TIME_MAX 35      /* bytes of an RFC 3339 time */
#define READ_DEPTH_MAX 32     /* nesting of ignored members */

struct anpr_read {
	char plate[PLATE_SIZE];                  /* normalised (plate.h) */
	char plate_raw[READ_PLATE_RAW_MAX + 1];  /* as read, for the alert body */
	char camera[READ_CAMERA_MAX + 1];
	char time[READ_TIME_MAX + 1];
	double lat, lon;
};

/* Why a line was refused: field is the member at fault ("plate", "lat"...)
 * or NULL for a JSON syntax error; message is a static string. */
struct scan_error {
	const char *field;
	const char *message;
};

/* Scans line[0..len) (no newline needed; trailing white space is fine).
 * 0 and *r filled, or -1 and *err set. Never reads past len. */
int read_scan(const char *line, size_t len, struct anpr_read *r, struct scan_error *err);

/* 1 when s[0..len) is an RFC 3339 time as cameras send it:
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), fields in range. */
int read_time_ok(const char *s, size_t len);

#endif
