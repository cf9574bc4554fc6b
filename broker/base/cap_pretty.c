/* cap_pretty.c: formats a CAP document (cap_pretty.h). The database builds
 * it on one line (xmlelement); it is read without blank text nodes, so
 * that libxml2's formatter indents every element, and written back in
 * UTF-8 with its XML declaration. Pure; any thread. */
#include "cap_pretty.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define CAP_PRETTY_MAX (16 * 1024 * 1024)

char *cap_pretty(const char *xml, size_t len, size_t *out_len)
{
	xmlDocPtr doc = NULL;
	xmlChar *buf = NULL;
	char *out = NULL;
	int n = 0;

	if (len > CAP_PRETTY_MAX)
		return NULL;
	doc = xmlReadMemory(xml, (int)len, "cap.xml", "UTF-8",
			    XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
				    XML_PARSE_NOWARNING);
	if (!doc)
		goto out;
	xmlDocDumpFormatMemoryEnc(doc, &buf, &n, "UTF-8", 1);
	if (!buf || n <= 0 || !(out = malloc((size_t)n + 1)))
		goto out;
	memcpy(out, buf, (size_t)n);
	out[n] = '\0';
	*out_len = (size_t)n;
out:
	xmlFree(buf);
	xmlFreeDoc(doc);
	return out;
}
