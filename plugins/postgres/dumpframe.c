/* dumpframe.c — regroup the data chunks of a streamed `pg_dump -Fc -Z0`.
 *
 * Without compression pg_dump frames every row of COPY data as its own
 * chunk: a 5-byte length before each row. Those lengths are close to
 * random bytes to a compressor: they cost a noticeable share of the
 * compressed size, and make pg_restore call the server once per row.
 * This filter, run on the stream before it reaches the engine, joins
 * consecutive chunks of a data block into frames of 16-256 KiB. The
 * result is the same archive format (a chunk may hold any number of bytes;
 * pg_restore concatenates them), so pg_restore reads it as before.
 *
 * Frame ends are chosen by content, not by position: a frame closes after
 * a row whose first bytes (usually its key) hash to a chosen pattern, once
 * the frame holds 16 KiB. An inserted or changed row then only changes its
 * own frame, and the engine's content-defined chunking still finds the
 * unchanged ones from one day's dump to the next.
 *
 * The header and table of contents pass through unchanged. Anything this
 * filter does not recognise (another archive version, a block type it
 * does not know) is passed through unchanged from that point on, so the
 * worst case is the original stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dumpfmt.h"
#include "pg.h"

#define FRAME_MIN     (16u << 10)
#define FRAME_MAX     (256u << 10)
#define FRAME_MASK    0x3fu /* 1 row in 64 may end a frame */
#define ROW_KEY_BYTES 16

enum frame_mode { M_PREFIX, M_DATA, M_PASS };
enum frame_state { S_TYPE, S_ID, S_LEN, S_CHUNK, S_BIG, S_OID };

struct dump_frame {
	enum frame_mode mode;
	enum frame_state state;
	int blobs; /* inside a large-object block */
	int int_size;
	unsigned char *pre; /* header + TOC, gathered until it parses */
	size_t pre_len, pre_cap;
	unsigned char num[9]; /* an int being assembled */
	int num_len;
	uint64_t left;     /* bytes of the current input chunk */
	uint32_t key_hash; /* hash of the current row's first bytes */
	uint32_t key_seen;
	unsigned char *acc; /* the frame being gathered */
	size_t acc_len;
	struct fbuf *out;
	int failed;
	char note[160]; /* why the stream was passed on unregrouped */
};

static int out_put(struct fbuf *o, const void *p, size_t n)
{
	if (n == 0)
		return 0; /* p and o->data may be NULL: memcpy must not see them */
	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2;
		unsigned char *d = realloc(o->data, cap);
		if (!d)
			return -1;
		o->data = d;
		o->cap = cap;
	}
	memcpy(o->data + o->len, p, n);
	o->len += n;
	return 0;
}

static int put_int(struct dump_frame *f, uint64_t v)
{
	unsigned char b[9];
	b[0] = 0;
	for (int i = 0; i < f->int_size; i++) {
		b[1 + i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	return out_put(f->out, b, (size_t)f->int_size + 1);
}

static int flush_frame(struct dump_frame *f)
{
	if (!f->acc_len)
		return 0;
	if (put_int(f, f->acc_len) || out_put(f->out, f->acc, f->acc_len))
		return -1;
	f->acc_len = 0;
	return 0;
}

struct dump_frame *dump_frame_new(void)
{
	struct dump_frame *f = calloc(1, sizeof *f);
	if (f && !(f->acc = malloc(FRAME_MAX))) {
		free(f);
		f = NULL;
	}
	return f;
}

void dump_frame_free(struct dump_frame *f)
{
	if (!f)
		return;
	free(f->pre);
	free(f->acc);
	free(f);
}

/* The value of the assembled int, -1 for negative. */
static int64_t num_value(const struct dump_frame *f)
{
	uint64_t v = 0;
	for (int i = 0; i < f->int_size; i++)
		v |= (uint64_t)f->num[1 + i] << (8 * i);
	return f->num[0] ? -1 : (int64_t)v;
}

/* Give up on regrouping: what was emitted is a valid prefix ending at a
 * block boundary (S_TYPE), so the rest can follow untouched. */
static int to_pass(struct dump_frame *f, const unsigned char *p, size_t n)
{
	f->mode = M_PASS;
	return out_put(f->out, p, n);
}

static int data_feed(struct dump_frame *f, const unsigned char *p, size_t n)
{
	while (n > 0) {
		if (f->state == S_CHUNK || f->state == S_BIG) {
			size_t k = f->left < n ? (size_t)f->left : n;
			if (f->state == S_BIG) {
				if (out_put(f->out, p, k))
					return -1;
			} else {
				memcpy(f->acc + f->acc_len, p, k);
				f->acc_len += k;
				for (size_t i = 0; i < k && f->key_seen < ROW_KEY_BYTES;
				     i++, f->key_seen++)
					f->key_hash = (f->key_hash ^ p[i]) * 16777619u;
			}
			p += k;
			n -= k;
			f->left -= k;
			if (f->left == 0) {
				if (f->state == S_CHUNK && f->acc_len >= FRAME_MIN &&
				    (f->key_hash & FRAME_MASK) == 0 && flush_frame(f))
					return -1;
				f->state = S_LEN;
			}
			continue;
		}
		if (f->state == S_TYPE && f->num_len == 0) {
			if (p[0] != DUMP_BLK_DATA && p[0] != DUMP_BLK_BLOBS)
				return to_pass(f, p, n);
			f->blobs = p[0] == DUMP_BLK_BLOBS;
			if (out_put(f->out, p, 1))
				return -1;
			p++;
			n--;
			f->state = S_ID;
			continue;
		}
		/* an int: S_ID, S_LEN or S_OID */
		size_t want = (size_t)f->int_size + 1 - (size_t)f->num_len;
		size_t k = want < n ? want : n;
		memcpy(f->num + f->num_len, p, k);
		f->num_len += (int)k;
		p += k;
		n -= k;
		if ((size_t)f->num_len < (size_t)f->int_size + 1)
			continue;
		f->num_len = 0;
		int64_t v = num_value(f);
		if (f->state == S_ID) {
			if (out_put(f->out, f->num, (size_t)f->int_size + 1))
				return -1;
			f->state = f->blobs ? S_OID : S_LEN;
		} else if (f->state == S_OID) {
			if (out_put(f->out, f->num, (size_t)f->int_size + 1))
				return -1;
			f->state = v == 0 ? S_TYPE : S_LEN;
		} else if (v < 0) {
			return -1; /* a negative chunk length: not pg_dump's output */
		} else if (v == 0) {
			if (flush_frame(f) || put_int(f, 0))
				return -1;
			f->state = f->blobs ? S_OID : S_TYPE;
		} else {
			/* Decide per row, never per read: the frames must not
			 * depend on how the pipe happened to deliver the bytes. */
			f->left = (uint64_t)v;
			f->key_hash = 2166136261u;
			f->key_seen = 0;
			f->state = S_CHUNK;
			if (f->acc_len + f->left > FRAME_MAX && flush_frame(f))
				return -1;
			if (f->left > FRAME_MAX) {
				/* a row wider than a frame goes on as its own chunk */
				if (put_int(f, f->left))
					return -1;
				f->state = S_BIG;
			}
		}
	}
	return 0;
}

int dump_frame_feed(struct dump_frame *f, const void *data, size_t n, struct fbuf *out)
{
	const unsigned char *p = data;
	f->out = out;
	if (f->failed)
		return -1;
	if (f->mode == M_PASS)
		return out_put(out, p, n);
	if (f->mode == M_DATA)
		return (f->failed = data_feed(f, p, n) != 0) ? -1 : 0;
	/* M_PREFIX: gather until the header and TOC parse. */
	if (f->pre_len + n > f->pre_cap) {
		size_t cap = (f->pre_len + n) * 2;
		unsigned char *d = realloc(f->pre, cap);
		if (!d)
			return f->failed = -1;
		f->pre = d;
		f->pre_cap = cap;
	}
	memcpy(f->pre + f->pre_len, p, n);
	f->pre_len += n;
	struct dump_prefix pre;
	char why[160];
	int rc = dump_parse_prefix(f->pre, f->pre_len, &pre, why, sizeof why);
	if (rc == 0 && f->pre_len < (64u << 20))
		return 0;
	/* Data offsets written by a pg_dump that could seek would no longer
	 * match regrouped data; from a pipe they are never set. */
	for (size_t i = 0; rc == 1 && i < pre.n_toc; i++) {
		if (pre.toc[i].flag == DUMP_OFFSET_SET) {
			snprintf(why, sizeof why, "its data offsets are set");
			free(pre.toc);
			rc = -1;
		}
	}
	if (rc != 1) {
		/* runs on the pump's thread: no host calls; the caller logs it */
		snprintf(f->note, sizeof f->note, "%s", rc == 0 ? "no table of contents" : why);
		f->mode = M_PASS;
		rc = out_put(out, f->pre, f->pre_len);
	} else {
		free(pre.toc);
		f->int_size = pre.int_size;
		f->mode = M_DATA;
		f->state = S_TYPE;
		rc = out_put(out, f->pre, pre.toc_end);
		if (rc == 0)
			rc = data_feed(f, f->pre + pre.toc_end, f->pre_len - pre.toc_end);
	}
	free(f->pre);
	f->pre = NULL;
	f->pre_len = f->pre_cap = 0;
	return (f->failed = rc != 0) ? -1 : 0;
}

int dump_frame_finish(struct dump_frame *f, struct fbuf *out)
{
	f->out = out;
	if (f->failed)
		return -1;
	if (f->mode == M_PREFIX)
		return out_put(out, f->pre, f->pre_len);
	/* pg_dump ends at a block boundary; anything else is passed on as is
	 * and pg_restore will report the truncation. */
	if (f->mode == M_DATA && (f->state != S_TYPE || f->num_len)) {
		if (flush_frame(f))
			return -1;
		if (f->num_len)
			return out_put(out, f->num, (size_t)f->num_len);
	}
	return 0;
}

const char *dump_frame_note(const struct dump_frame *f)
{
	return f->note[0] ? f->note : NULL;
}
