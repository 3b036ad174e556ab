/* Unit tests of the postgres driver's parsers of outside bytes: the tar
 * stream of BASE_BACKUP, backup_manifest (its own SHA-256, file CRC32C),
 * the custom-format dump regrouping and offset repair, WAL file names. */
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
