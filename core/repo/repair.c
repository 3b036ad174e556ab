/* repair.c — healing what the storage damaged, under the exclusive lock.
 *
 *   repair packs      reads every pack; chunks that fail authentication or
 *                     whose pack is gone are dropped from the index (new
 *                     index objects, then the old ones deleted, as prune
 *                     does), so the next snapshot stores that data again;
 *                     the snapshots that needed them are named, with the
 *                     item and byte range lost.
 *   repair snapshots  puts back snapshot objects this host still has an
 *                     authentic copy of in state_dir (deleted or damaged in
 *                     the destination), then writes, for every snapshot
 *                     that names chunks no index has, a new snapshot
 *                     without the items that cannot be restored (marked
 *                     "repaired_from" in its summary); the damaged original
 *                     is forgotten only when asked. */
#include "repo/internal.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "repo/scan.h"
#include "repo/snapshot.h"

static void say(repo_report_fn report, void *arg, const char *fmt, ...) ARCA_PRINTF(3, 4);
static void say(repo_report_fn report, void *arg, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (report)
		report(arg, msg);
}

struct repack {
	struct pack_builder b;
	struct pack_info *newp; /* packs written with the good chunks of damaged ones */
	size_t nnew;
	unsigned char *drop; /* per pack (1-based): damaged, replaced by newp */
	size_t n_drop;
};

static int repack_flush(struct repo *r, struct repack *rp)
{
	if (!rp->b.n)
		return ARCA_OK;
	unsigned char id[ID_LEN];
	char name[96];
	int rc = pack_builder_finish(r, &rp->b, id);
	if (rc == ARCA_OK) {
		pack_name(id, name);
		rc = dest_put(r, name, rp->b.data.data, rp->b.data.len, 0);
	}
	if (rc == ARCA_OK) {
		rp->newp = xrealloc(rp->newp, (rp->nnew + 1) * sizeof *rp->newp);
		struct pack_info *pi = &rp->newp[rp->nnew++];
		memcpy(pi->id, id, ID_LEN);
		pi->size = rp->b.data.len;
		pi->n = rp->b.n;
		pi->e = xmalloc((rp->b.n ? rp->b.n : 1) * sizeof *pi->e);
		memcpy(pi->e, rp->b.e, rp->b.n * sizeof *pi->e);
	}
	pack_builder_free(&rp->b);
	return rc;
}

/* Check every chunk of one pack; mark bad slots. The good chunks of a
 * damaged pack are copied (sealed, as they are) into new packs, and the
 * damaged pack is dropped: afterwards every indexed pack is whole. */
static size_t check_pack(struct repo *r, struct scan *s, uint32_t pk, unsigned char *bad,
                         struct repack *rp, int *err, repo_report_fn report, void *arg)
{
	const struct idx_pack *ip = &s->idx.packs[pk - 1];
	char name[96];
	pack_name(ip->id, name);
	struct buf data = {0}, plain = {0};
	size_t n_bad = 0;
	int got = scan_pack_size(s, ip->id) < 0 ? ARCA_ERR_NOT_FOUND
	                                        : dest_get_bounded(r, name, ip->size, &data);
	if (got != ARCA_OK && got != ARCA_ERR_NOT_FOUND && got != ARCA_ERR_CORRUPT) {
		/* A failed read (network, permissions) says nothing of the pack:
		 * stop rather than drop, and delete, a pack that may be whole. */
		*err = got;
		buf_free(&data);
		return 0;
	}
	int have = got == ARCA_OK;
	if (!have) {
		say(report, arg,
		    "pack %s is missing or unreadable: its chunks are dropped from "
		    "the index",
		    name);
		/* Dropped even when no chunk was located in it (its chunks all
		 * have another copy): the index then names only packs that exist. */
		rp->drop[pk] = 1;
		rp->n_drop++;
	}
	for (size_t k = s->slot_start[pk]; k < s->slot_start[pk + 1]; k++) {
		size_t si = s->slot_list[k];
		const struct idx_slot *sl = &s->idx.slots[si];
		int ok = have && (uint64_t)sl->offset + sl->length <= data.len;
		if (ok) {
			struct aad aad;
			unsigned char cid[ID_LEN];
			char hex[65], what[256];
			id_hex(sl->id, hex);
			snprintf(what, sizeof what, "chunk %s at offset %u of pack %s", hex,
			         sl->offset, name);
			repo_aad(r, BK_CHUNK, sl->id, ID_LEN, &aad);
			ok = blob_open(r->keys, &aad, data.data + sl->offset, sl->length,
			               sl->raw_length, &plain, what) == ARCA_OK &&
			     plain.len == sl->raw_length &&
			     !chunk_id(r->keys, plain.data, plain.len, cid) &&
			     !memcmp(cid, sl->id, ID_LEN);
			if (!ok)
				say(report, arg, "%s is damaged: dropped from the index", what);
		}
		if (!ok) {
			bad[si] = 1;
			n_bad++;
		}
	}
	if (n_bad && have) {
		rp->drop[pk] = 1;
		rp->n_drop++;
		for (size_t k = s->slot_start[pk]; k < s->slot_start[pk + 1] && !*err; k++) {
			size_t si = s->slot_list[k];
			const struct idx_slot *sl = &s->idx.slots[si];
			if (bad[si])
				continue;
			pack_builder_add(&rp->b, sl->id, data.data + sl->offset, sl->length,
			                 sl->raw_length);
			if (rp->b.data.len >= r->pack_size || rp->b.n >= PACK_MAX_ENTRIES)
				*err = repack_flush(r, rp);
		}
	}
	buf_free(&plain);
	buf_free(&data);
	return n_bad;
}

/* New index objects naming every intact pack and the new ones, then the
 * old index objects deleted, then the damaged packs (prune's order: a
 * crash in between leaves a usable index). */
static int rewrite_index(struct repo *r, struct scan *s, struct repack *rp)
{
	struct pack_info *all = xcalloc(s->idx.npacks + rp->nnew + 1, sizeof *all);
	size_t na = 0;
	for (uint32_t pk = 1; pk <= s->idx.npacks; pk++) {
		if (rp->drop[pk])
			continue;
		size_t cnt = s->slot_start[pk + 1] - s->slot_start[pk];
		struct pack_info *pi = &all[na++];
		memcpy(pi->id, s->idx.packs[pk - 1].id, ID_LEN);
		pi->size = s->idx.packs[pk - 1].size;
		pi->e = xmalloc((cnt ? cnt : 1) * sizeof *pi->e);
		for (size_t k = 0; k < cnt; k++) {
			const struct idx_slot *sl =
			    &s->idx.slots[s->slot_list[s->slot_start[pk] + k]];
			struct pack_entry *e = &pi->e[pi->n++];
			memcpy(e->id, sl->id, ID_LEN);
			e->offset = sl->offset;
			e->length = sl->length;
			e->raw_length = sl->raw_length;
		}
	}
	for (size_t i = 0; i < rp->nnew; i++) {
		all[na++] = rp->newp[i];
		rp->newp[i].e = NULL;
	}
	/* Names just written are spared (see prune.c): same content, same name. */
	struct obj_list written = {0};
	struct idx new_packs = {0};
	for (size_t i = 0; i < rp->nnew; i++)
		idx_add_pack(&new_packs, rp->newp[i].id, rp->newp[i].size);
	int rc = index_write(r, all, na, &written);
	pack_info_free(all, na);
	for (size_t i = 0; rc == ARCA_OK && i < s->index_objs.n; i++)
		if (!parse_object_name(s->index_objs.v[i].name, "index/") &&
		    !obj_list_has(&written, s->index_objs.v[i].name))
			rc = dest_remove(r, s->index_objs.v[i].name);
	for (uint32_t pk = 1; rc == ARCA_OK && pk <= s->idx.npacks; pk++) {
		char name[96];
		pack_name(s->idx.packs[pk - 1].id, name);
		if (rp->drop[pk] && scan_pack_size(s, s->idx.packs[pk - 1].id) >= 0 &&
		    !idx_find_pack(&new_packs, s->idx.packs[pk - 1].id))
			rc = dest_remove(r, name);
	}
	obj_list_free(&written);
	idx_free(&new_packs);
	pthread_mutex_lock(&r->idx_mu);
	r->idx_stale = 1;
	pthread_mutex_unlock(&r->idx_mu);
	return rc;
}

/* Whether chunk `id` can be read: in the index, not dropped, pack listed. */
typedef int (*chunk_ok_fn)(void *arg, const unsigned char id[ID_LEN], uint32_t *raw_len);

struct damage {
	const char *id;
	chunk_ok_fn chunk_ok;
	void *ok_arg;
	repo_report_fn report;
	void *arg;
	size_t *items_bad;
	struct buf *bad_items;
};

static int damaged_item(void *arg, const struct manifest *m, json_t *it)
{
	struct damage *d = arg;
	size_t nc = item_chunk_count(it);
	uint64_t at = 0;
	int64_t lost_from = -1, lost_to = -1;
	for (size_t c = 0; c < nc; c++) {
		unsigned char cid[ID_LEN];
		uint32_t raw = 0;
		int ok = !item_chunk(it, c, cid) && d->chunk_ok(d->ok_arg, cid, &raw);
		if (!ok && lost_from < 0)
			lost_from = (int64_t)at;
		if (!ok)
			lost_to = raw ? (int64_t)(at + raw) : -2;
		at += raw;
	}
	unsigned char flag = lost_from >= 0;
	if (d->bad_items)
		buf_append(d->bad_items, &flag, 1);
	if (!flag)
		return ARCA_OK;
	(*d->items_bad)++;
	const char *stored = item_string(it, "name");
	char *name = stored ? name_escape(stored) : NULL;
	if (lost_to == -2)
		say(d->report, d->arg,
		    "snapshot %.12s (target %s), item '%s': bytes from %lld on "
		    "cannot be restored",
		    d->id, m->target, name ? name : "?", (long long)lost_from);
	else
		say(d->report, d->arg,
		    "snapshot %.12s (target %s), item '%s': bytes %lld to %lld "
		    "cannot be restored",
		    d->id, m->target, name ? name : "?", (long long)lost_from,
		    (long long)lost_to - 1);
	free(name);
	return ARCA_OK;
}

/* Name every item of snapshot `id` that needs a chunk chunk_ok refuses,
 * with the byte range lost. *items_bad counts them; bad_items (when not
 * NULL) gets 1 per item index (frame-major) that is damaged. */
static int damaged_items(struct repo *r, const char *id, chunk_ok_fn chunk_ok, void *ok_arg,
                         repo_report_fn report, void *arg, size_t *items_bad, struct buf *bad_items)
{
	*items_bad = 0;
	struct damage d = {id, chunk_ok, ok_arg, report, arg, items_bad, bad_items};
	return manifest_each_item(r, id, damaged_item, &d);
}

struct scan_ok {
	struct scan *s;
	const unsigned char *bad;
};

static int scan_chunk_ok(void *arg, const unsigned char id[ID_LEN], uint32_t *raw_len)
{
	struct scan_ok *o = arg;
	size_t si = scan_slot(o->s, id);
	if (si == (size_t)-1)
		return 0;
	*raw_len = o->s->idx.slots[si].raw_length;
	return !o->bad[si];
}

int repo_repair_packs(struct repo *r, repo_report_fn report, void *arg,
                      struct repo_repair_stats *st)
{
	memset(st, 0, sizeof *st);
	int took, rc = lock_exclusive_for(r, "repairing packs", &took);
	if (rc != ARCA_OK)
		return rc;
	struct scan s;
	rc = scan_load(r, &s, NULL, NULL);
	if (rc == ARCA_OK && s.index_bad)
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s: %zu index object(s) are unreadable; "
		             "run arca repair index first (it rebuilds the index from the packs)",
		             r->dest_name, s.index_bad);
	unsigned char *bad = rc == ARCA_OK ? xcalloc(s.idx.cap + 1, 1) : NULL;
	struct repack rp = {0};
	rp.drop = rc == ARCA_OK ? xcalloc(s.idx.npacks + 2, 1) : NULL;
	for (uint32_t pk = 1; rc == ARCA_OK && pk <= s.idx.npacks; pk++) {
		st->packs_read++;
		st->chunks_dropped += check_pack(r, &s, pk, bad, &rp, &rc, report, arg);
	}
	if (rc == ARCA_OK)
		rc = repack_flush(r, &rp);
	if (rc == ARCA_OK && (st->chunks_dropped || rp.n_drop))
		rc = rewrite_index(r, &s, &rp);
	pack_builder_free(&rp.b);
	pack_info_free(rp.newp, rp.nnew);
	free(rp.drop);
	struct obj_list snaps = {0};
	if (rc == ARCA_OK)
		rc = dest_list_all(r, "snapshots/", &snaps);
	struct scan_ok ok = {&s, bad};
	for (size_t i = 0; rc == ARCA_OK && i < snaps.n; i++) {
		const char *id = snaps.v[i].name + strlen("snapshots/");
		size_t n_bad = 0;
		int m = damaged_items(r, id, scan_chunk_ok, &ok, report, arg, &n_bad, NULL);
		if (m == ARCA_ERR_CORRUPT)
			say(report, arg,
			    "snapshot %.12s is unreadable (%s): arca repair snapshots puts "
			    "back a cached copy if this host has one, else arca forget --snapshot "
			    "%.12s",
			    id, err_msg(), id);
		else if (m != ARCA_OK)
			rc = m;
		if (n_bad || m == ARCA_ERR_CORRUPT)
			st->snapshots_damaged++;
	}
	obj_list_free(&snaps);
	free(bad);
	scan_free(&s);
	if (took)
		lock_release(r);
	return rc;
}

/* ---- repair snapshots ---- */

static int idx_chunk_ok(void *arg, const unsigned char id[ID_LEN], uint32_t *raw_len)
{
	struct repo *r = arg;
	pthread_mutex_lock(&r->idx_mu);
	struct idx_slot *sl = idx_find(&r->idx, id);
	int ok = idx_slot_usable(&r->idx, sl);
	if (sl && sl->pack != PACK_PENDING)
		*raw_len = sl->raw_length;
	pthread_mutex_unlock(&r->idx_mu);
	return ok;
}

/* The snapshot objects in this host's cache ("snapshots/<id>"). */
static void cached_snapshots(struct repo *r, struct obj_list *out)
{
	memset(out, 0, sizeof *out);
	if (!r->cache_dir)
		return;
	/* below state_dir nothing is followed (util.h) */
	char *dir = xasprintf("%s/snapshots", r->cache_dir);
	int dfd = open_dir_nofollow(dir, 2, 0);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d && dfd >= 0)
		close(dfd);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *name = xasprintf("snapshots/%s", e->d_name);
		if (!parse_object_name(name, "snapshots/")) {
			out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
			out->v[out->n].name = name;
			out->v[out->n++].size = 0;
		} else {
			free(name);
		}
	}
	if (d)
		closedir(d);
	free(dir);
}

/* Put back snapshots this host has an authentic cached copy of, when the
 * destination damaged them, or deleted them although this host never
 * forgot them (they are in its seen/ record). */
static void put_back_cached(struct repo *r, const struct obj_list *listed, repo_report_fn report,
                            void *arg, struct repo_repair_stats *st)
{
	struct obj_list cached;
	cached_snapshots(r, &cached);
	for (size_t i = 0; i < cached.n; i++) {
		const char *name = cached.v[i].name, *id = name + strlen("snapshots/");
		struct buf want = {0}, have = {0};
		int in_dest = 0;
		for (size_t k = 0; k < listed->n; k++)
			in_dest |= !strcmp(listed->v[k].name, name);
		if (in_dest) {
			r->cache_bypass = 1;
			int good =
			    get_checked_object(r, name, SNAPSHOT_OBJECT_MAX, &have) == ARCA_OK;
			r->cache_bypass = 0;
			buf_free(&have);
			if (good)
				continue;
		} else if (!seen_contains(r, id)) {
			continue; /* forgotten, here or on another host */
		}
		/* The cached copy must be whole and authentic before it goes back. */
		struct manifest m;
		int ok = cache_get(r, name, &want) == 0 && manifest_load(r, id, &m) == ARCA_OK;
		if (ok)
			manifest_free(&m);
		if (ok && dest_put(r, name, want.data, want.len, 0) == ARCA_OK) {
			st->snapshots_restored++;
			say(report, arg,
			    "snapshot %.12s was %s in destination %s: put back from this "
			    "host's cache",
			    id, in_dest ? "damaged" : "missing", r->dest_name);
		}
		buf_free(&want);
	}
	obj_list_free(&cached);
}

/* A new snapshot: the original's summary and its restorable items. */
static int write_repaired(struct repo *r, const char *id, const struct buf *bad_items,
                          char new_id[65])
{
	struct manifest m;
	int rc = manifest_load(r, id, &m);
	if (rc != ARCA_OK) {
		manifest_free(&m);
		return rc;
	}
	struct manifest_writer mw = {.target = m.target};
	size_t k = 0, kept = 0;
	uint64_t bytes = 0;
	for (uint32_t f = 0; f < m.frames && rc == ARCA_OK; f++) {
		json_t *items;
		rc = manifest_frame(r, &m, f, &items);
		size_t i;
		json_t *it;
		if (rc != ARCA_OK)
			break;
		json_array_foreach(items, i, it)
		{
			if (k < bad_items->len && bad_items->data[k++])
				continue;
			json_t *copy = json_deep_copy(it);
			/* item_string may have added decoded keys: drop them again */
			if (json_object_get(copy, "name_hex"))
				json_object_del(copy, "name");
			if (json_object_get(copy, "link_hex"))
				json_object_del(copy, "link");
			if (json_object_get(copy, "meta_hex"))
				json_object_del(copy, "meta");
			if (json_object_get(copy, "fp_hex"))
				json_object_del(copy, "fp");
			if (json_object_get(copy, "checksum_hex"))
				json_object_del(copy, "checksum");
			bytes += (uint64_t)json_integer_value(json_object_get(copy, "size"));
			kept++;
			rc = mw_add_item(r, &mw, copy,
			                 256 + json_string_length(json_object_get(copy, "chunks")));
			if (rc != ARCA_OK)
				break;
		}
		json_decref(items);
	}
	if (rc == ARCA_OK) {
		json_t *sum = json_deep_copy(m.summary);
		json_object_del(sum, "frames");
		json_object_del(sum, "frames_sha256");
		json_object_set_new(sum, "items", json_integer((json_int_t)kept));
		json_object_set_new(sum, "bytes", json_integer((json_int_t)bytes));
		json_object_set_new(sum, "new_bytes", json_integer(0));
		json_object_set_new(sum, "repaired_from", json_string(id));
		unsigned char nid[ID_LEN];
		rc = mw_finish(r, &mw, sum, nid);
		if (rc == ARCA_OK) {
			id_hex(nid, new_id);
			struct repo_snapshot rec = {0};
			if (summary_to_snapshot(m.summary, new_id, &rec) == ARCA_OK) {
				seen_record(r, &rec, 1);
				repo_snapshot_clear(&rec);
			}
		}
	}
	mw_free(&mw);
	manifest_free(&m);
	return rc;
}

int repo_repair_snapshots(struct repo *r, int forget_originals, repo_report_fn report, void *arg,
                          struct repo_repair_stats *st)
{
	memset(st, 0, sizeof *st);
	int took, rc = lock_exclusive_for(r, "repairing snapshots", &took);
	if (rc != ARCA_OK)
		return rc;
	struct obj_list snaps = {0};
	rc = dest_list_all(r, "snapshots/", &snaps);
	if (rc == ARCA_OK) {
		put_back_cached(r, &snaps, report, arg, st);
		obj_list_free(&snaps);
		rc = dest_list_all(r, "snapshots/", &snaps);
	}
	if (rc == ARCA_OK) {
		pthread_mutex_lock(&r->idx_mu);
		r->idx_stale = 1;
		pthread_mutex_unlock(&r->idx_mu);
		rc = index_load(r);
	}
	if (rc == ARCA_OK)
		rc = index_check_packs(r);
	r->cache_bypass = 1; /* judge what the destination holds */
	for (size_t i = 0; rc == ARCA_OK && i < snaps.n; i++) {
		const char *id = snaps.v[i].name + strlen("snapshots/");
		size_t n_bad = 0;
		struct buf bad_items = {0};
		int m = damaged_items(r, id, idx_chunk_ok, r, report, arg, &n_bad, &bad_items);
		if (m == ARCA_ERR_CORRUPT) {
			st->snapshots_unrepairable++;
			say(report, arg,
			    "snapshot %.12s cannot be read and this host has no copy of "
			    "it: arca forget --snapshot %.12s removes it",
			    id, id);
		} else if (m != ARCA_OK) {
			rc = m;
		} else if (n_bad) {
			char new_id[65];
			rc = write_repaired(r, id, &bad_items, new_id);
			if (rc == ARCA_OK) {
				st->snapshots_repaired++;
				say(report, arg,
				    "snapshot %.12s: wrote %.12s without the %zu item(s) "
				    "that cannot be restored%s",
				    id, new_id, n_bad,
				    forget_originals
				        ? "; the original is forgotten"
				        : " (the original stays: --forget removes it)");
			}
			if (rc == ARCA_OK && forget_originals) {
				const char *ids[] = {id};
				rc = repo_forget(r, ids, 1);
			}
		}
		buf_free(&bad_items);
	}
	r->cache_bypass = 0;
	obj_list_free(&snaps);
	if (took)
		lock_release(r);
	return rc;
}
