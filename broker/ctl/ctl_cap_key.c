/* ctl_cap_key.c: the key pair that signs CAP exports (broker/io/cap_sign.h),
 * made by `tocsinctl keys init`: cap_sign.key (a PEM ECDSA P-256 private
 * key, PKCS#8, mode 0640 like the other keys) and cap_sign.pub.pem (its
 * public key, mode 0644: what CAP readers check signatures with, e.g.
 * `xmlsec1 --verify --pubkey-pem cap_sign.pub.pem alert.xml`). Each is
 * written aside, flushed and renamed into place. ECDSA, not Ed25519:
 * Debian 12's xmlsec1 has no EdDSA (docs/security.md). */
#include "ctl_commands.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

/* Writes PEM text to path through path.tmp, with owner, group and mode. */
static int write_pem(const char *path, const char *pem, size_t len, gid_t gid, mode_t mode)
{
	char tmp[4300];
	int fd, rc = -1;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (write(fd, pem, len) == (ssize_t)len && fsync(fd) == 0 &&
	    fchown(fd, geteuid() == 0 ? 0 : (uid_t)-1, gid) == 0 && fchmod(fd, mode) == 0)
		rc = 0;
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
out:
	if (rc != 0) {
		fprintf(stderr, "tocsinctl keys init: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

/* The PEM of pkey (private or public) in a memory BIO, written to path. */
static int save(EVP_PKEY *pkey, int private, const char *path, gid_t gid, mode_t mode)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long len;
	int rc = -1;

	if (!bio)
		return -1;
	if (private ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
		    : PEM_write_bio_PUBKEY(bio, pkey)) {
		len = BIO_get_mem_data(bio, &pem);
		if (len > 0)
			rc = write_pem(path, pem, (size_t)len, gid, mode);
	}
	BIO_free(bio);
	return rc;
}

int ctl_cap_key_init(const char *dir, gid_t gid, char *key_path, char *pub_path, size_t size)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	int rc = -1;

	snprintf(key_path, size, "%s/cap_sign.key", dir);
	snprintf(pub_path, size, "%s/cap_sign.pub.pem", dir);
	if (!pkey) {
		fprintf(stderr, "tocsinctl keys init: OpenSSL could not make a P-256 key\n");
		return -1;
	}
	if (save(pkey, 1, key_path, gid, 0640) == 0 && save(pkey, 0, pub_path, gid, 0644) == 0)
		rc = 0;
	EVP_PKEY_free(pkey);
	return rc;
}
