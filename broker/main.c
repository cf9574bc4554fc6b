/* main.c: tocsind, the Tocsin broker. Reads its settings, its token key,
 * and runs the server loop (server.c) until SIGINT or SIGTERM. */
#include "broker.h"
#include "log.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads a 32-byte key (token or audit), creating it (mode 0600) on first
 * start. */
static int load_token_key(const char *path, unsigned char key[TOKEN_KEY_BYTES])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 && errno == ENOENT) {
		char *dir = strdup(path);
		if (dir) {
			if (mkdir_p(dirname(dir), 0700) != 0)
				log_warn("cannot create the folder of %s: %s", path, strerror(errno));
			free(dir);
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			log_error("cannot create token key %s: %s", path, strerror(errno));
			return -1;
		}
		crypto_auth_keygen(key);
		n = write(fd, key, TOKEN_KEY_BYTES);
		if (n != TOKEN_KEY_BYTES || fsync(fd) != 0) {
			log_error("cannot write token key %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		log_info("created a new key in %s", path);
		return 0;
	}
	if (fd < 0) {
		log_error("cannot read token key %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, key, TOKEN_KEY_BYTES);
	close(fd);
	if (n != TOKEN_KEY_BYTES) {
		log_error("token key %s must hold exactly %d bytes", path, TOKEN_KEY_BYTES);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct broker b; /* large (session table); lives for the process */
	sigset_t set;
	int r;

	r = conf_load(&b.conf, argc, argv);
	if (r)
		return r > 0 ? 0 : 2;
	log_set_level((enum log_level)b.conf.log_level);
	if (sodium_init() < 0) {
		log_error("libsodium failed to start");
		return 1;
	}
	/* Signals are read from a signalfd in the loop (server.c); block them
	 * before any thread starts so that every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (load_token_key(b.conf.token_key, b.token_key))
		return 1;
	if (!b.conf.audit_key) {
		/* default: audit.key beside the token key */
		static char path[4096];
		const char *slash = strrchr(b.conf.token_key, '/');
		snprintf(path, sizeof path, "%.*saudit.key",
			 slash ? (int)(slash - b.conf.token_key + 1) : 0, b.conf.token_key);
		b.conf.audit_key = path;
	}
	if (load_token_key(b.conf.audit_key, b.audit_key))
		return 1;
	r = server_run(&b);
	sodium_memzero(b.token_key, sizeof b.token_key);
	sodium_memzero(b.audit_key, sizeof b.audit_key);
	return r;
}
