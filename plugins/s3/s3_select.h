/* s3_select.h — which stored item of each key a restore gives back
 * (README.md here, "Versions and delete markers"). Pure: no I/O, no host. */
#ifndef ARCA_S3_SELECT_H
#define ARCA_S3_SELECT_H

#include <stddef.h>
#include <stdint.h>

/* One stored item of a key (STREAM or TOMBSTONE), as restore's first pass
 * saw it. */
struct s3s_entry {
	char *name;    /* the key below the target's prefix (owned) */
	char *etag;    /* the stored ETag, "" if none (owned) */
	uint64_t ord;  /* its position in the snapshot */
	uint64_t sig;  /* s3s_sig of the item, to find it again */
	uint64_t size; /* its size */
	int64_t sec;   /* Last-Modified */
	int32_t nsec;
	int tomb;   /* a delete marker */
	int latest; /* the listing said it was the current version */
	int win;    /* set by s3s_select */
};

/* Marks in each run of entries with the same name the one a restore gives
 * back: the one whose listing said it is the latest (meta "is-latest:
 * true"); else the newest Last-Modified (seconds, then nanoseconds); of
 * equal ones the first stored (a versioned listing gives the newest first).
 * Sorts e by name, then position. A winner that is a tombstone means: the
 * key was deleted as of the snapshot. */
void s3s_select(struct s3s_entry *e, size_t n);
/* Sort by position (after s3s_select, to read the winners in order). */
void s3s_sort_ord(struct s3s_entry *e, size_t n);
/* A signature of an item's stored attributes (type, mtime, meta,
 * checksum): to tell apart items of one key. */
uint64_t s3s_sig(int type, int64_t sec, int32_t nsec, const char *meta, const char *checksum);
/* Is "is-latest: true" a line of meta? */
int s3s_meta_latest(const char *meta);

#endif
