/* bus_verify.c: an alert event's signature checked by its subscriber (see
 * bus_verify.h). */
#include "bus_verify.h"

#include <stdio.h>

enum sign_check bus_verify_event(const json_t *keys, const json_t *event)
{
	const json_t *alert = json_object_get(event, "alert");

	if (!json_is_object(alert))
		return SIGN_CHECK_UNSIGNED;
	return sign_check_json(keys, alert, json_object_get(event, "signature"));
}

json_t *bus_verify_keys_load(const char *path)
{
	json_error_t err;
	json_t *keys = json_load_file(path, JSON_REJECT_DUPLICATES, &err);

	if (!keys)
		fprintf(stderr, "alert keys %s: %s (line %d)\n", path, err.text, err.line);
	else if (!json_is_array(json_object_get(keys, "keys"))) {
		fprintf(stderr, "alert keys %s: no \"keys\" array\n", path);
		json_decref(keys);
		keys = NULL;
	}
	return keys;
}
