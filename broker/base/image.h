/* image.h: offender images (docs/protocol.md, "Images (HTTP)").
 *
 * The HTTP routes (http_api.c) and the bus (bus_ingest.c) use these
 * checks before anything reaches PostgreSQL, which stores the images,
 * decides who may see them and audits every view; image_sweep.c erases
 * them on expiry. Pure helpers, no I/O. */
#ifndef TOCSIN_IMAGE_H
#define TOCSIN_IMAGE_H

#include <stddef.h>

#define IMAGE_MAX_BYTES ((size_t)2 * 1024 * 1024)
#define IMAGE_ID_LEN 22 /* 16 random bytes, base64url without padding */

/* "image/jpeg" or "image/png" when the bytes start like one, else NULL. */
const char *image_sniff(const unsigned char *p, size_t len);
/* The canonical type for a Content-Type header value (parameters and
 * case ignored), or NULL when it is neither JPEG nor PNG. */
const char *image_mime_from_header(const char *value);
/* 1 when s is exactly an image id: IMAGE_ID_LEN base64url characters. */
int image_id_valid(const char *s);
/* A fresh random id, NUL-terminated. */
void image_id_new(char out[IMAGE_ID_LEN + 1]);

#endif
