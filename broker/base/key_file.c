/* key_file.c: secret keys in files (see key_file.h). */
#include "key_file.h"
#include "log.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Exactly KEY_FILE_BYTES and not one more: a longer file is not a key we
 * wrote, and silently using its first 32 bytes would hide the mistake. */
enum key_file_status key_file_read(const char *path, unsigned char key[KEY_FILE_BYTES])
{
	unsigned char extra;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, more;
	int saved;

	if (fd < 0)
		return errno == ENOENT ? KEY_FILE_MISSING : KEY_FILE_UNREADABLE;
	n = read(fd, key, KEY_FILE_BYTES);
	more = n == KEY_FILE_BYTES ? read(fd, &extra, 1) : 0;
	saved = errno;
	close(fd);
	errno = saved;
	if (n < 0 || more < 0)
		return KEY_FILE_UNREADABLE;
	return n == KEY_FILE_BYTES && more == 0 ? KEY_FILE_OK : KEY_FILE_BAD_SIZE;
}

/* Writes a fresh random key to a new file (never over an existing one). */
static int create_key(const char *path, const char *what, unsigned char key[KEY_FILE_BYTES])
{
	char *dir = strdup(path);
	int fd;

	if (dir) {
		if (paths_mkdir_p(dirname(dir), 0700) != 0)
			log_warn("cannot create the folder of %s: %s", path, strerror(errno));
		free(dir);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("cannot create %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	randombytes_buf(key, KEY_FILE_BYTES);
	if (write(fd, key, KEY_FILE_BYTES) != KEY_FILE_BYTES || fsync(fd) != 0) {
		log_error("cannot write %s %s: %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	log_info("created a new %s in %s", what, path);
	return 0;
}

/* First start creates the keys; later starts must find them intact. */
int key_file_load_or_create(const char *path, const char *what,
			    unsigned char key[KEY_FILE_BYTES])
{
	switch (key_file_read(path, key)) {
	case KEY_FILE_OK:
		return 0;
	case KEY_FILE_MISSING:
		return create_key(path, what, key);
	case KEY_FILE_UNREADABLE:
		log_error("cannot read %s %s: %s", what, path, strerror(errno));
		return -1;
	case KEY_FILE_BAD_SIZE:
		break;
	}
	log_error("%s %s must hold exactly %d bytes", what, path, KEY_FILE_BYTES);
	sodium_memzero(key, KEY_FILE_BYTES);
	return -1;
}
