/* key_file.h: 32-byte secret keys kept in files (the token keys, the audit
 * key): read, or created on first start. Plain blocking file I/O, for
 * start-up and for the small rereads of token_keys.c. */
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

/* Reads the key of path, or creates a random one (mode 0600, its folder
 * 0700) when the file does not exist. what names it in messages ("token
 * key"). Returns 0, or -1 after logging an error naming the file. */
int key_file_load_or_create(const char *path, const char *what,
			    unsigned char key[KEY_FILE_BYTES]);

#endif
