/* io.c — file writing shared by the logical restore's copy, the physical
 * restore and wal-get. */
#include <errno.h>
#include <unistd.h>
#include "pg.h"

int pg_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int pg_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	const unsigned char *b = p;
	while (n > 0) {
		ssize_t w = pwrite(fd, b, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		b += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}
