// links: adapters/cap/cap_parse.c (built by mk/cap.mk with libxml2)
/* Unit tests for cap_parse.c: the four examples of the CAP 1.2
 * specification map onto the fields the model holds, with what it cannot
 * hold in notes; broken XML, schema violations, missing elements and
 * areas Tocsin cannot draw are refused naming the element, line and
 * reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cap_parse.h"

static struct cap_schema *schema;

static int setup(void **state)
{
	struct cap_problem err;

	xmlInitParser();
	schema = cap_schema_load(CAP_SCHEMA_PATH, &err);
	return schema ? 0 : -1;
}

static int teardown(void **state)
{
	cap_schema_free(schema);
	xmlCleanupParser();
	return 0;
}

static char *slurp(const char *rel, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof path, "%s/%s", CAP_TESTS_DIR, rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void parse_file(const char *rel, struct cap_alert *a)
{
	struct cap_problem err;
	size_t len;
	char *xml = slurp(rel, &len);
	int rc = cap_parse(schema, xml, len, a, &err);

	if (rc)
		fprintf(stderr, "%s: %s (line %d): %s\n", rel, err.element, err.line, err.reason);
	assert_int_equal(rc, 0);
	free(xml);
}

static const char *field(const struct cap_alert *a, const char *name)
{
	return json_string_value(json_object_get(a->publish, name));
}

/* 1 when some note contains text. */
static int noted(const struct cap_alert *a, const char *text)
{
	size_t i;
	json_t *n;

	json_array_foreach(a->notes, i, n)
		if (strstr(json_string_value(n), text))
			return 1;
	return 0;
}

/* 1 when the import holds "NAME=VALUE" among its geocodes. */
static int held_geocode(const struct cap_alert *a, const char *code)
{
	size_t i;
	json_t *g;

	json_array_foreach(a->geocodes, i, g)
		if (!strcmp(json_string_value(g), code))
			return 1;
	return 0;
}

/* The member name of info block i of cap_info, or NULL. */
static const char *info_text(const struct cap_alert *a, size_t i, const char *name)
{
	json_t *blocks = json_object_get(a->publish, "cap_info");
	return json_string_value(json_object_get(json_array_get(blocks, i), name));
}

static void test_homeland_security(void **state)
{
	struct cap_alert a;

	parse_file("examples/a1-homeland-security-advisory.xml", &a);
	assert_string_equal(a.identifier, "43b080713727");
	assert_string_equal(a.sender, "hsas@dhs.gov");
	assert_string_equal(a.sent, "2003-04-02T14:39:01-05:00");
	assert_string_equal(field(&a, "status"), "actual");
	assert_string_equal(field(&a, "msg_type"), "alert");
	assert_string_equal(field(&a, "urgency"), "immediate");
	assert_string_equal(field(&a, "severity"), "severe");
	assert_string_equal(field(&a, "certainty"), "likely");
	assert_string_equal(field(&a, "category"), "live_incident");
	assert_string_equal(field(&a, "headline"), "Homeland Security Sets Code ORANGE");
	assert_true(!strncmp(field(&a, "body"), "The Department of Homeland Security", 35));
	assert_true(!strncmp(field(&a, "instruction"), " A High Condition", 17));
	assert_null(json_object_get(a.publish, "area"));
	assert_int_equal(a.n_refs, 0);
	assert_int_equal(json_array_size(a.images), 0);
	assert_true(noted(&a, "HSAS=ORANGE"));                 /* parameter */
	assert_true(noted(&a, "only inline images"));          /* resource with a uri */
	/* senderName is held: the origin the import gives the broker */
	assert_false(noted(&a, "senderName (line 15)"));
	assert_string_equal(json_string_value(json_object_get(a.origin, "sender_name")),
			    "U.S. Government, Department of Homeland Security");
	assert_string_equal(json_string_value(json_object_get(a.origin, "identifier")),
			    "43b080713727");
	assert_string_equal(info_text(&a, 0, "web"), "http://www.dhs.gov/dhspublic/display?theme=29");
	cap_alert_free(&a);
}

static void test_thunderstorm(void **state)
{
	struct cap_alert a;
	json_t *poly;

	parse_file("examples/a2-severe-thunderstorm-warning.xml", &a);
	assert_string_equal(field(&a, "severity"), "severe");
	assert_string_equal(field(&a, "certainty"), "observed");
	assert_string_equal(field(&a, "category"), "advice");
	assert_string_equal(field(&a, "expires"), "2003-06-17T16:00:00-07:00");
	assert_string_equal(field(&a, "instruction"),
			    "TAKE COVER IN A SUBSTANTIAL SHELTER UNTIL THE STORM PASSES.");
	poly = json_object_get(json_object_get(a.publish, "area"), "polygon");
	assert_int_equal(json_array_size(poly), 5);
	assert_true(json_real_value(json_array_get(json_array_get(poly, 1), 0)) == 38.34);
	assert_true(json_real_value(json_array_get(json_array_get(poly, 1), 1)) == -119.95);
	assert_true(noted(&a, "category Met is held as advice"));
	/* geocodes and area descriptions are held for the mapping */
	assert_true(held_geocode(&a, "SAME=006109"));
	assert_true(held_geocode(&a, "areaDesc=EXTREME NORTH CENTRAL TUOLUMNE COUNTY IN CALIFORNIA, EXTREME NORTHEASTERN CALAVERAS COUNTY IN CALIFORNIA, SOUTHWESTERN ALPINE COUNTY IN CALIFORNIA"));
	assert_false(noted(&a, "SAME 006109"));
	assert_true(noted(&a, "SAME SVR"));                    /* eventCode */
	assert_true(noted(&a, "\"Shelter\""));                 /* responseType */
	cap_alert_free(&a);
}

static void test_earthquake_update(void **state)
{
	struct cap_alert a;
	json_t *circle;

	parse_file("examples/a3-earthquake-report-update.xml", &a);
	assert_string_equal(field(&a, "msg_type"), "update");
	assert_string_equal(field(&a, "urgency"), "past");
	assert_string_equal(field(&a, "severity"), "minor");
	assert_int_equal(a.n_refs, 1);
	assert_string_equal(a.refs[0].sender, "trinet@caltech.edu");
	assert_string_equal(a.refs[0].identifier, "TRI13970876.1");
	assert_string_equal(a.refs[0].sent, "2003-06-11T20:30:00-07:00");
	circle = json_object_get(json_object_get(a.publish, "area"), "circle");
	assert_true(json_real_value(json_object_get(circle, "lat")) == 32.9525);
	assert_true(json_real_value(json_object_get(circle, "lon")) == -115.5527);
	assert_int_equal(json_integer_value(json_object_get(circle, "radius_m")), 1);
	assert_true(noted(&a, "radius 0 km is held as 1 m"));
	assert_true(noted(&a, "Magnitude=3.4 Ml"));
	cap_alert_free(&a);
}

static void test_amber_multilingual(void **state)
{
	struct cap_alert a;

	parse_file("examples/a4-amber-alert-multilingual.xml", &a);
	assert_string_equal(field(&a, "headline"), "Amber Alert in Los Angeles County");
	assert_string_equal(field(&a, "category"), "live_incident");
	/* every info block is held, by language, with its contact */
	assert_false(noted(&a, "info block 2"));
	assert_int_equal(json_array_size(json_object_get(a.publish, "cap_info")), 2);
	assert_string_equal(info_text(&a, 0, "language"), "en-US");
	assert_string_equal(info_text(&a, 0, "contact"),
			    "DET. SMITH, 77TH DIV, LOS ANGELES POLICE DEPT-LAPD AT 213 485-2389");
	assert_string_equal(info_text(&a, 1, "language"), "es-US");
	assert_string_equal(info_text(&a, 1, "headline"), "Alerta Amber en el condado de Los Ángeles");
	assert_string_equal(info_text(&a, 1, "event"), "Abducción de Niño");
	assert_string_equal(info_text(&a, 1, "area"), "condado de Los Ángeles");
	assert_true(noted(&a, "category Rescue is held as live_incident"));
	assert_true(noted(&a, "source (line 8): SW"));
	cap_alert_free(&a);
}

/* ------------------------------------------------------------ refusals */

/* A small valid alert whose pieces a test replaces. */
static char *doc(const char *status, const char *type, const char *refs, const char *info)
{
	char *out = NULL;
	int n = asprintf(&out,
			 "<?xml version=\"1.0\"?>\n"
			 "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
			 "<identifier>T-1</identifier>\n<sender>t@example</sender>\n"
			 "<sent>2026-11-22T10:00:00-00:00</sent>\n"
			 "<status>%s</status>\n<msgType>%s</msgType>\n<scope>Public</scope>\n"
			 "%s%s",
			 status, type, refs, info);
	assert_true(n > 0);
	return out;
}

static const char *const INFO_HEAD =
	"<info>\n<category>Security</category>\n<event>E</event>\n<urgency>Immediate</urgency>\n"
	"<severity>Severe</severity>\n<certainty>Observed</certainty>\n";

static char *with_info(const char *status, const char *type, const char *refs, const char *rest)
{
	char *info = NULL, *out;

	assert_true(asprintf(&info, "%s%s</info>\n</alert>\n", INFO_HEAD, rest) > 0);
	out = doc(status, type, refs, info);
	free(info);
	return out;
}

/* Parses xml (freed) and checks it is refused at element, line (0: any),
 * with reason containing text. */
static void refused(char *xml, const char *element, int line, const char *text)
{
	struct cap_alert a;
	struct cap_problem err;
	int rc = cap_parse(schema, xml, strlen(xml), &a, &err);

	free(xml);
	if (rc == 0)
		cap_alert_free(&a);
	assert_int_equal(rc, -1);
	if (strcmp(err.element, element) || !strstr(err.reason, text) || (line && err.line != line))
		fprintf(stderr, "got %s (line %d): %s\n", err.element, err.line, err.reason);
	assert_string_equal(err.element, element);
	assert_non_null(strstr(err.reason, text));
	if (line)
		assert_int_equal(err.line, line);
}

static void refused_file(const char *rel, const char *element, int line, const char *text)
{
	size_t len;
	refused(slurp(rel, &len), element, line, text);
}

static void test_bad_xml(void **state)
{
	refused_file("invalid/not-well-formed.xml", "document", 16,
		     "not well-formed XML: Opening and ending tag mismatch");
	refused(strdup("this is not XML"), "document", 1, "not well-formed XML");
	refused(strdup(""), "document", 0, "not well-formed XML");
	/* entities: a DOCTYPE is refused before anything expands */
	refused(strdup("<?xml version=\"1.0\"?>\n<!DOCTYPE alert [<!ENTITY a \"aaaaaaaa\">"
		       "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n"
		       "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">&b;</alert>"),
		"document", 2, "a DOCTYPE is not allowed"); /* its line is named */
}

static void test_schema_violation(void **state)
{
	refused_file("invalid/schema-invalid.xml", "severity", 13, "'Catastrophic'");
	/* another namespace (CAP 1.1) is not CAP 1.2 */
	refused(strdup("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.1\"/>"), "alert", 1,
		"No matching global declaration");
	/* a sent time with Z, which CAP forbids */
	refused(strdup("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>x</identifier>"
		       "<sender>y</sender><sent>2026-11-22T10:00:00Z</sent><status>Test</status>"
		       "<msgType>Alert</msgType><scope>Public</scope></alert>"),
		"sent", 1, "pattern");
}

static void test_missing_required(void **state)
{
	refused_file("invalid/missing-sender.xml", "sent", 4, "Expected is ( sender )");
	/* info without severity */
	refused(doc("Test", "Alert", "",
		    "<info><category>Security</category><event>E</event><urgency>Immediate</urgency>"
		    "<certainty>Observed</certainty></info></alert>"),
		"certainty", 9, "Expected is ( severity )");
	/* an Alert needs an info block */
	refused(doc("Test", "Alert", "", "</alert>"), "alert", 2, "needs an info block");
}

static void test_bad_polygon(void **state)
{
	refused_file("invalid/bad-polygon.xml", "polygon", 18, "not closed");
	refused(with_info("Test", "Alert", "",
			  "<headline>H</headline><area><areaDesc>A</areaDesc>"
			  "<polygon>51.5,-0.1 51.6,-0.1 51.5,-0.1</polygon></area>"),
		"polygon", 0, "at least 4 points");
	refused(with_info("Test", "Alert", "",
			  "<headline>H</headline><area><areaDesc>A</areaDesc>"
			  "<polygon>95.5,-0.1 51.6,-0.1 51.6,-0.2 95.5,-0.1</polygon></area>"),
		"polygon", 0, "point 1 \"95.5,-0.1\" is not lat,lon");
	refused(with_info("Test", "Alert", "",
			  "<headline>H</headline><area><areaDesc>A</areaDesc>"
			  "<polygon>51.5;-0.1 51.6,-0.1 51.6,-0.2 51.5;-0.1</polygon></area>"),
		"polygon", 0, "is not lat,lon");
	refused(with_info("Test", "Alert", "",
			  "<headline>H</headline><area><areaDesc>A</areaDesc>"
			  "<circle>51.5,-0.1 75</circle></area>"),
		"circle", 0, "over 50 km");
	refused(with_info("Test", "Alert", "",
			  "<headline>H</headline><area><areaDesc>A</areaDesc>"
			  "<circle>51.5,-0.1</circle></area>"),
		"circle", 0, "lat,lon radius_km");
}

static void test_not_publishable(void **state)
{
	refused(with_info("System", "Alert", "", "<headline>H</headline>"), "status", 6,
		"status System cannot be published");
	refused(with_info("Test", "Ack", "", "<headline>H</headline>"), "msgType", 7,
		"msgType Ack cannot be published");
	refused(with_info("Test", "Update", "", "<headline>H</headline>"), "msgType", 7,
		"needs references");
	refused(with_info("Test", "Cancel", "<references>a,b</references>\n", "<headline>H</headline>"),
		"references", 9, "\"a,b\" is not a sender,identifier,sent triplet");
	refused(with_info("Test", "Alert", "",
			  "<headline>H</headline><parameter><valueName>classification</valueName>"
			  "<value>SECRET</value></parameter>"),
		"parameter", 0, "classification must be OFFICIAL");
	refused(with_info("Test", "Alert", "",
			  "<headline>H</headline><parameter><valueName>tocsin-request</valueName>"
			  "<value>{not json</value></parameter>"),
		"parameter", 0, "tocsin-request must be a JSON object");
}

/* Real feeds write more than Tocsin shows: a long headline, description
 * or instruction is shown cut (ending in an ellipsis) and held whole in
 * cap_info; an empty polygon beside a geocode is ignored. Never refused. */
static void test_long_and_empty_held(void **state)
{
	struct cap_alert a;
	struct cap_problem err;
	char *h = malloc(260), *d = malloc(5001), *i = malloc(2601), *rest = NULL, *xml;
	int rc;

	memset(h, 'h', 259);
	h[259] = '\0';
	memset(d, 'd', 5000);
	d[5000] = '\0';
	memset(i, 'i', 2600);
	i[2600] = '\0';
	assert_true(asprintf(&rest, "<headline>%s</headline><description>%s</description>"
				    "<instruction>%s</instruction><contact></contact>"
				    "<area><areaDesc>Ward</areaDesc><polygon></polygon>"
				    "<geocode><valueName>ONS</valueName><value>E05000001</value></geocode>"
				    "</area>", h, d, i) > 0);
	xml = with_info("Actual", "Alert", "", rest);
	rc = cap_parse(schema, xml, strlen(xml), &a, &err);
	if (rc)
		fprintf(stderr, "refused: %s (line %d): %s\n", err.element, err.line, err.reason);
	assert_int_equal(rc, 0);
	assert_int_equal(strlen(field(&a, "headline")), 199 + strlen("…"));
	assert_int_equal(strlen(field(&a, "body")), 3999 + strlen("…"));
	assert_int_equal(strlen(field(&a, "instruction")), 1999 + strlen("…"));
	assert_string_equal(info_text(&a, 0, "description"), d);
	assert_string_equal(info_text(&a, 0, "instruction"), i);
	assert_string_equal(info_text(&a, 0, "headline"), h);
	assert_null(info_text(&a, 0, "contact")); /* empty: ignored */
	assert_null(json_object_get(a.publish, "area"));
	assert_true(noted(&a, "description is 5000 characters"));
	assert_true(noted(&a, "empty polygon is ignored"));
	assert_int_equal(json_array_size(a.geocodes), 2);
	assert_true(held_geocode(&a, "areaDesc=Ward"));
	assert_true(held_geocode(&a, "ONS=E05000001"));
	cap_alert_free(&a);
	free(xml);
	free(rest);
	free(h);
	free(d);
	free(i);
}

/* The areas of every info block are mapped (issue 18): the second block's
 * geocodes are held beside the first's, each once, and at most 50 (the
 * broker's limit): past that they are noted, not sent to be refused. */
static void test_geocodes_every_info(void **state)
{
	struct cap_alert a;
	struct cap_problem err;
	char *rest = NULL, *xml, *codes[2] = { NULL, NULL };
	int rc;

	for (int b = 0; b < 2; b++) {
		size_t n = 0;
		codes[b] = calloc(1, 8192);
		assert_non_null(codes[b]);
		for (int k = 0; k < 30; k++) /* block 2 repeats block 1's first 5 */
			n += (size_t)snprintf(codes[b] + n, 8192 - n,
					      "<geocode><valueName>ONS</valueName><value>E%d</value></geocode>",
					      b ? k + 25 : k);
	}
	assert_true(asprintf(&rest, "<area><areaDesc>One</areaDesc>%s</area></info>\n%s"
				    "<area><areaDesc>Two</areaDesc>%s</area>",
			     codes[0], INFO_HEAD, codes[1]) > 0);
	xml = with_info("Actual", "Alert", "", rest);
	rc = cap_parse(schema, xml, strlen(xml), &a, &err);
	if (rc)
		fprintf(stderr, "refused: %s (line %d): %s\n", err.element, err.line, err.reason);
	assert_int_equal(rc, 0);
	assert_true(held_geocode(&a, "areaDesc=Two"));
	assert_true(held_geocode(&a, "ONS=E29"));
	assert_true(held_geocode(&a, "ONS=E47"));
	assert_false(held_geocode(&a, "ONS=E48"));
	assert_int_equal(json_array_size(a.geocodes), 50);
	assert_true(noted(&a, "ONS=E48 is not mapped: an import maps at most 50 geocodes"));
	cap_alert_free(&a);
	free(xml);
	free(rest);
	free(codes[0]);
	free(codes[1]);
}

/* An inline PNG becomes an image to upload; a Cancel needs no info; the
 * Tocsin parameters of an export come back; an empty headline falls to
 * the event only when the headline is absent. */
static void test_mapped_extras(void **state)
{
	struct cap_alert a;
	struct cap_problem err;
	char *xml = with_info("Exercise", "Alert", "",
			      "<headline>H</headline>"
			      "<parameter><valueName>tocsin-category</valueName><value>offender</value></parameter>"
			      "<parameter><valueName>classification</valueName><value>OFFICIAL-SENSITIVE</value></parameter>"
			      "<parameter><valueName>handling</valueName><value>No onward sharing</value></parameter>"
			      "<parameter><valueName>tocsin-request</valueName>"
			      "<value>{\"kind\":\"choice\",\"options\":[\"Done\",\"Unable\"]}</value></parameter>"
			      "<resource><resourceDesc>Offender</resourceDesc><mimeType>image/png</mimeType>"
			      "<derefUri>iVBORw0K\n GgoAAAAN</derefUri></resource>");

	assert_int_equal(cap_parse(schema, xml, strlen(xml), &a, &err), 0);
	free(xml);
	assert_string_equal(field(&a, "status"), "exercise");
	assert_string_equal(field(&a, "category"), "offender");
	assert_string_equal(field(&a, "classification"), "OFFICIAL-SENSITIVE");
	assert_string_equal(field(&a, "handling"), "No onward sharing");
	assert_string_equal(json_string_value(json_object_get(json_object_get(a.publish, "request"), "kind")),
			    "choice");
	assert_int_equal(json_array_size(a.images), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a.images, 0), "data")),
			    "iVBORw0KGgoAAAAN");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a.images, 0), "mime")),
			    "image/png");
	cap_alert_free(&a);

	xml = doc("Actual", "Cancel", "<references>s,T-0,2026-11-22T09:00:00-00:00</references>\n",
		  "</alert>");
	assert_int_equal(cap_parse(schema, xml, strlen(xml), &a, &err), 0);
	free(xml);
	assert_string_equal(field(&a, "msg_type"), "cancel");
	assert_null(json_object_get(a.publish, "headline"));
	cap_alert_free(&a);

	/* a long non-ASCII element cut for its note still gives a note */
	char *contact = NULL, *rest = NULL;
	assert_true(asprintf(&contact, "%s", "") >= 0);
	for (int i = 0; i < 150; i++) {
		char *grown = NULL;
		assert_true(asprintf(&grown, "%s\u00e9\u00c1", contact) > 0); /* é and Á: 2 bytes each */
		free(contact);
		contact = grown;
	}
	assert_true(asprintf(&rest, "<eventCode><valueName>K</valueName><value>x%s</value></eventCode>"
				    "<headline>H</headline>", contact) > 0);
	xml = with_info("Test", "Alert", "", rest);
	free(rest);
	free(contact);
	assert_int_equal(cap_parse(schema, xml, strlen(xml), &a, &err), 0);
	free(xml);
	assert_true(noted(&a, "eventCode (line"));
	cap_alert_free(&a);

	xml = with_info("Test", "Alert", "", "");
	assert_int_equal(cap_parse(schema, xml, strlen(xml), &a, &err), 0);
	free(xml);
	assert_string_equal(field(&a, "headline"), "E"); /* the event */
	cap_alert_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_homeland_security),
		cmocka_unit_test(test_thunderstorm),
		cmocka_unit_test(test_earthquake_update),
		cmocka_unit_test(test_amber_multilingual),
		cmocka_unit_test(test_bad_xml),
		cmocka_unit_test(test_schema_violation),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_bad_polygon),
		cmocka_unit_test(test_not_publishable),
		cmocka_unit_test(test_mapped_extras),
		cmocka_unit_test(test_long_and_empty_held),
		cmocka_unit_test(test_geocodes_every_info),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
