/* snapshot.h — snapshot manifest objects (FORMAT.md, "Snapshots"): item
 * frames of JSON, a summary frame and a trailer, written in one put. */
#ifndef ARCA_REPO_SNAPSHOT_H
#define ARCA_REPO_SNAPSHOT_H

#include <jansson.h>
#include "repo/internal.h"

#define FRAME_MAX_ITEMS 4096
#define FRAME_MAX_BYTES (4u * 1024 * 1024)
/* Bounds on reading (FORMAT.md, "Bounds"). */
#define FRAME_PLAIN_MAX     (256u * 1024 * 1024) /* one frame's JSON */
#define FRAME_MAX_TOKENS    262144               /* JSON values in one frame */
#define SUMMARY_PLAIN_MAX   65536
#define SNAPSHOT_OBJECT_MAX (4ull << 30)
/* An item's chunk list is one hex string inside one frame. */
#define ITEM_MAX_CHUNKS ((FRAME_PLAIN_MAX - (1u << 20)) / (2 * ID_LEN))

struct manifest_writer {
	const char *target; /* bound into every frame (borrowed) */
	struct buf obj;     /* frames written so far (sealed) */
	json_t *items;      /* the frame being filled */
	size_t frame_bytes; /* its approximate JSON size */
	uint32_t frames;
};
void mw_free(struct manifest_writer *m);
/* Add one item (reference stolen); seals a frame when it is full. */
int mw_add_item(struct repo *r, struct manifest_writer *m, json_t *item, size_t approx);
/* Seal the last frame and the summary (stolen), add the trailer, put the
 * object as snapshots/<id>. */
int mw_finish(struct repo *r, struct manifest_writer *m, json_t *summary, unsigned char id[ID_LEN]);

struct manifest {
	char id[65];
	char *target;      /* from the authenticated summary */
	struct buf obj;    /* the whole object as stored */
	size_t *frame_off; /* offset of each item frame's sealed bytes */
	size_t *frame_len;
	uint32_t frames;
	json_t *summary;
};
/* Fetch (through the cache), check the hash, parse frames and summary. */
int manifest_load(struct repo *r, const char *id, struct manifest *m);
/* Open item frame i: a JSON array of items (new reference). */
int manifest_frame(struct repo *r, struct manifest *m, uint32_t i, json_t **items);
void manifest_free(struct manifest *m);
/* Load snapshot `id` and call fn with each item of each frame in order;
 * the first non-OK return (of loading or of fn) stops it and is returned. */
typedef int (*manifest_item_fn)(void *arg, const struct manifest *m, json_t *item);
int manifest_each_item(struct repo *r, const char *id, manifest_item_fn fn, void *arg);

/* Summary JSON -> struct repo_snapshot (strings copied). */
int summary_to_snapshot(json_t *s, const char *id, struct repo_snapshot *out);

/* Item JSON <-> arca_item_info. The info's strings point into `item`. */
json_t *item_to_json(const struct arca_item_info *info, uint64_t bytes);
int item_from_json(json_t *item, struct arca_item_info *info);
/* Replace the attributes of an item (all but name, key, type, chunks) and
 * its size: item_end_info's final values. */
void item_set_attrs(json_t *item, const struct arca_item_info *info, uint64_t bytes);
/* The stored attributes of an item that has meta (mode, uid, gid, mtime,
 * mtime_nsec, link, meta, checksum: not the fingerprint) as compact JSON
 * (malloc'd), NULL for an item without meta; and that text put back into
 * an item in place of its own (-1: not such a text). ABI 1.1
 * ARCA_ITEM_KEEP_ATTRS. */
char *item_attrs_text(json_t *item);
int item_attrs_apply(json_t *item, const char *text);
/* A byte-string field of an item ("name", "link", "meta", "fp"), decoding
 * the "<key>_hex" form of non-UTF-8 values; NULL when absent. */
const char *item_string(json_t *item, const char *key);
/* Chunk ids of an item (one string of hex ids): count and the i-th id. */
size_t item_chunk_count(json_t *item);
int item_chunk(json_t *item, size_t i, unsigned char id[ID_LEN]);

#endif
