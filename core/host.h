/* host.h — the engine side of the driver ABI: the struct arca_host table
 * and the struct arca_ctx every target operation runs in. */
#ifndef ARCA_HOST_H
#define ARCA_HOST_H

#include "arca/plugin.h"
#include "engine.h"
#include "progress.h"
#include "repo.h"

enum ctx_kind { CTX_SNAPSHOT, CTX_RESTORE, CTX_VERIFY, CTX_CHECK, CTX_COMMAND, CTX_HEALTH };

struct ctx_option {
	const char *name;
	const char *value;
};

struct arca_ctx {
	enum ctx_kind kind;
	struct engine *e;
	struct engine_target *t;
	/* snapshot: one writer per destination of the target */
	struct snap_writer **writers;
	size_t n_writers;
	int in_item;
	int item_unchanged; /* item_begin told the driver ARCA_ITEM_UNCHANGED */
	int item_type;      /* of the open item (a tombstone takes no content) */
	/* restore/verify: the snapshot being read */
	struct snap_reader *reader;
	const char *snapshot_id;   /* its full id: host->option "snapshot-id" */
	struct arca_item_info cur; /* last item returned to the driver */
	/* what the bar counts: an item once, however often a driver walks
	 * the snapshot (item_rewind) or reopens an item by name */
	uint64_t walk_pos, walk_max; /* item_next's place in this walk, furthest yet */
	/* repositories for blobs: the target's opened destinations */
	struct repo **repos;
	size_t n_repos;
	const struct ctx_option *options; /* {NULL}-terminated */
	struct progress *progress;
	char *scratch;
	uint64_t items;
	struct items_par *par; /* items by handle (items_parallel.c); NULL: none yet */
};

/* The services table every driver gets: main hands it to the verbs
 * (struct cli), and they to the loader through engine_load. */
const struct arca_host *host_table(void);

/* Set by the SIGINT/SIGTERM handler. */
extern volatile _Atomic int arca_cancel_requested;
void host_install_signal_handlers(void);

/* What a host call leaves in the error state (host.c): the entries of the
 * host table return honest(NAME, err_mark() before, status, 1). */
int honest(const char *call, unsigned mark, int rc, int own_status);

/* A driver's item as this engine's struct, no further than the driver's
 * struct reaches (later members zero), and back (host.c). */
void item_in(const struct arca_ctx *ctx, const struct arca_item_info *in,
             struct arca_item_info *full);
void item_out(const struct arca_ctx *ctx, const struct arca_item_info *full,
              struct arca_item_info *out);

/* Remove the ctx's scratch dir, if any. */
void ctx_cleanup(struct arca_ctx *ctx);

#endif
