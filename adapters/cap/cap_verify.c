/* cap_verify.c: checks the enveloped XML Signature of a registered CAP
 * sender's document (cap_verify.h). The shape is checked before the
 * cryptography, because a valid signature proves only what its Reference
 * covers (the wrapping attacks on XML Signature): here that must be the
 * whole document (URI=""), the signature a child of the root <alert>, and
 * the only one, so the document cap_parse read from the same bytes is the
 * document that was signed, less the signature itself (the
 * enveloped-signature transform) and, when the signer canonicalised
 * without comments, its comments (which cap_parse ignores). The key is the
 * registered one, never one the document carries in KeyInfo; xmlsec takes
 * only the transforms listed in enable_transforms (no XPath, no XSLT, no
 * SHA-1) and only same-document empty URIs (no fetching).
 *
 * xmlsec starts on first use and ends in cap_verify_end(). Single-threaded
 * (cap_verify.h). */
#include "cap_verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

static int started;
static char first_error[200]; /* xmlsec's first complaint about this document */

/* xmlsec reports each failure on the way up; the first is the telling one. */
static void keep_error(const char *file, int line, const char *func, const char *object,
		       const char *subject, int reason, const char *msg)
{
	(void)file;
	(void)line;
	(void)func;
	(void)object;
	if (!first_error[0])
		snprintf(first_error, sizeof first_error, "%s%s%s",
			 subject ? subject : xmlSecErrorsGetMsg((xmlSecSize)reason),
			 msg && *msg ? ": " : "", msg ? msg : "");
}

static int start(void)
{
	if (started)
		return 0;
	if (xmlSecInit() < 0 || xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0 ||
	    xmlSecCryptoInit() < 0)
		return -1;
	xmlSecErrorsSetCallback(keep_error);
	started = 1;
	return 0;
}

void cap_verify_end(void)
{
	if (!started)
		return;
	xmlSecCryptoShutdown();
	xmlSecCryptoAppShutdown();
	xmlSecShutdown();
	started = 0;
}

/* 1 when n is the element ds:NAME. */
static int is_dsig(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns &&
	       !xmlStrcmp(n->ns->href, xmlSecDSigNs) && !xmlStrcmp(n->name, (const xmlChar *)name);
}

/* Counts the ds:Signature elements under n (n too); *found the first. */
static int count_signatures(xmlNodePtr n, xmlNodePtr *found)
{
	int count = 0;

	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (is_dsig(n, "Signature")) {
			if (!*found)
				*found = n;
			count++;
		}
		count += count_signatures(n->children, found);
	}
	return count;
}

/* The shape: one ds:Signature, a child of the root, whose SignedInfo has
 * one Reference, with URI="". 0, or the verdict with why filled. */
static enum cap_sig check_shape(xmlNodePtr root, xmlNodePtr *sig, char *why, size_t wsize)
{
	xmlNodePtr info = NULL, ref = NULL;
	xmlChar *uri;
	int n = count_signatures(root, sig), refs = 0, whole;

	if (n == 0) {
		snprintf(why, wsize, "the document carries no XML Signature");
		return CAP_SIG_MISSING;
	}
	if (n > 1) {
		snprintf(why, wsize, "the document carries %d XML Signatures: one is accepted", n);
		return CAP_SIG_FAILED;
	}
	if ((*sig)->parent != root) {
		snprintf(why, wsize, "the signature is not a child of <alert> (line %ld)",
			 xmlGetLineNo(*sig));
		return CAP_SIG_FAILED;
	}
	for (xmlNodePtr c = (*sig)->children; c && !info; c = c->next)
		if (is_dsig(c, "SignedInfo"))
			info = c;
	for (xmlNodePtr c = info ? info->children : NULL; c; c = c->next)
		if (is_dsig(c, "Reference") && refs++ == 0)
			ref = c;
	if (refs != 1) {
		snprintf(why, wsize, "the signature has %d references: one, to the whole alert "
				     "(URI=\"\"), is accepted", refs);
		return CAP_SIG_FAILED;
	}
	uri = xmlGetProp(ref, (const xmlChar *)"URI");
	whole = uri && !uri[0];
	if (!whole)
		snprintf(why, wsize, "the signature's reference %s%.80s%s does not cover the whole "
				     "alert (URI=\"\" is needed)", uri ? "URI=\"" : "(no URI)",
			 uri ? (const char *)uri : "", uri ? "\"" : "");
	xmlFree(uri);
	return whole ? CAP_SIG_VERIFIED : CAP_SIG_FAILED;
}

/* Only these: canonicalisation, the enveloped-signature transform, SHA-2
 * digests, RSA and ECDSA over SHA-2. */
static int enable_transforms(xmlSecDSigCtxPtr ctx)
{
	xmlSecTransformId c14n[] = { xmlSecTransformInclC14NId, xmlSecTransformInclC14NWithCommentsId,
				     xmlSecTransformInclC14N11Id,
				     xmlSecTransformInclC14N11WithCommentsId,
				     xmlSecTransformExclC14NId, xmlSecTransformExclC14NWithCommentsId };
	xmlSecTransformId digests[] = { xmlSecTransformSha256Id, xmlSecTransformSha384Id,
					xmlSecTransformSha512Id };
	xmlSecTransformId sigs[] = { xmlSecTransformRsaSha256Id, xmlSecTransformRsaSha384Id,
				     xmlSecTransformRsaSha512Id, xmlSecTransformEcdsaSha256Id,
				     xmlSecTransformEcdsaSha384Id, xmlSecTransformEcdsaSha512Id };
	int rc = 0;

	for (size_t i = 0; i < sizeof c14n / sizeof c14n[0]; i++)
		rc |= xmlSecDSigCtxEnableReferenceTransform(ctx, c14n[i]) |
		      xmlSecDSigCtxEnableSignatureTransform(ctx, c14n[i]);
	for (size_t i = 0; i < sizeof digests / sizeof digests[0]; i++)
		rc |= xmlSecDSigCtxEnableReferenceTransform(ctx, digests[i]);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		rc |= xmlSecDSigCtxEnableSignatureTransform(ctx, sigs[i]);
	rc |= xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId);
	ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty; /* "" (check_shape refused a missing URI) */;
	return rc ? -1 : 0;
}

enum cap_sig cap_verify(const char *xml, size_t len, const char *public_key, char *why,
			size_t wsize)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr root, sig = NULL;
	xmlSecKeyPtr key = NULL;
	xmlSecDSigCtxPtr ctx = NULL;
	enum cap_sig out = CAP_SIG_ERROR;

	first_error[0] = '\0';
	snprintf(why, wsize, "xmlsec1 could not be started");
	if (start())
		return CAP_SIG_ERROR;
	if (len > (size_t)64 * 1024 * 1024 ||
	    !(doc = xmlReadMemory(xml, (int)len, "cap.xml", NULL,
				  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) ||
	    doc->intSubset || !(root = xmlDocGetRootElement(doc))) {
		snprintf(why, wsize, "the document cannot be read for its signature");
		out = CAP_SIG_FAILED;
		goto out;
	}
	out = check_shape(root, &sig, why, wsize);
	if (out != CAP_SIG_VERIFIED)
		goto out;
	out = CAP_SIG_ERROR;
	key = xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *)public_key,
					   (xmlSecSize)strlen(public_key), xmlSecKeyDataFormatPem,
					   NULL, NULL, NULL);
	if (!key) {
		snprintf(why, wsize, "the registered public key cannot be used");
		goto out;
	}
	ctx = xmlSecDSigCtxCreate(NULL);
	if (!ctx || enable_transforms(ctx)) {
		snprintf(why, wsize, "xmlsec1 could not be set up");
		goto out;
	}
	ctx->signKey = key; /* the registered key, not the document's KeyInfo */
	key = NULL;
	if (xmlSecDSigCtxVerify(ctx, sig) < 0) {
		snprintf(why, wsize, "the signature cannot be checked with the registered key (%s)",
			 first_error[0] ? first_error : "unknown xmlsec error");
		out = CAP_SIG_FAILED;
	} else if (ctx->status != xmlSecDSigStatusSucceeded) {
		snprintf(why, wsize, "the signature does not verify with the registered key (the "
				     "document was changed after signing, or signed with another key)");
		out = CAP_SIG_FAILED;
	} else {
		out = CAP_SIG_VERIFIED;
		why[0] = '\0';
	}
out:
	if (ctx)
		xmlSecDSigCtxDestroy(ctx);
	if (key)
		xmlSecKeyDestroy(key);
	xmlFreeDoc(doc);
	return out;
}
