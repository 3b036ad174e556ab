/* rdb_blob.c — structure checks of the containers Redis stores as one
 * string inside an RDB value: ziplist, listpack, intset, zipmap. Each entry
 * header is bounded by the container's own length before it is read. */
#include <stdio.h>
#include <string.h>
#include "rdb.h"

static uint32_t u32le(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned u16le(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

#define BAD(...) (snprintf(err, errsz, __VA_ARGS__), -1)

int rdb_check_intset(const unsigned char *p, size_t n, char *err, size_t errsz)
{
	if (n < 8)
		return BAD("intset of %zu bytes is shorter than its 8-byte header", n);
	uint32_t enc = u32le(p), cnt = u32le(p + 4);
	if (enc != 2 && enc != 4 && enc != 8)
		return BAD("intset encoding %u is not 2, 4 or 8", (unsigned)enc);
	if ((uint64_t)enc * cnt + 8 != n)
		return BAD("intset says %u entries of %u bytes but holds %zu bytes", (unsigned)cnt,
		           (unsigned)enc, n - 8);
	return 0;
}

int rdb_check_ziplist(const unsigned char *p, size_t n, char *err, size_t errsz)
{
	if (n < 11)
		return BAD("ziplist of %zu bytes is shorter than header and end", n);
	if (u32le(p) != n)
		return BAD("ziplist says %u bytes but is %zu", (unsigned)u32le(p), n);
	if (p[n - 1] != 0xff)
		return BAD("ziplist does not end with 0xff");
	size_t i = 10, last = 10, prevlen = 0, count = 0;
	while (i < n - 1) {
		size_t start = i, pl, hdr, data;
		if (p[i] < 254) {
			pl = p[i];
			i += 1;
		} else if (p[i] == 254) {
			if (n - 1 - i < 5)
				return BAD("ziplist entry %zu: prevlen runs past the end", count);
			pl = u32le(p + i + 1);
			i += 5;
		} else {
			return BAD("ziplist entry %zu: prevlen byte 0xff", count);
		}
		if (pl != prevlen)
			return BAD("ziplist entry %zu: prevlen %zu, previous entry is %zu bytes",
			           count, pl, prevlen);
		if (i >= n - 1)
			return BAD("ziplist entry %zu: no encoding byte", count);
		unsigned e = p[i];
		switch (e >> 6) {
		case 0:
			hdr = 1, data = e & 0x3f;
			break;
		case 1:
			if (n - 1 - i < 2)
				return BAD("ziplist entry %zu: header runs past the end", count);
			hdr = 2, data = ((size_t)(e & 0x3f) << 8) | p[i + 1];
			break;
		case 2:
			if (e != 0x80 || n - 1 - i < 5)
				return BAD("ziplist entry %zu: bad string encoding 0x%02x", count,
				           e);
			hdr = 5, data = (size_t)p[i + 1] << 24 | (size_t)p[i + 2] << 16 |
			                (size_t)p[i + 3] << 8 | p[i + 4];
			break;
		default:
			hdr = 1;
			if (e == 0xc0)
				data = 2;
			else if (e == 0xd0)
				data = 4;
			else if (e == 0xe0)
				data = 8;
			else if (e == 0xf0)
				data = 3;
			else if (e == 0xfe)
				data = 1;
			else if (e >= 0xf1 && e <= 0xfd)
				data = 0;
			else
				return BAD("ziplist entry %zu: unknown encoding 0x%02x", count, e);
		}
		if (data > n - 1 - i || hdr > n - 1 - i - data)
			return BAD("ziplist entry %zu runs past the end", count);
		i += hdr + data;
		prevlen = i - start;
		last = start;
		count++;
	}
	if (u32le(p + 4) != last)
		return BAD("ziplist tail offset %u, last entry at %zu", (unsigned)u32le(p + 4),
		           last);
	if (u16le(p + 8) != 0xffff && u16le(p + 8) != count)
		return BAD("ziplist says %u entries but holds %zu", u16le(p + 8), count);
	return 0;
}

/* The bytes a listpack entry of `l` bytes stores after itself. */
static size_t backlen_encode(size_t l, unsigned char b[5])
{
	if (l <= 127) {
		b[0] = (unsigned char)l;
		return 1;
	}
	if (l < 16383) {
		b[0] = (unsigned char)(l >> 7), b[1] = (unsigned char)((l & 127) | 128);
		return 2;
	}
	if (l < 2097151) {
		b[0] = (unsigned char)(l >> 14), b[1] = (unsigned char)(((l >> 7) & 127) | 128);
		b[2] = (unsigned char)((l & 127) | 128);
		return 3;
	}
	if (l < 268435455) {
		b[0] = (unsigned char)(l >> 21), b[1] = (unsigned char)(((l >> 14) & 127) | 128);
		b[2] = (unsigned char)(((l >> 7) & 127) | 128),
		b[3] = (unsigned char)((l & 127) | 128);
		return 4;
	}
	b[0] = (unsigned char)(l >> 28), b[1] = (unsigned char)(((l >> 21) & 127) | 128);
	b[2] = (unsigned char)(((l >> 14) & 127) | 128),
	b[3] = (unsigned char)(((l >> 7) & 127) | 128);
	b[4] = (unsigned char)((l & 127) | 128);
	return 5;
}

int rdb_check_listpack(const unsigned char *p, size_t n, char *err, size_t errsz)
{
	if (n < 7)
		return BAD("listpack of %zu bytes is shorter than header and end", n);
	if (u32le(p) != n)
		return BAD("listpack says %u bytes but is %zu", (unsigned)u32le(p), n);
	if (p[n - 1] != 0xff)
		return BAD("listpack does not end with 0xff");
	size_t i = 6, count = 0;
	while (i < n - 1) {
		unsigned b = p[i];
		size_t hdr, data, room = n - 1 - i;
		if (!(b & 0x80))
			hdr = 1, data = 0;
		else if ((b & 0xc0) == 0x80)
			hdr = 1, data = b & 0x3f;
		else if ((b & 0xe0) == 0xc0)
			hdr = 2, data = 0;
		else if ((b & 0xf0) == 0xe0) {
			if (room < 2)
				return BAD("listpack entry %zu: header runs past the end", count);
			hdr = 2, data = ((size_t)(b & 0xf) << 8) | p[i + 1];
		} else if (b == 0xf0) {
			if (room < 5)
				return BAD("listpack entry %zu: header runs past the end", count);
			hdr = 5, data = u32le(p + i + 1);
		} else if (b >= 0xf1 && b <= 0xf4) {
			static const size_t ilen[] = {2, 3, 4, 8};
			hdr = 1, data = ilen[b - 0xf1];
		} else {
			return BAD("listpack entry %zu: unknown encoding 0x%02x", count, b);
		}
		if (hdr > room || data > room - hdr)
			return BAD("listpack entry %zu runs past the end", count);
		unsigned char bl[5];
		size_t l = hdr + data, nb = backlen_encode(l, bl);
		if (nb > room - l || memcmp(p + i + l, bl, nb) != 0)
			return BAD("listpack entry %zu: back-length does not match its %zu bytes",
			           count, l);
		i += l + nb;
		count++;
	}
	if (u16le(p + 4) != 0xffff && u16le(p + 4) != count)
		return BAD("listpack says %u entries but holds %zu", u16le(p + 4), count);
	return 0;
}

int rdb_check_zipmap(const unsigned char *p, size_t n, char *err, size_t errsz)
{
	if (n < 2)
		return BAD("zipmap of %zu bytes is too short", n);
	size_t i = 1, count = 0;
	for (;;) {
		if (i >= n)
			return BAD("zipmap has no end byte");
		if (p[i] == 0xff)
			break;
		for (int part = 0; part < 2; part++) {
			size_t l;
			if (p[i] < 254) {
				l = p[i];
				i += 1;
			} else if (p[i] == 254 && n - i > 5) {
				l = u32le(p + i + 1);
				i += 5;
			} else {
				return BAD("zipmap entry %zu: bad length byte 0x%02x", count, p[i]);
			}
			size_t fr = 0;
			if (part == 1) {
				if (i >= n)
					return BAD("zipmap entry %zu runs past the end", count);
				fr = p[i++];
			}
			if (l > n - i || fr > n - i - l)
				return BAD("zipmap entry %zu runs past the end", count);
			i += l + fr;
		}
		count++;
	}
	if (i != n - 1)
		return BAD("zipmap has %zu bytes after its end byte", n - 1 - i);
	if (p[0] < 254 && p[0] != count)
		return BAD("zipmap says %u entries but holds %zu", p[0], count);
	return 0;
}

int rdb_version_of_server(const char *ver)
{
	int ma = 0, mi = 0;
	if (!ver || sscanf(ver, "%d.%d", &ma, &mi) != 2)
		return 0;
	if (ma >= 8 || (ma == 7 && mi >= 4))
		return 12;
	if (ma == 7 && mi >= 2)
		return 11;
	if (ma == 7)
		return 10;
	if (ma >= 5)
		return 9;
	if (ma == 4)
		return 8;
	if (ma == 3 && mi >= 2)
		return 7;
	if (ma >= 2 && (ma > 2 || mi >= 6))
		return 6;
	return 0;
}
