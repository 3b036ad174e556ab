/* tar.c — a streaming reader of the ustar archives BASE_BACKUP sends.
 *
 * Bytes arrive in CopyData messages of any size; the reader keeps just one
 * header block and hands file content to the sink as it passes, so a
 * 1 GiB relation segment never sits in memory. PostgreSQL writes plain
 * ustar (names up to 99 bytes, no pax or GNU extensions) and, since 15,
 * leaves out the two zero blocks at the end; both forms are accepted. */
#include <stdio.h>
#include <string.h>
#include "pg.h"

void tar_init(struct tar_reader *r, const struct tar_sink *sink, const char *where)
{
	memset(r, 0, sizeof *r);
	r->sink = sink;
	snprintf(r->where, sizeof r->where, "%s", where);
}

/* Octal (NUL/space terminated) or base-256 (high bit set) numbers. */
static uint64_t tar_number(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	if (p[0] & 0x80) {
		v = p[0] & 0x3f;
		for (size_t i = 1; i < n; i++)
			v = (v << 8) | p[i];
		return v;
	}
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == 0))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = (v << 3) | (uint64_t)(p[i] - '0');
	return v;
}

static int header_ok(const unsigned char *h)
{
	unsigned sum = 0;
	for (size_t i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum == tar_number(h + 148, 8);
}

static int all_zero(const unsigned char *h)
{
	for (size_t i = 0; i < 512; i++)
		if (h[i])
			return 0;
	return 1;
}

int pg_path_safe(const char *path)
{
	if (!path[0] || path[0] == '/')
		return 0;
	for (const char *p = path; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n + (slash != NULL);
	}
	return 1;
}

static int parse_header(struct tar_reader *r, struct tar_entry *e)
{
	const unsigned char *h = r->hdr;
	if (!header_ok(h))
		return PG_ERR(ARCA_ERR_CORRUPT, "%s: bad tar header checksum", r->where);
	memset(e, 0, sizeof *e);
	char name[101], prefix[156];
	memcpy(name, h, 100);
	name[100] = 0;
	prefix[0] = 0;
	if (memcmp(h + 257, "ustar", 5) == 0) {
		memcpy(prefix, h + 345, 155);
		prefix[155] = 0;
	}
	if (prefix[0])
		snprintf(e->name, sizeof e->name, "%s/%s", prefix, name);
	else
		snprintf(e->name, sizeof e->name, "%s", name);
	/* "./x" -> "x", "dir/" -> "dir" */
	char *n = e->name;
	while (n[0] == '.' && n[1] == '/')
		memmove(n, n + 2, strlen(n + 2) + 1);
	size_t len = strlen(n);
	while (len > 0 && n[len - 1] == '/')
		n[--len] = 0;
	e->mode = (uint32_t)tar_number(h + 100, 8) & 07777;
	e->uid = (uint32_t)tar_number(h + 108, 8);
	e->gid = (uint32_t)tar_number(h + 116, 8);
	e->size = tar_number(h + 124, 12);
	e->mtime = (int64_t)tar_number(h + 136, 12);
	e->type = h[156] ? (char)h[156] : '0';
	memcpy(e->link, h + 157, 100);
	e->link[100] = 0;
	if (e->type == '7')
		e->type = '0';
	if (e->type != '0' && e->type != '5' && e->type != '2')
		return PG_ERR(ARCA_ERR_CORRUPT,
		              "%s: entry %s has tar type '%c', which a base backup "
		              "never contains",
		              r->where, e->name, e->type);
	if (!pg_path_safe(e->name))
		return PG_ERR(ARCA_ERR_CORRUPT, "%s: unsafe entry name \"%s\"", r->where, e->name);
	if (e->type != '0')
		e->size = 0;
	return ARCA_OK;
}

int tar_feed(struct tar_reader *r, const void *data, size_t n)
{
	const unsigned char *p = data;
	while (n > 0) {
		if (r->left > 0) {
			size_t k = r->left < n ? (size_t)r->left : n;
			int rc = r->sink->data(r->sink->arg, p, k);
			if (rc != ARCA_OK)
				return rc;
			p += k;
			n -= k;
			r->left -= k;
			if (r->left == 0) {
				r->in_entry = 0;
				if ((rc = r->sink->end(r->sink->arg)) != ARCA_OK)
					return rc;
			}
			continue;
		}
		if (r->pad > 0) {
			size_t k = r->pad < n ? r->pad : n;
			p += k;
			n -= k;
			r->pad -= k;
			continue;
		}
		size_t k = 512 - r->hdr_len;
		if (k > n)
			k = n;
		memcpy(r->hdr + r->hdr_len, p, k);
		r->hdr_len += k;
		p += k;
		n -= k;
		if (r->hdr_len < 512)
			continue;
		r->hdr_len = 0;
		if (r->ended || all_zero(r->hdr)) {
			r->ended = 1; /* end-of-archive blocks */
			continue;
		}
		struct tar_entry e;
		int rc = parse_header(r, &e);
		if (rc == ARCA_OK)
			rc = r->sink->begin(r->sink->arg, &e);
		if (rc != ARCA_OK)
			return rc;
		r->in_entry = 1;
		r->left = e.size;
		r->pad = (size_t)((512 - e.size % 512) % 512);
		if (e.size == 0) {
			r->in_entry = 0;
			if ((rc = r->sink->end(r->sink->arg)) != ARCA_OK)
				return rc;
		}
	}
	return ARCA_OK;
}

int tar_finish(struct tar_reader *r)
{
	if (r->in_entry || r->hdr_len || r->pad)
		return PG_ERR(ARCA_ERR_CORRUPT,
		              "%s: the archive stream ended in the middle of an "
		              "entry (%llu bytes missing)",
		              r->where, (unsigned long long)r->left);
	return ARCA_OK;
}
