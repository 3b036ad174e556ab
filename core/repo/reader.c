/* reader.c — reading a snapshot back: items in stored order, content chunk
 * by chunk, every chunk authenticated and hashed on the way.
 *
 * Restores read items in order, so worker threads fetch, decrypt and check
 * the chunks that come next (in the current item and the items after it
 * in the same frame) while the engine thread hands data to the driver. The
 * window is bounded: at most 2 * workers + 2 chunks are in flight. A read
 * that does not follow the plan (an item skipped, item_open elsewhere)
 * drops the chunks planned before it and re-plans from there. */
#include "repo/internal.h"

#include <string.h>
#include "log.h"
#include "repo/snapshot.h"

enum { SLOT_QUEUED, SLOT_TAKEN, SLOT_DONE };

struct slot {
	uint32_t frame;
	size_t item, chunk; /* position in the frame's items */
	unsigned char id[ID_LEN];
	int state;
	int rc;
	char *err;
	struct buf data;
};

struct snap_reader {
	struct repo *r;
	struct manifest m;
	uint32_t frame;  /* frame loaded in `items` */
	json_t *items;   /* NULL before the first frame */
	size_t next;     /* index in `items` of the next item */
	json_t *cur;     /* current item (borrowed from items) */
	size_t chunk;    /* next chunk of cur to fetch */
	struct buf data; /* current chunk's plaintext */
	size_t data_off;

	/* prefetch */
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	pthread_t *threads;
	int nthreads, stop;
	struct slot *ring; /* planned chunks in read order */
	size_t cap, head, count;
	json_t *plan_items; /* frame being planned */
	uint32_t plan_frame;
	size_t plan_item, plan_chunk;
};

static struct slot *ring_at(struct snap_reader *rd, size_t k)
{
	return &rd->ring[(rd->head + k) % rd->cap];
}

static void *prefetch_main(void *arg)
{
	struct snap_reader *rd = arg;
	pthread_mutex_lock(&rd->mu);
	for (;;) {
		struct slot *s = NULL;
		for (size_t k = 0; k < rd->count && !s; k++)
			if (ring_at(rd, k)->state == SLOT_QUEUED)
				s = ring_at(rd, k);
		if (!s) {
			if (rd->stop)
				break;
			pthread_cond_wait(&rd->cv_work, &rd->mu);
			continue;
		}
		s->state = SLOT_TAKEN;
		unsigned char id[ID_LEN];
		memcpy(id, s->id, ID_LEN);
		pthread_mutex_unlock(&rd->mu);
		/* The slot is ours while TAKEN: the reader waits, never frees it. */
		int rc = chunk_fetch(rd->r, id, &s->data);
		pthread_mutex_lock(&rd->mu);
		s->rc = rc;
		free(s->err);
		s->err = rc ? xstrdup(err_msg()) : NULL;
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&rd->cv_done);
	}
	pthread_mutex_unlock(&rd->mu);
	return NULL;
}

/* Drop the first n planned chunks (waiting for any a worker holds). */
static void ring_drop_locked(struct snap_reader *rd, size_t n)
{
	while (n--) {
		struct slot *s = ring_at(rd, 0);
		while (s->state == SLOT_TAKEN)
			pthread_cond_wait(&rd->cv_done, &rd->mu);
		free(s->err);
		s->err = NULL;
		rd->head = (rd->head + 1) % rd->cap;
		rd->count--;
	}
}

/* Extend the plan up to the window size. */
static void plan_fill_locked(struct snap_reader *rd)
{
	int added = 0;
	while (rd->plan_items && rd->count < rd->cap) {
		json_t *it = json_array_get(rd->plan_items, rd->plan_item);
		if (!it)
			break;
		if (rd->plan_chunk >= item_chunk_count(it)) {
			rd->plan_item++;
			rd->plan_chunk = 0;
			continue;
		}
		struct slot *s = ring_at(rd, rd->count);
		if (item_chunk(it, rd->plan_chunk, s->id)) {
			rd->plan_items = NULL; /* malformed: the reader reports it */
			break;
		}
		s->frame = rd->plan_frame;
		s->item = rd->plan_item;
		s->chunk = rd->plan_chunk++;
		s->state = SLOT_QUEUED;
		rd->count++;
		added = 1;
	}
	if (added)
		pthread_cond_broadcast(&rd->cv_work);
}

static void prefetch_start(struct snap_reader *rd)
{
	int n = rd->r->workers > 0 ? rd->r->workers : 1;
	rd->cap = 2 * (size_t)n + 2;
	rd->ring = xcalloc(rd->cap, sizeof *rd->ring);
	pthread_mutex_init(&rd->mu, NULL);
	pthread_cond_init(&rd->cv_work, NULL);
	pthread_cond_init(&rd->cv_done, NULL);
	rd->threads = xcalloc((size_t)n, sizeof *rd->threads);
	for (int i = 0; i < n; i++) {
		if (pthread_create(&rd->threads[i], NULL, prefetch_main, rd))
			break;
		rd->nthreads++;
	}
}

/* The current chunk (rd->frame, rd->next - 1, rd->chunk) into rd->data. */
static int next_chunk(struct snap_reader *rd)
{
	if (!rd->nthreads) {
		unsigned char id[ID_LEN];
		if (item_chunk(rd->cur, rd->chunk, id))
			return ARCA_ERR_CORRUPT;
		return chunk_fetch(rd->r, id, &rd->data);
	}
	size_t item = rd->next - 1;
	pthread_mutex_lock(&rd->mu);
	size_t k;
	for (k = 0; k < rd->count; k++) {
		struct slot *s = ring_at(rd, k);
		if (s->frame == rd->frame && s->item == item && s->chunk == rd->chunk)
			break;
	}
	if (k == rd->count) {
		/* Off the plan: start a new one here. */
		ring_drop_locked(rd, rd->count);
		rd->plan_items = rd->items;
		rd->plan_frame = rd->frame;
		rd->plan_item = item;
		rd->plan_chunk = rd->chunk;
		k = 0;
	} else {
		ring_drop_locked(rd, k);
	}
	plan_fill_locked(rd);
	struct slot *s = ring_at(rd, 0);
	if (!rd->count || s->frame != rd->frame || s->item != item || s->chunk != rd->chunk) {
		pthread_mutex_unlock(&rd->mu);
		return ARCA_ERR_CORRUPT; /* malformed chunk id: caller reports */
	}
	while (s->state != SLOT_DONE)
		pthread_cond_wait(&rd->cv_done, &rd->mu);
	int rc = s->rc;
	if (rc)
		err_set(rc, "%s", s->err ? s->err : "chunk read failed");
	/* Hand the buffer over without copying. */
	struct buf tmp = rd->data;
	rd->data = s->data;
	s->data = tmp;
	ring_drop_locked(rd, 1);
	plan_fill_locked(rd);
	pthread_mutex_unlock(&rd->mu);
	return rc;
}

int repo_snap_open(struct repo *r, const char *id, struct snap_reader **out)
{
	*out = NULL;
	char full[65];
	int rc = snapshot_resolve(r, id, full);
	if (rc != ARCA_OK)
		return rc;
	rc = index_load(r);
	if (rc != ARCA_OK)
		return rc;
	struct snap_reader *rd = xcalloc(1, sizeof *rd);
	rd->r = r;
	rc = manifest_load(r, full, &rd->m);
	if (rc != ARCA_OK) {
		snap_close(rd);
		return rc;
	}
	*out = rd;
	return ARCA_OK;
}

static int load_frame(struct snap_reader *rd, uint32_t f)
{
	if (rd->ring) {
		/* The plan points into the items about to be freed. */
		pthread_mutex_lock(&rd->mu);
		ring_drop_locked(rd, rd->count);
		rd->plan_items = NULL;
		pthread_mutex_unlock(&rd->mu);
	}
	json_decref(rd->items);
	rd->items = NULL;
	rd->cur = NULL;
	int rc = manifest_frame(rd->r, &rd->m, f, &rd->items);
	rd->frame = f;
	rd->next = 0;
	return rc;
}

static int set_current(struct snap_reader *rd, json_t *item, struct arca_item_info *info)
{
	rd->cur = item;
	rd->chunk = 0;
	rd->data.len = 0;
	rd->data_off = 0;
	if (item_from_json(item, info))
		return err_set(ARCA_ERR_CORRUPT,
		               "snapshot %s is corrupt: item %zu of frame %u is "
		               "malformed",
		               rd->m.id, rd->next - 1, rd->frame);
	return ARCA_OK;
}

int snap_next(struct snap_reader *rd, struct arca_item_info *info)
{
	while (!rd->items || rd->next >= json_array_size(rd->items)) {
		uint32_t f = rd->items ? rd->frame + 1 : 0;
		if (f >= rd->m.frames) {
			rd->cur = NULL;
			return ARCA_ERR_NOT_FOUND;
		}
		int rc = load_frame(rd, f);
		if (rc != ARCA_OK)
			return rc;
	}
	json_t *item = json_array_get(rd->items, rd->next++);
	return set_current(rd, item, info);
}

int snap_rewind(struct snap_reader *rd)
{
	rd->cur = NULL;
	if (rd->items && rd->frame == 0) {
		rd->next = 0;
		return ARCA_OK;
	}
	return rd->m.frames ? load_frame(rd, 0) : ARCA_OK;
}

/* Search the rest of the current frame, the following frames, then wrap
 * around: sequential item_open calls cost O(1) each. */
int snap_open_item(struct snap_reader *rd, const char *name, struct arca_item_info *info)
{
	uint32_t start = rd->items ? rd->frame : 0;
	for (uint32_t k = 0; k < rd->m.frames; k++) {
		uint32_t f = (start + k) % rd->m.frames;
		if (!rd->items || rd->frame != f) {
			int rc = load_frame(rd, f);
			if (rc != ARCA_OK)
				return rc;
		}
		size_t i;
		json_t *it;
		json_array_foreach(rd->items, i, it)
		{
			const char *n = item_string(it, "name");
			if (n && !strcmp(n, name)) {
				rd->next = i + 1;
				return set_current(rd, it, info);
			}
		}
	}
	rd->cur = NULL;
	char *shown = name_escape(name);
	int rc = err_set(ARCA_ERR_NOT_FOUND, "snapshot %.12s has no item '%s'", rd->m.id, shown);
	free(shown);
	return rc;
}

int snap_read(struct snap_reader *rd, void *buf, size_t cap, size_t *got)
{
	*got = 0;
	if (!rd->cur)
		return err_set(ARCA_ERR_INTERNAL, "item_read without a current item (call "
		                                  "item_next or item_open first)");
	unsigned char *out = buf;
	while (*got < cap) {
		if (rd->data_off == rd->data.len) {
			if (rd->chunk >= item_chunk_count(rd->cur))
				break;
			unsigned char id[ID_LEN];
			if (item_chunk(rd->cur, rd->chunk, id)) {
				char *n = name_escape(item_string(rd->cur, "name"));
				int rc = err_set(ARCA_ERR_CORRUPT,
				                 "snapshot %s is corrupt: item '%s' "
				                 "has a malformed chunk id",
				                 rd->m.id, n);
				free(n);
				return rc;
			}
			if (!rd->ring)
				prefetch_start(rd);
			int rc = next_chunk(rd);
			if (rc != ARCA_OK) {
				char *n = name_escape(item_string(rd->cur, "name"));
				rc = err_wrap(rc, "snapshot %.12s, item '%s'", rd->m.id, n);
				free(n);
				return rc;
			}
			rd->chunk++;
			rd->data_off = 0;
			continue;
		}
		size_t n = rd->data.len - rd->data_off;
		if (n > cap - *got)
			n = cap - *got;
		memcpy(out + *got, rd->data.data + rd->data_off, n);
		rd->data_off += n;
		*got += n;
	}
	return ARCA_OK;
}

void snap_close(struct snap_reader *rd)
{
	if (!rd)
		return;
	if (rd->ring) {
		pthread_mutex_lock(&rd->mu);
		ring_drop_locked(rd, rd->count);
		rd->stop = 1;
		pthread_cond_broadcast(&rd->cv_work);
		pthread_mutex_unlock(&rd->mu);
		for (int i = 0; i < rd->nthreads; i++)
			pthread_join(rd->threads[i], NULL);
		for (size_t i = 0; i < rd->cap; i++) {
			buf_free(&rd->ring[i].data);
			free(rd->ring[i].err);
		}
		free(rd->ring);
		free(rd->threads);
		pthread_mutex_destroy(&rd->mu);
		pthread_cond_destroy(&rd->cv_work);
		pthread_cond_destroy(&rd->cv_done);
	}
	json_decref(rd->items);
	manifest_free(&rd->m);
	buf_free(&rd->data);
	free(rd);
}

/* ---- one item's content on its own (items by handle) ---- */

struct snap_item_reader {
	struct repo *r;
	char snap[13]; /* the snapshot's short id, for messages */
	char *name;
	unsigned char *ids; /* the item's chunk ids */
	size_t n, next;
	struct buf data; /* the chunk being read */
	size_t off;
};

int snap_item_reader_open(struct snap_reader *rd, struct snap_item_reader **out)
{
	*out = NULL;
	if (!rd->cur)
		return err_set(ARCA_ERR_INTERNAL, "no current item to open (driver bug: call "
		                                  "item_next or item_open first)");
	const char *name = item_string(rd->cur, "name");
	size_t n = item_chunk_count(rd->cur);
	struct snap_item_reader *ir = xcalloc(1, sizeof *ir);
	ir->r = rd->r;
	snprintf(ir->snap, sizeof ir->snap, "%.12s", rd->m.id);
	ir->name = xstrdup(name ? name : "?");
	ir->ids = xmalloc(n * ID_LEN + 1);
	ir->n = n;
	for (size_t i = 0; i < n; i++)
		if (item_chunk(rd->cur, i, ir->ids + i * ID_LEN)) {
			int rc =
			    err_set(ARCA_ERR_CORRUPT,
			            "snapshot %s is corrupt: item '%s' has a malformed chunk id",
			            rd->m.id, ir->name);
			snap_item_reader_close(ir);
			return rc;
		}
	*out = ir;
	return ARCA_OK;
}

int snap_item_reader_read(struct snap_item_reader *ir, void *buf, size_t cap, size_t *got)
{
	unsigned char *out = buf;
	*got = 0;
	while (*got < cap) {
		if (ir->off == ir->data.len) {
			if (ir->next >= ir->n)
				break;
			ir->data.len = 0;
			ir->off = 0;
			int rc = chunk_fetch(ir->r, ir->ids + ir->next * ID_LEN, &ir->data);
			if (rc != ARCA_OK)
				return err_wrap(rc, "snapshot %s, item '%s'", ir->snap, ir->name);
			ir->next++;
			continue;
		}
		size_t k = ir->data.len - ir->off;
		if (k > cap - *got)
			k = cap - *got;
		memcpy(out + *got, ir->data.data + ir->off, k);
		ir->off += k;
		*got += k;
	}
	return ARCA_OK;
}

void snap_item_reader_close(struct snap_item_reader *ir)
{
	if (!ir)
		return;
	buf_free(&ir->data);
	free(ir->ids);
	free(ir->name);
	free(ir);
}
