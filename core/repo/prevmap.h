/* prevmap.h — the metadata cache in memory: item name and fingerprint ->
 * (type, size, chunk ids) of the previous snapshot of a target, stored
 * compactly (about 40 bytes per item plus its name, fingerprint and 32
 * bytes per chunk), so a tree of millions of files costs tens of MiB,
 * not the gigabyte its JSON objects would. */
#ifndef ARCA_REPO_PREVMAP_H
#define ARCA_REPO_PREVMAP_H

#include <stddef.h>
#include <stdint.h>
#include "repo/crypto.h"
#include "util.h"

struct prev_entry {
	uint64_t name_off, fp_off; /* into strings */
	uint64_t attrs_off;        /* into strings; PREV_NO_ATTRS: none kept */
	uint64_t size;
	uint64_t chunk_off; /* first id, into ids (in ids) */
	uint32_t n_chunks;
	uint32_t type;
};

#define PREV_NO_ATTRS UINT64_MAX

struct prevmap {
	struct prev_entry *e;
	size_t n, cap;   /* entries */
	uint32_t *slots; /* 1 + entry index, 0 = empty */
	size_t slots_cap;
	struct buf strings;
	struct buf ids;
	/* With pack_attrs (set before the first add): the attributes are kept
	 * zstd-compressed in blocks of about PM_ATTR_BLOCK bytes, not in
	 * strings: they are most of a map's bytes (some 300 an s3 object).
	 * Their offsets are then PREV_PACKED | offset into the attributes, and
	 * saved as offsets into strings + attributes (the same APM2 file).
	 * Items come in about the order of the last snapshot, so a lookup
	 * decompresses a block once for the many items in it (one-block cache). */
	int pack_attrs;
	struct buf attrs_raw; /* the block being filled */
	struct buf attrs_z;   /* u32 compressed length, u32 length, bytes; ... */
	uint64_t attrs_len;   /* bytes of attributes in all, blocks and raw */
	uint64_t *blk_start;  /* the first attribute offset of each sealed block */
	size_t *blk_at;       /* its header's offset in attrs_z */
	size_t n_blk, blk_cap;
	struct buf blk_cache; /* sealed block cached_blk - 1 decompressed (0: none) */
	size_t cached_blk;
};

#define PREV_PACKED   (1ull << 62)
#define PM_ATTR_BLOCK (64 * 1024)

void prevmap_free(struct prevmap *m);
/* Add an item (a later duplicate of a name and fingerprint replaces
 * nothing: first wins). The versions of one key (ABI 1.1) are one name with
 * several fingerprints. `attrs`: the item's stored attributes as text
 * (item_attrs_text), kept for items with meta so that an item begun with
 * ARCA_ITEM_KEEP_ATTRS can be recorded with them; NULL: none. */
void prevmap_add(struct prevmap *m, const char *name, const char *fp, const char *attrs,
                 uint32_t type, uint64_t size, const unsigned char *ids, size_t n_chunks);
/* The attributes kept for e, or NULL. With pack_attrs the text lives in the
 * map's one-block cache: valid until the next call on m, and not
 * thread-safe (writer.c calls it under the repository's idx_mu). */
const char *prevmap_attrs(struct prevmap *m, const struct prev_entry *e);
const struct prev_entry *prevmap_get(const struct prevmap *m, const char *name, const char *fp);
const char *prevmap_fp(const struct prevmap *m, const struct prev_entry *e);
const unsigned char *prevmap_chunk(const struct prevmap *m, const struct prev_entry *e, size_t i);

/* The map as a file in state_dir, tagged with the snapshot it describes:
 * "APM2" | snapshot id (64 hex) | u64 entries, strings, ids | entries |
 * strings | ids | SHA-256 of all before. Written atomically (new file of a
 * random name + rename). Load returns 0 only for an intact regular file of
 * that snapshot of at most 4 GiB. `path` is state_dir/<repository id>/meta/
 * NAME: neither <repository id>/ nor meta/ nor NAME is followed if a
 * symlink. */
int prevmap_save(const struct prevmap *m, const char *path, const char *snap_id);
int prevmap_load(struct prevmap *m, const char *path, const char *snap_id);

#endif
