/* pg_fixtures.h — valid inputs for the tests of the postgres driver's
 * parsers (test_pg_formats, test_pg_mutate): ustar headers, a signed
 * backup_manifest, pg_dump custom-format archives. */
#ifndef TEST_PG_FIXTURES_H
#define TEST_PG_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

/* ---- a host that only records errors -------------------------------------- */

struct arca_host;
/* The driver's host table in these tests: log() does nothing, error()
 * keeps its message in fake_last_error. Tests may add entries. */
extern struct arca_host fake_host;
extern char fake_last_error[2048];
/* Fill fake_host's log and error entries and clear fake_last_error. */
void fake_host_reset(void);

/* A growable byte string, NUL-terminated (aborts when out of memory). */
struct dbuf {
	unsigned char *p;
	size_t len;
	size_t cap; /* 0: p is exactly len bytes (or not from malloc) */
};
void dbuf_put(struct dbuf *d, const void *p, size_t n);

/* ---- ustar ---------------------------------------------------------------- */

/* One header block as PostgreSQL writes it (checksum included). */
void tar_header(unsigned char *h, const char *name, char type, unsigned mode,
                unsigned long long size, const char *link);
/* Recompute the checksum field after editing a header. */
void tar_set_checksum(unsigned char *h);
/* A small archive as PostgreSQL sends it: no end-of-archive blocks. */
size_t make_tar(unsigned char *buf);

/* ---- backup_manifest ------------------------------------------------------ */

/* body (ending with a newline) followed by its Manifest-Checksum line, as
 * PostgreSQL writes it; malloc'd. */
char *manifest_sign(const char *body);
/* The same for `len` bytes of body (which may hold NULs); the result has
 * len + 89 bytes and a NUL after them. */
char *manifest_sign_n(const void *body, size_t len);
/* The CRC32C of PG_VERSION's "15\n" as a manifest gives it: the value's
 * bytes in this machine's order, in hex (8 digits and a NUL). */
void pg_version_crc_hex(char out[9]);
/* A two-file manifest whose PG_VERSION entry has the CRC32C `crc_hex`. */
char *make_manifest(const char *crc_hex);

/* ---- custom-format dumps -------------------------------------------------- */

struct dump_spec {
	int vmin;        /* archive version 1.vmin: 14 (PG 15), 15, 16 */
	int int_size;    /* 4 as pg_dump writes them; 8 is legal too */
	int rows;        /* rows of the table's data block, one chunk each */
	size_t wide_row; /* when not 0, one more row of this many bytes midway */
	int blobs;       /* a BLOBS entry and block with two large objects */
};
/* An int of the archive: a sign byte and int_size little-endian bytes. */
void dump_put_int(struct dbuf *d, int int_size, int64_t v);
/* A dump as pg_dump -Fc -Z0 writes it to a pipe (data offsets not set);
 * *data_at is where the data blocks start. */
struct dbuf make_dump_spec(const struct dump_spec *s, size_t *data_at);
/* Archive 1.14, 4-byte ints: a table and one data block of `rows` rows. */
struct dbuf make_dump(int rows, size_t *data_at);
/* Archive 1.14, 4-byte ints, sections as pg_dump sets them: per table a
 * TABLE, its TABLE DATA (`rows` rows of `row_bytes` bytes, newline
 * included, one chunk each) and `indexes` INDEX entries depending on the
 * table; the data blocks follow in table order. Table i's data entry has
 * dump id 11 + 10 * i. */
struct dump_table {
	const char *name;
	int rows;
	size_t row_bytes;
	int indexes;
};
struct dbuf make_dump_tables(const struct dump_table *t, size_t n);

#endif
