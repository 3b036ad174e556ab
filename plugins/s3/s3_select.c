/* s3_select.c — the newest state of each key as of a snapshot. A snapshot
 * of a versioned bucket (`versions = yes`) holds every version of a key
 * and its delete markers (ARCA_ITEM_TOMBSTONE), the key repeated; restore
 * gives back one state per key: the latest as the listing said, else the
 * newest by Last-Modified, and nothing when that is a delete marker. */
#include <stdlib.h>
#include <string.h>

#include "s3_select.h"

static int by_name_ord(const void *a, const void *b)
{
	const struct s3s_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : x->ord < y->ord ? -1 : x->ord > y->ord;
}

static int by_ord(const void *a, const void *b)
{
	const struct s3s_entry *x = a, *y = b;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* Is x newer than the best so far (y)? Equal ones: the first stored. */
static int better(const struct s3s_entry *x, const struct s3s_entry *y)
{
	if (x->latest != y->latest)
		return x->latest;
	if (x->sec != y->sec)
		return x->sec > y->sec;
	return x->nsec > y->nsec;
}

void s3s_select(struct s3s_entry *e, size_t n)
{
	qsort(e, n, sizeof *e, by_name_ord);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1, best = i;
		for (; j < n && !strcmp(e[j].name, e[i].name); j++)
			if (better(&e[j], &e[best]))
				best = j;
		for (size_t k = i; k < j; k++)
			e[k].win = k == best;
		i = j;
	}
}

void s3s_sort_ord(struct s3s_entry *e, size_t n)
{
	qsort(e, n, sizeof *e, by_ord);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

uint64_t s3s_sig(int type, int64_t sec, int32_t nsec, const char *meta, const char *checksum)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = fnv(h, &type, sizeof type);
	h = fnv(h, &sec, sizeof sec);
	h = fnv(h, &nsec, sizeof nsec);
	h = fnv(h, meta ? meta : "", meta ? strlen(meta) + 1 : 0);
	return fnv(h, checksum ? checksum : "", checksum ? strlen(checksum) + 1 : 0);
}

int s3s_meta_latest(const char *meta)
{
	for (const char *l = meta; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		if ((n == 15 && !strncmp(l, "is-latest: true", 15)) ||
		    (n == 14 && !strncmp(l, "is-latest: yes", 14)))
			return 1;
		l = e ? e + 1 : NULL;
	}
	return 0;
}
