/* key_file.h: 32-byte secret keys kept in files (the token keys, the audit
 * key): read, never created (tocsinctl keys init makes them). Plain
 * blocking file I/O, for start-up and for the small rereads of
 * token_keys.c and ticket_keys.c. */
#ifndef TOCSIN_KEY_FILE_H
#define TOCSIN_KEY_FILE_H

#include <sys/stat.h>

#define KEY_FILE_BYTES 32

enum key_file_status {
	KEY_FILE_OK = 0,
	KEY_FILE_MISSING,   /* no such file */
	KEY_FILE_UNREADABLE, /* open or read failed: errno says why */
	KEY_FILE_BAD_SIZE,  /* not exactly KEY_FILE_BYTES bytes */
};

/* Reads exactly KEY_FILE_BYTES bytes from path into key. */
enum key_file_status key_file_read(const char *path, unsigned char key[KEY_FILE_BYTES]);

/* Reads the key of path; what names it in messages ("token key"). Returns
 * 0, or -1 after logging an error naming the file (and, when it is
 * missing, the command that makes it: tocsinctl keys init). */
int key_file_load(const char *path, const char *what, unsigned char key[KEY_FILE_BYTES]);

/* What a key file looked like when last read: any change means reread. */
struct key_stamp {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

/* A stat of path into st (all zero when it is missing), so that a rename,
 * rewrite or chmod is noticed without reading the key every time. */
void key_file_stamp(const char *path, struct key_stamp *st);

/* 1 when nothing about the file changed between a and b. */
int key_file_stamp_same(const struct key_stamp *a, const struct key_stamp *b);

#endif
