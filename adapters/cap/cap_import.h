/* cap_import.h: one CAP document onto the bus (cap_import.c), and the
 * watched folder built on it (cap_watch.c). */
#ifndef TOCSIN_CAP_IMPORT_H
#define TOCSIN_CAP_IMPORT_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cap_parse.h"

struct bus_client;

/* What an import needs; all borrowed. */
struct cap_importer {
	const struct cap_schema *schema;
	struct bus_client *bus;
	const char *state_dir;               /* ids map and bus sequence file */
	json_t *targets;                     /* --targets, or NULL */
	int timeout_ms;                      /* per bus request */
	volatile sig_atomic_t *stop;         /* set by SIGTERM/SIGINT */
};

enum cap_outcome {
	CAP_IMPORTED,  /* published (or was already): *alert_id set */
	CAP_HELD,      /* no site to send it to: held in the control room's inbox as
	                  a pending import (or was already): *alert_id is its report id */
	CAP_REJECTED,  /* the document or the broker refused it: reason says why */
	CAP_RETRY,     /* the broker did not answer, or is unavailable: try again later */
	CAP_STOPPED,   /* a stop signal came */
};

/* Imports one document. reason gets "element (line N): why" for a
 * rejection, or what went wrong for a retry. */
enum cap_outcome cap_import_doc(const struct cap_importer *im, const char *xml, size_t len,
				int64_t *alert_id, char *reason, size_t reason_size);

/* Watches dir until *im->stop: each new .xml file in dir is imported and moved to
 * DIR/done or DIR/rejected (with NAME.reason). 0, or -1 when dir is
 * unusable. */
int cap_watch(const struct cap_importer *im, const char *dir, int interval_ms);

/* Reads a whole file ("-" is stdin), at most 8 MiB; NULL after logging. */
char *cap_read_file(const char *path, size_t *len);

#endif
