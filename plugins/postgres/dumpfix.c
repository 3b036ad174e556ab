/* dumpfix.c — give a streamed custom-format dump its data offsets back.
 *
 * pg_dump writing to a pipe cannot seek back to fill in where each table's
 * data starts, so its table of contents says "position not set". Parallel
 * pg_restore then has every worker scan the file for the block it needs,
 * which makes a parallel restore several times slower than from a file
 * pg_dump wrote itself. The restore's scratch copy is therefore watched as it is
 * written (header, TOC, then each data block's framing, skipping the data)
 * and afterwards each TOC entry's offset field is rewritten in place,
 * exactly as pg_dump does when its output is seekable.
 *
 * The walker is fed the bytes in whatever pieces the copy reads them, so
 * it keeps its position in the framing between calls (an int may be split
 * across two pieces). Anything it does not recognise stops it; the file
 * is then left as it was, which pg_restore still reads, only slower.
 *
 * Planned (dump_offsets_plan), the walker also chooses where each block
 * goes in the copy, to set the order the tables are loaded in. pg_restore
 * --jobs loads the table whose data looks largest first, and takes a
 * block's size to be the distance to the next block's offset. Largest
 * bytes first is a poor order: a table's indexes and constraints are built
 * after its rows, one at a time (they lock the table), and cost by rows,
 * not bytes: a table of few wide rows is loaded first, and one of many
 * narrow rows with indexes and foreign keys last, whose chain of index
 * builds then runs alone on one core at the end. So each block is
 * followed by a hole that makes its size read as the work it stands for
 * (its bytes, plus per row ROW_WORK, plus POST_WORK for each post-data
 * entry built on its table), and the tables with the most work start
 * first. The holes cost nothing: the copy is sparse. The measurements
 * behind this are in the README's benchmark section. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dumpfmt.h"
#include "pg.h"

#define PREFIX_MAX (64u << 20) /* as dumpframe.c: a TOC larger than this is not fixed */
/* The server's work per row, in bytes of COPY text that cost as much:
 * loading a row, and building an index or checking a constraint over it.
 * The ratios of the server's time per row to its time per byte of COPY,
 * measured on the benchmark data set (README, benchmark section). */
#define ROW_WORK  13u
#define POST_WORK 47u
/* Holes stop where the copy would grow past this: every file system the
 * scratch directory may be on allows a file this large (ext4 with 4 KiB
 * blocks: 16 TiB), and beyond it the order only matters less. */
#define PLAN_END_MAX (1ull << 40)

enum walk_state { W_PREFIX, W_TYPE, W_ID, W_LEN, W_SKIP, W_OID, W_FAILED };

struct id_index {
	int64_t dump_id;
	size_t entry;
};

/* A data block's place in the input and in the planned copy. */
struct placed {
	uint64_t in, out;
	size_t entry;
};

struct dump_offsets {
	enum walk_state state;
	int blobs;          /* inside a large-object block */
	unsigned char *pre; /* header + TOC, gathered until it parses */
	size_t pre_len, pre_cap;
	struct dump_prefix toc;
	struct id_index *by_id; /* the TOC's dump ids, sorted */
	uint64_t *pos;          /* per TOC entry: where its block starts, 0: none */
	uint64_t at;            /* bytes consumed so far */
	uint64_t block_at;      /* start of the block being read */
	unsigned char num[9];
	int num_len;
	uint64_t left; /* data bytes of the current chunk still to skip */
	/* the plan (dump_offsets_plan) */
	int plan;
	unsigned *post;     /* per TOC entry: post-data entries on its table */
	struct placed *blk; /* the blocks seen, in input order */
	size_t n_blk, cap_blk, cursor;
	uint64_t rows; /* rows of the current block so far */
	char why[160];
};

struct dump_offsets *dump_offsets_new(void)
{
	return calloc(1, sizeof(struct dump_offsets));
}

void dump_offsets_plan(struct dump_offsets *o)
{
	o->plan = 1;
}

void dump_offsets_free(struct dump_offsets *o)
{
	if (!o)
		return;
	free(o->post);
	free(o->blk);
	free(o->pre);
	free(o->toc.toc);
	free(o->by_id);
	free(o->pos);
	free(o);
}

static int fail(struct dump_offsets *o, const char *what, unsigned long long at)
{
	snprintf(o->why, sizeof o->why, "%s at byte %llu", what, at);
	o->state = W_FAILED;
	return -1;
}

static int by_dump_id(const void *a, const void *b)
{
	int64_t x = ((const struct id_index *)a)->dump_id;
	int64_t y = ((const struct id_index *)b)->dump_id;
	return (x > y) - (x < y);
}

/* The first of the n sorted entries whose dump id is not below id. */
static size_t lower_bound(const struct id_index *a, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid].dump_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* How much work the server has with the last block seen: its bytes, and
 * per row for loading it and for each index or constraint on its table. */
static uint64_t block_work(const struct dump_offsets *o, uint64_t in_end)
{
	const struct placed *b = &o->blk[o->n_blk - 1];
	unsigned post = b->entry < o->toc.n_toc ? o->post[b->entry] : 0;
	return in_end - b->in + o->rows * (ROW_WORK + (uint64_t)POST_WORK * post);
}

/* How far the next block starts after the last one, which ends at in_end:
 * its work, or its bytes when a hole would take the copy past PLAN_END_MAX. */
static uint64_t block_step(const struct dump_offsets *o, uint64_t in_end)
{
	const struct placed *b = &o->blk[o->n_blk - 1];
	uint64_t len = in_end - b->in, work = block_work(o, in_end);
	return work > len && b->out + work <= PLAN_END_MAX ? work : len;
}

/* Plan where the block starting at block_at goes: after the previous one
 * and the hole that makes its size read as its work. Done at its first
 * byte, which the copy may write before the block's id has been read. */
static int place_block(struct dump_offsets *o)
{
	if (o->n_blk == o->cap_blk) {
		size_t cap = o->cap_blk ? 2 * o->cap_blk : 64;
		struct placed *b = realloc(o->blk, cap * sizeof *b);
		if (!b)
			return fail(o, "out of memory", (unsigned long long)o->at);
		o->blk = b;
		o->cap_blk = cap;
	}
	uint64_t out =
	    o->n_blk ? o->blk[o->n_blk - 1].out + block_step(o, o->block_at) : o->block_at;
	o->blk[o->n_blk++] = (struct placed){o->block_at, out, o->toc.n_toc};
	o->rows = 0;
	return 0;
}

/* The block of dump id `id` starts at block_at (ids no TOC entry has are
 * ignored, as pg_restore ignores them). */
static void note_block(struct dump_offsets *o, int64_t id)
{
	size_t lo = lower_bound(o->by_id, o->toc.n_toc, id);
	size_t entry =
	    lo < o->toc.n_toc && o->by_id[lo].dump_id == id ? o->by_id[lo].entry : o->toc.n_toc;
	if (o->plan)
		o->blk[o->n_blk - 1].entry = entry;
	if (entry < o->toc.n_toc)
		o->pos[entry] = o->plan ? o->blk[o->n_blk - 1].out : o->block_at;
}

/* Rows are lines in COPY's text format (a newline in a value is escaped). */
static uint64_t count_lines(const unsigned char *p, size_t n)
{
	uint64_t rows = 0;
	for (const unsigned char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		rows++;
	return rows;
}

static int64_t num_value(const struct dump_offsets *o, int *bad)
{
	uint64_t v = 0;
	for (int i = 0; i < o->toc.int_size; i++)
		v |= (uint64_t)o->num[1 + i] << (8 * i);
	*bad = o->num[0] > 1 || v > UINT32_MAX;
	return o->num[0] ? (int64_t)(0 - v) : (int64_t)v;
}

static int walk_blocks(struct dump_offsets *o, const unsigned char *p, size_t n)
{
	while (n > 0) {
		if (o->state == W_SKIP) {
			size_t k = o->left < n ? (size_t)o->left : n;
			if (o->plan && !o->blobs) /* large objects are not rows */
				o->rows += count_lines(p, k);
			p += k;
			n -= k;
			o->at += k;
			if ((o->left -= k) == 0)
				o->state = W_LEN;
			continue;
		}
		if (o->state == W_TYPE) {
			if (p[0] != DUMP_BLK_DATA && p[0] != DUMP_BLK_BLOBS)
				return fail(o, "the data blocks do not parse",
				            (unsigned long long)o->at);
			o->blobs = p[0] == DUMP_BLK_BLOBS;
			o->block_at = o->at;
			if (o->plan && place_block(o) != 0)
				return -1;
			p++;
			n--;
			o->at++;
			o->state = W_ID;
			continue;
		}
		/* an int: W_ID, W_LEN or W_OID */
		size_t want = (size_t)o->toc.int_size + 1 - (size_t)o->num_len;
		size_t k = want < n ? want : n;
		memcpy(o->num + o->num_len, p, k);
		o->num_len += (int)k;
		p += k;
		n -= k;
		o->at += k;
		if ((size_t)o->num_len < (size_t)o->toc.int_size + 1)
			continue;
		o->num_len = 0;
		int bad;
		int64_t v = num_value(o, &bad);
		if (bad || (o->state == W_LEN && v < 0))
			return fail(o, "the data blocks do not parse", (unsigned long long)o->at);
		if (o->state == W_ID) {
			note_block(o, v);
			o->state = o->blobs ? W_OID : W_LEN;
		} else if (o->state == W_OID) {
			o->state = v == 0 ? W_TYPE : W_LEN;
		} else if (v == 0) {
			o->state = o->blobs ? W_OID : W_TYPE;
		} else {
			o->left = (uint64_t)v;
			o->state = W_SKIP;
		}
	}
	return 0;
}

/* The TABLE a data entry loads is its first dependency; post[entry] counts
 * the post-data entries (indexes, constraints, triggers) that depend on it. */
struct post_count {
	struct dump_offsets *o;
	int pass;                /* 1: first dependencies; 2: post-data entries */
	int64_t *first_dep;      /* per TOC entry */
	struct id_index *tables; /* data entries by their table's dump id */
	size_t n_tables;
};

static void note_dep(void *arg, size_t entry, int section, int64_t dep)
{
	struct post_count *pc = arg;
	if (pc->pass == 1) {
		if (pc->first_dep[entry] == 0)
			pc->first_dep[entry] = dep;
		return;
	}
	if (section != DUMP_SECTION_POST_DATA)
		return;
	size_t lo = lower_bound(pc->tables, pc->n_tables, dep);
	for (; lo < pc->n_tables && pc->tables[lo].dump_id == dep; lo++)
		pc->o->post[pc->tables[lo].entry]++;
}

static int count_post(struct dump_offsets *o)
{
	struct post_count pc = {o, 1, calloc(o->toc.n_toc + 1, sizeof(int64_t)), NULL, 0};
	o->post = calloc(o->toc.n_toc + 1, sizeof *o->post);
	int rc = -1;
	if (!pc.first_dep || !o->post ||
	    !(pc.tables = malloc((o->toc.n_toc + 1) * sizeof *pc.tables))) {
		fail(o, "out of memory", (unsigned long long)o->at);
		goto out;
	}
	if (dump_toc_deps(o->pre, o->pre_len, &o->toc, note_dep, &pc) != 0) {
		fail(o, "the table of contents does not parse", (unsigned long long)o->at);
		goto out;
	}
	for (size_t i = 0; i < o->toc.n_toc; i++)
		if (o->toc.toc[i].flag != DUMP_OFFSET_NO_DATA && pc.first_dep[i] > 0)
			pc.tables[pc.n_tables++] = (struct id_index){pc.first_dep[i], i};
	qsort(pc.tables, pc.n_tables, sizeof *pc.tables, by_dump_id);
	pc.pass = 2; /* the post-data entries on those tables */
	dump_toc_deps(o->pre, o->pre_len, &o->toc, note_dep, &pc);
	rc = 0;
out:
	free(pc.first_dep);
	free(pc.tables);
	return rc;
}

/* Gather the header and TOC; once they parse, walk what follows them. */
static int walk_prefix(struct dump_offsets *o, const unsigned char *p, size_t n)
{
	if (o->pre_len + n > o->pre_cap) {
		size_t cap = (o->pre_len + n) * 2;
		unsigned char *d = realloc(o->pre, cap);
		if (!d)
			return fail(o, "out of memory", (unsigned long long)o->at);
		o->pre = d;
		o->pre_cap = cap;
	}
	memcpy(o->pre + o->pre_len, p, n);
	o->pre_len += n;
	o->at += n;
	int rc = dump_parse_prefix(o->pre, o->pre_len, &o->toc, o->why, sizeof o->why);
	if (rc == 0 && o->pre_len < PREFIX_MAX)
		return 0;
	if (rc != 1) {
		if (rc == 0)
			snprintf(o->why, sizeof o->why, "its table of contents is over %u MiB",
			         PREFIX_MAX >> 20);
		o->state = W_FAILED;
		return -1;
	}
	o->by_id = malloc((o->toc.n_toc + 1) * sizeof *o->by_id);
	o->pos = calloc(o->toc.n_toc + 1, sizeof *o->pos);
	if (!o->by_id || !o->pos)
		return fail(o, "out of memory", (unsigned long long)o->at);
	for (size_t i = 0; i < o->toc.n_toc; i++)
		o->by_id[i] = (struct id_index){o->toc.toc[i].dump_id, i};
	qsort(o->by_id, o->toc.n_toc, sizeof *o->by_id, by_dump_id);
	if (o->plan && count_post(o) != 0)
		return -1;
	/* the bytes after the TOC are the first of the data blocks */
	size_t rest = o->pre_len - o->toc.toc_end;
	o->at = o->toc.toc_end;
	o->state = W_TYPE;
	unsigned char *pre = o->pre;
	o->pre = NULL;
	o->pre_len = o->pre_cap = 0;
	rc = walk_blocks(o, pre + o->toc.toc_end, rest);
	free(pre);
	return rc;
}

int dump_offsets_feed(struct dump_offsets *o, const void *data, size_t n)
{
	if (o->state == W_FAILED)
		return -1;
	if (n == 0)
		return 0;
	if (o->state == W_PREFIX)
		return walk_prefix(o, data, n);
	return walk_blocks(o, data, n);
}

size_t dump_offsets_place(struct dump_offsets *o, uint64_t in, size_t n, uint64_t *out)
{
	if (!o->plan || o->n_blk == 0 || in < o->blk[0].in) {
		*out = in;
		if (o->plan && o->n_blk > 0 && in + n > o->blk[0].in)
			return (size_t)(o->blk[0].in - in);
		return n;
	}
	while (o->cursor > 0 && o->blk[o->cursor].in > in)
		o->cursor--;
	while (o->cursor + 1 < o->n_blk && o->blk[o->cursor + 1].in <= in)
		o->cursor++;
	const struct placed *b = &o->blk[o->cursor];
	*out = b->out + (in - b->in);
	if (o->cursor + 1 < o->n_blk && in + n > o->blk[o->cursor + 1].in)
		return (size_t)(o->blk[o->cursor + 1].in - in);
	return n;
}

int dump_offsets_apply(struct dump_offsets *o, int fd, char *why, size_t why_len)
{
	if (o->state == W_PREFIX)
		snprintf(o->why, sizeof o->why, "the archive ends inside its table of contents");
	else if (o->state != W_FAILED && (o->state != W_TYPE || o->num_len))
		snprintf(o->why, sizeof o->why, "the data blocks do not parse at byte %llu",
		         (unsigned long long)o->at);
	else if (o->state == W_TYPE)
		o->why[0] = 0;
	if (o->why[0]) {
		snprintf(why, why_len, "%s", o->why);
		return -1;
	}
	if (o->plan && o->n_blk > 0) {
		/* the last block's size is measured to the end of the file */
		struct stat st;
		off_t end = (off_t)(o->blk[o->n_blk - 1].out + block_step(o, o->at));
		if (fstat(fd, &st) != 0 || (st.st_size < end && ftruncate(fd, end) != 0)) {
			snprintf(why, why_len, "extending the copy: %s", strerror(errno));
			return -1;
		}
	}
	size_t patched = 0;
	for (size_t i = 0; i < o->toc.n_toc; i++) {
		if (o->toc.toc[i].flag != DUMP_OFFSET_NOT_SET || !o->pos[i])
			continue;
		unsigned char field[9];
		uint64_t off = o->pos[i];
		field[0] = DUMP_OFFSET_SET;
		for (int b = 0; b < o->toc.off_size; b++) {
			field[1 + b] = (unsigned char)(off & 0xff);
			off >>= 8;
		}
		size_t len = (size_t)o->toc.off_size + 1;
		if (pwrite(fd, field, len, (off_t)o->toc.toc[i].flag_pos) != (ssize_t)len) {
			snprintf(why, why_len, "rewriting the table of contents: %s",
			         strerror(errno));
			return -1;
		}
		patched++;
	}
	snprintf(why, why_len, "%zu data offsets set", patched);
	return 0;
}

int dump_fix_offsets(const char *path, char *why, size_t why_len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	struct dump_offsets *o = dump_offsets_new();
	unsigned char *buf = malloc(1u << 20);
	int rc = -1;
	if (!o || !buf) {
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, 1u << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, why_len, "reading %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0 || dump_offsets_feed(o, buf, (size_t)n) != 0)
			break;
	}
	rc = dump_offsets_apply(o, fd, why, why_len);
out:
	free(buf);
	dump_offsets_free(o);
	close(fd);
	return rc;
}
