/* rdb.h — a streaming walker over Redis RDB files (versions 1 to 12).
 *
 * The walker pulls bytes from a source callback through a 64 KiB buffer and
 * checks, as they pass, the magic, the version, every opcode, length, type
 * and encoding, the containers inside values (ziplists, listpacks, intsets,
 * zipmaps), LZF streams, and the trailing CRC-64. It never holds a whole
 * value: strings are skipped in pieces, LZF is checked by positions only,
 * and containers are checked whole only up to RDB_BLOB_CHECK_MAX.
 *
 * Every byte consumed goes, in order, to `tee` (the snapshot stores exactly
 * what was walked). With `on_key`, each key is handed over decoded, then
 * its value's bytes (type byte first: the body of a DUMP payload) go to
 * `on_value` and `on_value_end` closes it (restore into a live server). */
#ifndef REDIS_RDB_H
#define REDIS_RDB_H

#include <stddef.h>
#include <stdint.h>

#define RDB_VERSION_MAX    12
#define RDB_BUF_SIZE       65536
#define RDB_BLOB_CHECK_MAX (16u << 20)
#define RDB_KEY_MAX        (64u << 20)

/* Return ARCA_OK with *got bytes (0: the source ended), or a status
 * (the source set its own message). */
typedef int (*rdb_read_fn)(void *arg, void *buf, size_t cap, size_t *got);
typedef int (*rdb_sink_fn)(void *arg, const void *data, size_t len);

struct rdb_db_stats {
	uint64_t db, keys, expires;
};

struct rdb_key {
	uint64_t db;
	const char *key; /* decoded (an integer-encoded key as its decimal text) */
	size_t keylen;
	int type;          /* the RDB type byte */
	int64_t expire_ms; /* absolute unix ms; -1: none */
};

struct rdb_walker {
	/* set by the caller (zero what is not used) */
	rdb_read_fn read;
	void *read_arg;
	rdb_sink_fn tee;
	void *tee_arg;
	int (*on_key)(void *arg, const struct rdb_key *k);
	rdb_sink_fn on_value;
	int (*on_value_end)(void *arg);
	/* a function library's code (RDB 10+), when set */
	int (*on_function)(void *arg, const char *code, size_t len);
	void *key_arg; /* for on_key, on_value, on_value_end, on_function */
	int (*cancelled)(void *arg);
	void *cancel_arg;

	/* results */
	int version;
	int crc_present;    /* 0: version < 5, or written with rdbchecksum no */
	uint64_t offset;    /* bytes consumed */
	uint64_t keys;      /* all databases */
	char err[512];      /* why the walk failed (ARCA_ERR_CORRUPT) */
	char redis_ver[32]; /* the "redis-ver" aux field, if any */
	struct rdb_db_stats *dbs;
	size_t n_dbs;
	int has_modules, has_functions;

	/* internal */
	unsigned char *buf;
	size_t pos, len, mark, cmark;
	int capturing, crc_on, src_done;
	uint64_t crc;
	uint64_t db;
	const char *where; /* what is being read, for messages */
	char keyname[80];  /* printable start of the current key */
};

/* Walk a whole RDB: ARCA_OK, ARCA_ERR_CORRUPT (w->err says at which byte
 * offset and why), or a status of a callback. The bytes the source gave
 * past the end of the RDB are left in the buffer (rdb_walk_leftover). */
int rdb_walk(struct rdb_walker *w);
void rdb_walk_leftover(const struct rdb_walker *w, const unsigned char **p, size_t *n);
void rdb_walker_free(struct rdb_walker *w);

uint64_t rdb_crc64(uint64_t crc, const void *data, size_t len);

/* Container checks (rdb_blob.c): 0, or -1 with why in err. */
int rdb_check_ziplist(const unsigned char *p, size_t n, char *err, size_t errsz);
int rdb_check_listpack(const unsigned char *p, size_t n, char *err, size_t errsz);
int rdb_check_intset(const unsigned char *p, size_t n, char *err, size_t errsz);
int rdb_check_zipmap(const unsigned char *p, size_t n, char *err, size_t errsz);

/* The newest RDB version a server of redis_version VER loads; 0 if unknown. */
int rdb_version_of_server(const char *ver);

#endif
