/* frame_check.h: member checks shared by the handlers that read their
 * message from client_frame.root. Each returns 0, or -1 with err filled
 * (code missing_field or bad_field, field named). Pure; unit-tested. */
#ifndef TOCSIN_FRAME_CHECK_H
#define TOCSIN_FRAME_CHECK_H

#include <jansson.h>
#include <stdint.h>

#include "frame.h"

/* A string of min..max bytes; absent is fine when !required (*out NULL). */
int frame_check_string(json_t *obj, const char *name, size_t min, size_t max, int required,
		 const char **out, struct frame_error *err);
/* One of the NULL-terminated choices; absent gives def (may be NULL). */
int frame_check_enum(json_t *obj, const char *name, const char *const *choices, const char *def,
	       const char **out, struct frame_error *err);
/* An integer in min..max; absent is fine when !required (*present 0). */
int frame_check_int(json_t *obj, const char *name, int64_t min, int64_t max, int required,
	      int64_t *out, int *present, struct frame_error *err);
/* A string of min..max characters counted as PostgreSQL's length()
 * counts them (UTF-8 code points), so limits mean characters, not bytes. */
int frame_check_text(json_t *obj, const char *name, size_t min, size_t max, int required,
	       const char **out, struct frame_error *err);
/* A number (integer or real) in min..max. */
int frame_check_number(json_t *obj, const char *name, double min, double max, int required,
		 double *out, int *present, struct frame_error *err);
/* An RFC 3339 time (clock_parse_iso: 2026-11-22T14:15:00.123Z or with an
 * offset); absent or null is fine when !required (*out NULL). */
int frame_check_time(json_t *obj, const char *name, int required, const char **out,
	       struct frame_error *err);
/* An area: {"circle":{lat,lon,radius_m}} or {"polygon":[[lat,lon],...]}
 * (at least 4 points, closed). field is the member's name for errors. */
int frame_check_area(json_t *area, const char *field, struct frame_error *err);

#endif
