/* dumpfmt.h — reading pg_dump's custom archive format (-Fc), as far as the
 * driver needs: the header and table of contents, and the framing of the
 * data blocks that follow. Shared by dumpfix.c and dumpframe.c.
 *
 * Format (pg_backup_archiver.c, pg_backup_custom.c): "PGDMP", version
 * major/minor/rev, intSize, offSize, format bytes; the compression (an int
 * before archive version 1.15, one byte since); seven ints of creation
 * time; three strings. An int is a sign byte and intSize little-endian
 * bytes, a string an int length (-1: NULL) and the bytes. The TOC is an int
 * count and per entry: dumpId, hadDumper, tableoid, oid, tag, desc,
 * section, defn, dropStmt, copyStmt, namespace, tablespace, tableam (1.14+),
 * relkind (an int, 1.16+), owner, "false", dependency strings ending with
 * NULL, then the data offset: a flag byte (1 not set, 2 set, 3 no data)
 * and offSize little-endian bytes. Then the data blocks: a type byte (1
 * table data, 3 large objects), the dumpId, then length-prefixed chunks
 * ending with length 0 (for large objects: per object its OID, its chunks
 * and 0; OID 0 ends the block). */
#ifndef PG_DUMPFMT_H
#define PG_DUMPFMT_H

#include <stddef.h>
#include <stdint.h>

#define DUMP_OFFSET_NOT_SET 1
#define DUMP_OFFSET_SET     2
#define DUMP_OFFSET_NO_DATA 3
#define DUMP_BLK_DATA       1
#define DUMP_BLK_BLOBS      3

struct dump_reader {
	const unsigned char *p;
	size_t len, pos;
	int int_size, off_size;
	int short_read; /* ran past the end of the bytes given */
	int bad;        /* a value that cannot be right */
};

int dump_rd_byte(struct dump_reader *r);
int64_t dump_rd_int(struct dump_reader *r);
void dump_rd_skip(struct dump_reader *r, uint64_t n);

struct dump_toc_entry {
	int64_t dump_id;
	size_t flag_pos; /* position of the data offset's flag byte */
	int flag;
};

struct dump_prefix {
	int version; /* 0x010e00 for 1.14 */
	int int_size, off_size;
	size_t toc_start;           /* where the TOC's entry count is */
	size_t toc_end;             /* where the data blocks start */
	struct dump_toc_entry *toc; /* malloc'd, n_toc entries */
	size_t n_toc;
};

/* Parse the header and TOC from the start of a dump held in p[0..len).
 * 1: complete (free pre->toc); 0: more bytes are needed; -1: not a
 * custom-format archive this driver understands (why says so). */
int dump_parse_prefix(const unsigned char *p, size_t len, struct dump_prefix *pre, char *why,
                      size_t why_len);

/* pg_dump's sections (an entry's "section" field). */
#define DUMP_SECTION_POST_DATA 4

/* Walk the TOC of a parsed prefix again, calling fn with each dependency
 * of each entry (its index in pre->toc and its section). 0, or -1 when
 * the TOC does not read as it did. */
int dump_toc_deps(const unsigned char *p, size_t len, const struct dump_prefix *pre,
                  void (*fn)(void *arg, size_t entry, int section, int64_t dep), void *arg);

/* The text fields of one TOC entry, pointing into the dump's bytes (not
 * NUL-terminated; NULL when the field is NULL). */
struct dump_toc_text {
	int64_t dump_id;
	int section;
	const char *tag, *desc, *defn, *owner;
	size_t tag_len, desc_len, defn_len, owner_len;
};

/* Walk the TOC of a parsed prefix, calling fn with each entry's text
 * fields. 0, or -1 when the TOC does not read as it did. */
int dump_toc_entries(const unsigned char *p, size_t len, const struct dump_prefix *pre,
                     void (*fn)(void *arg, const struct dump_toc_text *e), void *arg);

#endif
