/* paths.h: file-system helpers. */
#ifndef TOCSIN_PATHS_H
#define TOCSIN_PATHS_H

#include <sys/types.h>

/* Creates dir and its missing parents (like mkdir -p); 0 when it exists
 * afterwards, -1 with errno set otherwise. */
int paths_mkdir_p(const char *dir, mode_t mode);

#endif
