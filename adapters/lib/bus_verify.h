/* bus_verify.h: an adapter or bus subscriber checks that an alert event
 * it got from the bus (alert.published, alert.updated, alert.cancelled:
 * docs/bus.md) carries the alert as the broker signed it, with libsodium
 * and the broker's own canonical form (broker/base/sign_check.h,
 * canon_json.h, linked into build/libtocsinbus.a): an event altered on
 * the way, or made up, is refused, not acted on.
 *
 * The keys are those the broker serves at GET /api/keys/alerts (or the
 * alert key's FILE.pub): fetch them over a channel you trust, and again
 * for a key id you do not know (a rotation). Pure but for the file read;
 * any thread; sodium_init() first. */
#ifndef TOCSIN_BUS_VERIFY_H
#define TOCSIN_BUS_VERIFY_H

#include <jansson.h>

#include "sign_check.h"

/* Checks event's "alert" against its "signature". An event without them
 * (an older broker's, or another topic's) is SIGN_CHECK_UNSIGNED. */
enum sign_check bus_verify_event(const json_t *keys, const json_t *event);

/* The keys document in path. NULL after saying why on stderr. */
json_t *bus_verify_keys_load(const char *path);

#endif
