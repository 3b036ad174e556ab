/* repo_index.c — loading the chunk index from the destination's index/
 * objects and writing new ones. */
#include "repo/internal.h"

#include <string.h>
#include "log.h"

#define INDEX_OBJECT_MAX_ENTRIES 262144 /* ~12 MiB of plaintext per object */

/* Whether the destination lists this pack. */
static int pack_listed(const struct obj_list *packs, const unsigned char id[ID_LEN])
{
	char name[96];
	pack_name(id, name);
	return obj_list_has(packs, name);
}

size_t idx_add_listed_first(struct idx *x, struct pack_info *const *objs, const size_t *n_packs,
                            size_t n_objs, const struct obj_list *packs)
{
	size_t gone = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n_objs; i++)
			for (size_t k = 0; k < n_packs[i]; k++) {
				int listed = pack_listed(packs, objs[i][k].id);
				if (listed != !pass)
					continue;
				idx_add_packs(x, &objs[i][k], 1);
				if (!listed) {
					uint32_t v = idx_find_pack(x, objs[i][k].id);
					gone += !x->packs[v - 1].gone;
					x->packs[v - 1].gone = 1;
				}
			}
	return gone;
}

/*
 * The index is the union of the index objects. A chunk may be named in
 * several packs (stored again after its first pack was lost); the packs
 * the destination still lists are added first, so their locations win,
 * and packs it does not list are marked gone (one listing per load): a
 * snapshot stores their chunks again and a restore reads the good copy.
 */
int index_load(struct repo *r)
{
	if (r->idx_loaded && !r->idx_stale)
		return ARCA_OK;
	struct obj_list l, packs;
	int rc = dest_list_all(r, "index/", &l);
	if (rc != ARCA_OK)
		return rc;
	rc = dest_list_all(r, "packs/", &packs);
	if (rc != ARCA_OK) {
		obj_list_free(&l);
		return rc;
	}
	struct idx fresh = {0};
	size_t bad = 0, n_all = 0;
	struct pack_info **all = xcalloc(l.n + 1, sizeof *all);
	size_t *all_n = xcalloc(l.n + 1, sizeof *all_n);
	struct buf plain = {0};
	for (size_t i = 0; i < l.n; i++) {
		rc = get_sealed_object(r, l.v[i].name, BK_INDEX, INDEX_OBJECT_MAX_RAW, &plain);
		if (rc == ARCA_OK)
			rc = idx_decode(plain.data, plain.len, l.v[i].name, r->cdc.max,
			                (uint32_t)blob_overhead(r->keys), &all[n_all],
			                &all_n[n_all]);
		if (rc == ARCA_ERR_CORRUPT) {
			/* Chunks it lists will be stored again; verify names it. */
			log_warn("%s (skipped; run arca verify, then arca repair index)",
			         err_msg());
			bad++;
			rc = ARCA_OK;
			continue;
		}
		if (rc != ARCA_OK)
			break;
		n_all++;
	}
	buf_free(&plain);
	size_t gone = rc == ARCA_OK ? idx_add_listed_first(&fresh, all, all_n, n_all, &packs) : 0;
	for (size_t i = 0; i < n_all; i++)
		pack_info_free(all[i], all_n[i]);
	free(all);
	free(all_n);
	obj_list_free(&packs);
	if (rc != ARCA_OK) {
		idx_free(&fresh);
		obj_list_free(&l);
		return rc;
	}
	if (gone)
		log_warn("destination %s: %zu pack(s) named by the index are missing (deleted or "
		         "lost); a snapshot stores what they held again, and arca repair packs "
		         "drops them from the index",
		         r->dest_name, gone);
	cache_sync(r, "index/", &l);
	obj_list_free(&l);
	pthread_mutex_lock(&r->idx_mu);
	idx_free(&r->idx);
	r->idx = fresh;
	r->idx_loaded = 1;
	r->idx_stale = 0;
	r->packs_checked = 1;
	r->idx_bad = bad;
	pack_info_free(r->unsaved, r->n_unsaved);
	r->unsaved = NULL;
	r->n_unsaved = r->unsaved_cap = 0;
	pthread_mutex_unlock(&r->idx_mu);
	return ARCA_OK;
}

int index_check_packs(struct repo *r)
{
	if (r->packs_checked)
		return ARCA_OK;
	struct obj_list l;
	int rc = dest_list_all(r, "packs/", &l);
	if (rc != ARCA_OK)
		return rc;
	size_t gone = 0;
	pthread_mutex_lock(&r->idx_mu);
	for (size_t i = 0; i < r->idx.npacks; i++) {
		char name[96];
		pack_name(r->idx.packs[i].id, name);
		if (!obj_list_has(&l, name) && !r->idx.packs[i].gone) {
			r->idx.packs[i].gone = 1;
			gone++;
		}
	}
	r->packs_checked = 1;
	pthread_mutex_unlock(&r->idx_mu);
	obj_list_free(&l);
	if (gone)
		log_warn("destination %s: %zu pack(s) named by the index are missing (deleted or "
		         "lost); data they held is stored again by this snapshot (run arca verify "
		         "to see which snapshots are damaged)",
		         r->dest_name, gone);
	return ARCA_OK;
}

static int cmp_obj_name(const void *a, const void *b)
{
	return strcmp(((const struct obj *)a)->name, ((const struct obj *)b)->name);
}

int index_write(struct repo *r, const struct pack_info *packs, size_t n, struct obj_list *written)
{
	size_t start = 0;
	while (start < n) {
		size_t end = start, entries = 0;
		while (end < n &&
		       (end == start || entries + packs[end].n <= INDEX_OBJECT_MAX_ENTRIES))
			entries += packs[end++].n;
		struct buf plain = {0};
		unsigned char id[ID_LEN];
		idx_encode(packs + start, end - start, &plain);
		int rc = put_sealed_object(r, "index/", BK_INDEX, plain.data, plain.len, id);
		buf_free(&plain);
		if (rc != ARCA_OK)
			return rc;
		if (written) {
			char hex[65];
			id_hex(id, hex);
			if (written->n == written->cap) {
				written->cap = written->cap ? 2 * written->cap : 8;
				written->v =
				    xrealloc(written->v, written->cap * sizeof *written->v);
			}
			written->v[written->n].name = xasprintf("index/%s", hex);
			written->v[written->n++].size = 0;
			qsort(written->v, written->n, sizeof *written->v, cmp_obj_name);
		}
		start = end;
	}
	return ARCA_OK;
}

int index_flush_unsaved(struct repo *r)
{
	pthread_mutex_lock(&r->idx_mu);
	struct pack_info *packs = r->unsaved;
	size_t n = r->n_unsaved;
	r->unsaved = NULL;
	r->n_unsaved = r->unsaved_cap = 0;
	pthread_mutex_unlock(&r->idx_mu);
	if (!n)
		return ARCA_OK;
	int rc = index_write(r, packs, n, NULL);
	if (rc != ARCA_OK) {
		/* Those packs are in memory but in no index object: forget them. */
		pthread_mutex_lock(&r->idx_mu);
		r->idx_stale = 1;
		pthread_mutex_unlock(&r->idx_mu);
	}
	pack_info_free(packs, n);
	return rc;
}
