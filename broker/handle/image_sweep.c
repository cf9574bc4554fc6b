/* image_sweep.c: the expiry sweep of offender images.
 *
 * A timer asks tocsin_erase_expired_images() to erase the bytes of every
 * image past its expiry (the function audits each erasure). It runs every
 * image-sweep-seconds (conf.c; default 60) while the database is
 * up; a fetch after the expiry erases the image itself, so the sweep only
 * bounds how long expired bytes may sit unread. With several brokers on
 * one database each sweeps: FOR UPDATE SKIP LOCKED gives each image to one
 * of them (sql/functions/images.sql). Loop thread only. */
#include "handle.h"
#include "loop_wake.h"
#include "db.h"
#include "log.h"

#include <stdlib.h>

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
	loop_wake_timer(b->ctx, &b->sul_images, tick, (int64_t)b->conf.image_sweep_s * 1000000);
}

void image_sweep_start(struct broker *b)
{
	log_info("images: expiry sweep every %d s", b->conf.image_sweep_s);
	loop_wake_timer(b->ctx, &b->sul_images, tick, (int64_t)b->conf.image_sweep_s * 1000000);
}
