/* scan.c — strict load of all index objects plus the pack listing. */
#include "repo/scan.h"

#include <string.h>
#include "log.h"

int scan_load(struct repo *r, struct scan *s, void (*report)(void *arg, const char *msg), void *arg)
{
	memset(s, 0, sizeof *s);
	int rc = dest_list_all(r, "index/", &s->index_objs);
	if (rc == ARCA_OK)
		rc = dest_list_all(r, "packs/", &s->packs);
	if (rc != ARCA_OK)
		return rc;
	s->index_ok = xcalloc(s->index_objs.n + 1, 1);
	struct buf plain = {0};
	struct pack_info **objs = xcalloc(s->index_objs.n + 1, sizeof *objs);
	size_t *objs_n = xcalloc(s->index_objs.n + 1, sizeof *objs_n), n_objs = 0;
	for (size_t i = 0; i < s->index_objs.n; i++) {
		const char *name = s->index_objs.v[i].name;
		rc = get_sealed_object(r, name, BK_INDEX, INDEX_OBJECT_MAX_RAW, &plain);
		if (rc == ARCA_OK)
			rc = idx_decode(plain.data, plain.len, name, r->cdc.max,
			                (uint32_t)blob_overhead(r->keys), &objs[n_objs],
			                &objs_n[n_objs]);
		if (rc == ARCA_ERR_CORRUPT) {
			s->index_bad++;
			if (report)
				report(arg, err_msg());
			rc = ARCA_OK;
			continue;
		}
		if (rc != ARCA_OK)
			break;
		n_objs++;
		s->index_ok[i] = 1;
	}
	buf_free(&plain);
	/* A chunk in several packs (written by two snapshots at once, or stored
	 * again after its pack was lost) is located, like the engine's index
	 * does, in a pack the destination has: prune and repair keep or copy a
	 * chunk only from the pack its slot names. */
	if (rc == ARCA_OK)
		idx_add_listed_first(&s->idx, objs, objs_n, n_objs, &s->packs);
	for (size_t i = 0; i < n_objs; i++)
		pack_info_free(objs[i], objs_n[i]);
	free(objs);
	free(objs_n);
	if (rc != ARCA_OK)
		return rc;
	/* Bucket slots by pack (counting sort). */
	size_t np = s->idx.npacks;
	s->slot_start = xcalloc(np + 2, sizeof *s->slot_start);
	s->slot_list = xmalloc((s->idx.n + 1) * sizeof *s->slot_list);
	for (size_t i = 0; i < s->idx.cap; i++)
		if (s->idx.slots[i].pack != PACK_NONE)
			s->slot_start[s->idx.slots[i].pack + 1]++;
	for (size_t p = 1; p <= np + 1; p++)
		s->slot_start[p] += s->slot_start[p - 1];
	size_t *fill = xmalloc((np + 2) * sizeof *fill);
	memcpy(fill, s->slot_start, (np + 2) * sizeof *fill);
	for (size_t i = 0; i < s->idx.cap; i++)
		if (s->idx.slots[i].pack != PACK_NONE)
			s->slot_list[fill[s->idx.slots[i].pack]++] = i;
	free(fill);
	return ARCA_OK;
}

void scan_free(struct scan *s)
{
	idx_free(&s->idx);
	obj_list_free(&s->index_objs);
	obj_list_free(&s->packs);
	free(s->index_ok);
	free(s->slot_start);
	free(s->slot_list);
	memset(s, 0, sizeof *s);
}

static int cmp_obj_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct obj *)elem)->name);
}

int64_t scan_pack_size(const struct scan *s, const unsigned char id[ID_LEN])
{
	char name[96];
	pack_name(id, name);
	if (!s->packs.n)
		return -1;
	const struct obj *o =
	    bsearch(name, s->packs.v, s->packs.n, sizeof *s->packs.v, cmp_obj_key);
	return o ? (int64_t)o->size : -1;
}

size_t scan_slot(const struct scan *s, const unsigned char id[ID_LEN])
{
	struct idx_slot *sl = idx_find(&s->idx, id);
	return sl ? (size_t)(sl - s->idx.slots) : (size_t)-1;
}
