/* s3_xml.c — s3_xml.h. */
#include "s3_xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *find_mem(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);
	for (; p + n <= end; p++)
		if (*p == *s && !memcmp(p, s, n))
			return p;
	return NULL;
}

int s3_xml_find(const char *p, const char *end, const char *tag, const char **inner,
                const char **inner_end)
{
	size_t n = strlen(tag);
	char open[80], close[80];
	if (n + 4 > sizeof open)
		return -1;
	memcpy(open, "<", 1);
	memcpy(open + 1, tag, n);
	open[n + 1] = '\0';
	for (;;) {
		const char *o = find_mem(p, end, open);
		if (!o)
			return -1;
		const char *q = o + n + 1;
		if (q < end && *q == '/' && q + 1 < end && q[1] == '>') { /* <Tag/> */
			*inner = *inner_end = q;
			return 0;
		}
		if (q < end && (*q == '>' || *q == ' ')) {
			const char *gt = memchr(q, '>', (size_t)(end - q));
			if (!gt)
				return -1;
			close[0] = '<';
			close[1] = '/';
			memcpy(close + 2, tag, n);
			close[n + 2] = '>';
			close[n + 3] = '\0';
			const char *c = find_mem(gt + 1, end, close);
			if (!c)
				return -1;
			*inner = gt + 1;
			*inner_end = c;
			return 0;
		}
		p = q; /* <TagLonger> */
	}
}

/* UTF-8 of code point c into out (4 bytes); its length. */
static size_t utf8(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

char *s3_xml_text(const char *p, const char *end, const char *tag)
{
	const char *a, *b;
	if (s3_xml_find(p, end, tag, &a, &b))
		return NULL;
	char *out = malloc((size_t)(b - a) + 1), *o = out;
	if (!out)
		return NULL;
	while (a < b) {
		if (*a != '&') {
			*o++ = *a++;
			continue;
		}
		const char *semi = memchr(a, ';', (size_t)(b - a));
		size_t n = semi ? (size_t)(semi - a) : 0;
		if (n == 3 && !memcmp(a, "&lt", 3))
			*o++ = '<';
		else if (n == 3 && !memcmp(a, "&gt", 3))
			*o++ = '>';
		else if (n == 4 && !memcmp(a, "&amp", 4))
			*o++ = '&';
		else if (n == 5 && !memcmp(a, "&quot", 5))
			*o++ = '"';
		else if (n == 5 && !memcmp(a, "&apos", 5))
			*o++ = '\'';
		else if (n >= 3 && n <= 10 && a[1] == '#') {
			char num[12];
			memcpy(num, a + 2, n - 2);
			num[n - 2] = '\0';
			unsigned long c =
			    num[0] == 'x' ? strtoul(num + 1, NULL, 16) : strtoul(num, NULL, 10);
			/* "&#0;" and out-of-range references are left out */
			if (c > 0 && c <= 0x10ffff &&
			    (size_t)(semi + 1 - a) >= utf8((uint32_t)c, num))
				o += utf8((uint32_t)c, o);
		} else {
			*o++ = *a++; /* a lone '&' */
			continue;
		}
		a = semi + 1;
	}
	*o = '\0';
	return out;
}

char *s3_xml_escape(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		n += *p == '&'                   ? 5
		     : (*p == '<' || *p == '>')  ? 4
		     : (*p == '"' || *p == '\'') ? 6
		                                 : 1;
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		const char *e = *p == '&'    ? "&amp;"
		                : *p == '<'  ? "&lt;"
		                : *p == '>'  ? "&gt;"
		                : *p == '"'  ? "&quot;"
		                : *p == '\'' ? "&apos;"
		                             : NULL;
		if (e) {
			memcpy(o, e, strlen(e));
			o += strlen(e);
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}
