/* Unit tests of the postgres driver's parsers of outside bytes: the tar
 * stream of BASE_BACKUP, backup_manifest (its own SHA-256, file CRC32C),
 * the custom-format dump regrouping and offset repair, WAL file names, and
 * the WAL chain verify follows across timelines (over fake blobs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dumpfmt.h"
#include "pg.h"
#include "pg_fixtures.h"

static int setup(void **state)
{
	(void)state;
	fake_host_reset();
	return 0;
}

/* ---- CRC-32C ------------------------------------------------------------- */

static void test_crc32c(void **state)
{
	(void)state;
	assert_int_equal(crc32c_update(0, "123456789", 9), 0xE3069283u);
	/* incremental == one shot, across every split */
	const char *text = "The quick brown fox jumps over the lazy dog, twice or more.";
	uint32_t whole = crc32c_update(0, text, strlen(text));
	for (size_t k = 0; k <= strlen(text); k++)
		assert_int_equal(crc32c_update(crc32c_update(0, text, k), text + k, strlen(text) - k),
		                 whole);
}

/* ---- tar ----------------------------------------------------------------- */

struct tar_events {
	char log[4096];
	size_t bytes;
};

static int ev_begin(void *arg, const struct tar_entry *e)
{
	struct tar_events *ev = arg;
	size_t n = strlen(ev->log);
	snprintf(ev->log + n, sizeof ev->log - n, "[%c %s %o %llu %s]", e->type, e->name, e->mode,
	         (unsigned long long)e->size, e->link);
	return ARCA_OK;
}

static int ev_data(void *arg, const void *p, size_t n)
{
	struct tar_events *ev = arg;
	(void)p;
	ev->bytes += n;
	return ARCA_OK;
}

static int ev_end(void *arg)
{
	struct tar_events *ev = arg;
	strncat(ev->log, "$", sizeof ev->log - strlen(ev->log) - 1);
	return ARCA_OK;
}

static void run_tar(const unsigned char *buf, size_t len, size_t step, struct tar_events *ev,
                    int *rc_feed, int *rc_finish)
{
	struct tar_sink sink = {ev, ev_begin, ev_data, ev_end};
	struct tar_reader r;
	memset(ev, 0, sizeof *ev);
	tar_init(&r, &sink, "base.tar");
	*rc_feed = ARCA_OK;
	for (size_t off = 0; off < len && *rc_feed == ARCA_OK; off += step)
		*rc_feed = tar_feed(&r, buf + off, off + step <= len ? step : len - off);
	*rc_finish = tar_finish(&r);
}

static void test_tar_stream(void **state)
{
	(void)state;
	unsigned char buf[8192];
	size_t len = make_tar(buf);
	struct tar_events whole, ev;
	int rf, rfin;
	run_tar(buf, len, len, &whole, &rf, &rfin);
	assert_int_equal(rf, ARCA_OK);
	assert_int_equal(rfin, ARCA_OK);
	assert_string_equal(whole.log, "[5 base/1 700 0 ]$[0 base/1/112 600 1000 ]$"
	                               "[2 pg_tblspc/16384 777 0 /srv/ts1]$[0 PG_VERSION 600 0 ]$");
	assert_int_equal(whole.bytes, 1000);
	/* the same events whatever the message sizes */
	for (size_t step = 1; step < 700; step += 37) {
		run_tar(buf, len, step, &ev, &rf, &rfin);
		assert_int_equal(rf, ARCA_OK);
		assert_string_equal(ev.log, whole.log);
		assert_int_equal(ev.bytes, 1000);
	}
	/* the classic two zero blocks at the end are accepted */
	memset(buf + len, 0, 1024);
	run_tar(buf, len + 1024, 100, &ev, &rf, &rfin);
	assert_int_equal(rf, ARCA_OK);
	assert_int_equal(rfin, ARCA_OK);
	assert_string_equal(ev.log, whole.log);
}

static void test_tar_damage(void **state)
{
	(void)state;
	unsigned char buf[8192];
	size_t len = make_tar(buf);
	struct tar_events ev;
	int rf, rfin;
	/* stream cut inside a file's content */
	run_tar(buf, 512 + 512 + 300, 64, &ev, &rf, &rfin);
	assert_int_equal(rf, ARCA_OK);
	assert_int_equal(rfin, ARCA_ERR_CORRUPT);
	/* a flipped header byte */
	buf[512 + 10] ^= 1;
	run_tar(buf, len, len, &ev, &rf, &rfin);
	assert_int_equal(rf, ARCA_ERR_CORRUPT);
	assert_non_null(strstr(fake_last_error, "checksum"));
	/* a name escaping the data directory */
	tar_header(buf, "../../etc/passwd", '0', 0600, 0, NULL);
	run_tar(buf, 512, 512, &ev, &rf, &rfin);
	assert_int_equal(rf, ARCA_ERR_CORRUPT);
	assert_non_null(strstr(fake_last_error, "unsafe"));
	assert_int_equal(pg_path_safe("base/1/2"), 1);
	assert_int_equal(pg_path_safe("a/../b"), 0);
	assert_int_equal(pg_path_safe("/abs"), 0);
	assert_int_equal(pg_path_safe("a//b"), 0);
	assert_int_equal(pg_path_safe("a..b/c"), 1);
}

/* ---- backup_manifest ----------------------------------------------------- */

static void test_manifest(void **state)
{
	(void)state;
	char hex[9];
	pg_version_crc_hex(hex);
	char *text = make_manifest(hex);
	struct manifest m;
	assert_int_equal(manifest_parse(text, strlen(text), &m), ARCA_OK);
	assert_int_equal(m.n_files, 2);
	assert_string_equal(m.files[0].path, "PG_VERSION");
	assert_string_equal(m.files[1].path, "base/1");
	assert_null(m.files[1].algorithm);
	assert_int_equal(m.timeline, 1);
	assert_int_equal(m.start_lsn, 0x2000028);
	assert_int_equal(m.end_lsn, 0x2000100);

	char why[256];
	struct file_check *fc = file_check_new(&m.files[0]);
	file_check_update(fc, "15", 2);
	file_check_update(fc, "\n", 1);
	assert_int_equal(file_check_done(fc, why, sizeof why), 0);
	fc = file_check_new(&m.files[0]);
	file_check_update(fc, "16\n", 3);
	assert_int_equal(file_check_done(fc, why, sizeof why), -1);
	assert_non_null(strstr(why, "checksum"));
	fc = file_check_new(&m.files[0]);
	file_check_update(fc, "15", 2);
	assert_int_equal(file_check_done(fc, why, sizeof why), -1);
	assert_non_null(strstr(why, "size"));
	manifest_free(&m);

	/* any change to the manifest breaks its own checksum */
	char *p = strstr(text, "\"Size\": 3");
	p[8] = '4';
	assert_int_equal(manifest_parse(text, strlen(text), &m), ARCA_ERR_CORRUPT);
	assert_non_null(strstr(fake_last_error, "Manifest-Checksum"));
	text[strlen(text) / 2] = 0;
	assert_int_equal(manifest_parse(text, strlen(text), &m), ARCA_ERR_CORRUPT);
	free(text);
}

/* ---- custom-format dumps ------------------------------------------------- */

/* The rows of a data block, chunk framing removed. */
static struct dbuf rows_of(const struct dbuf *d, size_t at)
{
	struct dbuf out = {NULL, 0, 0};
	size_t p = at + 1 + 5;
	for (;;) {
		long n = (long)(d->p[p + 1] | d->p[p + 2] << 8 | d->p[p + 3] << 16 |
		                (unsigned long)d->p[p + 4] << 24);
		p += 5;
		if (n == 0)
			break;
		dbuf_put(&out, d->p + p, (size_t)n);
		p += (size_t)n;
	}
	assert_int_equal(p, d->len);
	return out;
}

static struct dbuf frame_it(const struct dbuf *in, size_t step)
{
	struct dump_frame *f = dump_frame_new();
	struct fbuf o = {NULL, 0, 0};
	for (size_t off = 0; off < in->len; off += step)
		assert_int_equal(
		    dump_frame_feed(f, in->p + off, off + step <= in->len ? step : in->len - off, &o), 0);
	assert_int_equal(dump_frame_finish(f, &o), 0);
	assert_null(dump_frame_note(f));
	dump_frame_free(f);
	struct dbuf d = {o.data, o.len, o.cap};
	return d;
}

static void test_dump_frame(void **state)
{
	(void)state;
	size_t at;
	struct dbuf in = make_dump(20000, &at);
	struct dbuf out = frame_it(&in, in.len);
	/* the header and TOC pass unchanged; the rows are all there, in fewer chunks */
	assert_memory_equal(out.p, in.p, at);
	assert_true(out.len < in.len);
	struct dbuf a = rows_of(&in, at), b = rows_of(&out, at);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	/* how the pipe delivered the bytes does not matter */
	size_t steps[] = {1, 3, 4096, 65537};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct dbuf o2 = frame_it(&in, steps[i]);
		assert_int_equal(o2.len, out.len);
		assert_memory_equal(o2.p, out.p, out.len);
		free(o2.p);
	}
	free(a.p);
	free(b.p);

	/* a dump whose offsets are set (pg_dump wrote a file) passes unchanged */
	struct dbuf set = {malloc(in.len), in.len, in.len};
	memcpy(set.p, in.p, in.len);
	struct dump_prefix pre;
	char why[160];
	assert_int_equal(dump_parse_prefix(set.p, set.len, &pre, why, sizeof why), 1);
	set.p[pre.toc[1].flag_pos] = DUMP_OFFSET_SET;
	free(pre.toc);
	struct dump_frame *f = dump_frame_new();
	struct fbuf o = {NULL, 0, 0};
	assert_int_equal(dump_frame_feed(f, set.p, set.len, &o), 0);
	assert_int_equal(dump_frame_finish(f, &o), 0);
	assert_non_null(dump_frame_note(f));
	assert_int_equal(o.len, set.len);
	assert_memory_equal(o.data, set.p, set.len);
	dump_frame_free(f);
	free(o.data);
	free(set.p);

	/* the data offset repair points the TOC at the data block */
	char path[] = "/tmp/arca-test-dump-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, out.p, out.len), (ssize_t)out.len);
	close(fd);
	assert_int_equal(dump_fix_offsets(path, why, sizeof why), 0);
	assert_string_equal(why, "1 data offsets set");
	unsigned char fixed[65536];
	fd = open(path, O_RDONLY);
	assert_true(read(fd, fixed, sizeof fixed) > (ssize_t)at);
	close(fd);
	unlink(path);
	assert_int_equal(dump_parse_prefix(fixed, at, &pre, why, sizeof why), 1);
	assert_int_equal(fixed[pre.toc[1].flag_pos], DUMP_OFFSET_SET);
	uint64_t off = 0;
	for (int i = 7; i >= 0; i--)
		off = off << 8 | fixed[pre.toc[1].flag_pos + 1 + (size_t)i];
	assert_int_equal(off, at);
	free(pre.toc);

	/* truncated prefix: more bytes needed; garbage: refused */
	assert_int_equal(dump_parse_prefix(in.p, 40, &pre, why, sizeof why), 0);
	in.p[5] = 9;
	assert_int_equal(dump_parse_prefix(in.p, in.len, &pre, why, sizeof why), -1);
	free(in.p);
	free(out.p);
}

/* Read the data offset of TOC entry i from a file's prefix. */
static uint64_t toc_offset(int fd, const struct dump_prefix *pre, size_t i)
{
	unsigned char f[9];
	assert_int_equal(pread(fd, f, 9, (off_t)pre->toc[i].flag_pos), 9);
	assert_int_equal(f[0], DUMP_OFFSET_SET);
	uint64_t off = 0;
	for (int b = 7; b >= 0; b--)
		off = off << 8 | f[1 + b];
	return off;
}

/* A planned copy puts each data block where its TOC offset says, intact,
 * and makes the table with the most work look largest to pg_restore (the
 * distance to the next block, or to the end of the file): "narrow" has
 * half the bytes of "wide" but 2000 rows and an index, so it comes first
 * although its block comes second. The pieces the copy reads do not
 * matter. */
static void test_dump_offsets_plan(void **state)
{
	(void)state;
	struct dump_table tables[] = {{"wide", 1, 40000, 0}, {"narrow", 2000, 10, 1}};
	struct dbuf d = make_dump_tables(tables, 2);
	struct dump_prefix pre;
	char why[160];
	assert_int_equal(dump_parse_prefix(d.p, d.len, &pre, why, sizeof why), 1);
	size_t wide_at = pre.toc_end, narrow_at = wide_at;
	while (!(d.p[narrow_at] == DUMP_BLK_DATA && d.p[narrow_at + 1] == 0 &&
	         d.p[narrow_at + 2] == 21))
		narrow_at++;
	size_t steps[] = {3, 4096, 1 << 20};
	for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
		char path[] = "/tmp/arca-test-plan-XXXXXX";
		int fd = mkstemp(path);
		assert_true(fd >= 0);
		unlink(path);
		struct dump_offsets *o = dump_offsets_new();
		dump_offsets_plan(o);
		for (size_t in = 0; in < d.len; in += steps[s]) {
			size_t n = in + steps[s] <= d.len ? steps[s] : d.len - in;
			assert_int_equal(dump_offsets_feed(o, d.p + in, n), 0);
			for (size_t done = 0; done < n;) {
				uint64_t out;
				size_t k = dump_offsets_place(o, in + done, n - done, &out);
				assert_true(k > 0);
				assert_int_equal(pwrite(fd, d.p + in + done, k, (off_t)out), (ssize_t)k);
				done += k;
			}
		}
		assert_int_equal(dump_offsets_apply(o, fd, why, sizeof why), 0);
		dump_offsets_free(o);
		/* entries 2 and 3 are the data of wide and narrow */
		uint64_t w = toc_offset(fd, &pre, 2), nr = toc_offset(fd, &pre, 3);
		struct stat st;
		assert_int_equal(fstat(fd, &st), 0);
		size_t wide_len = narrow_at - wide_at, narrow_len = d.len - narrow_at;
		assert_int_equal(w, wide_at);
		assert_true(nr >= w + wide_len);
		uint64_t wide_looks = nr - w, narrow_looks = (uint64_t)st.st_size - nr;
		assert_true(narrow_looks > wide_looks);
		assert_true(narrow_looks >= 2000 * (13 + 47) + narrow_len);
		unsigned char *got = malloc(narrow_len > wide_len ? narrow_len : wide_len);
		assert_int_equal(pread(fd, got, wide_len, (off_t)w), (ssize_t)wide_len);
		assert_memory_equal(got, d.p + wide_at, wide_len);
		assert_int_equal(pread(fd, got, narrow_len, (off_t)nr), (ssize_t)narrow_len);
		assert_memory_equal(got, d.p + narrow_at, narrow_len);
		free(got);
		close(fd);
	}
	free(pre.toc);
	free(d.p);
}

/* The offsets found while a dump is copied do not depend on how the copy
 * cut it into pieces (ints split between two reads included), and equal
 * dump_fix_offsets' on the whole file. */
static void test_dump_offsets_pieces(void **state)
{
	(void)state;
	struct dump_spec spec = {14, 8, 300, 70000, 1};
	size_t at;
	struct dbuf d = make_dump_spec(&spec, &at);
	char path[] = "/tmp/arca-test-offsets-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, d.p, d.len), (ssize_t)d.len);
	char why[160];
	assert_int_equal(dump_fix_offsets(path, why, sizeof why), 0);
	assert_string_equal(why, "2 data offsets set");
	unsigned char *want = malloc(d.len);
	assert_int_equal(pread(fd, want, d.len, 0), (ssize_t)d.len);
	size_t steps[] = {1, 2, 5, 9, 4096, 65537};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		assert_int_equal(pwrite(fd, d.p, d.len, 0), (ssize_t)d.len);
		struct dump_offsets *o = dump_offsets_new();
		for (size_t off = 0; off < d.len; off += steps[i]) {
			size_t n = off + steps[i] <= d.len ? steps[i] : d.len - off;
			assert_int_equal(dump_offsets_feed(o, d.p + off, n), 0);
		}
		assert_int_equal(dump_offsets_apply(o, fd, why, sizeof why), 0);
		dump_offsets_free(o);
		unsigned char *got = malloc(d.len);
		assert_int_equal(pread(fd, got, d.len, 0), (ssize_t)d.len);
		assert_memory_equal(got, want, d.len);
		free(got);
	}
	/* cut one byte short: refused, and the file is left alone */
	assert_int_equal(pwrite(fd, d.p, d.len, 0), (ssize_t)d.len);
	struct dump_offsets *o = dump_offsets_new();
	dump_offsets_feed(o, d.p, d.len - 1);
	assert_int_equal(dump_offsets_apply(o, fd, why, sizeof why), -1);
	assert_non_null(strstr(why, "do not parse"));
	dump_offsets_free(o);
	unsigned char *got = malloc(d.len);
	assert_int_equal(pread(fd, got, d.len, 0), (ssize_t)d.len);
	assert_memory_equal(got, d.p, d.len);
	free(got);
	free(want);
	close(fd);
	unlink(path);
	free(d.p);
}

/* ---- WAL names ----------------------------------------------------------- */

static void test_wal_names(void **state)
{
	(void)state;
	assert_true(wal_is_segment("00000001000000000000000A"));
	assert_false(wal_is_segment("00000001000000000000000"));
	assert_true(wal_is_archivable("00000002.history"));
	assert_true(wal_is_archivable("000000010000000000000002.00000028.backup"));
	assert_true(wal_is_archivable("00000001000000000000000A.partial"));
	assert_false(wal_is_archivable("../0000000100000000000000"));
	assert_false(wal_is_archivable("RECOVERYXLOG"));
	char blob[64], seg[WAL_NAME_LEN + 1];
	wal_blob_name("00000001000000000000000A", blob, sizeof blob);
	assert_string_equal(blob, "wal/00000001000000000000000a");
	uint64_t lsn;
	assert_int_equal(wal_parse_lsn("16/B374D848", &lsn), 0);
	assert_int_equal(lsn, 0x16B374D848ull);
	assert_int_equal(wal_parse_lsn("16/B374D848x", &lsn), -1);
	wal_segment_name(1, 0x16B374D848ull, 16u << 20, seg);
	assert_string_equal(seg, "0000000100000016000000B3");
	wal_segment_name(3, 0x16B374D848ull, 64u << 20, seg);
	assert_string_equal(seg, "00000003000000160000002C");
}

/* ---- the WAL chain a base backup needs (wal_walk over fake blobs) --------- */

#define T_SEG (1u << 16) /* small synthetic segments */

struct fake_blob {
	char name[64];
	unsigned char *data;
	size_t len;
};
static struct fake_blob blobs[64];
static size_t n_blobs;

static int fb_list(struct arca_ctx *ctx, const char *prefix, int (*cb)(void *, const char *),
                   void *arg)
{
	(void)ctx;
	for (size_t i = 0; i < n_blobs; i++)
		if (strncmp(blobs[i].name, prefix, strlen(prefix)) == 0) {
			int rc = cb(arg, blobs[i].name);
			if (rc)
				return rc;
		}
	return 0;
}

static int fb_get(struct arca_ctx *ctx, const char *name, void **data, size_t *len)
{
	(void)ctx;
	for (size_t i = 0; i < n_blobs; i++)
		if (strcmp(blobs[i].name, name) == 0) {
			*data = malloc(blobs[i].len + 1);
			assert_non_null(*data);
			memcpy(*data, blobs[i].data, blobs[i].len);
			*len = blobs[i].len;
			return ARCA_OK;
		}
	return fake_host.error(ARCA_ERR_NOT_FOUND, "%s not found", name);
}

static int fb_cancelled(struct arca_ctx *ctx)
{
	(void)ctx;
	return 0;
}

static void fb_reset(void)
{
	for (size_t i = 0; i < n_blobs; i++)
		free(blobs[i].data);
	n_blobs = 0;
	fake_host.blob_list = fb_list;
	fake_host.blob_get = fb_get;
	fake_host.cancelled = fb_cancelled;
}

static void fb_put(const char *name, const void *data, size_t len)
{
	assert_true(n_blobs < sizeof blobs / sizeof blobs[0]);
	struct fake_blob *b = &blobs[n_blobs++];
	snprintf(b->name, sizeof b->name, "%s", name);
	b->data = malloc(len ? len : 1);
	assert_non_null(b->data);
	memcpy(b->data, data, len);
	b->len = len;
}

static void fb_remove(const char *name)
{
	for (size_t i = 0; i < n_blobs; i++)
		if (strcmp(blobs[i].name, name) == 0) {
			free(blobs[i].data);
			blobs[i] = blobs[--n_blobs];
			return;
		}
	fail_msg("no blob %s", name);
}

static const char *seg_name(uint32_t tli, uint64_t segno)
{
	static char names[4][WAL_NAME_LEN + 1];
	static int k;
	char *out = names[k++ % 4];
	wal_segment_name(tli, segno * T_SEG, T_SEG, out);
	return out;
}

static const char *seg_blob(uint32_t tli, uint64_t segno)
{
	static char blob[64];
	wal_blob_name(seg_name(tli, segno), blob, sizeof blob);
	return blob;
}

/* A segment whose first page header says: timeline page_tli, position
 * pageaddr, cluster 7, T_SEG bytes per segment. */
static void put_segment_as(uint32_t tli, uint64_t segno, uint32_t page_tli, uint64_t pageaddr)
{
	unsigned char *p = calloc(1, T_SEG);
	assert_non_null(p);
	uint16_t magic = 0xD110, info = 0x0002;
	uint64_t sysid = 7;
	uint32_t size = T_SEG;
	memcpy(p, &magic, 2);
	memcpy(p + 2, &info, 2);
	memcpy(p + 4, &page_tli, 4);
	memcpy(p + 8, &pageaddr, 8);
	memcpy(p + 24, &sysid, 8);
	memcpy(p + 32, &size, 4);
	fb_put(seg_blob(tli, segno), p, T_SEG);
	free(p);
}

static void put_segment(uint32_t tli, uint64_t segno)
{
	put_segment_as(tli, segno, tli, segno * T_SEG);
}

static void put_history(uint32_t tli, const char *text)
{
	char name[32];
	snprintf(name, sizeof name, "wal/%08x.history", tli);
	fb_put(name, text, strlen(text));
}

static int walk(uint32_t tli, uint64_t segno, int read_pct, struct wal_walk *w)
{
	memset(w, 0, sizeof *w);
	w->start = seg_name(tli, segno);
	w->start_lsn = segno * T_SEG + 0x28;
	w->seg_size = T_SEG;
	w->read_pct = read_pct;
	return wal_walk(NULL, w);
}

static void test_wal_walk_gap(void **state)
{
	(void)state;
	struct wal_walk w;
	fb_reset();
	for (uint64_t n = 2; n <= 6; n++)
		if (n != 4)
			put_segment(1, n);
	fb_put("wal/000000010000000000000002.00000028.backup", "x", 1);
	fb_put("wal/000000010000000000000006.partial", "x", 1);
	assert_int_equal(walk(1, 2, 0, &w), ARCA_OK);
	assert_string_equal(w.brk, seg_name(1, 4));
	assert_string_equal(w.next, seg_name(1, 4));
	assert_string_equal(w.why, "is missing from the archive");
	assert_string_equal(w.last, seg_name(1, 3));
	assert_string_equal(w.newest, seg_name(1, 6));
	assert_true(w.has_last);
	assert_int_equal(w.last_segno, 3);
	assert_int_equal(w.n_after, 2);
	assert_int_equal(w.n_missing, 1);
	assert_int_equal(w.n_archived, 4);
	assert_int_equal(w.latest_tli, 1);
	/* a backup after the gap: whole */
	assert_int_equal(walk(1, 5, 0, &w), ARCA_OK);
	assert_string_equal(w.brk, "");
	assert_string_equal(w.last, seg_name(1, 6));
	assert_string_equal(w.newest, seg_name(1, 6));
	assert_string_equal(w.next, seg_name(1, 7));
	w.end = seg_name(1, 6);
	assert_int_equal(wal_walk(NULL, &w), ARCA_OK);
	assert_true(w.consistent);
	w.end = seg_name(1, 7); /* its last segment is not archived (yet) */
	assert_int_equal(wal_walk(NULL, &w), ARCA_OK);
	assert_false(w.consistent);
	/* its first segment missing */
	assert_int_equal(walk(1, 1, 0, &w), ARCA_OK);
	assert_string_equal(w.brk, seg_name(1, 1));
	assert_string_equal(w.next, seg_name(1, 1));
	assert_false(w.has_last);
	w.end = seg_name(1, 1);
	assert_int_equal(wal_walk(NULL, &w), ARCA_OK);
	assert_false(w.consistent);
	/* nothing archived from there on */
	assert_int_equal(walk(1, 9, 0, &w), ARCA_OK);
	assert_string_equal(w.brk, "");
	assert_string_equal(w.newest, "");
	assert_false(w.has_last);
	fb_reset();
}

static void test_wal_walk_timelines(void **state)
{
	(void)state;
	struct wal_walk w;
	fb_reset();
	/* timeline 1 to segment 8 (the old primary went on), timeline 2
	 * branched off in segment 5 */
	for (uint64_t n = 1; n <= 8; n++)
		put_segment(1, n);
	put_history(2, "1\t0/50100\tno recovery target specified\n");
	put_segment_as(2, 5, 1, 5 * T_SEG); /* begins with timeline 1's pages */
	put_segment(2, 6);
	put_segment(2, 7);
	assert_int_equal(walk(1, 2, 100, &w), ARCA_OK);
	assert_string_equal(w.brk, "");
	assert_int_equal(w.latest_tli, 2);
	assert_int_equal(w.n_timelines, 2);
	assert_string_equal(w.newest, seg_name(2, 7));
	assert_string_equal(w.next, seg_name(2, 8)); /* not timeline 1's, which is there */
	assert_int_equal(w.n_archived, 6);           /* 1/2..1/4, 2/5..2/7 */
	/* no cluster blob: the system identifier is not compared */
	assert_int_equal(w.n_read, 6);
	/* timeline 1's own segments 5-8 are not on the path: a hole there
	 * does not matter, one on timeline 2 does */
	fb_remove(seg_blob(1, 6));
	assert_int_equal(walk(1, 2, 0, &w), ARCA_OK);
	assert_string_equal(w.brk, "");
	fb_remove(seg_blob(2, 6));
	assert_int_equal(walk(1, 2, 0, &w), ARCA_OK);
	assert_string_equal(w.brk, seg_name(2, 6));
	assert_string_equal(w.last, seg_name(2, 5));
	assert_int_equal(w.n_after, 1);
	put_segment(2, 6);
	/* a backup on timeline 2 */
	assert_int_equal(walk(2, 6, 0, &w), ARCA_OK);
	assert_string_equal(w.brk, "");
	assert_int_equal(w.n_timelines, 1);
	/* a backup of timeline 1 taken after timeline 2 left it: recovery to
	 * 'latest' refuses it */
	assert_int_equal(walk(1, 6, 0, &w), ARCA_ERR_CORRUPT);
	assert_non_null(strstr(fake_last_error, "does not descend from this base backup"));
	/* timeline 3 from timeline 2; timeline 2's segments stop at 6 */
	put_history(3, "1\t0/50100\tno recovery target specified\n"
	               "# a comment\n\n"
	               "2\t0/70200\tbefore transaction 1234\n");
	put_segment(3, 7);
	put_segment(3, 8);
	fb_remove(seg_blob(2, 7));
	assert_int_equal(walk(1, 2, 0, &w), ARCA_OK);
	assert_string_equal(w.brk, "");
	assert_int_equal(w.latest_tli, 3);
	assert_int_equal(w.n_timelines, 3);
	assert_string_equal(w.newest, seg_name(3, 8));
	fb_reset();
}

static void test_wal_walk_history_damage(void **state)
{
	(void)state;
	struct wal_walk w;
	fb_reset();
	put_segment(1, 2);
	put_history(2, "1\t0/30000\tno recovery target specified\n");
	put_segment(2, 3);
	put_history(4, "1\t0/30000\t\n2\t0/40000\t\n3\t0/40000\t\n");
	put_segment(4, 4);
	/* 00000003.history is gone: recovery would stay on timeline 2 */
	assert_int_equal(walk(1, 2, 0, &w), ARCA_ERR_CORRUPT);
	assert_non_null(strstr(fake_last_error, "00000003.history is missing"));
	/* a backup on timeline 3 needs its own history file */
	assert_int_equal(walk(3, 4, 0, &w), ARCA_ERR_CORRUPT);
	assert_non_null(strstr(fake_last_error, "00000003.history of the base backup's timeline"));
	fb_reset();
	put_segment(1, 2);
	put_history(2, "1\tnonsense\n");
	assert_int_equal(walk(1, 2, 0, &w), ARCA_ERR_CORRUPT);
	assert_non_null(strstr(fake_last_error, "malformed"));
	fb_reset();
	put_segment(1, 2);
	put_history(2, "2\t0/30000\tits own timeline as a parent\n");
	assert_int_equal(walk(1, 2, 0, &w), ARCA_ERR_CORRUPT);
	fb_reset();
}

static void test_wal_walk_read(void **state)
{
	(void)state;
	struct wal_walk w;
	const char *cluster = "system_identifier=7\nwal_segment_size=65536\n";
	fb_reset();
	fb_put("wal/cluster", cluster, strlen(cluster));
	for (uint64_t n = 1; n <= 5; n++)
		put_segment(1, n);
	assert_int_equal(walk(1, 1, 100, &w), ARCA_OK);
	assert_string_equal(w.brk, "");
	assert_int_equal(w.n_read, 5);
	/* presence only: nothing read */
	assert_int_equal(walk(1, 1, 0, &w), ARCA_OK);
	assert_int_equal(w.n_read, 0);
	struct {
		uint32_t page_tli;
		uint64_t pageaddr;
		const char *why;
	} bad[] = {
	    {1, 4 * T_SEG, "holds the WAL at 0/40000, not this segment's (0/30000)"},
	    {2, 3 * T_SEG, "starts with a page of timeline 2 in a file of timeline 1"},
	    {0, 3 * T_SEG, "starts with a page of timeline 0"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fb_remove(seg_blob(1, 3));
		put_segment_as(1, 3, bad[i].page_tli, bad[i].pageaddr);
		assert_int_equal(walk(1, 1, 100, &w), ARCA_OK);
		assert_string_equal(w.brk, seg_name(1, 3));
		assert_non_null(strstr(w.why, bad[i].why));
		assert_string_equal(w.last, seg_name(1, 2));
		assert_int_equal(w.n_after, 2);
		assert_int_equal(w.n_read, 3); /* reading stops at the first bad one */
	}
	/* another cluster's segment; a short one; another version's magic */
	fb_remove(seg_blob(1, 3));
	put_segment(1, 3);
	unsigned char *p = malloc(T_SEG);
	assert_non_null(p);
	memcpy(p, blobs[n_blobs - 1].data, T_SEG);
	p[24] = 8;
	fb_remove(seg_blob(1, 3));
	fb_put(seg_blob(1, 3), p, T_SEG);
	assert_int_equal(walk(1, 1, 100, &w), ARCA_OK);
	assert_non_null(strstr(w.why, "system_identifier=8"));
	p[24] = 7;
	fb_remove(seg_blob(1, 3));
	fb_put(seg_blob(1, 3), p, T_SEG - 1);
	assert_int_equal(walk(1, 1, 100, &w), ARCA_OK);
	assert_non_null(strstr(w.why, "is 65535 bytes"));
	p[0] = 0x0D; /* 0xD10D: PostgreSQL 14's magic after 15's */
	fb_remove(seg_blob(1, 3));
	fb_put(seg_blob(1, 3), p, T_SEG);
	assert_int_equal(walk(1, 1, 100, &w), ARCA_OK);
	assert_non_null(strstr(w.why, "page magic 0xD10D"));
	p[0] = 0x10;
	p[2] = 0; /* no long header */
	fb_remove(seg_blob(1, 3));
	fb_put(seg_blob(1, 3), p, T_SEG);
	assert_int_equal(walk(1, 1, 100, &w), ARCA_OK);
	assert_non_null(strstr(w.why, "long page header"));
	free(p);
	fb_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_crc32c, setup),
	    cmocka_unit_test_setup(test_tar_stream, setup),
	    cmocka_unit_test_setup(test_tar_damage, setup),
	    cmocka_unit_test_setup(test_manifest, setup),
	    cmocka_unit_test_setup(test_dump_frame, setup),
	    cmocka_unit_test_setup(test_dump_offsets_pieces, setup),
	    cmocka_unit_test_setup(test_dump_offsets_plan, setup),
	    cmocka_unit_test_setup(test_wal_names, setup),
	    cmocka_unit_test_setup(test_wal_walk_gap, setup),
	    cmocka_unit_test_setup(test_wal_walk_timelines, setup),
	    cmocka_unit_test_setup(test_wal_walk_history_damage, setup),
	    cmocka_unit_test_setup(test_wal_walk_read, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
