/* pg_fixtures.c — valid inputs for the postgres driver's parser tests. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include "dumpfmt.h"
#include "pg.h"
#include "pg_fixtures.h"

/* ---- a host that only records errors -------------------------------------- */

struct arca_host fake_host;
const struct arca_host *pg_host = &fake_host;
char fake_last_error[2048];

static void fake_log(enum arca_log_level level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static int fake_error(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fake_last_error, sizeof fake_last_error, fmt, ap);
	va_end(ap);
	return status;
}

void fake_host_reset(void)
{
	fake_host.struct_size = sizeof fake_host;
	fake_host.log = fake_log;
	fake_host.error = fake_error;
	fake_last_error[0] = 0;
}

void dbuf_put(struct dbuf *d, const void *p, size_t n)
{
	if (d->len + n + 1 > d->cap) {
		size_t cap = d->cap * 2 > d->len + n + 1 ? d->cap * 2 : d->len + n + 1;
		unsigned char *np = realloc(d->p, cap);
		if (!np)
			abort();
		d->p = np;
		d->cap = cap;
	}
	if (n)
		memcpy(d->p + d->len, p, n);
	d->len += n;
	d->p[d->len] = 0; /* text stays a C string */
}

/* ---- ustar ---------------------------------------------------------------- */

void tar_set_checksum(unsigned char *h)
{
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

void tar_header(unsigned char *h, const char *name, char type, unsigned mode,
                unsigned long long size, const char *link)
{
	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", mode);
	snprintf((char *)h + 108, 8, "%07o", 26);
	snprintf((char *)h + 116, 8, "%07o", 26);
	snprintf((char *)h + 124, 12, "%011llo", size);
	snprintf((char *)h + 136, 12, "%011o", 1700000000);
	h[156] = (unsigned char)type;
	if (link)
		snprintf((char *)h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	tar_set_checksum(h);
}

size_t make_tar(unsigned char *buf)
{
	size_t n = 0;
	tar_header(buf + n, "base/1", '5', 0700, 0, NULL);
	n += 512;
	tar_header(buf + n, "base/1/112", '0', 0600, 1000, NULL);
	n += 512;
	memset(buf + n, 'x', 1000);
	n += 1024;
	tar_header(buf + n, "pg_tblspc/16384", '2', 0777, 0, "/srv/ts1");
	n += 512;
	tar_header(buf + n, "PG_VERSION", '0', 0600, 0, NULL);
	n += 512;
	return n;
}

/* ---- backup_manifest ------------------------------------------------------ */

char *manifest_sign_n(const void *body, size_t len)
{
	unsigned char md[32];
	unsigned mdlen = 0;
	EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL);
	char *text = malloc(len + 128);
	if (!text)
		abort();
	memcpy(text, body, len);
	char *p = text + len + sprintf(text + len, "\"Manifest-Checksum\": \"");
	for (int i = 0; i < 32; i++)
		p += sprintf(p, "%02x", md[i]);
	strcpy(p, "\"}\n");
	return text;
}

char *manifest_sign(const char *body)
{
	return manifest_sign_n(body, strlen(body));
}

void pg_version_crc_hex(char out[9])
{
	uint32_t crc = crc32c_update(0, "15\n", 3);
	unsigned char b[4];
	memcpy(b, &crc, 4);
	snprintf(out, 9, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

char *make_manifest(const char *crc_hex)
{
	char body[2048];
	snprintf(
	    body, sizeof body,
	    "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n"
	    "\"Files\": [\n"
	    "{ \"Path\": \"PG_VERSION\", \"Size\": 3, \"Last-Modified\": \"2026-01-01 00:00:00 "
	    "GMT\", \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"%s\" },\n"
	    "{ \"Encoded-Path\": \"626173652f31\", \"Size\": 0, \"Last-Modified\": \"2026-01-01 "
	    "00:00:00 GMT\" }\n"
	    "],\n"
	    "\"WAL-Ranges\": [\n"
	    "{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n"
	    "],\n",
	    crc_hex);
	return manifest_sign(body);
}

/* ---- custom-format dumps -------------------------------------------------- */

void dump_put_int(struct dbuf *d, int int_size, int64_t v)
{
	unsigned char b[9] = {v < 0};
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	for (int i = 0; i < int_size; i++)
		b[1 + i] = (unsigned char)(u >> (8 * i));
	dbuf_put(d, b, (size_t)int_size + 1);
}

static void put_str(struct dbuf *d, int int_size, const char *s)
{
	if (!s) {
		dump_put_int(d, int_size, -1);
		return;
	}
	dump_put_int(d, int_size, (int64_t)strlen(s));
	dbuf_put(d, s, strlen(s));
}

static void put_chunk(struct dbuf *d, int int_size, const void *p, size_t n)
{
	dump_put_int(d, int_size, (int64_t)n);
	dbuf_put(d, p, n);
}

/* One TOC entry: dump id, desc, section, defn, copy statement, data flag. */
static void put_toc_entry(struct dbuf *d, const struct dump_spec *s, int id, const char *tag,
                          const char *desc, int section, const char *defn, const char *copy,
                          const char *dep, unsigned char flag)
{
	int is = s->int_size;
	dump_put_int(d, is, id);
	dump_put_int(d, is, flag != 3);
	put_str(d, is, "1259");
	put_str(d, is, "16384");
	put_str(d, is, tag);
	put_str(d, is, desc);
	dump_put_int(d, is, section);
	put_str(d, is, defn);
	put_str(d, is, flag == 3 ? "DROP TABLE orders;\n" : "");
	put_str(d, is, copy);
	put_str(d, is, "public");
	put_str(d, is, "");
	if (s->vmin >= 14)
		put_str(d, is, "heap");
	if (s->vmin >= 16)
		dump_put_int(d, is, 'r');
	put_str(d, is, "vectis");
	put_str(d, is, "false");
	if (dep)
		put_str(d, is, dep);
	put_str(d, is, NULL);
	unsigned char off[9] = {flag};
	dbuf_put(d, off, 9);
}

struct dbuf make_dump_spec(const struct dump_spec *s, size_t *data_at)
{
	struct dbuf d = {NULL, 0, 0};
	int is = s->int_size;
	unsigned char head[] = {
	    'P', 'G', 'D', 'M', 'P', 1, (unsigned char)s->vmin, 0, (unsigned char)is, 8, 1};
	dbuf_put(&d, head, sizeof head);
	if (s->vmin >= 15) {
		unsigned char none = 0; /* compression algorithm */
		dbuf_put(&d, &none, 1);
	} else {
		dump_put_int(&d, is, 0); /* compression level */
	}
	for (int i = 0; i < 7; i++)
		dump_put_int(&d, is, i);
	put_str(&d, is, "vectis");
	put_str(&d, is, "15.20");
	put_str(&d, is, "15.20");
	dump_put_int(&d, is, s->blobs ? 3 : 2);
	put_toc_entry(&d, s, 1, "orders", "TABLE", 1, "CREATE TABLE orders (id int, note text);\n",
	              NULL, NULL, 3);
	put_toc_entry(&d, s, 2, "orders", "TABLE DATA", 2, "",
	              "COPY public.orders (id, note) FROM stdin;\n", "1", 1);
	if (s->blobs)
		put_toc_entry(&d, s, 3, "BLOBS", "BLOBS", 2, "", NULL, NULL, 1);
	*data_at = d.len;

	unsigned char type = 1;
	dbuf_put(&d, &type, 1);
	dump_put_int(&d, is, 2);
	for (int r = 0; r < s->rows; r++) {
		if (s->wide_row && r == s->rows / 2) {
			struct dbuf w = {NULL, 0, 0};
			for (size_t i = 0; i < s->wide_row; i++) {
				unsigned char c = (unsigned char)('a' + i * 7 % 26);
				dbuf_put(&w, &c, 1);
			}
			put_chunk(&d, is, w.p, w.len);
			free(w.p);
		}
		char row[64];
		int n = snprintf(row, sizeof row, "%d\tnote number %d %s\n", r, r * 7919 % 1000,
		                 r % 3 ? "shipped" : "paid");
		put_chunk(&d, is, row, (size_t)n);
	}
	dump_put_int(&d, is, 0);

	if (s->blobs) {
		type = 3;
		dbuf_put(&d, &type, 1);
		dump_put_int(&d, is, 3);
		dump_put_int(&d, is, 16400);
		put_chunk(&d, is, "hello ", 6);
		put_chunk(&d, is, "large object", 12);
		dump_put_int(&d, is, 0);
		dump_put_int(&d, is, 16401);
		char big[300];
		memset(big, 'L', sizeof big);
		put_chunk(&d, is, big, sizeof big);
		dump_put_int(&d, is, 0);
		dump_put_int(&d, is, 0); /* OID 0: end of the block */
	}
	return d;
}

struct dbuf make_dump(int rows, size_t *data_at)
{
	struct dump_spec s = {14, 4, rows, 0, 0};
	return make_dump_spec(&s, data_at);
}

struct dbuf make_dump_tables(const struct dump_table *t, size_t n)
{
	struct dump_spec s = {14, 4, 0, 0, 0};
	struct dbuf d = {NULL, 0, 0};
	unsigned char head[] = {'P', 'G', 'D', 'M', 'P', 1, 14, 0, 4, 8, 1};
	dbuf_put(&d, head, sizeof head);
	dump_put_int(&d, 4, 0); /* compression level */
	for (int i = 0; i < 7; i++)
		dump_put_int(&d, 4, i);
	put_str(&d, 4, "vectis");
	put_str(&d, 4, "15.20");
	put_str(&d, 4, "15.20");
	int entries = 0;
	for (size_t i = 0; i < n; i++)
		entries += 2 + t[i].indexes;
	dump_put_int(&d, 4, entries);
	char copy[128], dep[16], defn[128], tag[64];
	for (size_t i = 0; i < n; i++) { /* pre-data: the tables */
		snprintf(defn, sizeof defn, "CREATE TABLE %s (line text);\n", t[i].name);
		put_toc_entry(&d, &s, 10 + 10 * (int)i, t[i].name, "TABLE", 2, defn, NULL, NULL, 3);
	}
	for (size_t i = 0; i < n; i++) { /* data */
		snprintf(copy, sizeof copy, "COPY public.%s (line) FROM stdin;\n", t[i].name);
		snprintf(dep, sizeof dep, "%d", 10 + 10 * (int)i);
		put_toc_entry(&d, &s, 11 + 10 * (int)i, t[i].name, "TABLE DATA", 3, "", copy, dep,
		              1);
	}
	for (size_t i = 0; i < n; i++) { /* post-data: the indexes */
		for (int k = 0; k < t[i].indexes; k++) {
			snprintf(tag, sizeof tag, "%s_idx%d", t[i].name, k);
			snprintf(defn, sizeof defn, "CREATE INDEX %s ON %s (line);\n", tag,
			         t[i].name);
			snprintf(dep, sizeof dep, "%d", 10 + 10 * (int)i);
			put_toc_entry(&d, &s, 12 + 10 * (int)i + k, tag, "INDEX", 4, defn, NULL,
			              dep, 3);
		}
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char type = DUMP_BLK_DATA;
		dbuf_put(&d, &type, 1);
		dump_put_int(&d, 4, 11 + 10 * (int)i);
		char *row = malloc(t[i].row_bytes);
		if (!row)
			abort();
		for (int r = 0; r < t[i].rows; r++) {
			memset(row, 'a' + r % 26, t[i].row_bytes);
			row[t[i].row_bytes - 1] = '\n';
			put_chunk(&d, 4, row, t[i].row_bytes);
		}
		free(row);
		dump_put_int(&d, 4, 0);
	}
	return d;
}
