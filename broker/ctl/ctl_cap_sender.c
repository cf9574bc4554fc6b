/* ctl_cap_sender.c: tocsinctl cap sender add|list|remove: the CAP senders
 * whose enveloped XML Signatures tocsin-cap checks (issues 18 and 23;
 * sql/functions/cap_sender.sql, docs/security.md "Signed CAP from
 * registered senders"). add reads a PEM X.509 certificate or public key
 * here, keeps only its public key (SubjectPublicKeyInfo PEM) and SHA-256
 * fingerprint, and refuses, naming the file and why, anything the
 * importer could not verify with: no PEM, a private key, a key that is
 * neither RSA nor EC. Each change is one tocsin_admin_cap_sender_* call,
 * audited there naming the actor. Runs as the role tocsin_admin. */
#include "ctl.h"
#include "ctl_args.h"
#include "ctl_commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define CERT_MAX (64 * 1024)

#define SENDER_HELP                                                                        \
	"  --actor NAME       who to name in the audit (default tocsinctl:$USER)\n"          \
	"  --database URL     default DATABASE_URL (connect as the role tocsin_admin)\n"     \
	"  --json             print a JSON array of objects instead of a table\n"             \
	"Exit: 0 done, 1 refused (the message says why), 2 usage, 3 database\n"              \
	"unreachable, 4 not found.\n"

/* What add keeps of the file: the public key's PEM, its fingerprint, and
 * the certificate's subject (empty for a bare public key). */
struct sender_key {
	char *pem;
	char fingerprint[65];
	char subject[512];
};

/* The public key of a PEM certificate, else of a PEM public key, in text;
 * NULL when it holds neither. subject gets the certificate's. */
static EVP_PKEY *read_key(const char *text, size_t len, char *subject, size_t ssize)
{
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	EVP_PKEY *key = NULL;
	X509 *cert;

	subject[0] = '\0';
	if (!bio)
		return NULL;
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert) {
		key = X509_get_pubkey(cert);
		X509_NAME_oneline(X509_get_subject_name(cert), subject, (int)ssize);
		X509_free(cert);
	} else if (BIO_reset(bio) == 1) {
		key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	}
	BIO_free(bio);
	return key;
}

/* The SubjectPublicKeyInfo PEM and SHA-256 of key into k; -1 on failure. */
static int describe(EVP_PKEY *key, struct sender_key *k)
{
	unsigned char *der = NULL, digest[32];
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long n;
	int der_len, rc = -1;

	der_len = i2d_PUBKEY(key, &der);
	if (!bio || der_len <= 0 || !EVP_Digest(der, (size_t)der_len, digest, NULL, EVP_sha256(), NULL) ||
	    !PEM_write_bio_PUBKEY(bio, key))
		goto out;
	for (int i = 0; i < 32; i++)
		snprintf(k->fingerprint + 2 * i, 3, "%02x", digest[i]);
	n = BIO_get_mem_data(bio, &pem);
	if (n > 0 && (k->pem = strndup(pem, (size_t)n)))
		rc = 0;
out:
	OPENSSL_free(der);
	BIO_free(bio);
	return rc;
}

/* Reads path into k, or says why the importer could not verify with it. */
static int load_sender_key(const char *cmd, const char *path, struct sender_key *k)
{
	size_t len = 0;
	char *text = ctl_read_file(cmd, path, CERT_MAX, &len);
	EVP_PKEY *key = NULL;
	int type, rc = CTL_FAILED;

	if (!text)
		return CTL_FAILED;
	key = read_key(text, len, k->subject, sizeof k->subject);
	type = key ? EVP_PKEY_get_base_id(key) : 0;
	if (!key)
		fprintf(stderr, "tocsinctl %s: %s holds no PEM certificate or public key%s\n", cmd, path,
			strstr(text, "PRIVATE KEY") ? " (it is a private key: give the sender's "
						      "certificate or public key)" : "");
	else if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC)
		fprintf(stderr, "tocsinctl %s: %s holds a %s key: only RSA and ECDSA signatures "
				"are checked\n", cmd, path, OBJ_nid2sn(type));
	else if (describe(key, k))
		fprintf(stderr, "tocsinctl %s: the key of %s could not be written out\n", cmd, path);
	else
		rc = CTL_OK;
	EVP_PKEY_free(key);
	free(text);
	return rc;
}

static int sender_add(struct ctl_run *r)
{
	const char *policy = ctl_args_get(r->args, "--on-failure");
	struct sender_key k = { 0 };
	int rc;

	if (!policy)
		policy = "hold";
	if (strcmp(policy, "hold") && strcmp(policy, "refuse")) {
		fprintf(stderr, "tocsinctl %s: --on-failure is hold or refuse\n", r->cmd);
		return CTL_USAGE;
	}
	rc = load_sender_key(r->cmd, ctl_args_get(r->args, "--cert"), &k);
	if (rc == CTL_OK) {
		const char *p[] = { r->actor, r->pos[0], k.pem, k.fingerprint, k.subject, policy };
		rc = ctl_exec_print(r->cmd, r->conn,
				    "SELECT tocsin_admin_cap_sender_add($1, $2, $3, $4, $5, $6)"
				    " AS fingerprint", 6, p, r->o.json);
	}
	free(k.pem);
	return rc;
}

static int sender_list(struct ctl_run *r)
{
	return ctl_exec_print(r->cmd, r->conn, "SELECT * FROM tocsin_admin_cap_sender_list()", 0,
			      NULL, r->o.json);
}

static int sender_remove(struct ctl_run *r)
{
	const char *p[] = { r->actor, r->pos[0] };
	PGresult *res;
	int rc;

	res = ctl_exec(r->cmd, r->conn, "SELECT tocsin_admin_cap_sender_remove($1, $2)", 2, p, &rc);
	if (!res)
		return rc;
	rc = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t") ? CTL_OK : CTL_NOT_FOUND;
	if (rc == CTL_NOT_FOUND)
		fprintf(stderr, "tocsinctl %s: no registered CAP sender %s\n", r->cmd, r->pos[0]);
	PQclear(res);
	return rc;
}

static const char sender_usage[] =
	"usage: tocsinctl cap sender add SENDER --cert FILE [--on-failure hold|refuse]\n"
	"       tocsinctl cap sender list\n"
	"       tocsinctl cap sender remove SENDER\n"
	"The CAP senders whose XML Signatures tocsin-cap checks (--help after each\n"
	"command for its options).\n";

/* cap sender add|list|remove: the third word picks the command. */
int ctl_cap_sender(int argc, char **argv)
{
	struct ctl_arg add[] = { { "--cert", 0, 1, NULL }, { "--on-failure", 0, 0, NULL },
				 { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };
	struct ctl_arg list[] = { { NULL, 0, 0, NULL } };
	struct ctl_arg remove[] = { { "--actor", 0, 0, NULL }, { NULL, 0, 0, NULL } };
	const char *sub = argc ? argv[0] : "";

	if (!strcmp(sub, "add"))
		return ctl_run("cap sender add",
			       "usage: tocsinctl cap sender add SENDER --cert FILE [--on-failure hold|refuse]\n"
			       "                                [--actor NAME]\n"
			       "Registers a CAP <sender> and the certificate (or public key, PEM) it signs\n"
			       "with: tocsin-cap then accepts that sender's documents only with an\n"
			       "enveloped XML Signature (Reference URI=\"\") the key verifies, and holds\n"
			       "the others in the control room's inbox (default) or refuses them.\n"
			       "A sender already registered is replaced.\n" SENDER_HELP,
			       argc - 1, argv + 1, add, 1, 1, sender_add);
	if (!strcmp(sub, "list"))
		return ctl_run("cap sender list",
			       "usage: tocsinctl cap sender list\n"
			       "Lists the registered CAP senders, their key fingerprints and policies.\n"
			       SENDER_HELP, argc - 1, argv + 1, list, 0, 0, sender_list);
	if (!strcmp(sub, "remove"))
		return ctl_run("cap sender remove",
			       "usage: tocsinctl cap sender remove SENDER [--actor NAME]\n"
			       "Unregisters a CAP sender: its documents import unchecked again.\n"
			       SENDER_HELP, argc - 1, argv + 1, remove, 1, 1, sender_remove);
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fputs(sender_usage, stdout);
		return CTL_OK;
	}
	fputs(sender_usage, stderr);
	return CTL_USAGE;
}
