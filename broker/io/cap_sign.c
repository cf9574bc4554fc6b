/* cap_sign.c: pretty-prints an exported CAP document (or the Atom feed of
 * them) and signs it with an
 * enveloped XML Signature (xmlsec1 with OpenSSL): ECDSA P-256 over
 * SHA-256, exclusive canonicalisation, one reference to the whole
 * document (URI "") with the enveloped-signature transform, so that
 * `xmlsec1 --verify` accepts the document as exported and refuses it once
 * one character of what it covers changes.
 *
 * Why ECDSA and not the Ed25519 key that signs alert frames: the xmlsec1
 * of Debian 12 (1.2.37) has no EdDSA transform (`xmlsec1
 * --list-transforms`); ecdsa-sha256 is there, and in every XML Signature
 * library a CAP reader is likely to use.
 *
 * Order matters: the template is added and the document formatted before
 * signing, and the signed document is written without reformatting: the
 * indentation is then part of what is signed, never changed after.
 *
 * Loop thread only (see cap_sign.h). */
#include "cap_sign.h"
#include "cap_pretty.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <xmlsec/crypto.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/templates.h>

struct cap_signer {
	xmlSecKeyPtr key; /* owned */
};

/* xmlsec and its OpenSSL engine start once per process, on first use. */
static int started;

static int start(void)
{
	if (started)
		return 0;
	xmlInitParser();
	if (xmlSecInit() < 0 || xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0 ||
	    xmlSecCryptoInit() < 0) {
		log_error("cap signatures: xmlsec1 (OpenSSL) failed to start");
		return -1;
	}
	started = 1;
	return 0;
}

int cap_sign_load(const char *path, struct cap_signer **out)
{
	struct cap_signer *s;

	*out = NULL;
	if (!path)
		return 0;
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		log_warn("no CAP signing key at %s: CAP exports are not signed (tocsinctl keys "
			 "init makes it)", path);
		return 0;
	}
	if (start())
		return -1;
	s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	s->key = xmlSecCryptoAppKeyLoad(path, xmlSecKeyDataFormatPem, NULL, NULL, NULL);
	if (!s->key || !(xmlSecKeyGetType(s->key) & xmlSecKeyDataTypePrivate)) {
		log_error("cannot use %s as the CAP signing key (a PEM ECDSA P-256 private key "
			  "is needed)", path);
		cap_sign_free(s);
		return -1;
	}
	*out = s;
	log_info("CAP exports are signed with %s", path);
	return 0;
}

void cap_sign_free(struct cap_signer *s)
{
	if (!s)
		return;
	if (s->key)
		xmlSecKeyDestroy(s->key);
	free(s);
	if (started) { /* one signer per process: its end is xmlsec's */
		xmlSecCryptoShutdown();
		xmlSecCryptoAppShutdown();
		xmlSecShutdown();
		started = 0;
	}
}

/* The document as a malloc'd string (libxml2 allocates with xmlMalloc). */
static char *dump(xmlDocPtr doc, int format, size_t *out_len)
{
	xmlChar *buf = NULL;
	int n = 0;
	char *copy;

	xmlDocDumpFormatMemoryEnc(doc, &buf, &n, "UTF-8", format);
	if (!buf || n <= 0) {
		xmlFree(buf);
		return NULL;
	}
	copy = malloc((size_t)n + 1);
	if (copy) {
		memcpy(copy, buf, (size_t)n);
		copy[n] = '\0';
		*out_len = (size_t)n;
	}
	xmlFree(buf);
	return copy;
}

/* A document the database built: no network, no entities, no blanks (so
 * that formatting indents it). */
static xmlDocPtr read_doc(const char *xml, size_t len, int blanks)
{
	if (len > (size_t)16 * 1024 * 1024)
		return NULL;
	return xmlReadMemory(xml, (int)len, "cap.xml", "UTF-8",
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				     (blanks ? 0 : XML_PARSE_NOBLANKS));
}

/* The first atom:entry child of an Atom feed, else NULL. */
static xmlNodePtr first_entry(xmlNodePtr root)
{
	for (xmlNodePtr c = root->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns &&
		    !xmlStrcmp(c->ns->href, (const xmlChar *)"http://www.w3.org/2005/Atom") &&
		    !xmlStrcmp(c->name, (const xmlChar *)"entry"))
			return c;
	return NULL;
}

/* Adds the ds:Signature template where the schema takes it: the last
 * child of a CAP <alert>; in an Atom feed, with the feed's metadata,
 * before the first entry (RFC 4287 allows no element after the entries). */
static int add_template(xmlDocPtr doc)
{
	xmlNodePtr sig = xmlSecTmplSignatureCreate(doc, xmlSecTransformExclC14NId,
						   xmlSecTransformEcdsaSha256Id, NULL);
	xmlNodePtr ref, root = xmlDocGetRootElement(doc), entry = first_entry(root);

	if (!sig || !(entry ? xmlAddPrevSibling(entry, sig) : xmlAddChild(root, sig))) {
		xmlFreeNode(sig);
		return -1;
	}
	ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL,
					      (const xmlChar *)"", NULL);
	if (!ref || !xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) ||
	    !xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId))
		return -1;
	return 0;
}

char *cap_sign_doc(const struct cap_signer *s, const char *xml, size_t len, size_t *out_len)
{
	xmlDocPtr doc = read_doc(xml, len, 0), signed_doc = NULL;
	xmlSecDSigCtxPtr ctx = NULL;
	xmlNodePtr node;
	char *flat = NULL, *pretty = NULL, *out = NULL;
	size_t flat_len = 0, pretty_len = 0;

	if (!doc || !xmlDocGetRootElement(doc) || add_template(doc) ||
	    !(flat = dump(doc, 0, &flat_len)) || !(pretty = cap_pretty(flat, flat_len, &pretty_len)))
		goto out;
	signed_doc = read_doc(pretty, pretty_len, 1);
	node = signed_doc ? xmlSecFindNode(xmlDocGetRootElement(signed_doc), xmlSecNodeSignature,
					   xmlSecDSigNs)
			  : NULL;
	ctx = node ? xmlSecDSigCtxCreate(NULL) : NULL;
	if (!ctx)
		goto out;
	ctx->signKey = xmlSecKeyDuplicate(s->key);
	if (!ctx->signKey || xmlSecDSigCtxSign(ctx, node) < 0)
		goto out;
	out = dump(signed_doc, 0, out_len);
out:
	if (!out)
		log_error("cap export: the document could not be signed");
	if (ctx)
		xmlSecDSigCtxDestroy(ctx);
	xmlFreeDoc(signed_doc);
	xmlFreeDoc(doc);
	free(flat);
	free(pretty);
	return out;
}
