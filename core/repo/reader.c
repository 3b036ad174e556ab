/* reader.c — reading a snapshot back: items in stored order, content chunk
 * by chunk, every chunk authenticated and hashed on the way. */
#include "repo/internal.h"

#include <string.h>
#include "log.h"
#include "repo/snapshot.h"

struct snap_reader {
	struct repo *r;
	struct manifest m;
	uint32_t frame;           /* frame loaded in `items` */
	json_t *items;            /* NULL before the first frame */
	size_t next;              /* index in `items` of the next item */
	json_t *cur;              /* current item (borrowed from items) */
	size_t chunk;             /* next chunk of cur to fetch */
	struct buf data;          /* current chunk's plaintext */
	size_t data_off;
};

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
		return err_set(ARCA_ERR_CORRUPT, "snapshot %s is corrupt: item %zu of frame %u is "
			       "malformed", rd->m.id, rd->next - 1, rd->frame);
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
		json_array_foreach(rd->items, i, it) {
			const char *n = item_string(it, "name");
			if (n && !strcmp(n, name)) {
				rd->next = i + 1;
				return set_current(rd, it, info);
			}
		}
	}
	rd->cur = NULL;
	return err_set(ARCA_ERR_NOT_FOUND, "snapshot %.12s has no item '%s'", rd->m.id, name);
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
			if (item_chunk(rd->cur, rd->chunk, id))
				return err_set(ARCA_ERR_CORRUPT,
				               "snapshot %s is corrupt: item '%s' "
				               "has a malformed chunk id",
				               rd->m.id, item_string(rd->cur, "name"));
			int rc = chunk_fetch(rd->r, id, &rd->data);
			if (rc != ARCA_OK)
				return err_wrap(rc, "snapshot %.12s, item '%s'", rd->m.id,
						item_string(rd->cur, "name"));
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
	json_decref(rd->items);
	manifest_free(&rd->m);
	buf_free(&rd->data);
	free(rd);
}
