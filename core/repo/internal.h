/* internal.h — struct repo and the helpers the repository's files share.
 * Nothing outside core/repo includes this; the engine uses repo.h. */
#ifndef ARCA_REPO_INTERNAL_H
#define ARCA_REPO_INTERNAL_H

#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include "repo.h"
#include "repo/blob.h"
#include "repo/chunker.h"
#include "repo/crypto.h"
#include "repo/index.h"
#include "repo/retry.h"
#include "util.h"

#define REPO_FORMAT_VERSION 2
#define PACK_SIZE_DEFAULT   (32ull * 1024 * 1024)
#define PACK_SIZE_MAX       (1024ull * 1024 * 1024) /* in-memory offsets are 32-bit */
#define MAX_OBJECT_RAW      (1024ull * 1024 * 1024) /* plaintext limit of any sealed blob */
/* Bounds on what is read from storage (FORMAT.md, "Bounds"): each is checked
 * before anything of that size is allocated. */
#define CONFIG_MAX_BYTES     65536               /* config object */
#define KEY_OBJECT_MAX_BYTES 65536               /* keys/ object */
#define INDEX_OBJECT_MAX_RAW (64u * 1024 * 1024) /* index plaintext */
#define PACK_MAX_ENTRIES     262144              /* chunks per pack (header <= 12 MiB) */
#define TARGET_NAME_MAX      256                 /* bytes of a target name */
#define INDEX_FLUSH_PACKS    64                  /* write an index every N packs */
#define LOCK_REFRESH_SEC     300                 /* a held lock is rewritten this often */
#define LOCK_STALE_SEC       1800                /* an unrefreshed lock is stale after */

struct repo_lock_state;

struct repo {
	struct repo_dest d;
	char *dest_name;
	char *hostname;
	char id[65]; /* repository id, hex */
	unsigned char id_raw[ID_LEN];
	unsigned char config_sha[ID_LEN]; /* SHA-256 of the config object */
	struct repo_keys *keys;           /* secure_alloc'd: locked, not dumped, wiped */
	char key_id[65];                  /* the key the passphrase opened ("" if plain) */
	struct cdc_params cdc;
	int zstd_level;
	uint64_t pack_size;
	int workers;
	char *cache_dir;  /* state_dir/<repo id>, or NULL */
	int cache_bypass; /* verify: read what the destination holds */

	/* The chunk index, shared by the pipeline's workers. */
	pthread_mutex_t idx_mu;
	struct idx idx;
	int idx_loaded;
	int idx_stale;            /* in-memory index may name unsaved packs: reload */
	int packs_checked;        /* index packs compared with the listing (this load) */
	uint64_t chunks_restored; /* chunks stored again because their pack was gone */
	size_t idx_bad;           /* index objects skipped as unreadable */
	/* Packs written but not yet covered by an index object. */
	struct pack_info *unsaved;
	size_t n_unsaved, unsaved_cap;

	struct repo_lock_state *lock;
	int no_lock;          /* --no-lock: reading commands write no lock */
	int64_t lock_wait;    /* seconds repo_lock waits for another's lock */
	int lock_refresh_sec; /* LOCK_REFRESH_SEC; tests shorten it */

	struct retry_policy retry; /* of every destination call (retry.h) */
	unsigned caps;             /* ARCA_CAP_*: the driver's, and what dest_probe found */
};

/* ---- objects in the destination (dest.c) ---- */
int dest_put(struct repo *r, const char *name, const void *data, size_t len, unsigned flags);
/* Whole object (length UINT64_MAX) or a range, appended to out. */
int dest_get(struct repo *r, const char *name, uint64_t off, uint64_t len, struct buf *out);
int dest_list(struct repo *r, const char *prefix,
              int (*cb)(void *arg, const char *name, uint64_t size), void *arg);
int dest_remove(struct repo *r, const char *name);
/* dest_remove for cleanup: tried even after ^C, a few times at most. */
int dest_remove_cleanup(struct repo *r, const char *name);
int dest_stat(struct repo *r, const char *name, uint64_t *size);
/* stat with modification time and version tag (ABI 1.1; zero/"" from a
 * 1.0 driver). */
int dest_stat_full(struct repo *r, const char *name, struct arca_dest_stat *st);
/* A get into any sink; `reset(arg)` drops what a failed try delivered
 * before the retry. No message wrapping. */
int dest_get_sink(struct repo *r, const char *name, uint64_t off, uint64_t len, arca_sink_fn sink,
                  void *arg, void (*reset)(void *arg));
/* A put through the driver's put_stream when it has one (objects of any
 * size: the driver reads the bytes in parts), else dest_put. */
int dest_put_stream(struct repo *r, const char *name, const void *data, size_t len, unsigned flags);
/* Remove many objects, in batches where the driver has them. */
int dest_remove_many(struct repo *r, const char *const *names, size_t n);
/* Ask the driver what this instance honours (r->caps); at open and init. */
int dest_probe(struct repo *r);

/* A list of object names with sizes (dest_list collected). */
struct obj {
	char *name;
	uint64_t size;
};
struct obj_list {
	struct obj *v; /* sorted by name */
	size_t n, cap;
};
int dest_list_all(struct repo *r, const char *prefix, struct obj_list *out);
void obj_list_free(struct obj_list *l);
/* Whether the (sorted) list holds `name`. */
int obj_list_has(const struct obj_list *l, const char *name);

/* The AAD of a blob of this repository (blob.h). */
void repo_aad(const struct repo *r, enum blob_kind kind, const void *ctx, size_t n,
              struct aad *out);

/* Content-addressed objects: name = prefix + hex(SHA-256(bytes)). */
void id_hex(const unsigned char id[ID_LEN], char out[65]);
int id_parse(const char *hex, unsigned char id[ID_LEN]);
void pack_name(const unsigned char id[ID_LEN], char out[96]);
/* 0 when `name` is exactly pack_name(id) (id out), -1 for any other name:
 * nothing arca did not name itself is ever read as, or deleted as, a pack. */
int parse_pack_name(const char *name, unsigned char id[ID_LEN]);
/* 0 when `name` is exactly prefix + 64 lower-case hex digits. */
int parse_object_name(const char *name, const char *prefix);
/* Seal `plain`, store it as prefix + hex(id); id of the stored bytes out. */
int put_sealed_object(struct repo *r, const char *prefix, enum blob_kind kind, const void *plain,
                      size_t len, unsigned char id_out[ID_LEN]);
/* Fetch a content-addressed object of at most max_raw plaintext bytes
 * (through the local cache when it has one), check that its bytes hash to
 * its name, open it as `kind`. */
int get_sealed_object(struct repo *r, const char *name, enum blob_kind kind, size_t max_raw,
                      struct buf *plain);
/* Fetch and check the hash of a content-addressed object of at most
 * max_bytes, no opening. */
int get_checked_object(struct repo *r, const char *name, uint64_t max_bytes, struct buf *raw);
/* Fetch a whole object refusing one over max_bytes without reading it all
 * (ARCA_ERR_CORRUPT naming it). */
int dest_get_bounded(struct repo *r, const char *name, uint64_t max_bytes, struct buf *out);

/* Fetch and open the named blob stored as object `obj` (blobs.c): bound
 * to that name, so a blob copied over another does not open. */
int named_blob_read(struct repo *r, const char *obj, struct buf *raw, struct buf *plain);

/* Encode arbitrary names (targets, blob names) into [a-z0-9._-]. */
char *name_encode(const char *s);
char *name_decode(const char *s);

/* ---- local cache (cache.c) ---- */
int cache_get(struct repo *r, const char *name, struct buf *out); /* 0 hit, -1 miss */
void cache_put(struct repo *r, const char *name, const void *data, size_t len);
void cache_remove(struct repo *r, const char *name);
/* Remove cached objects under prefix that `keep` does not list. */
void cache_sync(struct repo *r, const char *prefix, const struct obj_list *keep);

/* ---- index (repo_index.c) ---- */
int index_load(struct repo *r); /* loads once; reloads when stale */
/* Mark index packs the destination no longer lists as gone (one listing
 * per load), so a snapshot stores their chunks again rather than naming
 * data that no longer exists. */
int index_check_packs(struct repo *r);
/* Write index objects for `packs` (prefix "index/"). With `written`, the
 * names written are added to it (kept sorted; free with obj_list_free). A
 * caller that then deletes the old index objects must spare these: in an
 * unencrypted repository sealing is deterministic, so a new object can
 * have exactly an old one's name (same content). */
int index_write(struct repo *r, const struct pack_info *packs, size_t n, struct obj_list *written);
/* Add the packs of decoded index objects (objs[i] holds n_packs[i] packs)
 * to x: first every pack the destination lists (`packs`), then the others,
 * marked gone, so that a chunk held by several packs is located in one that
 * exists. Returns how many packs are gone. */
size_t idx_add_listed_first(struct idx *x, struct pack_info *const *objs, const size_t *n_packs,
                            size_t n_objs, const struct obj_list *packs);
/* Write index objects for every unsaved pack (takes idx_mu). */
int index_flush_unsaved(struct repo *r);
/* Index objects that failed to load (skipped): prune refuses to run. */

/* ---- packs (pack.c) ---- */
struct pack_builder {
	struct buf data;
	struct pack_entry *e;
	size_t n, cap;
};
void pack_builder_free(struct pack_builder *b);
/* Append a sealed blob already in `sealed` for chunk `id` of raw length. */
void pack_builder_add(struct pack_builder *b, const unsigned char id[ID_LEN], const void *sealed,
                      size_t len, uint32_t raw_len);
/* Record a blob the caller already sealed into b->data at `offset`. */
void pack_builder_record(struct pack_builder *b, const unsigned char id[ID_LEN], size_t offset,
                         size_t len, uint32_t raw_len);
/* Empty the builder for the next pack, keeping its memory. */
void pack_builder_reset(struct pack_builder *b);
/* Append the sealed header + trailer; id = SHA-256 of the whole pack. */
int pack_builder_finish(struct repo *r, struct pack_builder *b, unsigned char id[ID_LEN]);
/* Bytes a pack of n chunks holds besides the sealed chunks: the sealed
 * header and the trailer. */
uint64_t pack_overhead(const struct repo *r, uint64_t n);
/* Parse the header of a pack held in memory. */
int pack_parse(struct repo *r, const unsigned char *p, size_t len, const char *name,
               struct pack_entry **e, size_t *n);
/* Read the header of a pack from the destination (tail range). */
int pack_read_header(struct repo *r, const char *name, uint64_t size, struct pack_entry **e,
                     size_t *n);
/* Finish and upload a pack, register it in the index and the unsaved list.
 * The builder then holds the finished pack: reset or free it. */
int pack_upload(struct repo *r, struct pack_builder *b, uint64_t *stored);
/* Fetch, open and check one chunk (data = raw bytes). */
int chunk_fetch(struct repo *r, const unsigned char id[ID_LEN], struct buf *data);

/* ---- snapshots list (snapshot.c) ---- */
int snapshot_read_summary(struct repo *r, const char *name, uint64_t size, struct repo_snapshot *s);
int snapshot_resolve(struct repo *r, const char *id, char full[65]);

/* ---- locks (lock.c) ---- */
void lock_release(struct repo *r);
int lock_held_exclusive(struct repo *r);
/* Before an operation that needs the exclusive lock: take it unless this repo
 * holds it already (*took = 1: release it with lock_release when done);
 * ARCA_ERR_LOCKED "<what> needs the exclusive lock ..." when a shared one is held. */
int lock_exclusive_for(struct repo *r, const char *what, int *took);

/* ---- local pins (pin.c): what this host knows of each destination ---- */
/* Refuse a repository whose id, encryption or config differs from the one
 * this host pinned for the destination (ARCA_ERR_CORRUPT, naming them). */
int pin_check(struct repo *r, const char *state_dir);
/* Record the repository this host uses for the destination (best effort). */
void pin_write(struct repo *r, const char *state_dir);
/* Snapshots this host has seen: record listed/written ones (only those
 * this host wrote: `host` is ours), drop one that arca forget removed. */
void seen_record(struct repo *r, const struct repo_snapshot *list, size_t n);
void seen_forget(struct repo *r, const char *id);
/* Whether this host recorded snapshot `id` as seen (of any target). */
int seen_contains(struct repo *r, const char *id);
/* The key object this host's secret opened last time (state_dir/<repository
 * id>/key-hint), so that opening the repository reads it at once instead of
 * listing keys/ first: "keys/<64 hex>" (caller frees) or NULL. The hint is a
 * guess only: the object must still open with the secret. */
char *key_hint_load(struct repo *r);
void key_hint_save(struct repo *r, const char *name);
/* A passphrase long enough to be set (init, key add). */
int repo_check_new_passphrase(const char *pass);

/* Number of online CPUs (>= 1). */
int cpu_count(void);

#endif
