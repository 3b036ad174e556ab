/* crc64.c — CRC-64/Jones as Redis computes it (reflected, polynomial
 * 0xad93d23594c935a9, init 0, no final xor): the trailer of an RDB file
 * and of a DUMP payload. Slice-by-8 tables, built once per process. */
#include <pthread.h>
#include "rdb.h"

static uint64_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	const uint64_t poly = 0x95ac9329ac4bc9b5ull; /* 0xad93d23594c935a9 reflected */

	for (int n = 0; n < 256; n++) {
		uint64_t c = (uint64_t)n;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? poly ^ (c >> 1) : c >> 1;
		crc_tab[0][n] = c;
	}
	for (int n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			crc_tab[k][n] =
			    crc_tab[0][crc_tab[k - 1][n] & 0xff] ^ (crc_tab[k - 1][n] >> 8);
}

uint64_t rdb_crc64(uint64_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	pthread_once(&crc_once, crc_init);
	while (len >= 8) {
		uint64_t v =
		    crc ^ ((uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
		           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
		           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56);
		crc = crc_tab[7][v & 0xff] ^ crc_tab[6][(v >> 8) & 0xff] ^
		      crc_tab[5][(v >> 16) & 0xff] ^ crc_tab[4][(v >> 24) & 0xff] ^
		      crc_tab[3][(v >> 32) & 0xff] ^ crc_tab[2][(v >> 40) & 0xff] ^
		      crc_tab[1][(v >> 48) & 0xff] ^ crc_tab[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}
