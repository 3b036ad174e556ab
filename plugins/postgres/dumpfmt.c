/* dumpfmt.c — header and table of contents of a custom-format dump (the
 * layout is described in dumpfmt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dumpfmt.h"

int dump_rd_byte(struct dump_reader *r)
{
	if (r->pos >= r->len) {
		r->short_read = 1;
		return -1;
	}
	return r->p[r->pos++];
}

int64_t dump_rd_int(struct dump_reader *r)
{
	int sign = dump_rd_byte(r);
	uint64_t v = 0;
	for (int b = 0; b < r->int_size; b++) {
		int c = dump_rd_byte(r);
		v |= (uint64_t)(c & 0xff) << (8 * b);
	}
	if (r->short_read)
		return 0;
	if (sign > 1 || v > UINT32_MAX)
		r->bad = 1;
	/* negated as unsigned: -(int64_t)v overflows for v = 2^63 */
	return sign ? (int64_t)(0 - v) : (int64_t)v;
}

void dump_rd_skip(struct dump_reader *r, uint64_t n)
{
	if (n > r->len - r->pos) {
		r->short_read = 1;
		r->pos = r->len;
	} else {
		r->pos += n;
	}
}

/* Skip a string; its length, -1 for NULL. */
static int64_t rd_str(struct dump_reader *r)
{
	int64_t n = dump_rd_int(r);
	if (n > 0)
		dump_rd_skip(r, (uint64_t)n);
	else if (n < -1)
		r->bad = 1;
	return n;
}

/* Read a string in place: *s (not NUL-terminated) and its length, or NULL
 * for a NULL string. */
static void rd_strv(struct dump_reader *r, const char **s, size_t *n)
{
	size_t at = r->pos;
	int64_t len = rd_str(r);
	*s = NULL;
	*n = 0;
	if (!r->short_read && !r->bad && len >= 0) {
		*s = (const char *)r->p + at + 1 + r->int_size;
		*n = (size_t)len;
	}
}

static int rd_str_is(struct dump_reader *r, const char *want)
{
	int64_t n = dump_rd_int(r);
	size_t start = r->pos;
	dump_rd_skip(r, n > 0 ? (uint64_t)n : 0);
	return r->short_read ||
	       (n == (int64_t)strlen(want) && memcmp(r->p + start, want, (size_t)n) == 0);
}

static int parse_toc(struct dump_reader *r, struct dump_prefix *pre)
{
	int64_t count = dump_rd_int(r);
	if (r->short_read)
		return 0;
	if (r->bad || count < 0 || count > 50000000)
		return -1;
	/* Grown as entries parse, not sized by `count`: a damaged count in a
	 * short prefix must not allocate gigabytes (dumpframe.c parses the
	 * prefix again on every read until it is complete). */
	size_t cap = 16;
	pre->toc = calloc(cap, sizeof *pre->toc);
	if (!pre->toc)
		return -1;
	for (int64_t i = 0; i < count; i++) {
		if ((size_t)i == cap) {
			struct dump_toc_entry *t = realloc(pre->toc, 2 * cap * sizeof *t);
			if (!t)
				return -1;
			pre->toc = t;
			cap *= 2;
		}
		struct dump_toc_entry *e = &pre->toc[i];
		e->dump_id = dump_rd_int(r);
		dump_rd_int(r); /* hadDumper */
		for (int k = 0; k < 4; k++)
			rd_str(r); /* tableoid, oid, tag, desc */
		dump_rd_int(r);    /* section */
		for (int k = 0; k < 5; k++)
			rd_str(r); /* defn .. tablespace */
		if (pre->version >= 0x010e00)
			rd_str(r); /* tableam */
		if (pre->version >= 0x011000)
			dump_rd_int(r);     /* relkind */
		rd_str(r);                  /* owner */
		if (!rd_str_is(r, "false")) /* "with OIDs" */
			r->bad = 1;
		while (!r->short_read && !r->bad && rd_str(r) >= 0)
			; /* dependencies */
		e->flag_pos = r->pos;
		e->flag = dump_rd_byte(r);
		dump_rd_skip(r, (uint64_t)r->off_size);
		if (r->short_read)
			return 0;
		if (r->bad || e->dump_id <= 0 || e->flag < 1 || e->flag > 3)
			return -1;
	}
	pre->n_toc = (size_t)count;
	return 1;
}

int dump_parse_prefix(const unsigned char *p, size_t len, struct dump_prefix *pre, char *why,
                      size_t why_len)
{
	struct dump_reader r = {p, len, 0, 4, 8, 0, 0};
	memset(pre, 0, sizeof *pre);
	if (len < 5)
		return 0;
	if (memcmp(p, "PGDMP", 5) != 0) {
		snprintf(why, why_len, "no PGDMP header");
		return -1;
	}
	r.pos = 5;
	int vmaj = dump_rd_byte(&r), vmin = dump_rd_byte(&r), vrev = dump_rd_byte(&r);
	r.int_size = dump_rd_byte(&r);
	r.off_size = dump_rd_byte(&r);
	int format = dump_rd_byte(&r);
	if (r.short_read)
		return 0;
	if (vmaj != 1 || vmin < 12 || vmin > 16 || r.int_size < 4 || r.int_size > 8 ||
	    r.off_size < 4 || r.off_size > 8 || format != 1) {
		snprintf(why, why_len,
		         "archive version %d.%d (int %d, offset %d, format %d) is not "
		         "one this driver knows",
		         vmaj, vmin, r.int_size, r.off_size, format);
		return -1;
	}
	pre->version = vmaj << 16 | vmin << 8 | vrev;
	pre->int_size = r.int_size;
	pre->off_size = r.off_size;
	if (pre->version >= 0x010f00)
		dump_rd_byte(&r); /* compression algorithm */
	else
		dump_rd_int(&r); /* compression level */
	for (int i = 0; i < 7; i++)
		dump_rd_int(&r); /* creation time */
	for (int i = 0; i < 3; i++)
		rd_str(&r); /* dbname, server, pg_dump version */
	if (r.short_read)
		return 0;
	pre->toc_start = r.pos;
	int rc = r.bad ? -1 : parse_toc(&r, pre);
	if (rc == 1) {
		pre->toc_end = r.pos;
		return 1;
	}
	free(pre->toc);
	pre->toc = NULL;
	pre->n_toc = 0;
	if (rc < 0)
		snprintf(why, why_len, "the table of contents does not parse at byte %zu", r.pos);
	return rc;
}

int dump_toc_deps(const unsigned char *p, size_t len, const struct dump_prefix *pre,
                  void (*fn)(void *arg, size_t entry, int section, int64_t dep), void *arg)
{
	struct dump_reader r = {p, len, pre->toc_start, pre->int_size, pre->off_size, 0, 0};
	int64_t count = dump_rd_int(&r);
	if ((size_t)count != pre->n_toc)
		return -1;
	for (size_t i = 0; i < pre->n_toc && !r.short_read && !r.bad; i++) {
		dump_rd_int(&r); /* dumpId */
		dump_rd_int(&r); /* hadDumper */
		for (int k = 0; k < 4; k++)
			rd_str(&r); /* tableoid, oid, tag, desc */
		int section = (int)dump_rd_int(&r);
		for (int k = 0; k < 5; k++)
			rd_str(&r); /* defn .. tablespace */
		if (pre->version >= 0x010e00)
			rd_str(&r); /* tableam */
		if (pre->version >= 0x011000)
			dump_rd_int(&r); /* relkind */
		rd_str(&r);              /* owner */
		rd_str(&r);              /* "false" */
		for (;;) {               /* dependencies: dump ids in decimal, then NULL */
			size_t at = r.pos;
			int64_t n = rd_str(&r);
			if (r.short_read || r.bad || n < 0)
				break;
			char dep[24];
			if (n == 0 || n >= (int64_t)sizeof dep) {
				r.bad = 1;
				break;
			}
			memcpy(dep, p + at + 1 + pre->int_size, (size_t)n);
			dep[n] = 0;
			char *end;
			long long d = strtoll(dep, &end, 10);
			if (*end) {
				r.bad = 1;
				break;
			}
			fn(arg, i, section, (int64_t)d);
		}
		dump_rd_byte(&r); /* data offset */
		dump_rd_skip(&r, (uint64_t)pre->off_size);
	}
	return r.short_read || r.bad || r.pos != pre->toc_end ? -1 : 0;
}

int dump_toc_entries(const unsigned char *p, size_t len, const struct dump_prefix *pre,
                     void (*fn)(void *arg, const struct dump_toc_text *e), void *arg)
{
	struct dump_reader r = {p, len, pre->toc_start, pre->int_size, pre->off_size, 0, 0};
	int64_t count = dump_rd_int(&r);
	if ((size_t)count != pre->n_toc)
		return -1;
	for (size_t i = 0; i < pre->n_toc && !r.short_read && !r.bad; i++) {
		struct dump_toc_text e;
		const char *skip;
		size_t skip_n;
		e.dump_id = dump_rd_int(&r);
		dump_rd_int(&r); /* hadDumper */
		rd_str(&r);      /* tableoid */
		rd_str(&r);      /* oid */
		rd_strv(&r, &e.tag, &e.tag_len);
		rd_strv(&r, &e.desc, &e.desc_len);
		e.section = (int)dump_rd_int(&r);
		rd_strv(&r, &e.defn, &e.defn_len);
		for (int k = 0; k < 4; k++)
			rd_strv(&r, &skip, &skip_n); /* dropStmt .. tablespace */
		if (pre->version >= 0x010e00)
			rd_str(&r); /* tableam */
		if (pre->version >= 0x011000)
			dump_rd_int(&r); /* relkind */
		rd_strv(&r, &e.owner, &e.owner_len);
		rd_str(&r); /* "false" */
		while (!r.short_read && !r.bad && rd_str(&r) >= 0)
			;         /* dependencies */
		dump_rd_byte(&r); /* data offset */
		dump_rd_skip(&r, (uint64_t)pre->off_size);
		if (!r.short_read && !r.bad)
			fn(arg, &e);
	}
	return r.short_read || r.bad || r.pos != pre->toc_end ? -1 : 0;
}
