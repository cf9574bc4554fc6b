/* key_file.c: secret keys in files (see key_file.h). */
#include "key_file.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
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

/* The broker never makes its keys: under systemd's ProtectSystem=strict
 * their folder is read-only to it, and a key made by accident on a
 * first start (an unmounted /etc/tocsin, a typing error in a path) would
 * sign tokens nobody else knows of. tocsinctl keys init makes them. */
int key_file_load(const char *path, const char *what, unsigned char key[KEY_FILE_BYTES])
{
	const char *slash = strrchr(path, '/');
	int dir = slash ? (int)(slash - path) : 1;

	switch (key_file_read(path, key)) {
	case KEY_FILE_OK:
		return 0;
	case KEY_FILE_MISSING:
		log_error("no %s at %s: make the keys with: tocsinctl keys init --dir %.*s", what,
			  path, dir, slash ? path : ".");
		return -1;
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

/* A stat, not a read: cheap enough for every tick of a watcher. */
void key_file_stamp(const char *path, struct key_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof *st);
	if (stat(path, &sb) != 0)
		return; /* missing (or unreadable: the read will say) */
	st->exists = 1;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	st->ctime = sb.st_ctim; /* a chmod or chown changes only this */
}

/* ctime too: a chmod or chown changes only it. */
int key_file_stamp_same(const struct key_stamp *a, const struct key_stamp *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}
