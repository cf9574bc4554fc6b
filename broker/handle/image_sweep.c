/* image_sweep.c: the expiry sweep of offender images.
 *
 * A timer asks tocsin_erase_expired_images() to erase the bytes of every
 * image past its expiry (the function audits each erasure). It runs every
 * TOCSIN_IMAGE_SWEEP_SECONDS seconds (default 60) while the database is
 * up; a fetch after the expiry erases the image itself, so the sweep only
 * bounds how long expired bytes may sit unread. Loop thread only. */
#include "handle.h"
#include "loop_wake.h"
#include "db.h"
#include "log.h"

#include <stdlib.h>

#define SWEEP_DEFAULT_S 60
#define SWEEP_MAX_S 86400

/* The sweep interval; warns (once, at start) about a bad setting. */
static int64_t sweep_us(int warn)
{
	const char *env = getenv("TOCSIN_IMAGE_SWEEP_SECONDS");
	char *end = NULL;
	long s = env ? strtol(env, &end, 10) : SWEEP_DEFAULT_S;

	if (env && (*env == '\0' || *end != '\0' || s < 1 || s > SWEEP_MAX_S)) {
		if (warn)
			log_warn("TOCSIN_IMAGE_SWEEP_SECONDS=%s is not 1 to %d: using %d", env,
				 SWEEP_MAX_S, SWEEP_DEFAULT_S);
		s = SWEEP_DEFAULT_S;
	}
	return (int64_t)s * 1000000;
}

static void swept(struct broker *b, void *arg, PGresult *res, const struct db_error *err)
{
	long n;

	b->images_sweeping = 0;
	if (err) {
		if (!err->lost)
			log_error("image expiry sweep failed: %s", err->message);
		return;
	}
	n = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (n > 0)
		log_info("images: erased %ld expired image%s", n, n == 1 ? "" : "s");
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_images);

	if (!b->images_sweeping && !b->stopping && db_is_up(b->db)) {
		b->images_sweeping = 1; /* before: a lost connection calls back at once */
		if (db_query(b->db, "SELECT tocsin_erase_expired_images()", 0, NULL, swept, NULL))
			b->images_sweeping = 0;
	}
	loop_wake_timer(b->ctx, &b->sul_images, tick, sweep_us(0));
}

void image_sweep_start(struct broker *b)
{
	int64_t us = sweep_us(1);

	log_info("images: expiry sweep every %lld s", (long long)(us / 1000000));
	loop_wake_timer(b->ctx, &b->sul_images, tick, us);
}
