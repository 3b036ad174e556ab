/* s3_keypath.c — the reversible mapping of S3 keys to paths under a local
 * directory (README.md, "Restoring into a local directory"). A key is cut
 * at each '/' into segments; each segment becomes one path component,
 * encoded so that it can never be "", "." or ".." nor hold '/' or control
 * bytes, and so that two keys never share a path:
 *   - '%', bytes below 0x20, 0x7f and bytes that are not valid UTF-8 are
 *     written %XX (upper-case hex); everything else is kept as it is;
 *   - the empty segment (a leading '/', "a//b", a folder marker "a/") is
 *     "%"; the segments "." and ".." are "%2E" and "%2E%2E";
 *   - a segment longer than S3K_NAME_MAX bytes once encoded goes on in
 *     the next component: every component but its last ends with "%+";
 *   - a key that other keys continue (key "a" beside "a/b") is the file
 *     S3K_SELF inside the directory those keys need ("a/%self").
 * Decoding undoes each rule, so the mapping is a function both ways: keys
 * that differ have paths that differ. */
#include <stdlib.h>
#include <string.h>

#include "s3_keypath.h"

/* Length of the valid UTF-8 sequence at p (of n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len = c < 0x80             ? 1
	             : (c & 0xE0) == 0xC0 ? 2
	             : (c & 0xF0) == 0xE0 ? 3
	             : (c & 0xF8) == 0xF0 ? 4
	                                  : 0;
	if (!len || len > n)
		return 0;
	unsigned cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

struct out {
	char *s;
	size_t len, cap;
	int oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t c = (o->len + n + 1) * 2;
		char *g = realloc(o->s, c);
		if (!g) {
			o->oom = 1;
			return;
		}
		o->s = g, o->cap = c;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

/* One segment (n bytes at p) as one or more components. */
static void segment(struct out *o, const unsigned char *p, size_t n)
{
	if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
		put(o, n == 0 ? "%" : n == 1 ? "%2E" : "%2E%2E", n == 0 ? 1 : 3 * n);
		return;
	}
	char comp[S3K_NAME_MAX + 8];
	size_t cl = 0;
	for (size_t i = 0; i < n;) {
		char tok[8];
		size_t tl, ul = utf8_len(p + i, n - i);
		if (ul && p[i] >= 0x20 && p[i] != 0x7F && p[i] != '%')
			memcpy(tok, p + i, ul), tl = ul, i += ul;
		else {
			static const char hex[] = "0123456789ABCDEF";
			tok[0] = '%', tok[1] = hex[p[i] >> 4], tok[2] = hex[p[i] & 15], tl = 3, i++;
		}
		if (cl + tl > S3K_NAME_MAX) { /* the segment goes on in the next component */
			put(o, comp, cl);
			put(o, "%+/", 3);
			cl = 0;
		}
		memcpy(comp + cl, tok, tl), cl += tl;
	}
	/* a last piece of a long segment may be "." or ".." */
	if ((cl == 1 && comp[0] == '.') || (cl == 2 && comp[0] == '.' && comp[1] == '.'))
		put(o, cl == 1 ? "%2E" : "%2E%2E", 3 * cl);
	else
		put(o, comp, cl);
}

char *s3k_path(const char *key, int self)
{
	struct out o = {0};
	const unsigned char *p = (const unsigned char *)key;
	for (;;) {
		const unsigned char *sl = (const unsigned char *)strchr((const char *)p, '/');
		size_t n = sl ? (size_t)(sl - p) : strlen((const char *)p);
		segment(&o, p, n);
		if (!sl)
			break;
		put(&o, "/", 1);
		p = sl + 1;
	}
	if (self)
		put(&o, "/" S3K_SELF, strlen(S3K_SELF) + 1);
	if (o.oom || !o.s) {
		free(o.s);
		return NULL;
	}
	return o.s;
}

static int hexv(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

char *s3k_key(const char *path)
{
	struct out o = {0};
	const char *p = path;
	int first = 1, cont = 0;
	for (;;) {
		const char *sl = strchr(p, '/');
		size_t n = sl ? (size_t)(sl - p) : strlen(p);
		if (n == strlen(S3K_SELF) && !memcmp(p, S3K_SELF, n)) {
			if (sl || first || cont) /* only last, after a directory */
				goto bad;
			break;
		}
		if (!n)
			goto bad;
		if (!first && !cont)
			put(&o, "/", 1);
		first = 0;
		cont = n >= 2 && p[n - 2] == '%' && p[n - 1] == '+';
		if (cont && (n -= 2) == 0)
			goto bad;
		if (n == 1 && p[0] == '%' && !cont) {
			/* the empty segment */
		} else {
			for (size_t i = 0; i < n; i++) {
				if (p[i] != '%') {
					put(&o, p + i, 1);
					continue;
				}
				if (i + 2 >= n)
					goto bad;
				int h = hexv(p[i + 1]), l = hexv(p[i + 2]);
				if (h < 0 || l < 0)
					goto bad;
				char c = (char)(h << 4 | l);
				if (!c)
					goto bad;
				put(&o, &c, 1);
				i += 2;
			}
		}
		if (!sl)
			break;
		p = sl + 1;
	}
	if (cont || o.oom || !o.s)
		goto bad;
	return o.s;
bad:
	free(o.s);
	return NULL;
}
