/* util.c — small helpers shared by the engine. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "util.h"

static void oom(void)
{
	fputs("arca: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	return p;
}

/*
 * Large buffers (chunks, packs, WAL segments) are filled once, right after
 * they are allocated: with 4 KiB pages that is a page fault per 4 KiB, which
 * on a virtual machine cost as much as zstd itself. Transparent huge pages
 * (where the kernel offers them on request) make it one fault per 2 MiB.
 */
void advise_huge(void *p, size_t n)
{
	const uintptr_t huge = 2u << 20;
	if (n < 2 * huge)
		return;
	uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
	uintptr_t e = ((uintptr_t)p + n) & ~(huge - 1);
	if (e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

void *xmalloc_big(size_t n)
{
	void *p = xmalloc(n);
	advise_huge(p, n);
	return p;
}

void buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + extra)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	advise_huge(b->data, cap);
}

void buf_append(struct buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int parse_bool(const char *s, int *out)
{
	static const char *yes[] = {"yes", "true", "on", "1"};
	static const char *no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int parse_int64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

/* number followed by an optional unit from `units` (multipliers in `mult`). */
static int parse_scaled(const char *s, const char *units, const uint64_t *mult, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	while (*end == ' ')
		end++;
	uint64_t m = 1;
	if (*end) {
		const char *u = strchr(units, tolower((unsigned char)*end));
		if (!u || !*u)
			return -1;
		m = mult[u - units];
		end++;
		/* allow "KiB", "MB", "K" */
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (m && v > UINT64_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = {1024ull, 1024ull << 10, 1024ull << 20, 1024ull << 30};
	return parse_scaled(s, "kmgt", mult, out);
}

int parse_duration(const char *s, int64_t *out)
{
	static const uint64_t mult[] = {1, 60, 3600, 86400, 604800};
	uint64_t v;
	/* "30d" style only; "s" also accepted */
	if (parse_scaled(s, "smhdw", mult, &v) < 0 || v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof *row);
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t tmp = row[j];
			size_t cost =
			    tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	size_t d = row[lb];
	free(row);
	return d;
}

const char *did_you_mean(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	size_t limit = strlen(word) / 3 + 1;
	if (limit > 3)
		limit = 3;
	for (size_t i = 0; i < n; i++) {
		if (!candidates[i])
			continue;
		size_t d = edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

char *str_trim(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int str_starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int str_ends(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

int str_in_list(const char *list, char sep, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; p;) {
		const char *e = strchr(p, sep);
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, word, n))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *in, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(in[2 * i]), lo;
		if (hi < 0 || (lo = hexval(in[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int read_file(const char *path, char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct buf b = {0};
	for (;;) {
		buf_reserve(&b, 65536);
		ssize_t r = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			buf_free(&b);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
	}
	close(fd);
	buf_reserve(&b, 1);
	b.data[b.len] = 0;
	*data = (char *)b.data;
	if (len)
		*len = b.len;
	return 0;
}

/* Read what is left of fd, at most `max` bytes (-1 with EFBIG beyond);
 * `hint` is the size fstat gave, so the buffer is sized once. */
static int read_bounded(int fd, size_t max, size_t hint, struct buf *b)
{
	buf_reserve(b, (hint < max ? hint : max) + 2); /* + a byte too many + NUL */
	for (;;) {
		if (b->cap - b->len < 2)
			buf_reserve(b, 65536);
		size_t room = max - b->len, want = b->cap - b->len - 1;
		if (want > room)
			want = room + 1; /* one byte more tells "too long" */
		ssize_t r = read(fd, b->data + b->len, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		b->len += (size_t)r;
		if (b->len > max) {
			errno = EFBIG;
			return -1;
		}
	}
}

int read_file_at(int dfd, const char *name, size_t max, char **data, size_t *len)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	struct buf b = {0};
	int rc = -1;
	if (fstat(fd, &st) < 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL; /* a FIFO, device or directory planted there */
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		errno = EFBIG; /* refused before reading a byte */
		goto out;
	}
	rc = read_bounded(fd, max, (size_t)st.st_size, &b);
out:
	if (rc == 0) {
		buf_reserve(&b, 1);
		b.data[b.len] = 0;
		*data = (char *)b.data;
		if (len)
			*len = b.len;
	} else {
		int e = errno;
		buf_free(&b);
		errno = e;
	}
	close(fd);
	return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Create a new temporary file beside `name`: a random name, and never an
 * existing file or a symlink someone planted (O_EXCL, O_NOFOLLOW). */
static int create_temp(int dfd, const char *name, char **tmp)
{
	for (int tries = 0; tries < 16; tries++) {
		unsigned char rnd[8];
		char hex[17];
		if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
			return -1;
		hex_encode(rnd, sizeof rnd, hex);
		*tmp = xasprintf("%s.tmp.%s", name, hex);
		int fd =
		    openat(dfd, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		free(*tmp);
		*tmp = NULL;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

int write_file_at(int dfd, const char *name, const void *data, size_t len)
{
	return write_file_parts_at(dfd, name, &data, &len, 1);
}

struct parts {
	const void *const *parts;
	const size_t *lens;
	int n;
};

static int write_parts(void *ctx, int fd)
{
	const struct parts *p = ctx;
	for (int i = 0; i < p->n; i++)
		if (write_all(fd, p->parts[i], p->lens[i]))
			return -1;
	return 0;
}

int write_file_parts_at(int dfd, const char *name, const void *const *parts, const size_t *lens,
                        int n)
{
	struct parts p = {parts, lens, n};
	return write_file_gen_at(dfd, name, write_parts, &p);
}

int write_fd_all(int fd, const void *data, size_t len)
{
	return write_all(fd, data, len);
}

int write_file_gen_at(int dfd, const char *name, int (*gen)(void *ctx, int fd), void *ctx)
{
	char *tmp;
	int fd = create_temp(dfd, name, &tmp);
	if (fd < 0)
		return -1;
	int bad = gen(ctx, fd) ? -1 : 0;
	bad |= close(fd);
	/* rename replaces whatever is at name, a symlink included, and
	 * follows nothing */
	if (bad || renameat(dfd, tmp, dfd, name) < 0) {
		int e = errno;
		unlinkat(dfd, tmp, 0);
		free(tmp);
		errno = e;
		return -1;
	}
	free(tmp);
	return 0;
}

static int bad_component(const char *s)
{
	return !*s || !strcmp(s, ".") || !strcmp(s, "..");
}

/* One directory below dfd, not a symlink; made 0700 when `create`. */
static int open_below(int dfd, const char *name, int create)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dfd, name, flags);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
			return -1;
		fd = openat(dfd, name, flags);
	}
	return fd;
}

/* Where the last `depth` components of `path` start (after a '/'), or 0. */
static size_t split_tail(const char *path, int depth)
{
	size_t i = strlen(path);
	for (int k = 0; k < depth; k++) {
		if (k && i)
			i--; /* step over the '/' before the component just passed */
		while (i > 0 && path[i - 1] != '/')
			i--;
		if (i == 0)
			return 0;
	}
	return i;
}

int open_dir_nofollow(const char *path, int depth, int create)
{
	size_t i = split_tail(path, depth);
	if (!i) {
		errno = EINVAL; /* nothing above the `depth` components */
		return -1;
	}
	char *top = i > 1 ? xstrndup(path, i - 1) : xstrdup("/");
	int dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT && create && mkdir_p(top, 0700) == 0)
		dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(top);
	/* then each component below it, none followed */
	char *rest = xstrdup(path + i), *part = rest;
	for (int k = 0; dfd >= 0 && k < depth; k++) {
		char *slash = strchr(part, '/');
		if (slash)
			*slash = 0;
		int next = -1;
		if (bad_component(part))
			errno = EINVAL;
		else
			next = open_below(dfd, part, create);
		int e = errno;
		close(dfd);
		errno = e;
		dfd = next;
		part = slash ? slash + 1 : part + strlen(part);
	}
	free(rest);
	return dfd;
}

int mkdir_p(const char *path, unsigned mode)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int r = mkdir(p, mode);
	free(p);
	return r < 0 && errno != EEXIST ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int remove_tree(const char *path)
{
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

double now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t now_epoch(void)
{
	return (int64_t)time(NULL);
}

void format_time_utc(int64_t epoch, char *out, size_t n)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	/* a time no struct tm holds (from a damaged object) prints as "?" */
	if (!gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "?");
}

void format_bytes(uint64_t n, char *out, size_t len)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu B", (unsigned long long)n);
	else
		snprintf(out, len, "%.1f %s", v, units[u]);
}

/* ---- names shown to people ------------------------------------------------ */

/* Length of the valid UTF-8 character at p (1..4), or 0 if the bytes there
 * are not one (overlong, surrogate, beyond U+10FFFF, truncated); its code
 * point in *cp. */
static size_t utf8_char(const unsigned char *p, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0)
		n = 2, c = p[0] & 0x1f, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, c = p[0] & 0x0f, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, c = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Characters that change how a terminal shows what follows: controls (C0,
 * DEL, C1) and the bidirectional marks and overrides ("Trojan Source"). */
static int unsafe_char(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x200e || c == 0x200f ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

size_t name_escape_to(const char *name, char *out, size_t cap)
{
	size_t len = 0, kept = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p;) {
		char unit[16];
		size_t ulen = 0, adv;
		uint32_t c;
		size_t n = utf8_char(p, &c);
		if (n && !unsafe_char(c) && c != '\\') {
			memcpy(unit, p, n);
			ulen = adv = n;
		} else if (n == 1 && c == '\\') {
			memcpy(unit, "\\\\", 2);
			ulen = 2, adv = 1;
		} else { /* byte by byte, so invalid UTF-8 resyncs at the next byte */
			adv = n ? n : 1;
			for (size_t i = 0; i < adv; i++)
				ulen += (size_t)snprintf(unit + ulen, sizeof unit - ulen, "\\x%02x",
				                         p[i]);
		}
		/* never half an escape or half a character */
		if (kept == len && len + ulen < cap) {
			memcpy(out + len, unit, ulen);
			kept += ulen;
		}
		len += ulen;
		p += adv;
	}
	if (cap)
		out[kept] = 0;
	return len;
}

char *name_escape(const char *name)
{
	size_t n = name_escape_to(name, NULL, 0);
	char *s = xmalloc(n + 1);
	name_escape_to(name, s, n + 1);
	return s;
}
