/* alert_build.h: the bus requests the adapter sends (docs/bus.md), built
 * from a hit. Pure: no I/O besides reading the image file. */
#ifndef TOCSIN_ANPR_ALERT_BUILD_H
#define TOCSIN_ANPR_ALERT_BUILD_H

#include <jansson.h>
#include <stddef.h>

#include "match.h"

#define ALERT_HEADLINE_MAX 200 /* characters (docs/protocol.md) */
#define ALERT_REPORT_MAX 2000  /* characters of a report's text (docs/protocol.md) */
#define IMAGE_MAX_BYTES (2 * 1024 * 1024)

/* The "publish" request for a hit (without "seq": bus_client_call sets
 * it): category offender, urgency immediate, certainty observed, the
 * hotlist's severity and reason, an area circle of radius_m around the
 * camera and targets {"area": true}, and images [image_id] when image_id
 * is not NULL. NULL when out of memory. Caller json_decref()s. */
json_t *alert_build_publish(const struct anpr_hit *hit, int radius_m, const char *image_id);

/* The "report" request for a hit no site is near (the broker answered
 * the publish no_recipients): kind sighting at the camera, the read and
 * the reason in its text (at most ALERT_REPORT_MAX characters), the
 * image when image_id is not NULL. It reaches the control room's inbox.
 * NULL when out of memory. Caller json_decref()s. */
json_t *alert_build_report(const struct anpr_hit *hit, int radius_m, const char *image_id);

/* The "image" request for the JPEG or PNG at path (at most 2 MiB, type
 * from its first bytes), captioned with the plate. NULL with why filled
 * (names the path) when the file cannot be used. Caller json_decref()s. */
json_t *alert_build_image(const char *path, const char *plate, char *why, size_t why_size);

/* Copies at most max_chars UTF-8 characters of s into out (out_size
 * bytes, NUL-terminated, never splitting a character). */
void utf8_truncate(const char *s, size_t max_chars, char *out, size_t out_size);

#endif
