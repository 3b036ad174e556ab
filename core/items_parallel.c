/* items_parallel.c — items by handle (ABI 1.1: item_begin_h and the rest),
 * written or read from the driver's own threads.
 *
 * A snapshot writer (core/repo/writer.c) takes one item at a time; it
 * already hashes, compresses and encrypts on its own workers. What a driver
 * gains from threads is the work before that: reading files, fetching
 * objects. So a handle buffers its item's content, and item_end_h records
 * the whole item at once while it holds the writers ("the writer": one
 * mutex-guarded token for all the target's writers). When another thread
 * holds the writer, item_end_h does not wait: it queues the item, and the
 * holder records what was queued before it lets go (no convoy of workers
 * behind one that the scheduler paused). A handle whose content outgrows
 * its share of the buffer takes the writer early, writes what it buffered
 * and streams the rest, holding the writer until its item_end_h: memory
 * stays bounded whatever the sizes. Items are recorded in the order their
 * item_end_h calls were made (queued items in queue order).
 *
 * Reading: a handle holds a copy of one item's chunk list and fetches its
 * chunks itself (snap_item_reader), so handles read in parallel while the
 * driver's thread goes on with item_next. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "items_parallel.h"
#include "log.h"
#include "util.h"

/* The bounds plugin.h documents. */
#define PAR_OPEN_MAX    256                 /* write handles open at once */
#define PAR_ITEM_BUF    (8u * 1024 * 1024)  /* content one handle buffers */
#define PAR_BUF_TOTAL   (64u * 1024 * 1024) /* content all handles buffer */
#define PAR_READERS_MAX 64                  /* read handles open at once */
#define PAR_HANDLE_COST 512                 /* what a handle costs besides its buffer */
/* Buffers of ended items are kept for the next ones, up to PAR_SPARE_MAX of
 * them and PAR_SPARE_BYTES in all, within PAR_BUF_TOTAL: a fresh buffer per
 * object costs a page fault per page, and on a virtual machine a page the
 * host has not backed yet costs far more. Smaller ones are malloc's. */
#define PAR_SPARE_MIN   (64u * 1024)
#define PAR_SPARE_MAX   32
#define PAR_SPARE_BYTES (PAR_BUF_TOTAL / 2)

struct spare {
	unsigned char *buf;
	size_t cap;
};

struct items_par {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t open_w, open_r; /* handles open */
	size_t buffered;       /* bytes write handles hold, open or queued, and spares */
	struct spare spare[PAR_SPARE_MAX];
	size_t n_spare, spare_bytes;
	int held; /* a thread holds the writer */
	pthread_t holder;
	struct arca_item *ready, *ready_tail; /* ended, for the holder to record */
	int prev_ready;                       /* every writer's metadata cache is loaded */
	int failed;                           /* a failure left the writers unusable: all fail */
	char errmsg[1024];
};

struct arca_item {
	struct arca_ctx *ctx;
	int reading;
	struct arca_item_info info; /* strings below, owned */
	char *name, *link, *meta, *fp, *cks;
	/* writing */
	unsigned char *buf;
	size_t len, cap;
	size_t charged; /* its part of p->buffered: cap + PAR_HANDLE_COST */
	int unchanged;  /* the driver was told ARCA_ITEM_UNCHANGED */
	int streaming;  /* holds the writer until item_end_h */
	int failed;     /* item_write_h failed: item_end_h records nothing */
	char *errmsg;   /* and its message, which item_end_h returns again */
	char *skip;     /* queued as skipped, with this reason */
	/* item_end_info_h: the final attributes (strings below, owned) */
	int has_final;
	struct arca_item_info final;
	char *f_link, *f_meta, *f_fp, *f_cks;
	struct arca_item *next_ready;
	/* reading */
	struct snap_item_reader *ir;
};

static pthread_mutex_t create_mu = PTHREAD_MUTEX_INITIALIZER;

/* The ctx's state, made on first use (from whichever thread comes first).
 * A driver thread's log lines get the target's prefix, as the op's have. */
static struct items_par *par_get(struct arca_ctx *ctx)
{
	if (!log_scope()[0] && ctx->t) {
		char scope[128];
		snprintf(scope, sizeof scope, "target %s", ctx->t->cfg->name);
		log_set_scope(scope);
	}
	pthread_mutex_lock(&create_mu);
	if (!ctx->par) {
		struct items_par *p = xcalloc(1, sizeof *p);
		pthread_mutex_init(&p->mu, NULL);
		pthread_cond_init(&p->cv, NULL);
		ctx->par = p;
	}
	struct items_par *p = ctx->par;
	pthread_mutex_unlock(&create_mu);
	return p;
}

int items_par_open(struct arca_ctx *ctx)
{
	pthread_mutex_lock(&create_mu);
	struct items_par *p = ctx->par;
	pthread_mutex_unlock(&create_mu);
	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	int n = (int)(p->open_w + p->open_r);
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* The writers cannot take more: every later call fails with this. */
static int par_fail(struct items_par *p, int rc)
{
	pthread_mutex_lock(&p->mu);
	if (!p->failed) {
		p->failed = rc;
		snprintf(p->errmsg, sizeof p->errmsg, "%s", err_msg());
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Caller holds p->mu. */
static int failed_locked(struct items_par *p)
{
	if (p->failed)
		err_set(p->failed, "%s", p->errmsg);
	return p->failed;
}

static int take_writer(struct items_par *p, const char *name)
{
	int rc;
	pthread_mutex_lock(&p->mu);
	if (p->held && pthread_equal(p->holder, pthread_self())) {
		pthread_mutex_unlock(&p->mu);
		return err_set(ARCA_ERR_INTERNAL,
		               "driver bug: item %s waits for the snapshot while this thread "
		               "writes a large item by handle; end that one first",
		               name);
	}
	while (p->held && !p->failed)
		pthread_cond_wait(&p->cv, &p->mu);
	rc = failed_locked(p);
	if (!rc) {
		p->held = 1;
		p->holder = pthread_self();
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static int record(struct items_par *p, struct arca_item *h);
static void handle_free(struct arca_item *h);

/* Let go of the writer, after recording what others queued meanwhile (or
 * dropping it, after a failure). */
static void give_writer(struct items_par *p)
{
	for (;;) {
		pthread_mutex_lock(&p->mu);
		struct arca_item *h = p->ready;
		if (!h) {
			p->held = 0;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
			return;
		}
		p->ready = h->next_ready;
		if (!p->ready)
			p->ready_tail = NULL;
		int failed = p->failed;
		pthread_mutex_unlock(&p->mu);
		if (failed)
			handle_free(h);
		else
			record(p, h);
	}
}

/* A handle closed: room for the next one. */
static void release_slot(struct items_par *p, size_t *open)
{
	pthread_mutex_lock(&p->mu);
	(*open)--;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static struct arca_item *handle_new(struct arca_ctx *ctx, const struct arca_item_info *info,
                                    int reading)
{
	struct arca_item *h = xcalloc(1, sizeof *h);
	h->ctx = ctx;
	h->reading = reading;
	item_in(ctx, info, &h->info);
	h->info.name = h->name = xstrdup(info->name);
	h->info.link_target = h->link = dup_or_null(h->info.link_target);
	h->info.meta = h->meta = dup_or_null(h->info.meta);
	h->info.fingerprint = h->fp = dup_or_null(h->info.fingerprint);
	h->info.checksum = h->cks = dup_or_null(h->info.checksum);
	if (!reading) {
		/* queued ended items count too: the budget bounds their number */
		struct items_par *p = ctx->par;
		h->charged = PAR_HANDLE_COST + strlen(h->name);
		pthread_mutex_lock(&p->mu);
		p->buffered += h->charged;
		pthread_mutex_unlock(&p->mu);
	}
	return h;
}

static void buf_release(struct arca_item *h);

static void handle_free(struct arca_item *h)
{
	buf_release(h);
	if (h->charged) {
		struct items_par *p = h->ctx->par;
		pthread_mutex_lock(&p->mu);
		p->buffered -= h->charged;
		pthread_mutex_unlock(&p->mu);
	}
	free(h->skip);
	free(h->errmsg);
	free(h->name);
	free(h->link);
	free(h->meta);
	free(h->fp);
	free(h->cks);
	free(h->f_link);
	free(h->f_meta);
	free(h->f_fp);
	free(h->f_cks);
	snap_item_reader_close(h->ir);
	free(h);
}

/* ---- snapshot ------------------------------------------------------------ */

/* Does every writer hold this item already? The first question loads the
 * metadata caches, under the writer; afterwards they are only read. */
static int all_unchanged(struct items_par *p, struct arca_ctx *ctx,
                         const struct arca_item_info *info, int *unchanged)
{
	int rc = ARCA_OK, n = 0, load;
	*unchanged = 0;
	if (!info->fingerprint)
		return ARCA_OK;
	pthread_mutex_lock(&p->mu);
	load = !p->prev_ready;
	pthread_mutex_unlock(&p->mu);
	if (load && (rc = take_writer(p, info->name)) != ARCA_OK)
		return rc;
	for (size_t i = 0; i < ctx->n_writers; i++)
		n += snap_item_would_reuse(ctx->writers[i], info);
	if (load) {
		pthread_mutex_lock(&p->mu);
		p->prev_ready = 1;
		pthread_mutex_unlock(&p->mu);
		give_writer(p);
	}
	*unchanged = n && n == (int)ctx->n_writers;
	return ARCA_OK;
}

static int do_item_begin_h(struct arca_ctx *ctx, const struct arca_item_info *info,
                           struct arca_item **out)
{
	int rc, unchanged;
	if (!out)
		return err_set(ARCA_ERR_INTERNAL, "driver bug: item_begin_h without a handle");
	*out = NULL;
	if (ctx->kind != CTX_SNAPSHOT)
		return err_set(ARCA_ERR_INTERNAL, "driver bug: host->item_begin_h called outside "
		                                  "a snapshot");
	if (!info || !info->name || !info->name[0])
		return err_set(ARCA_ERR_INTERNAL, "driver bug: item without a name");
	if ((unsigned)info->type > ARCA_ITEM_TOMBSTONE)
		return err_set(ARCA_ERR_INTERNAL,
		               "driver bug: item %s has type %d, which this engine does not know",
		               info->name, (int)info->type);
	if (ctx->in_item)
		return err_set(ARCA_ERR_INTERNAL,
		               "driver bug: item_begin_h(%s) while an item "
		               "begun with item_begin is open",
		               info->name);
	if (arca_cancel_requested)
		return err_set(ARCA_ERR_CANCELLED, "interrupted");
	struct items_par *p = par_get(ctx);
	pthread_mutex_lock(&p->mu);
	while (p->open_w >= PAR_OPEN_MAX && !p->failed)
		pthread_cond_wait(&p->cv, &p->mu);
	rc = failed_locked(p);
	if (!rc)
		p->open_w++;
	pthread_mutex_unlock(&p->mu);
	if (rc)
		return rc;
	rc = all_unchanged(p, ctx, info, &unchanged);
	if (rc != ARCA_OK) {
		release_slot(p, &p->open_w);
		return rc;
	}
	struct arca_item *h = handle_new(ctx, info, 0);
	h->unchanged = unchanged;
	progress_item(ctx->progress, info->name);
	if (log_verbose)
		log_info("%s%s", info->name, unchanged ? " (unchanged)" : "");
	progress_add(ctx->progress, unchanged && info->size != UINT64_MAX ? info->size : 0, 1);
	*out = h;
	return unchanged ? ARCA_ITEM_UNCHANGED : ARCA_OK;
}

/* Open the item in every writer and send what the handle buffered; the
 * caller holds the writer. A writer may reuse the item while another wants
 * the content (its snap_item_write is then a no-op), as in host.c. */
static int send_begin(struct arca_item *h)
{
	struct arca_ctx *ctx = h->ctx;
	int reused = 0;
	for (size_t i = 0; i < ctx->n_writers; i++) {
		int rc = snap_item_begin(ctx->writers[i], &h->info);
		if (rc == ARCA_ITEM_UNCHANGED)
			reused++;
		else if (rc != ARCA_OK)
			return rc;
	}
	if (h->unchanged && reused != (int)ctx->n_writers)
		return err_set(ARCA_ERR_INTERNAL,
		               "item %s: the stored copy it reuses went away during the "
		               "snapshot",
		               h->name);
	for (size_t i = 0; h->len && i < ctx->n_writers; i++) {
		int rc = snap_item_write(ctx->writers[i], h->buf, h->len);
		if (rc != ARCA_OK)
			return rc;
	}
	return ARCA_OK;
}

/* Record an ended (or skipped) item that did not stream, holding the
 * writer; frees it. A failure fails the snapshot. */
static int record(struct items_par *p, struct arca_item *h)
{
	struct arca_ctx *ctx = h->ctx;
	int rc = ARCA_OK;
	if (h->skip) {
		/* no item is open in the writers: this only counts it */
		for (size_t i = 0; i < ctx->n_writers; i++)
			snap_item_skipped(ctx->writers[i], h->name);
	} else {
		rc = send_begin(h);
		for (size_t i = 0; rc == ARCA_OK && h->has_final && i < ctx->n_writers; i++)
			rc = snap_item_check_final(ctx->writers[i], &h->final);
		for (size_t i = 0; rc == ARCA_OK && i < ctx->n_writers; i++)
			rc = h->has_final ? snap_item_end_final(ctx->writers[i], &h->final)
			                  : snap_item_end(ctx->writers[i]);
	}
	if (rc != ARCA_OK)
		par_fail(p, rc);
	handle_free(h);
	return rc;
}

/* h ended: record it now if the writer is free, else queue it for the
 * thread that holds it. The handle is no longer the driver's. */
static int record_or_queue(struct items_par *p, struct arca_item *h)
{
	pthread_mutex_lock(&p->mu);
	p->open_w--;
	pthread_cond_broadcast(&p->cv);
	int rc = failed_locked(p);
	/* over the budget, wait for the writer rather than queue (unless this
	 * thread holds it, streaming another item) */
	while (!rc && p->held && p->buffered > PAR_BUF_TOTAL &&
	       !pthread_equal(p->holder, pthread_self())) {
		pthread_cond_wait(&p->cv, &p->mu);
		rc = failed_locked(p);
	}
	if (!rc && p->held) {
		h->next_ready = NULL;
		if (p->ready_tail)
			p->ready_tail->next_ready = h;
		else
			p->ready = h;
		p->ready_tail = h;
		pthread_mutex_unlock(&p->mu);
		return ARCA_OK;
	}
	if (!rc) {
		p->held = 1;
		p->holder = pthread_self();
	}
	pthread_mutex_unlock(&p->mu);
	if (rc) {
		handle_free(h);
		return rc;
	}
	rc = record(p, h);
	give_writer(p);
	return rc;
}

/* h's buffer goes back to the spares, or to malloc; its charge with it.
 * The handle keeps its content length 0 and no buffer. */
static void buf_release(struct arca_item *h)
{
	struct items_par *p = h->ctx->par;
	unsigned char *drop = h->buf;
	if (!drop)
		return;
	pthread_mutex_lock(&p->mu);
	if (h->cap >= PAR_SPARE_MIN && p->n_spare < PAR_SPARE_MAX &&
	    p->spare_bytes + h->cap <= PAR_SPARE_BYTES) {
		/* its charge moves from the handle to the spares */
		p->spare[p->n_spare++] = (struct spare){h->buf, h->cap};
		p->spare_bytes += h->cap;
		drop = NULL;
	} else {
		p->buffered -= h->cap;
	}
	pthread_mutex_unlock(&p->mu);
	free(drop);
	h->charged -= h->cap;
	h->buf = NULL;
	h->len = h->cap = 0;
}

/* Caller holds p->mu. The smallest spare of at least cap bytes, taken
 * out of the spares (still counted in p->buffered), or {NULL, 0}. */
static struct spare spare_take_locked(struct items_par *p, size_t cap)
{
	size_t best = p->n_spare;
	for (size_t i = 0; i < p->n_spare; i++)
		if (p->spare[i].cap >= cap &&
		    (best == p->n_spare || p->spare[i].cap < p->spare[best].cap))
			best = i;
	if (best == p->n_spare)
		return (struct spare){NULL, 0};
	struct spare s = p->spare[best];
	p->spare[best] = p->spare[--p->n_spare];
	p->spare_bytes -= s.cap;
	return s;
}

/* Room in the buffers for len more bytes of h (reserved), or 0. */
static int reserve(struct arca_item *h, struct items_par *p, size_t len)
{
	size_t need = h->len + len, cap = h->cap;
	struct spare got = {NULL, 0}, drop[PAR_SPARE_MAX];
	size_t n_drop = 0;
	int ok;
	if (need <= cap)
		return 1;
	if (need > PAR_ITEM_BUF)
		return 0;
	/* the announced size at once, else doubling */
	if (!cap && h->info.size != UINT64_MAX && h->info.size >= need)
		cap = h->info.size;
	if (cap < 4096)
		cap = 4096;
	while (cap < need)
		cap *= 2;
	if (cap > PAR_ITEM_BUF)
		cap = PAR_ITEM_BUF;
	pthread_mutex_lock(&p->mu);
	if (cap >= PAR_SPARE_MIN)
		got = spare_take_locked(p, cap);
	if (got.buf) {
		/* a spare, already counted, replaces the buffer (its content
		 * is copied over below, the old one freed) */
		cap = got.cap;
		p->buffered -= h->cap;
		ok = 1;
	} else {
		/* spares give way to content */
		while (p->buffered + (cap - h->cap) > PAR_BUF_TOTAL && p->n_spare) {
			drop[n_drop] = p->spare[--p->n_spare];
			p->spare_bytes -= drop[n_drop].cap;
			p->buffered -= drop[n_drop++].cap;
		}
		ok = p->buffered + (cap - h->cap) <= PAR_BUF_TOTAL;
		if (ok)
			p->buffered += cap - h->cap;
	}
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < n_drop; i++)
		free(drop[i].buf);
	if (got.buf) {
		if (h->len)
			memcpy(got.buf, h->buf, h->len);
		free(h->buf);
		h->buf = got.buf;
	} else if (ok) {
		h->buf = xrealloc(h->buf, cap);
	}
	if (ok) {
		h->charged += cap - h->cap;
		h->cap = cap;
	}
	return ok;
}

static int write_through(struct arca_item *h, const void *data, size_t len)
{
	for (size_t i = 0; i < h->ctx->n_writers; i++) {
		int rc = snap_item_write(h->ctx->writers[i], data, len);
		if (rc != ARCA_OK)
			return rc;
	}
	return ARCA_OK;
}

static int do_item_write_h(struct arca_item *h, const void *data, size_t len)
{
	if (!h || h->reading)
		return err_set(ARCA_ERR_INTERNAL, "driver bug: item_write_h without a handle "
		                                  "from item_begin_h");
	struct items_par *p = h->ctx->par;
	int rc = h->failed;
	if (rc)
		return err_set(rc, "item %s: item_write_h after a failure of it (driver bug)",
		               h->name);
	if (h->unchanged)
		return err_set(ARCA_ERR_INTERNAL,
		               "item_write_h to item %s reported unchanged (driver bug: after "
		               "ARCA_ITEM_UNCHANGED send no content)",
		               h->name);
	if (arca_cancel_requested)
		rc = err_set(ARCA_ERR_CANCELLED, "interrupted");
	else if (h->streaming)
		rc = write_through(h, data, len);
	else if (reserve(h, p, len)) {
		memcpy(h->buf + h->len, data, len);
		h->len += len;
	} else {
		/* too large to buffer: into the snapshot now, the rest after it */
		rc = take_writer(p, h->name);
		if (rc == ARCA_OK) {
			h->streaming = 1;
			rc = send_begin(h);
			buf_release(h);
			if (rc == ARCA_OK)
				rc = write_through(h, data, len);
		}
	}
	if (rc != ARCA_OK) {
		h->failed = rc;
		free(h->errmsg);
		h->errmsg = xstrdup(err_msg());
		/* an item left open in the writers: nothing more can be recorded */
		if (h->streaming)
			par_fail(p, rc);
		return rc;
	}
	progress_add(h->ctx->progress, len, 0);
	return ARCA_OK;
}

/* A streaming handle is done: free it, let go of the writer. */
static void close_streaming(struct arca_item *h, struct items_par *p)
{
	handle_free(h);
	release_slot(p, &p->open_w);
	give_writer(p);
}

static int do_item_end_h(struct arca_item *h)
{
	if (!h || h->reading || h->skip)
		return err_set(ARCA_ERR_INTERNAL, "driver bug: item_end_h without a handle "
		                                  "from item_begin_h");
	struct arca_ctx *ctx = h->ctx;
	struct items_par *p = ctx->par;
	int rc = h->failed;
	if (rc) {
		err_set(rc, "%s", h->errmsg && h->errmsg[0] ? h->errmsg : "item not recorded");
		if (h->streaming) {
			close_streaming(h, p);
		} else {
			handle_free(h);
			release_slot(p, &p->open_w);
		}
		return rc;
	}
	if (!h->streaming)
		return record_or_queue(p, h);
	for (size_t i = 0; rc == ARCA_OK && i < ctx->n_writers; i++)
		rc = snap_item_end(ctx->writers[i]);
	if (rc != ARCA_OK)
		par_fail(p, rc);
	close_streaming(h, p);
	return rc;
}

/* item_end_h with the final attributes (added in ABI 1.1). A buffered item
 * keeps them for record(); a streaming one ends in the writers now. */
static int do_item_end_info_h(struct arca_item *h, const struct arca_item_info *drv_final)
{
	if (!h || h->reading || h->skip || !drv_final)
		return err_set(ARCA_ERR_INTERNAL, "driver bug: item_end_info_h without a handle "
		                                  "from item_begin_h");
	if (h->failed)
		return do_item_end_h(h);
	struct arca_ctx *ctx = h->ctx;
	struct items_par *p = ctx->par;
	struct arca_item_info f;
	item_in(ctx, drv_final, &f);
	int rc = ARCA_OK;
	if ((f.name && strcmp(f.name, h->name)) || f.type != h->info.type ||
	    (f.flags & ~ARCA_ITEM_KEEP_ATTRS) != (h->info.flags & ~ARCA_ITEM_KEEP_ATTRS))
		rc = err_set(ARCA_ERR_INTERNAL,
		             "item_end_info_h changes the name, type or flags of item %s (driver "
		             "bug: only its attributes and size may change)",
		             h->name);
	else if ((f.meta && strlen(f.meta) > 65536) || (f.checksum && strlen(f.checksum) > 1024))
		rc = err_set(ARCA_ERR_INTERNAL,
		             "item_end_info_h: meta over 64 KiB or checksum over 1024 bytes "
		             "(driver bug)");
	else if (!h->streaming && !h->unchanged && f.size != UINT64_MAX && f.size != h->len) {
		char *n = name_escape(h->name);
		rc = err_set(ARCA_ERR_CORRUPT,
		             "item %s: the driver says it has %llu bytes, %zu were written; the "
		             "item is not recorded",
		             n, (unsigned long long)f.size, h->len);
		free(n);
	}
	if (h->streaming) {
		for (size_t i = 0; rc == ARCA_OK && i < ctx->n_writers; i++)
			rc = snap_item_check_final(ctx->writers[i], &f);
		if (rc != ARCA_OK) {
			/* nothing of it recorded; the others go on */
			for (size_t i = 0; i < ctx->n_writers; i++)
				snap_item_drop(ctx->writers[i]);
		}
		for (size_t i = 0; rc == ARCA_OK && i < ctx->n_writers; i++)
			rc = snap_item_end_final(ctx->writers[i], &f);
		if (rc != ARCA_OK && rc != ARCA_ERR_CORRUPT && rc != ARCA_ERR_INTERNAL)
			par_fail(p, rc);
		close_streaming(h, p);
		return rc;
	}
	if (rc != ARCA_OK) {
		handle_free(h);
		release_slot(p, &p->open_w);
		return rc;
	}
	h->final = f;
	h->final.name = h->name;
	h->final.link_target = h->f_link = dup_or_null(f.link_target);
	h->final.meta = h->f_meta = dup_or_null(f.meta);
	h->final.fingerprint = h->f_fp = dup_or_null(f.fingerprint);
	h->final.checksum = h->f_cks = dup_or_null(f.checksum);
	h->has_final = 1;
	return record_or_queue(p, h);
}

static int do_item_skipped_h(struct arca_ctx *ctx, struct arca_item *h, const char *name,
                             const char *reason)
{
	if (ctx->kind != CTX_SNAPSHOT || (h && (h->reading || h->skip || h->ctx != ctx)))
		return err_set(ARCA_ERR_INTERNAL, "driver bug: host->item_skipped_h called outside "
		                                  "a snapshot or with another's handle");
	if (!h && (!name || !name[0]))
		return err_set(ARCA_ERR_INTERNAL, "driver bug: item_skipped_h without a name");
	struct items_par *p = par_get(ctx);
	const char *what = name && name[0] ? name : h->name;
	log_warn("%s not stored: %s", what, reason && reason[0] ? reason : "skipped by the driver");
	if (h && h->streaming) {
		/* drops the item it left open in the writers */
		for (size_t i = 0; i < ctx->n_writers; i++)
			snap_item_skipped(ctx->writers[i], what);
		close_streaming(h, p);
		return ARCA_OK;
	}
	if (!h) {
		struct arca_item_info info = {.struct_size = sizeof info, .name = what};
		h = handle_new(ctx, &info, 0);
		pthread_mutex_lock(&p->mu);
		p->open_w++; /* as if begun: record_or_queue counts it out */
		pthread_mutex_unlock(&p->mu);
	} else if (name && name[0] && strcmp(name, h->name)) {
		free(h->name);
		h->info.name = h->name = xstrdup(name);
	}
	buf_release(h);
	h->skip = xstrdup(reason ? reason : "");
	return record_or_queue(p, h);
}

int items_par_finish(struct arca_ctx *ctx)
{
	struct items_par *p = ctx->par;
	int rc = ARCA_OK;
	if (!p)
		return ARCA_OK;
	pthread_mutex_lock(&p->mu);
	if (p->open_w || p->ready)
		rc = err_set(ARCA_ERR_INTERNAL,
		             "driver %s bug: snapshot returned with %zu item%s open by handle "
		             "(no item_end_h)",
		             ctx->t->drv->name, p->open_w, p->open_w == 1 ? "" : "s");
	else
		rc = failed_locked(p);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void items_par_free(struct arca_ctx *ctx)
{
	struct items_par *p = ctx->par;
	if (!p)
		return;
	/* handles a buggy driver left open are its memory now: not freed */
	while (p->ready) {
		struct arca_item *h = p->ready;
		p->ready = h->next_ready;
		handle_free(h);
	}
	for (size_t i = 0; i < p->n_spare; i++)
		free(p->spare[i].buf);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
	ctx->par = NULL;
}

/* ---- restore / verify ------------------------------------------------------ */

static int do_item_open_h(struct arca_ctx *ctx, const char *name, struct arca_item_info *info,
                          struct arca_item **out)
{
	struct arca_item_info cur;
	int rc;
	if (!out)
		return err_set(ARCA_ERR_INTERNAL, "driver bug: item_open_h without a handle");
	*out = NULL;
	if (!ctx->reader)
		return err_set(ARCA_ERR_INTERNAL, "driver bug: host->item_open_h called outside a "
		                                  "restore or verify");
	struct items_par *p = par_get(ctx);
	pthread_mutex_lock(&p->mu);
	while (p->open_r >= PAR_READERS_MAX)
		pthread_cond_wait(&p->cv, &p->mu);
	p->open_r++;
	pthread_mutex_unlock(&p->mu);
	struct snap_item_reader *ir = NULL;
	memset(&cur, 0, sizeof cur);
	cur.struct_size = sizeof cur;
	if (name) {
		rc = snap_open_item(ctx->reader, name, &cur);
		if (rc == ARCA_OK) {
			ctx->cur = cur;
			progress_item(ctx->progress, cur.name);
		}
	} else if (ctx->cur.name) {
		cur = ctx->cur;
		rc = ARCA_OK;
	} else {
		rc = err_set(ARCA_ERR_INTERNAL, "driver bug: item_open_h(NULL) before item_next");
	}
	if (rc == ARCA_OK)
		rc = snap_item_reader_open(ctx->reader, &ir);
	if (rc != ARCA_OK) {
		release_slot(p, &p->open_r);
		return rc;
	}
	struct arca_item *h = handle_new(ctx, &cur, 1);
	h->ir = ir;
	if (info)
		item_out(ctx, &h->info, info);
	*out = h;
	return ARCA_OK;
}

static int do_item_read_h(struct arca_item *h, void *buf, size_t cap, size_t *got)
{
	if (got)
		*got = 0;
	if (!h || !h->reading || !got)
		return err_set(ARCA_ERR_INTERNAL, "driver bug: item_read_h without a handle from "
		                                  "item_open_h");
	if (arca_cancel_requested)
		return err_set(ARCA_ERR_CANCELLED, "interrupted");
	int rc = snap_item_reader_read(h->ir, buf, cap, got);
	if (rc == ARCA_OK)
		progress_add(h->ctx->progress, *got, 0);
	return rc;
}

void host_item_close_h(struct arca_item *h)
{
	if (!h || !h->reading)
		return;
	struct items_par *p = h->ctx->par;
	release_slot(p, &p->open_r);
	handle_free(h);
}

/* ---- the host table's entries: honest about errors, as host.c ------------- */

#define HONEST_H(call, params, args)                                                               \
	int host_##call params                                                                     \
	{                                                                                          \
		unsigned mark = err_mark();                                                        \
		return honest(#call, mark, do_##call args, 1);                                     \
	}

HONEST_H(item_begin_h,
         (struct arca_ctx * ctx, const struct arca_item_info *info, struct arca_item **h),
         (ctx, info, h))
HONEST_H(item_write_h, (struct arca_item * h, const void *data, size_t len), (h, data, len))
HONEST_H(item_end_h, (struct arca_item * h), (h))
HONEST_H(item_end_info_h, (struct arca_item * h, const struct arca_item_info *final), (h, final))
HONEST_H(item_skipped_h,
         (struct arca_ctx * ctx, struct arca_item *h, const char *name, const char *reason),
         (ctx, h, name, reason))
HONEST_H(item_open_h,
         (struct arca_ctx * ctx, const char *name, struct arca_item_info *info,
          struct arca_item **h),
         (ctx, name, info, h))
HONEST_H(item_read_h, (struct arca_item * h, void *buf, size_t cap, size_t *got),
         (h, buf, cap, got))

const char *host_error_message(void)
{
	return err_msg();
}
