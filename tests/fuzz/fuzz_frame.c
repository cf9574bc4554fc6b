/* fuzz_frame.c: the protocol decoder under fuzzing (see fuzz_targets.h).
 *
 * Feeds the bytes to frame_parse() exactly as the WebSocket callback does
 * (a buffer and a length, not NUL-terminated), then checks what came back:
 * a decoded frame is well formed, an error is typed and serialises to an
 * error frame that parses again. The frame_check.c helpers the handlers
 * use are run over every member of a decoded message, so they meet hostile
 * values too. */
#include "fuzz_targets.h"

#include "clock.h"
#include "frame.h"
#include "frame_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_INPUT_MAX
#define FUZZ_INPUT_MAX (256 * 1024) /* the broker's message limit is smaller */
#endif

/* An error must name a code and a message, and its frame must be JSON. */
static void check_error(const struct frame_error *err)
{
	json_t *back;
	char *s;

	if (!err->code || !err->code[0] || !err->message[0])
		fuzz_fail("frame", "an error without a code or a message");
	s = frame_error_json(err);
	if (!s)
		fuzz_fail("frame", "frame_error_json returned NULL");
	back = json_loads(s, 0, NULL);
	if (!json_is_string(json_object_get(back, "code")) ||
	    strcmp(json_string_value(json_object_get(back, "code")), err->code) != 0)
		fuzz_fail("frame", "the error frame does not parse back");
	json_decref(back);
	free(s);
}

static const char *const states[] = { "normal", "heightened", "lockdown", NULL };

/* A member check returns 0, or -1 with a typed error that can be sent. */
static void checked(int rc, struct frame_error *err)
{
	if (rc == -1)
		check_error(err);
	else if (rc != 0)
		fuzz_fail("frame", "a member check returned neither 0 nor -1");
	memset(err, 0, sizeof *err);
}

/* Runs every member check over one member, as a handler might. */
static void check_member(json_t *root, const char *name, json_t *value)
{
	struct frame_error err;
	const char *s;
	int64_t i;
	double d;
	int present;

	memset(&err, 0, sizeof err);
	checked(frame_check_string(root, name, 0, 64, 0, &s, &err), &err);
	checked(frame_check_text(root, name, 1, 2000, 1, &s, &err), &err);
	checked(frame_check_int(root, name, 0, 100000, 0, &i, &present, &err), &err);
	checked(frame_check_number(root, name, -90, 90, 1, &d, &present, &err), &err);
	checked(frame_check_enum(root, name, states, NULL, &s, &err), &err);
	checked(frame_check_area(value, name, &err), &err);
	if (json_is_string(value)) {
		int rc = clock_parse_iso(json_string_value(value), &i);
		if (rc != 0 && rc != -1)
			fuzz_fail("frame", "clock_parse_iso returned neither 0 nor -1");
	}
	if (json_is_object(value)) {
		const char *k;
		json_t *v;
		json_object_foreach(value, k, v)
			checked(frame_check_area(v, k, &err), &err);
	}
}

/* A decoded frame owns its root; a publish holds its normalised record. */
static void check_frame(struct client_frame *f)
{
	const char *name;
	json_t *v;

	if (!json_is_object(f->root))
		fuzz_fail("frame", "a decoded frame without an object root");
	if (strlen(f->ref) > FRAME_REF_MAX)
		fuzz_fail("frame", "ref longer than FRAME_REF_MAX");
	if (f->type == FRAME_PUBLISH) {
		if (!json_is_object(f->u.publish.rec))
			fuzz_fail("frame", "a publish without its record");
		if ((f->u.publish.n_orgs && !f->u.publish.orgs) ||
		    (f->u.publish.n_sites && !f->u.publish.sites))
			fuzz_fail("frame", "publish target counts without arrays");
		free(frame_dump(json_incref(f->u.publish.rec), NULL));
	}
	if (f->type == FRAME_HELLO && f->u.hello.token &&
	    strlen(f->u.hello.token) > f->u.hello.token_len)
		fuzz_fail("frame", "hello token longer than its length");
	json_object_foreach(f->root, name, v)
		check_member(f->root, name, v);
}

int fuzz_frame_one(const uint8_t *data, size_t size)
{
	struct client_frame f;
	struct frame_error err;
	char *buf;

	if (size > FUZZ_INPUT_MAX)
		return 0;
	/* a copy of exactly size bytes, so ASan sees any read past the end */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (frame_parse(buf, size, &f, &err) == 0) {
		check_frame(&f);
		frame_free(&f);
		if (f.root)
			fuzz_fail("frame", "frame_free left the root set");
	} else {
		if (f.root)
			fuzz_fail("frame", "a failed parse kept its root");
		check_error(&err);
	}
	free(buf);
	return 0;
}

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer's entry point (make fuzz). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_frame_one(data, size);
}
#endif
