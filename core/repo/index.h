/* index.h — the in-memory chunk index: chunk id -> (pack, offset, length,
 * raw length), and the index object codec (FORMAT.md, "Index objects").
 *
 * Memory: one open-addressing slot of 48 bytes per chunk (32-byte id +
 * four 32-bit fields) at a load factor kept between 3/8 and 3/4, i.e. 64 to
 * 128 bytes per chunk, plus 48 bytes per pack. At the 1 MiB average chunk
 * size that is at most 128 MiB of RAM per TiB of unique data. */
#ifndef ARCA_REPO_INDEX_H
#define ARCA_REPO_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include "repo/crypto.h"
#include "util.h"

/* The largest pack a writer makes: pack_size (at most 1 GiB) plus the chunk
 * that crossed it (at most 64 MiB) and the header (at most 12 MiB). Packs
 * are read whole (verify --read-data, prune): an index object claiming a
 * larger one is refused (FORMAT.md, "Bounds"). */
#define PACK_OBJECT_MAX ((1ull << 30) + (128ull << 20))

#define PACK_NONE    0u         /* empty slot */
#define PACK_PENDING UINT32_MAX /* claimed by a worker, pack not yet written */

struct idx_slot {
	unsigned char id[ID_LEN];
	uint32_t pack;       /* 1 + index into idx.packs, or PACK_* */
	uint32_t offset;     /* byte offset of the sealed blob in the pack */
	uint32_t length;     /* sealed length */
	uint32_t raw_length; /* plaintext length */
};

struct idx_pack {
	unsigned char id[ID_LEN];
	uint64_t size; /* size of the pack object */
	int gone;      /* not in the destination's listing: store its chunks again */
};

struct idx {
	struct idx_slot *slots;
	size_t cap, n; /* cap is a power of two */
	struct idx_pack *packs;
	size_t npacks, packs_cap;
	uint32_t *pack_slots; /* open addressing over packs (1 + index), 0 = empty */
	size_t pack_slots_cap;
};

void idx_free(struct idx *x);
/* NULL when absent. The pointer is valid until the next insert. */
struct idx_slot *idx_find(const struct idx *x, const unsigned char id[ID_LEN]);
/* Whether a found slot's data can be used: written, and its pack not gone. */
int idx_slot_usable(const struct idx *x, const struct idx_slot *s);
/* Insert unless present; returns the slot (existing or new) and sets *added. */
struct idx_slot *idx_insert(struct idx *x, const unsigned char id[ID_LEN], int *added);
/* Register a pack (or find it); returns 1 + its index. */
uint32_t idx_add_pack(struct idx *x, const unsigned char id[ID_LEN], uint64_t size);
/* 1 + index of a pack, or 0. */
uint32_t idx_find_pack(const struct idx *x, const unsigned char id[ID_LEN]);

/* One pack's entries as written into an index object or a pack header. */
struct pack_entry {
	unsigned char id[ID_LEN];
	uint64_t offset;
	uint32_t length, raw_length;
};

struct pack_info {
	unsigned char id[ID_LEN];
	uint64_t size;
	struct pack_entry *e;
	size_t n;
};
void pack_info_free(struct pack_info *p, size_t n);

/* Encode packs into the plaintext of an index object. */
void idx_encode(const struct pack_info *packs, size_t n, struct buf *out);
/* Decode the plaintext of an index object; `name` for errors. Every entry
 * must have raw_length <= max_raw (the chunker's maximum) and a sealed
 * length of at most raw_length + overhead (FORMAT.md, "Bounds"). The caller
 * frees with pack_info_free. ARCA_OK or ARCA_ERR_CORRUPT. */
int idx_decode(const unsigned char *p, size_t len, const char *name, uint32_t max_raw,
               uint32_t overhead, struct pack_info **packs, size_t *n);
/* Whether one entry respects those bounds. */
int entry_in_bounds(const struct pack_entry *e, uint32_t max_raw, uint32_t overhead);
/* Add decoded packs to the in-memory index (first location of a chunk wins). */
void idx_add_packs(struct idx *x, const struct pack_info *packs, size_t n);

/* Little-endian helpers shared by the binary codecs. */
void put_le32(unsigned char *p, uint32_t v);
void put_le64(unsigned char *p, uint64_t v);
uint32_t get_le32(const unsigned char *p);
uint64_t get_le64(const unsigned char *p);

#endif
