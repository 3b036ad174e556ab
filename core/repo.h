/* repo.h — the repository as the engine sees it.
 *
 * A repository lives in one destination (a `struct repo_dest`: the driver's
 * ops and instance) and holds snapshots of any number of targets, plus
 * per-target blobs (e.g. WAL segments). The on-disk format is documented in
 * core/repo/FORMAT.md. Everything below returns an enum arca_status and
 * records a message with err_set() on failure.
 *
 * Threads: one struct repo may be used by one engine thread at a time; the
 * repository runs its own worker threads internally. */
#ifndef ARCA_REPO_H
#define ARCA_REPO_H

#include <stddef.h>
#include <stdint.h>
#include "arca/plugin.h"

struct repo;
struct snap_writer;
struct snap_reader;

struct repo_dest {
	const char *name; /* destination section name */
	const struct arca_dest_ops *ops;
	void *inst;
};

/* Level 2, not zstd's usual 3: level 3 stores barely less for much more CPU,
 * and a snapshot shares the host's cores with pg_dump and the server (the
 * figures are in README.md, "Design notes"; tests/bench/pg_bench.sh measures). */
#define REPO_ZSTD_LEVEL_DEFAULT 2
/* The levels a destination's `compression` may set, and the repository
 * accepts: zstd's 20..22 ("ultra") need far more memory per thread. */
#define REPO_ZSTD_LEVEL_MIN 1
#define REPO_ZSTD_LEVEL_MAX 19

struct repo_params {
	const char *passphrase; /* NULL: none given */
	int encrypt;            /* repo_init only: 1 = AES-256-GCM, 0 = none */
	int zstd_level;         /* repo_init default, and for new data; 0: the repository's
	                         * (repo_open), else REPO_ZSTD_LEVEL_DEFAULT */
	uint64_t pack_size;     /* target pack size; 0 = default */
	const char *state_dir;  /* where the local cache lives (may be NULL: no cache) */
	int workers;            /* hash/compress/encrypt threads; 0 = all cores */
	const char *hostname;   /* for locks and snapshot metadata */
	int no_lock;            /* shared locks are not written (--no-lock) */
	int64_t lock_wait;      /* seconds to wait for a conflicting lock */
};

int repo_init(const struct repo_dest *d, const struct repo_params *p);
int repo_open(const struct repo_dest *d, const struct repo_params *p, struct repo **out);
void repo_close(struct repo *r);

/* Locks: shared for snapshot/restore/verify, exclusive for forget/prune.
 * Held until repo_unlock or repo_close; refreshed in the background. */
int repo_lock(struct repo *r, int exclusive);
/* The shared lock of a command that only reads (restore, verify): with
 * --no-lock, or when the lock cannot be written (read-only or full media),
 * it reads without one, after a warning. */
int repo_lock_reading(struct repo *r);
void repo_unlock(struct repo *r);
/* `arca unlock`: remove stale locks (*stale counts them) and objects in
 * locks/ that are no valid lock (unreadable, oversized, absurd fields;
 * *invalid counts them). Each removal is told to `report` (may be NULL) as
 * "stale lock NAME of HOST pid N (why)" or "NAME, which is not ...". */
typedef void (*repo_unlock_report_fn)(void *arg, const char *what);
int repo_unlock_stale(struct repo *r, repo_unlock_report_fn report, void *arg, int *stale,
                      int *invalid);
/* Remove temporary objects interrupted writers left (this host's dead
 * processes', or older than a day), through the destination's sweep op
 * (ABI 1.1; a no-op for drivers without one). Prune and unlock call it. */
int repo_sweep(struct repo *r, unsigned *removed);

struct repo_snapshot {
	char id[65];  /* hex id */
	char *target; /* target section name */
	char *driver; /* driver name */
	char *host;
	char *recovery_point; /* id shared by snapshots of one `arca snapshot` run */
	int64_t time;         /* epoch seconds, start of the snapshot */
	uint64_t items;
	uint64_t bytes;     /* logical bytes of all items */
	uint64_t new_bytes; /* bytes stored new (after dedup+compression) */
	int32_t time_nsec;  /* sub-second part of time: orders snapshots of one second */
	/* A partial snapshot: items its driver left out (host->item_skipped),
	 * and the names of the first of them (summary "partial"). 0 and
	 * NULL for a complete one. */
	uint64_t skipped;
	char **skipped_items;
	size_t n_skipped_items;
	/* The driver's notes on the snapshot (host->snapshot_note, ABI 1.1;
	 * summary "notes"): key and value of each, in key order. */
	char **note_keys, **note_values;
	size_t n_notes;
};
/* The most notes a snapshot has. */
#define REPO_NOTES_MAX 8
/* The most names a summary keeps of the items a snapshot skipped, and the
 * most bytes they take together (a summary is at most 64 KiB). */
#define REPO_SKIPPED_NAMES_MAX 100
#define REPO_SKIPPED_BYTES_MAX 16384
void repo_snapshot_clear(struct repo_snapshot *s);

/* Writing a snapshot: begin, items (see arca_item_info), commit or abort.
 * Nothing is visible to repo_snapshots() before commit. */
int repo_snap_begin(struct repo *r, const char *target, const char *driver,
                    const char *recovery_point, struct snap_writer **out);
/* ARCA_OK, ARCA_ITEM_UNCHANGED (metadata cache hit: send no content), or error. */
int snap_item_begin(struct snap_writer *w, const struct arca_item_info *info);
int snap_item_write(struct snap_writer *w, const void *data, size_t len);
int snap_item_end(struct snap_writer *w);
/* The driver left item `name` out: the snapshot is recorded partial. An
 * item still open (begun, not ended) is dropped: nothing of it is recorded. */
void snap_item_skipped(struct snap_writer *w, const char *name);
/* host->snapshot_note: set key to value in the summary; -1 past
 * REPO_NOTES_MAX keys. The caller checked both. */
int snap_note(struct snap_writer *w, const char *key, const char *value);
/* ABI 1.1 item_end_info: check `final` against the open item (size counted,
 * name, type, flags), then end the item with its attributes. A failed check
 * leaves the item open: snap_item_drop forgets it (nothing recorded). */
int snap_item_check_final(struct snap_writer *w, const struct arca_item_info *final);
int snap_item_end_final(struct snap_writer *w, const struct arca_item_info *final);
void snap_item_drop(struct snap_writer *w);
int repo_snap_commit(struct snap_writer *w, struct repo_snapshot *out);
void repo_snap_abort(struct snap_writer *w);
/* Would snap_item_begin answer ARCA_ITEM_UNCHANGED for `info`? Asked
 * without opening an item (items by handle, core/items_parallel.c). The
 * first call loads the metadata cache: make it while no item is open. */
int snap_item_would_reuse(struct snap_writer *w, const struct arca_item_info *info);

/* All snapshots (optionally of one target), oldest first. */
int repo_snapshots(struct repo *r, const char *target, struct repo_snapshot **list, size_t *n);
void repo_snapshots_free(struct repo_snapshot *list, size_t n);

/* The full id of the snapshot `id` (a unique prefix) names; ARCA_ERR_NOT_FOUND
 * when none. Works whether or not the snapshot is readable. */
int repo_resolve_snapshot(struct repo *r, const char *id, char full[65]);

/* Reading: id is a full id or a unique prefix. */
int repo_snap_open(struct repo *r, const char *id, struct snap_reader **out);
int snap_next(struct snap_reader *rd, struct arca_item_info *info); /* NOT_FOUND at end */
int snap_open_item(struct snap_reader *rd, const char *name, struct arca_item_info *info);
int snap_read(struct snap_reader *rd, void *buf, size_t cap, size_t *got);
/* Back to before the first item: snap_next returns it next. */
int snap_rewind(struct snap_reader *rd);
void snap_close(struct snap_reader *rd);
/* The content of one item read on its own, from any thread, while the
 * reader goes on (items by handle): opened on the reader's current item
 * (the last snap_next/snap_open_item), it holds its chunk list and at most
 * one chunk. Valid while the repository is open. */
struct snap_item_reader;
int snap_item_reader_open(struct snap_reader *rd, struct snap_item_reader **out);
int snap_item_reader_read(struct snap_item_reader *ir, void *buf, size_t cap, size_t *got);
void snap_item_reader_close(struct snap_item_reader *ir);

/* Blobs: one object per name, compressed+encrypted, not chunked. */
int repo_blob_put(struct repo *r, const char *target, const char *name, const void *data,
                  size_t len, int exclusive);
int repo_blob_get(struct repo *r, const char *target, const char *name, void **data, size_t *len);
int repo_blob_list(struct repo *r, const char *target, const char *prefix,
                   int (*cb)(void *arg, const char *name), void *arg);
int repo_blob_remove(struct repo *r, const char *target, const char *name);

/* Verification. read_data_percent < 0: structure only; 0..100: also
 * download, authenticate, decrypt, decompress and hash that share of packs.
 * Every problem is reported through `report` (naming snapshot, item and
 * object); returns ARCA_OK or ARCA_ERR_CORRUPT. */
typedef void (*repo_report_fn)(void *arg, const char *problem);
int repo_verify(struct repo *r, int read_data_percent, repo_report_fn report, void *arg);

/* Rollback and deletion: report (through `report`) every snapshot this
 * host wrote and has seen of `target` (all targets: NULL) that the
 * destination no longer lists although arca forget did not remove it. */
int repo_missing_snapshots(struct repo *r, const char *target, repo_report_fn report, void *arg,
                           size_t *missing);

/* Retention and space. */
int repo_forget(struct repo *r, const char *const *ids, size_t n);
struct repo_prune_stats {
	uint64_t packs_deleted, packs_repacked, bytes_freed;
};
int repo_prune(struct repo *r, double repack_unused_threshold, int dry_run,
               struct repo_prune_stats *stats);

/* Rebuild index/ from the packs' own headers (after index objects were
 * lost or damaged; prune refuses to run until then). Takes the exclusive
 * lock if none is held. Packs whose header cannot be read are reported
 * through `report` and left out (ARCA_ERR_CORRUPT after the rebuild). */
int repo_rebuild_index(struct repo *r, repo_report_fn report, void *arg, size_t *packs_indexed);

/* Healing (repair.c), under the exclusive lock; every finding goes through
 * `report`. repair packs: read every pack, drop damaged or missing chunks
 * from the index (so the next snapshot stores that data again) and name
 * the snapshots, items and byte ranges that lost data. repair snapshots:
 * put back authentic cached copies of damaged or deleted snapshot objects,
 * then write, for each snapshot naming chunks no index has, a new one
 * without the items that cannot be restored (forget_originals: forget the
 * damaged one). */
struct repo_repair_stats {
	uint64_t packs_read, chunks_dropped, snapshots_damaged;
	uint64_t snapshots_restored, snapshots_repaired, snapshots_unrepairable;
};
int repo_repair_packs(struct repo *r, repo_report_fn report, void *arg,
                      struct repo_repair_stats *st);
int repo_repair_snapshots(struct repo *r, int forget_originals, repo_report_fn report, void *arg,
                          struct repo_repair_stats *st);

/* Keys: list/add/remove/change passphrases wrapping the master key. A
 * secret made by repo_key_generate ("arca-key1-" + 64 hex digits, NUL:
 * outlen >= 75) is wrapped with HKDF instead of scrypt, so it opens the
 * repository in microseconds (FORMAT.md, "Keys"). */
int repo_key_generate(char *out, size_t outlen);
int repo_key_add(struct repo *r, const char *new_passphrase, char *key_id_out /* 65 */);
int repo_key_remove(struct repo *r, const char *key_id);
int repo_key_list(struct repo *r,
                  void (*cb)(void *arg, const char *id, const char *host, int64_t created,
                             int current),
                  void *arg);

/* Retention (core/repo/retention.c): which of n snapshots (of one target)
 * the policy keeps, e.g. "last=7, daily=30, weekly=8, monthly=12,
 * yearly=3, within=14d". keep[i] = 1 to keep; why (optional) gets a malloc'd
 * reason per kept snapshot ("newest, daily") and NULL for the others.
 * Calendar buckets are UTC; the newest snapshot is always kept; an empty or
 * NULL policy keeps all. ARCA_ERR_CONFIG for a malformed policy (err_msg
 * says why, as retention_parse does, after "retention policy 'POLICY': "). */
int retention_select(const char *policy, const struct repo_snapshot *snaps, size_t n, int64_t now,
                     unsigned char *keep, char **why);
/* The one parser of a policy, used by retention_select and by config
 * validation: counts[7] = last, hourly, daily, weekly, monthly, yearly,
 * within seconds; -1 where absent (0 is a rule that keeps none: only the
 * newest snapshot stays). Items are separated by commas and trimmed; a
 * NULL or all-blank policy has no rules, but an empty item ("daily=7,,
 * weekly=4", or a trailing comma) is an error, as are an unknown or
 * repeated rule and a negative or malformed value. ARCA_ERR_CONFIG with a
 * sentence in err_msg, e.g. "unknown rule 'dayly' (did you mean 'daily'?)". */
int retention_parse(const char *policy, int64_t counts[7]);

#endif
