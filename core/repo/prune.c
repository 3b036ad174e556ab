/* prune.c — forgetting snapshots and removing data no snapshot needs.
 *
 * Prune, under the exclusive lock: read every index and every snapshot
 * (refusing to run if any is unreadable: deleting on partial knowledge
 * could lose data), mark used chunks, then
 *   1. copy the used chunks of packs that are mostly unused into new packs,
 *   2. write new index objects covering every kept and new pack,
 *   3. delete the old index objects,
 *   4. delete packs no longer indexed (unused, repacked, orphaned).
 * A crash between any two steps leaves every kept snapshot readable.
 *
 * Names are content hashes, and in an unencrypted repository sealing is
 * deterministic: a pack or index object written in step 1 or 2 can have
 * exactly the name of one that steps 3 and 4 delete (a repacked pack whose
 * chunks come out in the same order, a pack left by an interrupted prune, a
 * second copy of a chunk that two snapshots stored at once). Steps 3 and 4
 * never delete a name this run wrote: the object under it is the new one. */
#include "repo/internal.h"

#include <string.h>
#include "log.h"
#include "repo/blob.h"
#include "repo/scan.h"
#include "repo/snapshot.h"

/* Object names to remove together. */
struct names {
	char **v;
	size_t n, cap;
};

static void names_add(struct names *l, const char *name)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = xstrdup(name);
}

/* Remove every name in l (r NULL: only forget them); l is emptied. */
static int names_remove(struct repo *r, struct names *l)
{
	int rc = r && l->n ? dest_remove_many(r, (const char *const *)l->v, l->n) : ARCA_OK;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
	if (!r) {
		free(l->v);
		memset(l, 0, sizeof *l);
	}
	return rc;
}

int repo_forget(struct repo *r, const char *const *ids, size_t n)
{
	int took, rc = lock_exclusive_for(r, "forget", &took);
	if (rc != ARCA_OK)
		return rc;
	for (size_t i = 0; i < n && rc == ARCA_OK; i++) {
		char full[65], name[128];
		rc = snapshot_resolve(r, ids[i], full);
		if (rc != ARCA_OK)
			break;
		snprintf(name, sizeof name, "snapshots/%s", full);
		rc = dest_remove(r, name);
		cache_remove(r, name);
		if (rc == ARCA_OK)
			seen_forget(r, full);
		snprintf(name, sizeof name, "summaries/%s", full);
		cache_remove(r, name);
	}
	if (took)
		lock_release(r);
	return rc;
}

struct prune_plan {
	unsigned char *used;   /* per scan slot */
	unsigned char *action; /* per pack: 0 keep, 1 delete, 2 repack */
};

enum { KEEP, DELETE, REPACK };

struct mark {
	struct scan *s;
	struct prune_plan *pl;
	size_t *missing;
};

static int mark_item(void *arg, const struct manifest *m, json_t *it)
{
	struct mark *k = arg;
	(void)m;
	size_t nc = item_chunk_count(it);
	for (size_t c = 0; c < nc; c++) {
		unsigned char cid[ID_LEN];
		size_t si = item_chunk(it, c, cid) ? (size_t)-1 : scan_slot(k->s, cid);
		if (si == (size_t)-1)
			(*k->missing)++;
		else
			k->pl->used[si] = 1;
	}
	return ARCA_OK;
}

static int mark_used(struct repo *r, struct scan *s, struct prune_plan *pl, size_t *missing)
{
	struct obj_list snaps;
	int rc = dest_list_all(r, "snapshots/", &snaps);
	if (rc != ARCA_OK)
		return rc;
	struct mark k = {s, pl, missing};
	for (size_t i = 0; i < snaps.n && rc == ARCA_OK; i++) {
		const char *id = snaps.v[i].name + strlen("snapshots/");
		rc = manifest_each_item(r, id, mark_item, &k);
		if (rc != ARCA_OK)
			rc = err_wrap(
			    rc,
			    "prune refuses to run while snapshot %s is unreadable "
			    "(it would not know which data that snapshot needs): run arca "
			    "verify to see what is damaged, then arca forget --snapshot %.12s",
			    id, id);
	}
	obj_list_free(&snaps);
	return rc;
}

/* Repacked chunks go into packs written here, not through the snapshot
 * pipeline: they are already sealed and are copied as they are. */
static int flush_new_pack(struct repo *r, struct pack_builder *b, struct pack_info **out, size_t *n,
                          uint64_t *written)
{
	if (!b->n)
		return ARCA_OK;
	unsigned char id[ID_LEN];
	char name[96];
	int rc = pack_builder_finish(r, b, id);
	if (rc == ARCA_OK) {
		pack_name(id, name);
		rc = dest_put(r, name, b->data.data, b->data.len, 0);
	}
	if (rc == ARCA_OK) {
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		struct pack_info *pi = &(*out)[(*n)++];
		memcpy(pi->id, id, ID_LEN);
		pi->size = b->data.len;
		pi->n = b->n;
		pi->e = xmalloc((b->n ? b->n : 1) * sizeof *pi->e);
		memcpy(pi->e, b->e, b->n * sizeof *pi->e);
		*written += b->data.len;
	}
	pack_builder_free(b);
	return rc;
}

static int repack(struct repo *r, struct scan *s, struct prune_plan *pl, uint32_t pk,
                  struct pack_builder *b, struct pack_info **newp, size_t *nnew, uint64_t *written)
{
	char name[96];
	pack_name(s->idx.packs[pk - 1].id, name);
	struct buf data = {0}, plain = {0};
	int rc = dest_get_bounded(r, name, s->idx.packs[pk - 1].size, &data);
	for (size_t k = s->slot_start[pk]; rc == ARCA_OK && k < s->slot_start[pk + 1]; k++) {
		size_t si = s->slot_list[k];
		if (!pl->used[si])
			continue;
		const struct idx_slot *sl = &s->idx.slots[si];
		char hex[65], what[256];
		id_hex(sl->id, hex);
		snprintf(what, sizeof what, "chunk %s in pack %s", hex, name);
		unsigned char cid[ID_LEN];
		if ((uint64_t)sl->offset + sl->length > data.len)
			rc = err_set(ARCA_ERR_CORRUPT, "%s lies beyond the end of the pack", what);
		else {
			struct aad aad;
			repo_aad(r, BK_CHUNK, sl->id, ID_LEN, &aad);
			rc = blob_open(r->keys, &aad, data.data + sl->offset, sl->length,
			               sl->raw_length, &plain, what);
		}
		if (rc == ARCA_OK &&
		    (chunk_id(r->keys, plain.data, plain.len, cid) || memcmp(cid, sl->id, ID_LEN)))
			rc = err_set(ARCA_ERR_CORRUPT, "%s does not hash to its id", what);
		if (rc != ARCA_OK) {
			rc = err_wrap(rc, "prune stopped before deleting anything: a chunk to keep "
			                  "is damaged (run arca verify --read-data)");
			break;
		}
		pack_builder_add(b, sl->id, data.data + sl->offset, sl->length, sl->raw_length);
		if (b->data.len >= r->pack_size || b->n >= PACK_MAX_ENTRIES)
			rc = flush_new_pack(r, b, newp, nnew, written);
	}
	buf_free(&data);
	buf_free(&plain);
	return rc;
}

int repo_prune(struct repo *r, double repack_unused_threshold, int dry_run,
               struct repo_prune_stats *stats)
{
	memset(stats, 0, sizeof *stats);
	int took, rc = lock_exclusive_for(r, "prune", &took);
	if (rc != ARCA_OK)
		return rc;
	if (repack_unused_threshold < 0 || repack_unused_threshold > 1)
		repack_unused_threshold = 0.2;
	struct scan s;
	struct prune_plan pl = {0};
	struct pack_info *newp = NULL;
	size_t nnew = 0, missing = 0;
	uint64_t written = 0;
	rc = scan_load(r, &s, NULL, NULL);
	if (rc == ARCA_OK && s.index_bad)
		rc = err_set(ARCA_ERR_CORRUPT,
		             "prune refuses to run: %zu index object(s) of "
		             "destination %s are unreadable, so it cannot know which packs are "
		             "used (run arca repair index, which rebuilds it from the packs)",
		             s.index_bad, r->dest_name);
	if (rc != ARCA_OK)
		goto out;
	pl.used = xcalloc(s.idx.cap + 1, 1);
	pl.action = xcalloc(s.idx.npacks + 1, 1);
	rc = mark_used(r, &s, &pl, &missing);
	if (rc != ARCA_OK)
		goto out;
	/* Chunks that kept snapshots need but no index names may sit in packs
	 * no index names (an index object lost or deleted from the storage):
	 * those packs are then kept, never deleted as orphans. */
	int keep_orphans = missing != 0;
	if (missing)
		log_warn(
		    "destination %s: %zu chunk reference(s) of kept snapshots are in no index; "
		    "packs in no index are kept (run arca repair index, which rebuilds the "
		    "index from the packs, then arca verify)",
		    r->dest_name, missing);

	/* Decide per pack. */
	/* freed: the estimate a dry run prints (a repacked pack frees its
	 * unused share); removed: every byte of the packs deleted, from which
	 * the new packs' bytes are subtracted once, after the fact. */
	uint64_t freed = 0, removed = 0;
	for (uint32_t pk = 1; pk <= s.idx.npacks; pk++) {
		uint64_t used = 0, n_used = 0, size = s.idx.packs[pk - 1].size;
		for (size_t k = s.slot_start[pk]; k < s.slot_start[pk + 1]; k++)
			if (pl.used[s.slot_list[k]]) {
				used += s.idx.slots[s.slot_list[k]].length;
				n_used++;
			}
		if (scan_pack_size(&s, s.idx.packs[pk - 1].id) < 0) {
			pl.action[pk] = DELETE; /* gone already: drop from the index */
			continue;
		}
		/* Waste: what a pack of only the used chunks would not hold. Its
		 * header is no waste: a fully used pack is never rewritten (it
		 * would come out the same, header and all). */
		uint64_t need = used + pack_overhead(r, n_used);
		uint64_t waste = size > need ? size - need : 0;
		if (!used) {
			pl.action[pk] = DELETE;
			stats->packs_deleted++;
			freed += size;
			removed += size;
		} else if (waste && (double)waste / (double)size > repack_unused_threshold) {
			pl.action[pk] = REPACK;
			stats->packs_repacked++;
			freed += waste;
			removed += size;
		}
	}
	/* Orphans: packs in no index (interrupted snapshots). Only names of
	 * the exact form arca writes are ever deleted. */
	for (size_t i = 0; i < s.packs.n; i++) {
		unsigned char id[ID_LEN];
		if (parse_pack_name(s.packs.v[i].name, id)) {
			log_warn("destination %s: %s is not a name arca writes (left alone)",
			         r->dest_name, s.packs.v[i].name);
			continue;
		}
		if (!idx_find_pack(&s.idx, id) && !keep_orphans) {
			stats->packs_deleted++;
			freed += s.packs.v[i].size;
			removed += s.packs.v[i].size;
		}
	}
	stats->bytes_freed = freed;
	if (dry_run || (!stats->packs_deleted && !stats->packs_repacked))
		goto out;

	/* 1. Repack. */
	struct pack_builder b = {0};
	for (uint32_t pk = 1; pk <= s.idx.npacks && rc == ARCA_OK; pk++)
		if (pl.action[pk] == REPACK)
			rc = repack(r, &s, &pl, pk, &b, &newp, &nnew, &written);
	if (rc == ARCA_OK)
		rc = flush_new_pack(r, &b, &newp, &nnew, &written);
	pack_builder_free(&b);
	if (rc != ARCA_OK)
		goto out;

	/* 2. New index: every kept pack with its chunks, plus the new packs. */
	size_t nkeep = 0;
	for (uint32_t pk = 1; pk <= s.idx.npacks; pk++)
		nkeep += pl.action[pk] == KEEP;
	struct pack_info *all = xcalloc(nkeep + nnew + 1, sizeof *all);
	size_t na = 0;
	for (uint32_t pk = 1; pk <= s.idx.npacks; pk++) {
		if (pl.action[pk] != KEEP)
			continue;
		struct pack_info *pi = &all[na++];
		memcpy(pi->id, s.idx.packs[pk - 1].id, ID_LEN);
		pi->size = s.idx.packs[pk - 1].size;
		size_t cnt = s.slot_start[pk + 1] - s.slot_start[pk];
		pi->e = xmalloc((cnt ? cnt : 1) * sizeof *pi->e);
		for (size_t k = 0; k < cnt; k++) {
			const struct idx_slot *sl = &s.idx.slots[s.slot_list[s.slot_start[pk] + k]];
			memcpy(pi->e[k].id, sl->id, ID_LEN);
			pi->e[k].offset = sl->offset;
			pi->e[k].length = sl->length;
			pi->e[k].raw_length = sl->raw_length;
		}
		pi->n = cnt;
	}
	for (size_t i = 0; i < nnew; i++) {
		all[na++] = newp[i];
		newp[i].e = NULL;
	}
	struct obj_list new_index = {0};
	struct idx new_packs = {0}; /* only its pack table: the packs step 1 wrote */
	for (size_t i = 0; i < nnew; i++)
		idx_add_pack(&new_packs, all[na - nnew + i].id, all[na - nnew + i].size);
	rc = index_write(r, all, na, &new_index);
	pack_info_free(all, na);

	/* 3. Old index objects, then 4. packs no index names any more (in
	 * batches: one request per 1000 objects where the store has them);
	 * never a name written above. */
	struct names gone = {0};
	for (size_t i = 0; rc == ARCA_OK && i < s.index_objs.n; i++)
		if (!parse_object_name(s.index_objs.v[i].name, "index/") &&
		    !obj_list_has(&new_index, s.index_objs.v[i].name))
			names_add(&gone, s.index_objs.v[i].name);
	if (rc == ARCA_OK)
		rc = names_remove(r, &gone);
	for (uint32_t pk = 1; pk <= s.idx.npacks && rc == ARCA_OK; pk++) {
		if (pl.action[pk] == KEEP || idx_find_pack(&new_packs, s.idx.packs[pk - 1].id))
			continue;
		char name[96];
		pack_name(s.idx.packs[pk - 1].id, name);
		names_add(&gone, name);
	}
	for (size_t i = 0; i < s.packs.n && rc == ARCA_OK; i++) {
		unsigned char id[ID_LEN];
		if (!parse_pack_name(s.packs.v[i].name, id) && !idx_find_pack(&s.idx, id) &&
		    !idx_find_pack(&new_packs, id) && !keep_orphans)
			names_add(&gone, s.packs.v[i].name);
	}
	if (rc == ARCA_OK)
		rc = names_remove(r, &gone);
	names_remove(NULL, &gone);
	obj_list_free(&new_index);
	idx_free(&new_packs);
	if (rc != ARCA_OK)
		goto out;
	stats->bytes_freed = removed > written ? removed - written : 0;
out:
	if (rc == ARCA_OK && !dry_run) {
		unsigned swept;
		rc = repo_sweep(r, &swept);
	}
	pthread_mutex_lock(&r->idx_mu);
	r->idx_stale = 1;
	pthread_mutex_unlock(&r->idx_mu);
	pack_info_free(newp, nnew);
	free(pl.used);
	free(pl.action);
	scan_free(&s);
	if (took)
		lock_release(r);
	return rc;
}
