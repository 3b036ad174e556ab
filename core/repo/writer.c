/* writer.c — writing a snapshot: the bounded pipeline
 *
 *   engine thread: item_write -> FastCDC -> job queue (bounded)
 *   N workers:     chunk id -> dedup against the index -> zstd -> AES-GCM
 *                  -> the worker's own pack, uploaded by it when full
 *   engine thread: items whose chunks are all done -> manifest frames
 *
 * Memory is bounded whatever the data size: at most queue_cap + workers
 * chunks (<= 4 MiB each) are in flight, plus one pack per worker. */
#include "repo/internal.h"

#include <string.h>
#include <time.h>
#include <zstd.h>
#include "log.h"
#include "repo/blob.h"
#include "repo/prevmap.h"
#include "repo/snapshot.h"

struct idblock {
	struct idblock *next;
	size_t n, cap;
	unsigned char ids[][ID_LEN];
};

struct witem {
	struct witem *next;
	json_t *json; /* metadata; "chunks" filled when complete */
	uint64_t bytes;
	char *name, *fp; /* for the metadata cache (fp NULL: not cached) */
	int type;
	uint32_t flags; /* as item_begin gave them (item_end_info checks) */
	struct idblock *head, *tail;
	size_t n_chunks;
	size_t pending; /* chunks not yet through a worker (w->mu) */
	int unchanged;
	int dropped; /* skipped by the driver: freed, never recorded */
};

struct job {
	struct job *next;
	unsigned char *data;
	size_t len;
	struct witem *item;
	unsigned char *id_out; /* slot in the item's id list */
};

struct snap_writer {
	struct repo *r;
	char *target, *driver, *recovery_point;
	int64_t time;
	int32_t time_nsec;

	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_space, cv_done;
	struct job *qhead, *qtail;
	size_t qlen, qcap, busy;
	int closing;
	struct worker *workers;
	int nworkers;    /* allocated */
	int nthreads;    /* running */
	int flush_packs; /* workers upload their partial pack on exit */
	int err;         /* first failure of any thread */
	char errmsg[1024];
	uint64_t new_bytes;
	struct pool_buf *pool; /* free chunk buffers (cdc.max bytes each) */

	struct cdc cdc;
	unsigned char *cbuf;
	size_t clen;
	struct witem *cur;
	struct witem *done_head, *done_tail; /* ended, in order */
	struct manifest_writer mw;
	uint64_t items, bytes;

	uint64_t skipped;      /* items the driver left out (host->item_skipped) */
	json_t *skipped_names; /* the first of them; NULL until one */
	size_t skipped_bytes;  /* their length together */
	json_t *notes;         /* host->snapshot_note's; NULL until one */

	struct prevmap prev; /* name -> item of the previous snapshot */
	struct prevmap next; /* the same for this snapshot (saved at commit) */
	int prev_loaded;
};

static void record_error(struct snap_writer *w, int rc)
{
	pthread_mutex_lock(&w->mu);
	if (!w->err) {
		w->err = rc;
		snprintf(w->errmsg, sizeof w->errmsg, "%s", err_msg());
	}
	pthread_cond_broadcast(&w->cv_space);
	pthread_cond_broadcast(&w->cv_done);
	pthread_mutex_unlock(&w->mu);
}

/* The writer's failure as this thread's error. */
static int writer_error(struct snap_writer *w)
{
	pthread_mutex_lock(&w->mu);
	int rc = w->err;
	if (rc)
		err_set(rc, "%s", w->errmsg);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* Each worker fills its own pack, so sealed chunks are written once, into
 * the pack buffer, with no lock around it. */
struct worker {
	struct snap_writer *w;
	pthread_t thread;
	ZSTD_CCtx *cctx;
	struct pack_builder pack;
};

/* Chunk buffers are recycled: a fresh 4 MiB allocation per chunk costs a
 * page fault per page. */
struct pool_buf {
	struct pool_buf *next;
};

static unsigned char *pool_get(struct snap_writer *w)
{
	pthread_mutex_lock(&w->mu);
	struct pool_buf *b = w->pool;
	if (b)
		w->pool = b->next;
	pthread_mutex_unlock(&w->mu);
	return b ? (unsigned char *)b : xmalloc_big(w->cdc.max);
}

/* Caller holds w->mu. */
static void pool_put_locked(struct snap_writer *w, unsigned char *p)
{
	struct pool_buf *b = (struct pool_buf *)(void *)p;
	b->next = w->pool;
	w->pool = b;
}

static int process_chunk(struct snap_writer *w, struct worker *c, struct job *j)
{
	struct repo *r = w->r;
	unsigned char id[ID_LEN];
	if (chunk_id(r->keys, j->data, j->len, id))
		return err_set(ARCA_ERR_INTERNAL, "HMAC-SHA-256 failed in libcrypto");
	memcpy(j->id_out, id, ID_LEN);
	int added;
	pthread_mutex_lock(&r->idx_mu);
	struct idx_slot *slot = idx_insert(&r->idx, id, &added);
	if (!added && slot->pack != PACK_PENDING && r->idx.packs[slot->pack - 1].gone) {
		/* Its only copy was in a pack that is gone: store it again. */
		slot->pack = PACK_PENDING;
		r->chunks_restored++;
		added = 1;
	}
	pthread_mutex_unlock(&r->idx_mu);
	if (!added)
		return ARCA_OK; /* stored before, or claimed by another worker */
	struct pack_builder *pk = &c->pack;
	if (!pk->data.cap)
		buf_reserve(&pk->data, r->pack_size + w->cdc.max + 65536);
	size_t before = pk->data.len;
	struct aad aad;
	repo_aad(r, BK_CHUNK, id, ID_LEN, &aad);
	int rc = blob_seal(r->keys, &aad, c->cctx, r->zstd_level, j->data, j->len, &pk->data);
	if (rc != ARCA_OK)
		return rc;
	pack_builder_record(pk, id, before, pk->data.len - before, (uint32_t)j->len);
	pthread_mutex_lock(&w->mu);
	w->new_bytes += pk->data.len - before;
	pthread_mutex_unlock(&w->mu);
	if (pk->data.len >= r->pack_size || pk->n >= PACK_MAX_ENTRIES) {
		rc = pack_upload(r, pk, NULL);
		pack_builder_reset(pk);
	}
	return rc;
}

static void *worker_main(void *arg)
{
	struct worker *c = arg;
	struct snap_writer *w = c->w;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->qhead && !w->closing)
			pthread_cond_wait(&w->cv_job, &w->mu);
		struct job *j = w->qhead;
		if (!j) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		w->qhead = j->next;
		if (!w->qhead)
			w->qtail = NULL;
		w->qlen--;
		w->busy++;
		int failed = w->err;
		pthread_cond_signal(&w->cv_space);
		pthread_mutex_unlock(&w->mu);

		int rc = failed ? ARCA_OK : process_chunk(w, c, j);
		if (rc != ARCA_OK)
			record_error(w, rc);
		pthread_mutex_lock(&w->mu);
		pool_put_locked(w, j->data);
		j->item->pending--;
		w->busy--;
		pthread_cond_broadcast(&w->cv_done);
		pthread_mutex_unlock(&w->mu);
		free(j);
	}
	/* Commit: the partial pack goes up too. Abort: it is dropped. */
	pthread_mutex_lock(&w->mu);
	int upload = w->flush_packs && !w->err && c->pack.n;
	pthread_mutex_unlock(&w->mu);
	if (upload) {
		int rc = pack_upload(w->r, &c->pack, NULL);
		if (rc != ARCA_OK)
			record_error(w, rc);
	}
	return NULL;
}

static unsigned char *item_slot(struct witem *it)
{
	if (!it->tail || it->tail->n == it->tail->cap) {
		size_t cap = it->tail ? it->tail->cap * 2 : 4;
		if (cap > 4096)
			cap = 4096;
		struct idblock *b = xmalloc(sizeof *b + cap * ID_LEN);
		b->n = 0;
		b->cap = cap;
		LIST_APPEND(it->head, it->tail, b);
	}
	it->n_chunks++;
	return it->tail->ids[it->tail->n++];
}

static void witem_free(struct witem *it)
{
	while (it->head) {
		struct idblock *n = it->head->next;
		free(it->head);
		it->head = n;
	}
	json_decref(it->json);
	free(it->name);
	free(it->fp);
	free(it);
}

/* Hand the current chunk buffer to the workers; blocks while the queue is
 * full (this is what bounds memory). */
static int emit_chunk(struct snap_writer *w)
{
	if (w->cur->n_chunks >= ITEM_MAX_CHUNKS) {
		char *n = name_escape(w->cur->name);
		int rc = err_set(ARCA_ERR_UNSUPPORTED,
		                 "item '%s' has more than %u chunks, the "
		                 "most one item can have (FORMAT.md, \"Bounds\"); split it",
		                 n, (unsigned)ITEM_MAX_CHUNKS);
		free(n);
		return rc;
	}
	struct job *j = xmalloc(sizeof *j);
	j->data = w->cbuf;
	j->len = w->clen;
	j->item = w->cur;
	j->id_out = item_slot(w->cur);
	w->cbuf = pool_get(w);
	w->clen = 0;
	pthread_mutex_lock(&w->mu);
	while (w->qlen >= w->qcap && !w->err)
		pthread_cond_wait(&w->cv_space, &w->mu);
	if (w->err) {
		pool_put_locked(w, j->data);
		pthread_mutex_unlock(&w->mu);
		free(j);
		return writer_error(w);
	}
	w->cur->pending++;
	LIST_APPEND(w->qhead, w->qtail, j);
	w->qlen++;
	pthread_cond_signal(&w->cv_job);
	pthread_mutex_unlock(&w->mu);
	return ARCA_OK;
}

/* Items with a fingerprint go into the next run's metadata cache. */
static void remember_item(struct snap_writer *w, struct witem *it)
{
	if (!w->r->cache_dir || !it->fp)
		return;
	unsigned char *ids = xmalloc(it->n_chunks * ID_LEN + 1), *q = ids;
	for (struct idblock *b = it->head; b; b = b->next)
		for (size_t i = 0; i < b->n; i++, q += ID_LEN)
			memcpy(q, b->ids[i], ID_LEN);
	char *attrs = item_attrs_text(it->json);
	prevmap_add(&w->next, it->name, it->fp, attrs, (uint32_t)it->type, it->bytes, ids,
	            it->n_chunks);
	free(attrs);
	free(ids);
}

static char *meta_cache_path(struct snap_writer *w)
{
	char *t = name_encode(w->target);
	char *p = xasprintf("%s/meta/%s", w->r->cache_dir, t);
	free(t);
	return p;
}

/* Move finished items, in order, into the manifest. With `wait`, wait for
 * all of them. */
static int drain_items(struct snap_writer *w, int wait)
{
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (wait && w->done_head && w->done_head->pending && !w->err)
			pthread_cond_wait(&w->cv_done, &w->mu);
		struct witem *it = w->done_head;
		if (w->err || !it || it->pending) {
			pthread_mutex_unlock(&w->mu);
			return writer_error(w);
		}
		w->done_head = it->next;
		if (!w->done_head)
			w->done_tail = NULL;
		pthread_mutex_unlock(&w->mu);
		if (it->dropped) {
			/* its chunks are packed but referenced by nothing: prune's */
			witem_free(it);
			continue;
		}
		/* The chunk list is one string of hex ids: cheap to parse back. */
		size_t approx = 256 + it->n_chunks * 2 * ID_LEN;
		char *hex = xmalloc(it->n_chunks * 2 * ID_LEN + 1), *q = hex;
		for (struct idblock *b = it->head; b; b = b->next)
			for (size_t i = 0; i < b->n; i++, q += 2 * ID_LEN)
				id_hex(b->ids[i], q);
		*q = 0;
		json_object_set_new(it->json, "chunks", json_stringn(hex, (size_t)(q - hex)));
		free(hex);
		remember_item(w, it);
		int rc = mw_add_item(w->r, &w->mw, json_incref(it->json), approx);
		witem_free(it);
		if (rc != ARCA_OK) {
			record_error(w, rc);
			return rc;
		}
	}
}

int repo_snap_begin(struct repo *r, const char *target, const char *driver,
                    const char *recovery_point, struct snap_writer **out)
{
	*out = NULL;
	if (!target || !*target || strlen(target) > TARGET_NAME_MAX)
		return err_set(ARCA_ERR_CONFIG, "target name '%s' is empty or longer than %d bytes",
		               target ? target : "", TARGET_NAME_MAX);
	int rc = index_load(r);
	if (rc == ARCA_OK)
		rc = index_check_packs(r);
	if (rc != ARCA_OK)
		return err_wrap(rc, "snapshot of %s: loading the index", target);
	struct snap_writer *w = xcalloc(1, sizeof *w);
	w->r = r;
	/* attributes kept compressed: most of a map's bytes (s3 objects) */
	w->next.pack_attrs = w->prev.pack_attrs = 1;
	w->target = xstrdup(target);
	w->mw.target = w->target;
	w->driver = xstrdup(driver ? driver : "");
	w->recovery_point = recovery_point ? xstrdup(recovery_point) : NULL;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	w->time = (int64_t)ts.tv_sec;
	w->time_nsec = (int32_t)ts.tv_nsec;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv_job, NULL);
	pthread_cond_init(&w->cv_space, NULL);
	pthread_cond_init(&w->cv_done, NULL);
	if (cdc_init(&w->cdc, &r->cdc, r->keys->encrypted ? r->keys->chunker : NULL)) {
		free(w);
		return err_set(ARCA_ERR_INTERNAL, "cannot set up the chunker (libcrypto failed)");
	}
	w->cbuf = xmalloc(w->cdc.max);
	w->nthreads = r->workers;
	w->qcap = 2 * (size_t)w->nthreads + 2;
	w->nworkers = w->nthreads;
	w->workers = xcalloc((size_t)w->nthreads, sizeof *w->workers);
	for (int i = 0; i < w->nthreads; i++) {
		w->workers[i].w = w;
		w->workers[i].cctx = ZSTD_createCCtx();
	}
	for (int i = 0; i < w->nthreads; i++)
		if (pthread_create(&w->workers[i].thread, NULL, worker_main, &w->workers[i])) {
			w->nthreads = i;
			repo_snap_abort(w);
			return err_set(ARCA_ERR_INTERNAL, "cannot start worker threads");
		}
	*out = w;
	return ARCA_OK;
}

/* The flags item_begin takes (ABI 1.1); only ARCA_ITEM_KEY_NAME is stored. */
#define ITEM_FLAGS (ARCA_ITEM_KEY_NAME | ARCA_ITEM_KEEP_ATTRS)

/* A key (ARCA_ITEM_KEY_NAME, ABI 1.1) is any bytes but NUL: only its
 * length is bound, and only streams and tombstones have one. */
static int valid_item_name(const struct arca_item_info *info)
{
	const char *name = info->name;
	if (info->flags & ~ITEM_FLAGS)
		return 0;
	if (info->flags & ARCA_ITEM_KEY_NAME)
		return name && *name && strlen(name) <= ARCA_KEY_NAME_MAX &&
		       (info->type == ARCA_ITEM_STREAM || info->type == ARCA_ITEM_TOMBSTONE);
	if (!name || !*name || *name == '/')
		return 0;
	if (!strcmp(name, "."))
		return 1; /* the root of a tree (see plugin.h) */
	for (const char *p = name; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n + (e ? 1 : 0);
		if (e && !*p)
			return 0;
	}
	return 1;
}

/* The previous snapshot of this target, name -> item: the metadata cache.
 * The manifest comes from the local cache when it is there (checked by its
 * hash), else from the destination; deleting state_dir only costs a get.
 * Items are read frame by frame into a compact map (prevmap.h). */
static void load_prev(struct snap_writer *w)
{
	w->prev_loaded = 1;
	struct repo_snapshot *list;
	size_t n;
	if (repo_snapshots(w->r, w->target, &list, &n) != ARCA_OK) {
		log_warn("metadata cache of %s unavailable: %s", w->target, err_msg());
		return;
	}
	char *path = w->r->cache_dir ? meta_cache_path(w) : NULL;
	if (n && path && prevmap_load(&w->prev, path, list[n - 1].id) == 0) {
		free(path);
		repo_snapshots_free(list, n);
		return;
	}
	free(path);
	if (n) {
		struct manifest m;
		struct buf ids = {0};
		int rc = manifest_load(w->r, list[n - 1].id, &m);
		for (uint32_t f = 0; rc == ARCA_OK && f < m.frames; f++) {
			json_t *items;
			rc = manifest_frame(w->r, &m, f, &items);
			if (rc != ARCA_OK)
				break;
			size_t i;
			json_t *it;
			json_array_foreach(items, i, it)
			{
				struct arca_item_info oi;
				if (item_from_json(it, &oi) || !oi.fingerprint)
					continue;
				size_t nc = item_chunk_count(it), c;
				ids.len = 0;
				buf_reserve(&ids, nc * ID_LEN + 1);
				for (c = 0; c < nc; c++)
					if (item_chunk(it, c, ids.data + c * ID_LEN))
						break;
				if (c == nc) {
					char *attrs = item_attrs_text(it);
					prevmap_add(&w->prev, oi.name, oi.fingerprint, attrs,
					            oi.type, oi.size, ids.data, nc);
					free(attrs);
				}
			}
			json_decref(items);
		}
		if (rc != ARCA_OK) {
			log_warn("metadata cache of %s unusable (every item is read again): %s",
			         w->target, err_msg());
			prevmap_free(&w->prev);
			prevmap_free(&w->next);
		}
		buf_free(&ids);
		manifest_free(&m);
	}
	repo_snapshots_free(list, n);
}

/* Reuse the previous snapshot's entry when its fingerprint matches and
 * every chunk it names is still in the index; with ARCA_ITEM_KEEP_ATTRS
 * only when its attributes were kept, which the item then gets. */
static int try_unchanged(struct snap_writer *w, const struct arca_item_info *info, struct witem *it)
{
	if (!w->prev_loaded)
		load_prev(w);
	const struct prev_entry *old = prevmap_get(&w->prev, info->name, info->fingerprint);
	if (!old || old->type != (uint32_t)info->type)
		return 0;
	int keep = (info->flags & ARCA_ITEM_KEEP_ATTRS) != 0;
	char *attrs = NULL;
	int ok = 1;
	/* Driver threads ask this at once (snap_item_would_reuse), and
	 * prevmap_attrs decompresses into the map's one-block cache: under
	 * the lock, and a copy. (Unlocked, a thread read another's block
	 * and an item counted unchanged was refused when it was recorded.) */
	pthread_mutex_lock(&w->r->idx_mu);
	if (keep) {
		const char *a = prevmap_attrs(&w->prev, old);
		attrs = a ? xstrdup(a) : NULL;
		ok = attrs != NULL;
	}
	for (size_t i = 0; i < old->n_chunks && ok; i++)
		ok = idx_slot_usable(&w->r->idx,
		                     idx_find(&w->r->idx, prevmap_chunk(&w->prev, old, i)));
	pthread_mutex_unlock(&w->r->idx_mu);
	if (ok && keep && it->json && item_attrs_apply(it->json, attrs))
		ok = 0;
	free(attrs);
	if (ok) {
		for (size_t i = 0; i < old->n_chunks; i++)
			memcpy(item_slot(it), prevmap_chunk(&w->prev, old, i), ID_LEN);
		it->bytes = old->size;
		it->unchanged = 1;
	}
	return ok;
}

int snap_item_begin(struct snap_writer *w, const struct arca_item_info *info)
{
	int rc = writer_error(w);
	if (rc)
		return rc;
	if (w->cur)
		return err_set(
		    ARCA_ERR_INTERNAL,
		    "item_begin while an item is open (driver bug: call item_end first)");
	if (!valid_item_name(info)) {
		char *n = name_escape(info->name ? info->name : "(null)");
		rc = err_set(ARCA_ERR_INTERNAL,
		             (info->flags & ARCA_ITEM_KEY_NAME)
		                 ? "invalid item '%s' (driver bug: a key name is 1 to 4096 bytes, "
		                   "for a stream or tombstone only)"
		             : (info->flags & ~ARCA_ITEM_KEY_NAME)
		                 ? "invalid item '%s' (driver bug: unknown flags)"
		                 : "invalid item name '%s' (driver bug: names are "
		                   "'/'-separated, relative, without '.' or '..' parts, or "
		                   "'.' alone; ARCA_ITEM_KEY_NAME for any bytes)",
		             n);
		free(n);
		return rc;
	}
	rc = drain_items(w, 0);
	if (rc)
		return rc;
	struct witem *it = xcalloc(1, sizeof *it);
	it->json = item_to_json(info, 0);
	it->name = xstrdup(info->name);
	it->type = info->type;
	it->flags = info->flags;
	if (info->fingerprint && w->r->cache_dir)
		it->fp = xstrdup(info->fingerprint);
	w->cur = it;
	cdc_reset(&w->cdc);
	w->clen = 0;
	if (info->fingerprint && try_unchanged(w, info, it))
		return ARCA_ITEM_UNCHANGED;
	return ARCA_OK;
}

int snap_item_write(struct snap_writer *w, const void *data, size_t len)
{
	int rc = writer_error(w);
	if (rc)
		return rc;
	if (!w->cur)
		return err_set(ARCA_ERR_INTERNAL, "item_write outside an item (driver bug)");
	/* Reused from the previous snapshot, while another destination of the
	 * target wants the content: the bytes are not needed here. (The host
	 * refuses content after it told the driver ARCA_ITEM_UNCHANGED.) */
	if (w->cur->unchanged)
		return ARCA_OK;
	const unsigned char *p = data;
	w->cur->bytes += len;
	while (len) {
		int cut;
		size_t n = cdc_feed(&w->cdc, p, len, &cut);
		memcpy(w->cbuf + w->clen, p, n);
		w->clen += n;
		p += n;
		len -= n;
		if (cut && (rc = emit_chunk(w)))
			return rc;
	}
	return ARCA_OK;
}

int snap_item_end(struct snap_writer *w)
{
	if (!w->cur)
		return err_set(ARCA_ERR_INTERNAL, "item_end without item_begin (driver bug)");
	int rc = ARCA_OK;
	if (w->clen)
		rc = emit_chunk(w);
	cdc_reset(&w->cdc);
	struct witem *it = w->cur;
	w->cur = NULL;
	json_object_set_new(it->json, "size", json_integer((json_int_t)it->bytes));
	w->items++;
	w->bytes += it->bytes;
	pthread_mutex_lock(&w->mu);
	LIST_APPEND(w->done_head, w->done_tail, it);
	pthread_mutex_unlock(&w->mu);
	if (rc)
		return rc;
	return drain_items(w, 0);
}

/* A name as text for people (FORMAT.md, "Names shown to people"); items
 * keep their exact names. */
static json_t *name_text(const char *name)
{
	char *t = name_escape(name);
	json_t *j = json_string(t);
	free(t);
	return j;
}

void snap_item_drop(struct snap_writer *w)
{
	struct witem *it = w->cur;
	if (!it)
		return;
	/* Its queued chunks still point at it: it waits in line with the
	 * others and drain_items frees it. */
	w->cur = NULL;
	it->dropped = 1;
	cdc_reset(&w->cdc);
	w->clen = 0;
	pthread_mutex_lock(&w->mu);
	LIST_APPEND(w->done_head, w->done_tail, it);
	pthread_mutex_unlock(&w->mu);
}

/* ---- item_end_info (ABI 1.1): attributes known only at the end ---------- */

int snap_item_check_final(struct snap_writer *w, const struct arca_item_info *final)
{
	struct witem *it = w->cur;
	if (!it)
		return err_set(ARCA_ERR_INTERNAL, "item_end_info without item_begin (driver bug)");
	const char *name = it->name;
	if ((final->name && strcmp(final->name, name)) || (int) final->type != it->type ||
	    (final->flags & ~ARCA_ITEM_KEEP_ATTRS) != (it->flags & ~ARCA_ITEM_KEEP_ATTRS))
		return err_set(ARCA_ERR_INTERNAL,
		               "item_end_info changes the name, type or flags of the open item "
		               "(driver bug: only its attributes and size may change)");
	if (final->size != UINT64_MAX && final->size != it->bytes) {
		char *n = name_escape(name);
		int rc =
		    err_set(ARCA_ERR_CORRUPT,
		            "item %s: the driver says it has %llu bytes, %llu were written; "
		            "the item is not recorded",
		            n, (unsigned long long) final->size, (unsigned long long)it->bytes);
		free(n);
		return rc;
	}
	if ((final->meta && strlen(final->meta) > 65536) ||
	    (final->checksum && strlen(final->checksum) > 1024))
		return err_set(ARCA_ERR_INTERNAL,
		               "item_end_info: meta over 64 KiB or checksum over 1024 bytes "
		               "(driver bug)");
	return ARCA_OK;
}

int snap_item_end_final(struct snap_writer *w, const struct arca_item_info *final)
{
	struct witem *it = w->cur;
	if (!it)
		return err_set(ARCA_ERR_INTERNAL, "item_end_info without item_begin (driver bug)");
	item_set_attrs(it->json, final, it->bytes);
	/* the metadata cache keys on the final fingerprint */
	free(it->fp);
	it->fp = NULL;
	if (final->fingerprint && w->r->cache_dir)
		it->fp = xstrdup(final->fingerprint);
	return snap_item_end(w);
}

void snap_item_skipped(struct snap_writer *w, const char *name)
{
	snap_item_drop(w);
	w->skipped++;
	if (json_array_size(w->skipped_names) >= REPO_SKIPPED_NAMES_MAX)
		return;
	json_t *j = name_text(name);
	/* its size in the summary: what JSON escapes takes up to 6 bytes */
	size_t cost = 0, len = json_string_length(j);
	for (const char *p = json_string_value(j); p && p < json_string_value(j) + len; p++)
		cost += (unsigned char)*p < 0x20 ? 6 : (*p == '"' || *p == '\\') ? 2 : 1;
	if (!j || w->skipped_bytes + cost > REPO_SKIPPED_BYTES_MAX) {
		json_decref(j);
		return;
	}
	if (!w->skipped_names)
		w->skipped_names = json_array();
	json_array_append_new(w->skipped_names, j);
	w->skipped_bytes += cost;
}

int snap_note(struct snap_writer *w, const char *key, const char *value)
{
	if (!w->notes)
		w->notes = json_object();
	if (!json_object_get(w->notes, key) && json_object_size(w->notes) >= REPO_NOTES_MAX)
		return -1;
	json_object_set_new(w->notes, key, json_string(value));
	return 0;
}

static void stop_workers(struct snap_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->closing = 1;
	pthread_cond_broadcast(&w->cv_job);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->workers[i].thread, NULL);
	w->nthreads = 0;
}

static void writer_free(struct snap_writer *w)
{
	stop_workers(w);
	if (w->cur)
		witem_free(w->cur);
	while (w->done_head) {
		struct witem *n = w->done_head->next;
		witem_free(w->done_head);
		w->done_head = n;
	}
	for (int i = 0; w->workers && i < w->nworkers; i++) {
		ZSTD_freeCCtx(w->workers[i].cctx);
		pack_builder_free(&w->workers[i].pack);
	}
	while (w->pool) {
		struct pool_buf *n = w->pool->next;
		free(w->pool);
		w->pool = n;
	}
	mw_free(&w->mw);
	prevmap_free(&w->prev);
	prevmap_free(&w->next);
	json_decref(w->skipped_names);
	json_decref(w->notes);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv_job);
	pthread_cond_destroy(&w->cv_space);
	pthread_cond_destroy(&w->cv_done);
	free(w->workers);
	free(w->cbuf);
	free(w->target);
	free(w->driver);
	free(w->recovery_point);
	free(w);
}

int repo_snap_commit(struct snap_writer *w, struct repo_snapshot *out)
{
	struct repo *r = w->r;
	int rc = ARCA_OK;
	if (w->cur) {
		char *n = name_escape(w->cur->name);
		rc = err_set(ARCA_ERR_INTERNAL,
		             "snapshot of %s committed with item '%s' still "
		             "open (driver bug)",
		             w->target, n);
		free(n);
	}
	/* Every chunk through the workers, every item into the manifest. */
	if (rc == ARCA_OK)
		rc = drain_items(w, 1);
	if (rc == ARCA_OK) {
		pthread_mutex_lock(&w->mu);
		while ((w->qlen || w->busy) && !w->err)
			pthread_cond_wait(&w->cv_done, &w->mu);
		pthread_mutex_unlock(&w->mu);
		rc = writer_error(w);
	}
	/* Packs (each worker uploads its last one as it exits), then index,
	 * then the manifest: a crash in between leaves unreferenced data that
	 * prune removes, never a dangling reference. */
	if (rc == ARCA_OK) {
		w->flush_packs = 1;
		stop_workers(w);
		rc = writer_error(w);
	}
	stop_workers(w);
	if (rc == ARCA_OK)
		rc = index_flush_unsaved(r);
	unsigned char id[ID_LEN];
	if (rc == ARCA_OK) {
		json_t *sum =
		    json_pack("{s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "version", REPO_FORMAT_VERSION,
		              "target", w->target, "driver", w->driver, "host", r->hostname, "time",
		              (json_int_t)w->time, "items", (json_int_t)w->items, "bytes",
		              (json_int_t)w->bytes, "new_bytes", (json_int_t)w->new_bytes);
		json_object_set_new(sum, "time_nsec", json_integer(w->time_nsec));
		if (w->recovery_point)
			json_object_set_new(sum, "recovery_point", json_string(w->recovery_point));
		if (w->skipped) {
			json_t *part = json_object();
			json_object_set_new(part, "skipped", json_integer((json_int_t)w->skipped));
			if (!w->skipped_names)
				w->skipped_names = json_array();
			json_object_set(part, "items", w->skipped_names);
			json_object_set_new(sum, "partial", part);
		}
		if (w->notes)
			json_object_set(sum, "notes", w->notes);
		rc = mw_finish(r, &w->mw, sum, id);
	}
	if (rc != ARCA_OK) {
		rc = err_wrap(rc, "snapshot of %s into destination %s", w->target, r->dest_name);
		repo_snap_abort(w);
		return rc;
	}
	if (r->cache_dir) {
		char hex[65], *path = meta_cache_path(w), *dir = xasprintf("%s/meta", r->cache_dir);
		id_hex(id, hex);
		if (mkdir_p(dir, 0700) || prevmap_save(&w->next, path, hex))
			log_debug("could not save the metadata cache %s", path);
		free(path);
		free(dir);
	}
	struct repo_snapshot rec = {.target = w->target, .host = r->hostname, .time = w->time};
	id_hex(id, rec.id);
	seen_record(r, &rec, 1);
	if (out) {
		memset(out, 0, sizeof *out);
		id_hex(id, out->id);
		out->target = xstrdup(w->target);
		out->driver = xstrdup(w->driver);
		out->host = xstrdup(r->hostname);
		out->recovery_point = w->recovery_point ? xstrdup(w->recovery_point) : NULL;
		out->time = w->time;
		out->time_nsec = w->time_nsec;
		out->items = w->items;
		out->bytes = w->bytes;
		out->new_bytes = w->new_bytes;
		out->skipped = w->skipped;
		size_t k = json_array_size(w->skipped_names);
		out->skipped_items = k ? xcalloc(k, sizeof *out->skipped_items) : NULL;
		for (size_t i = 0; i < k; i++)
			out->skipped_items[i] =
			    xstrdup(json_string_value(json_array_get(w->skipped_names, i)));
		out->n_skipped_items = k;
		k = json_object_size(w->notes);
		out->note_keys = k ? xcalloc(k, sizeof *out->note_keys) : NULL;
		out->note_values = k ? xcalloc(k, sizeof *out->note_values) : NULL;
		const char *key;
		json_t *val;
		json_object_foreach(w->notes, key, val)
		{
			out->note_keys[out->n_notes] = xstrdup(key);
			out->note_values[out->n_notes++] = xstrdup(json_string_value(val));
		}
	}
	writer_free(w);
	return ARCA_OK;
}

void repo_snap_abort(struct snap_writer *w)
{
	if (!w)
		return;
	struct repo *r = w->r;
	/* Workers skip what is still queued. */
	pthread_mutex_lock(&w->mu);
	if (!w->err) {
		w->err = ARCA_ERR_CANCELLED;
		snprintf(w->errmsg, sizeof w->errmsg, "snapshot of %s aborted", w->target);
	}
	pthread_mutex_unlock(&w->mu);
	stop_workers(w);
	while (w->qhead) {
		struct job *j = w->qhead;
		w->qhead = j->next;
		free(j->data);
		free(j);
	}
	w->qtail = NULL;
	/* Index what was uploaded (it is durable and the next run dedups
	 * against it); chunks claimed but never packed must not stay in memory. */
	char saved[1024];
	snprintf(saved, sizeof saved, "%s", err_msg());
	int st = err_status();
	if (index_flush_unsaved(r) != ARCA_OK)
		log_debug("abort: could not index uploaded packs: %s", err_msg());
	err_set(st, "%s", saved);
	pthread_mutex_lock(&r->idx_mu);
	r->idx_stale = 1;
	pthread_mutex_unlock(&r->idx_mu);
	writer_free(w);
}

int snap_item_would_reuse(struct snap_writer *w, const struct arca_item_info *info)
{
	if (!info->fingerprint || !valid_item_name(info) || writer_error(w))
		return 0;
	struct witem *probe = xcalloc(1, sizeof *probe);
	/* an item to apply kept attributes to, as snap_item_begin will: the
	 * answer must be the one it gets */
	probe->json = json_object();
	int ok = try_unchanged(w, info, probe);
	witem_free(probe);
	return ok;
}
