// links: adapters/cap/cap_verify.c (built by mk/cap.mk with libxml2 and xmlsec1)
/* Unit tests for cap_verify.c: a CAP document signed here (xmlsec1, an
 * ECDSA P-256 key made here) verifies with its public key; altered by one
 * character, checked with another key, unsigned, signed twice, with the
 * signature inside <info>, or with a reference that is not the whole
 * document, it does not; a key that is not one is an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <xmlsec/crypto.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include "cap_verify.h"

static const char DOC[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
	"<identifier>T-1</identifier>\n<sender>unit@police.example</sender>\n"
	"<sent>2026-12-07T22:00:00+00:00</sent>\n<status>Actual</status>\n"
	"<msgType>Alert</msgType>\n<scope>Public</scope>\n"
	"<info>\n<category>Security</category>\n<event>E</event>\n<urgency>Immediate</urgency>\n"
	"<severity>Severe</severity>\n<certainty>Observed</certainty>\n"
	"<headline>Suspect package at Bank</headline>\n</info>\n</alert>\n";

struct pair {
	char priv[1024], pub[512];
};

static struct pair key1, key2;

/* A P-256 key pair as PEM text. */
static void make_pair(struct pair *p)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	BIO *a = BIO_new(BIO_s_mem()), *b = BIO_new(BIO_s_mem());
	char *text;
	long n;

	assert_non_null(k);
	assert_true(PEM_write_bio_PrivateKey(a, k, NULL, NULL, 0, NULL, NULL));
	assert_true(PEM_write_bio_PUBKEY(b, k));
	n = BIO_get_mem_data(a, &text);
	assert_true(n > 0 && (size_t)n < sizeof p->priv);
	memcpy(p->priv, text, (size_t)n);
	n = BIO_get_mem_data(b, &text);
	assert_true(n > 0 && (size_t)n < sizeof p->pub);
	memcpy(p->pub, text, (size_t)n);
	BIO_free(a);
	BIO_free(b);
	EVP_PKEY_free(k);
}

static int setup(void **state)
{
	(void)state;
	xmlInitParser();
	make_pair(&key1);
	make_pair(&key2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cap_verify_end();
	xmlCleanupParser();
	return 0;
}

/* xml signed with priv: an enveloped signature as the last child of the
 * element named under (the root when NULL), one reference URI="".
 * Returns malloc'd text. cap_verify started xmlsec (it is called first). */
static char *sign(const char *xml, const char *priv, const char *under)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "t.xml", NULL, 0);
	xmlNodePtr parent = xmlDocGetRootElement(doc), sig, ref;
	xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
	xmlChar *out = NULL;
	char *copy;
	int n = 0;

	if (under)
		for (parent = parent->children; parent && xmlStrcmp(parent->name, (const xmlChar *)under);
		     parent = parent->next)
			;
	assert_non_null(parent);
	sig = xmlSecTmplSignatureCreate(doc, xmlSecTransformExclC14NId,
					xmlSecTransformEcdsaSha256Id, NULL);
	assert_non_null(xmlAddChild(parent, sig));
	ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL,
					      (const xmlChar *)"", NULL);
	assert_non_null(xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId));
	ctx->signKey = xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *)priv,
						    (xmlSecSize)strlen(priv), xmlSecKeyDataFormatPem,
						    NULL, NULL, NULL);
	assert_non_null(ctx->signKey);
	assert_int_equal(xmlSecDSigCtxSign(ctx, sig), 0);
	xmlDocDumpMemory(doc, &out, &n);
	copy = strndup((const char *)out, (size_t)n);
	xmlFree(out);
	xmlSecDSigCtxDestroy(ctx);
	xmlFreeDoc(doc);
	return copy;
}

/* The verdict on xml with pub; why must contain text unless NULL. */
static enum cap_sig check(const char *xml, const char *pub, const char *text)
{
	char why[400] = "";
	enum cap_sig v = cap_verify(xml, strlen(xml), pub, why, sizeof why);

	if (text && !strstr(why, text))
		fprintf(stderr, "why: %s\n", why);
	if (text)
		assert_non_null(strstr(why, text));
	return v;
}

/* Replaces the first from in s (malloc'd, freed) by to. */
static char *replace(char *s, const char *from, const char *to)
{
	char *at = strstr(s, from), *out;

	assert_non_null(at);
	assert_true(asprintf(&out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from)) > 0);
	free(s);
	return out;
}

static void test_verified_and_altered(void **state)
{
	char *signed_doc;

	(void)state;
	assert_int_equal(check(DOC, key1.pub, "no XML Signature"), CAP_SIG_MISSING); /* starts xmlsec */
	signed_doc = sign(DOC, key1.priv, NULL);
	assert_int_equal(check(signed_doc, key1.pub, NULL), CAP_SIG_VERIFIED);
	assert_int_equal(check(signed_doc, key2.pub, "registered key"), CAP_SIG_FAILED);
	signed_doc = replace(signed_doc, "Bank</headline>", "Banks</headline>");
	assert_int_equal(check(signed_doc, key1.pub, "registered key"), CAP_SIG_FAILED);
	free(signed_doc);
}

static void test_shapes_refused(void **state)
{
	char *twice, *inner, *partial, *sig, *doc;
	const char *from, *to;

	(void)state;
	check(DOC, key1.pub, NULL); /* starts xmlsec */
	/* a second copy of a valid signature, anywhere */
	twice = sign(DOC, key1.priv, NULL);
	from = strstr(twice, "<Signature");
	to = strstr(twice, "</Signature>") + strlen("</Signature>");
	assert_true(asprintf(&sig, "%.*s", (int)(to - from), from) > 0);
	assert_true(asprintf(&doc, "%.*s%s%s", (int)(to - twice), twice, sig, to) > 0);
	assert_int_equal(check(doc, key1.pub, "2 XML Signatures"), CAP_SIG_FAILED);
	free(doc);
	free(sig);
	free(twice);
	/* a valid signature, but inside <info> */
	inner = sign(DOC, key1.priv, "info");
	assert_int_equal(check(inner, key1.pub, "not a child of <alert>"), CAP_SIG_FAILED);
	free(inner);
	/* a reference to part of the document */
	partial = replace(sign(DOC, key1.priv, NULL), "URI=\"\"", "URI=\"#part\"");
	assert_int_equal(check(partial, key1.pub, "does not cover the whole alert"), CAP_SIG_FAILED);
	free(partial);
	partial = replace(sign(DOC, key1.priv, NULL), "URI=\"\"", "");
	assert_int_equal(check(partial, key1.pub, "(no URI)"), CAP_SIG_FAILED);
	free(partial);
}

static void test_bad_key(void **state)
{
	char *signed_doc;

	(void)state;
	check(DOC, key1.pub, NULL); /* starts xmlsec */
	signed_doc = sign(DOC, key1.priv, NULL);
	assert_int_equal(check(signed_doc, "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
			       "cannot be used"), CAP_SIG_ERROR);
	free(signed_doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verified_and_altered),
		cmocka_unit_test(test_shapes_refused),
		cmocka_unit_test(test_bad_key),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
