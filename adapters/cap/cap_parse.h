/* cap_parse.h: OASIS CAP 1.2 XML in, the Tocsin publish request out
 * (docs/protocol.md, "Alerts in full"; adapters/cap/README.md has the
 * mapping). Pure: no I/O beyond reading the schema file, no bus, no state.
 * libxml2 parses and validates against adapters/cap/schema/CAP-v1.2.xsd. */
#ifndef TOCSIN_CAP_PARSE_H
#define TOCSIN_CAP_PARSE_H

#include <jansson.h>
#include <stddef.h>

/* Why a document was refused: the element at fault (local name, or
 * "document" when the XML itself is broken), its line, and the reason. */
struct cap_problem {
	char element[64];
	int line;
	char reason[320];
};

struct cap_schema;

/* Loads and compiles the XSD at path. NULL with why in err. */
struct cap_schema *cap_schema_load(const char *path, struct cap_problem *err);
void cap_schema_free(struct cap_schema *s);

/* One CAP reference: the sender, identifier and sent of an earlier message. */
struct cap_ref {
	char *sender;
	char *identifier;
	char *sent;
};

/* A parsed CAP alert. All members owned; cap_alert_free() releases them. */
struct cap_alert {
	json_t *publish;          /* the publish fields (no "type", "seq", "targets",
	                             "references" or "images": the caller adds them) */
	char *identifier;
	char *sender;
	char *sent;
	struct cap_ref *refs;     /* references, oldest first as written */
	size_t n_refs;
	json_t *images;           /* [{"mime","data"(base64),"caption"}]: derefUri images */
	json_t *notes;            /* [string]: what the model cannot hold, one line each */
	json_t *geocodes;         /* ["VALUENAME=VALUE"]: the areas' geocodes and
	                             "areaDesc=..." descriptions, for targets.geocodes */
	json_t *origin;           /* {identifier, sender, sent[, sender_name]}: the
	                             publish's "origin" when an adapter imports it */
};

/* Parses and validates len bytes of XML. 0 and out filled, or -1 and err
 * filled (out left empty). */
int cap_parse(const struct cap_schema *s, const char *xml, size_t len, struct cap_alert *out,
	      struct cap_problem *err);

void cap_alert_free(struct cap_alert *a);

/* Only the first two gates: well-formed and valid against the schema.
 * 0, or -1 and err filled. */
int cap_validate(const struct cap_schema *s, const char *xml, size_t len,
		 struct cap_problem *err);

/* "element (line N): reason" into buf. */
void cap_problem_format(const struct cap_problem *p, char *buf, size_t size);

#endif
