/* image.c: the checks made on an offender image before anything reaches
 * PostgreSQL (image.h), from an HTTP upload (http_api.c) or the bus
 * (bus_ingest.c). Pure. */
#include "image.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

const char *image_sniff(const unsigned char *p, size_t len)
{
	static const unsigned char jpeg[] = { 0xFF, 0xD8, 0xFF };
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A };

	if (len >= sizeof png && !memcmp(p, png, sizeof png))
		return "image/png";
	if (len >= sizeof jpeg && !memcmp(p, jpeg, sizeof jpeg))
		return "image/jpeg";
	return NULL;
}

const char *image_mime_from_header(const char *value)
{
	size_t n;

	while (*value == ' ' || *value == '\t')
		value++;
	n = strcspn(value, "; \t");
	if (n == 10 && !strncasecmp(value, "image/jpeg", n))
		return "image/jpeg";
	if (n == 9 && !strncasecmp(value, "image/png", n))
		return "image/png";
	return NULL;
}

int image_id_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= IMAGE_ID_LEN ||
		    !((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '_'))
			return 0;
	return n == IMAGE_ID_LEN;
}

void image_id_new(char out[IMAGE_ID_LEN + 1])
{
	unsigned char raw[16];

	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(out, IMAGE_ID_LEN + 1, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
