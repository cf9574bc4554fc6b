/* publisher.h: the publishing thread. It takes hits off the queue, uploads
 * each hotlist image once (bus "image" request; the id is reused), and
 * publishes an alert per hit over the bus with a sequence number from
 * bus_seq_next(), so a resend or a restart never publishes twice. With
 * print_only it writes each publish request to stdout instead (--print). */
#ifndef TOCSIN_ANPR_PUBLISHER_H
#define TOCSIN_ANPR_PUBLISHER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "bus_client.h"
#include "publish_queue.h"

struct publisher_conf {
	const char *endpoint;         /* --bus-ingest */
	char server_public[BUS_KEY_Z85];
	struct bus_key key;           /* --bus-key */
	const char *state_file;       /* --state */
	int radius_m;                 /* --radius-m */
	int timeout_ms;               /* --timeout-seconds: give up on one request */
	int resend_ms;                /* resend interval inside bus_client_call */
	int print_only;               /* --print: stdout instead of the bus */
};

struct publisher_counts {
	atomic_ulong published, duplicates, failed, abandoned, images;
};

struct image_id {
	char *path;    /* owned */
	char id[64];
};

struct publisher {
	struct publisher_conf conf;
	struct pubq *q;                /* borrowed from main */
	struct bus_client *bus;        /* owned; NULL with print_only */
	struct image_id *images;       /* uploaded so far, owned */
	size_t n_images;
	struct publisher_counts counts;
	atomic_int done;               /* set by the thread as it ends */
	atomic_uint hotlist_gen;       /* bumped by main on each reload: images are read again */
	unsigned images_gen;           /* the generation the uploaded images belong to */
	pthread_t thread;
};

/* Opens the bus (unless print_only) and starts the thread. 0, or -1 after
 * logging why. Call with the stop signals blocked: the thread inherits
 * the mask and leaves signals to the reading thread. */
int publisher_start(struct publisher *p, const struct publisher_conf *conf, struct pubq *q);

/* Tells the thread the hotlist was reloaded: an image file may have
 * changed, so each is uploaded again the next time it is used. */
void publisher_hotlist_reloaded(struct publisher *p);

/* Waits for the thread (the queue must be closed first) and frees
 * everything it owned. */
void publisher_join(struct publisher *p);

#endif
