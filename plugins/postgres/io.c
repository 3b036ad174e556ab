/* io.c — file writing shared by the logical restore's copy, the physical
 * restore and wal-get. */
#include <errno.h>
#include <unistd.h>
#include "pg.h"

/* One loop for both: off < 0 writes at the file position. */
static int write_loop(int fd, const unsigned char *b, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = off < 0 ? write(fd, b, n) : pwrite(fd, b, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		b += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

int pg_write_all(int fd, const void *p, size_t n)
{
	return write_loop(fd, p, n, -1);
}

int pg_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	return write_loop(fd, p, n, off);
}
