/* frame_check.c: member checks for handlers (see frame_check.h). */
#include "frame_check.h"
#include "clock.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int frame_check_string(json_t *obj, const char *name, size_t min, size_t max, int required,
		 const char **out, struct frame_error *err)
{
	json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		frame_error_set(err, "missing_field", name, "%s is required", name);
		return -1;
	}
	if (!json_is_string(v) || json_string_length(v) < min || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		frame_error_set(err, "bad_field", name, "%s must be a string of %zu to %zu characters",
				name, min, max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int frame_check_text(json_t *obj, const char *name, size_t min, size_t max, int required,
	       const char **out, struct frame_error *err)
{
	size_t n = 0;

	if (frame_check_string(obj, name, 0, (size_t)-1, required, out, err))
		return -1;
	if (!*out)
		return 0;
	for (const unsigned char *p = (const unsigned char *)*out; *p; p++)
		n += (*p & 0xC0) != 0x80; /* count lead bytes only */
	if (n < min || n > max) {
		frame_error_set(err, "bad_field", name, "%s must be a string of %zu to %zu characters",
				name, min, max);
		return -1;
	}
	return 0;
}

int frame_check_enum(json_t *obj, const char *name, const char *const *choices, const char *def,
	       const char **out, struct frame_error *err)
{
	json_t *v = json_object_get(obj, name);
	char list[256] = "";

	if (!v || json_is_null(v)) {
		if (def) {
			*out = def;
			return 0;
		}
		frame_error_set(err, "missing_field", name, "%s is required", name);
		return -1;
	}
	for (const char *const *c = choices; *c; c++) {
		if (json_is_string(v) && !strcmp(json_string_value(v), *c)) {
			*out = *c;
			return 0;
		}
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
			 c == choices ? "" : ", ", *c);
	}
	frame_error_set(err, "bad_field", name, "%s must be one of %s", name, list);
	return -1;
}

int frame_check_int(json_t *obj, const char *name, int64_t min, int64_t max, int required,
	      int64_t *out, int *present, struct frame_error *err)
{
	json_t *v = json_object_get(obj, name);

	if (present)
		*present = 0;
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		frame_error_set(err, "missing_field", name, "%s is required", name);
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		frame_error_set(err, "bad_field", name, "%s must be a whole number from %lld to %lld",
				name, (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	if (present)
		*present = 1;
	return 0;
}

/* Times are read with the one parser publish uses, so every member that
 * takes a time accepts the same forms. */
int frame_check_time(json_t *obj, const char *name, int required, const char **out,
	       struct frame_error *err)
{
	int64_t ms;

	if (frame_check_string(obj, name, 1, 40, required, out, err))
		return -1;
	if (*out && clock_parse_iso(*out, &ms)) {
		frame_error_set(err, "bad_field", name,
				"%s must be an RFC 3339 time such as 2026-11-22T14:15:00Z", name);
		return -1;
	}
	return 0;
}

int frame_check_number(json_t *obj, const char *name, double min, double max, int required,
		 double *out, int *present, struct frame_error *err)
{
	json_t *v = json_object_get(obj, name);

	if (present)
		*present = 0;
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		frame_error_set(err, "missing_field", name, "%s is required", name);
		return -1;
	}
	if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < min ||
	    json_number_value(v) > max) {
		frame_error_set(err, "bad_field", name, "%s must be a number from %g to %g", name,
				min, max);
		return -1;
	}
	*out = json_number_value(v);
	if (present)
		*present = 1;
	return 0;
}

/* [lat, lon] within range. */
static int point_ok(json_t *p)
{
	json_t *lat = json_array_get(p, 0), *lon = json_array_get(p, 1);

	return json_is_array(p) && json_array_size(p) == 2 && json_is_number(lat) &&
	       json_is_number(lon) && json_number_value(lat) >= -90 &&
	       json_number_value(lat) <= 90 && json_number_value(lon) >= -180 &&
	       json_number_value(lon) <= 180;
}

int frame_check_area(json_t *area, const char *field, struct frame_error *err)
{
	json_t *circle, *polygon, *p;
	char f[FRAME_FIELD_MAX];
	double d;
	size_t i, n;

	if (!json_is_object(area)) {
		frame_error_set(err, "bad_field", field, "%s must be an object with circle or polygon",
				field);
		return -1;
	}
	circle = json_object_get(area, "circle");
	polygon = json_object_get(area, "polygon");
	if (!!circle == !!polygon) {
		frame_error_set(err, "bad_field", field, "%s needs exactly one of circle or polygon",
				field);
		return -1;
	}
	if (circle) {
		if (!json_is_object(circle)) {
			snprintf(f, sizeof f, "%s.circle", field);
			frame_error_set(err, "bad_field", f, "%s must be {lat, lon, radius_m}", f);
			return -1;
		}
		snprintf(f, sizeof f, "%s.circle.lat", field);
		if (frame_check_number(circle, "lat", -90, 90, 1, &d, NULL, err))
			goto rename;
		if (frame_check_number(circle, "lon", -180, 180, 1, &d, NULL, err))
			goto rename;
		if (frame_check_number(circle, "radius_m", 1, 50000, 1, &d, NULL, err))
			goto rename;
		return 0;
rename: /* name the full path of the member at fault */
		{
			char member[16];
			snprintf(member, sizeof member, "%.15s", err->field);
			snprintf(err->field, sizeof err->field, "%.40s.circle.%s", field, member);
		}
		return -1;
	}
	snprintf(f, sizeof f, "%s.polygon", field);
	if (!json_is_array(polygon) || (n = json_array_size(polygon)) < 4 || n > 500) {
		frame_error_set(err, "bad_field", f,
				"%s must be 4 to 500 [lat, lon] points, the last equal to the first", f);
		return -1;
	}
	json_array_foreach(polygon, i, p) {
		if (!point_ok(p)) {
			snprintf(f, sizeof f, "%s.polygon[%zu]", field, i);
			frame_error_set(err, "bad_field", f,
					"%s must be [lat, lon] with lat -90..90 and lon -180..180", f);
			return -1;
		}
	}
	if (!json_equal(json_array_get(polygon, 0), json_array_get(polygon, n - 1))) {
		frame_error_set(err, "bad_field", f, "%s is not closed: the last point must equal the first", f);
		return -1;
	}
	return 0;
}
