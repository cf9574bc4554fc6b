/* key_file.h: 32-byte secret keys kept in files (the token keys, the audit
 * key): read, never created (tocsinctl keys init makes them). Plain
 * blocking file I/O, for start-up and for the small rereads of
 * token_keys.c. */
#ifndef TOCSIN_KEY_FILE_H
#define TOCSIN_KEY_FILE_H

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

#endif
