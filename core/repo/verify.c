/* verify.c — `arca verify`: structure (every snapshot's chunks are indexed,
 * every indexed pack exists with its size) and, with read_data_percent >= 0,
 * a download of that share of packs checking pack hash, header, and every
 * chunk's authentication tag, decompression and id. Every problem names the
 * object, and the snapshots and items it damages. */
#include "repo/internal.h"

#include <stdarg.h>
#include <string.h>
#include "log.h"
#include "repo/blob.h"
#include "repo/scan.h"
#include "repo/snapshot.h"

enum pack_state { PK_OK, PK_MISSING, PK_SIZE, PK_CORRUPT };

struct vctx {
	struct repo *r;
	repo_report_fn report;
	void *arg;
	size_t problems;
	struct scan s;
	unsigned char *pack_state; /* per idx pack (1-based) */
	unsigned char *bad_chunk;  /* per idx slot: failed read-data */
};

static void problem(struct vctx *v, const char *fmt, ...) ARCA_PRINTF(2, 3);
static void problem(struct vctx *v, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	v->problems++;
	if (v->report)
		v->report(v->arg, msg);
}

static void index_problem(void *arg, const char *msg)
{
	problem(arg, "%s", msg);
}

static void check_packs(struct vctx *v)
{
	size_t orphans = 0;
	for (size_t p = 0; p < v->s.idx.npacks; p++) {
		const struct idx_pack *pk = &v->s.idx.packs[p];
		char name[96];
		pack_name(pk->id, name);
		int64_t size = scan_pack_size(&v->s, pk->id);
		if (size < 0) {
			v->pack_state[p + 1] = PK_MISSING;
			problem(v, "pack %s is listed in the index but missing from destination %s",
			        name, v->r->dest_name);
		} else if ((uint64_t)size != pk->size) {
			v->pack_state[p + 1] = PK_SIZE;
			problem(v,
			        "pack %s is %lld bytes but the index says %llu (truncated or "
			        "damaged)",
			        name, (long long)size, (unsigned long long)pk->size);
		}
	}
	for (size_t i = 0; i < v->s.packs.n; i++) {
		unsigned char id[ID_LEN];
		if (parse_pack_name(v->s.packs.v[i].name, id))
			problem(v,
			        "%s in destination %s is not a name arca writes (placed there "
			        "by someone else; arca leaves it alone)",
			        v->s.packs.v[i].name, v->r->dest_name);
		else if (!idx_find_pack(&v->s.idx, id))
			orphans++;
	}
	if (orphans)
		log_info("destination %s: %zu pack(s) are in no index (left by an interrupted "
		         "run; arca prune removes them)",
		         v->r->dest_name, orphans);
}

/* Download one pack and check everything in it. */
static void read_pack(struct vctx *v, uint32_t pk)
{
	struct repo *r = v->r;
	const struct idx_pack *ip = &v->s.idx.packs[pk - 1];
	char name[96];
	pack_name(ip->id, name);
	struct buf data = {0};
	int rc = dest_get_bounded(r, name, ip->size, &data);
	if (rc != ARCA_OK) {
		problem(v, "pack %s cannot be read: %s", name, err_msg());
		v->pack_state[pk] = PK_CORRUPT;
		buf_free(&data);
		return;
	}
	unsigned char got[ID_LEN];
	sha256(data.data, data.len, got);
	if (memcmp(got, ip->id, ID_LEN)) {
		problem(v, "pack %s is corrupt: its %zu bytes do not hash to its name", name,
		        data.len);
		v->pack_state[pk] = PK_CORRUPT;
	}
	struct pack_entry *e = NULL;
	size_t ne = 0;
	if (pack_parse(r, data.data, data.len, name, &e, &ne) != ARCA_OK) {
		problem(v, "%s", err_msg());
		v->pack_state[pk] = PK_CORRUPT;
	}
	free(e);
	struct buf plain = {0};
	for (size_t k = v->s.slot_start[pk]; k < v->s.slot_start[pk + 1]; k++) {
		size_t si = v->s.slot_list[k];
		const struct idx_slot *sl = &v->s.idx.slots[si];
		char hex[65], what[256];
		id_hex(sl->id, hex);
		snprintf(what, sizeof what, "chunk %s at offset %u of pack %s", hex, sl->offset,
		         name);
		if ((uint64_t)sl->offset + sl->length > data.len) {
			problem(v, "%s lies beyond the end of the pack (truncated)", what);
			v->bad_chunk[si] = 1;
			continue;
		}
		struct aad aad;
		repo_aad(r, BK_CHUNK, sl->id, ID_LEN, &aad);
		rc = blob_open(r->keys, &aad, data.data + sl->offset, sl->length, sl->raw_length,
		               &plain, what);
		unsigned char cid[ID_LEN];
		if (rc == ARCA_OK &&
		    (plain.len != sl->raw_length || chunk_id(r->keys, plain.data, plain.len, cid) ||
		     memcmp(cid, sl->id, ID_LEN)))
			rc = err_set(ARCA_ERR_CORRUPT,
			             "%s is corrupt: its content does not hash to "
			             "its id",
			             what);
		if (rc != ARCA_OK) {
			problem(v, "%s", err_msg());
			v->bad_chunk[si] = 1;
		}
	}
	buf_free(&plain);
	buf_free(&data);
}

static void check_snapshot(struct vctx *v, const char *id)
{
	struct manifest m;
	int rc = manifest_load(v->r, id, &m);
	if (rc != ARCA_OK) {
		problem(v, "snapshot %s: %s", id, err_msg());
		manifest_free(&m);
		return;
	}
	const char *target = json_string_value(json_object_get(m.summary, "target"));
	for (uint32_t f = 0; f < m.frames; f++) {
		json_t *items;
		if (manifest_frame(v->r, &m, f, &items) != ARCA_OK) {
			problem(v, "snapshot %s (target %s): %s", id, target ? target : "?",
			        err_msg());
			continue;
		}
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			const char *item = item_string(it, "name");
			size_t nc = item_chunk_count(it), bad = 0;
			char first[512] = "";
			for (size_t c = 0; c < nc; c++) {
				unsigned char cid[ID_LEN];
				char hex[65], pname[96];
				const char *why = NULL;
				if (item_chunk(it, c, cid)) {
					snprintf(first, sizeof first,
					         "chunk %zu has a malformed id", c);
					bad++;
					continue;
				}
				id_hex(cid, hex);
				size_t si = scan_slot(&v->s, cid);
				if (si == (size_t)-1) {
					why = "is in no index";
					pname[0] = 0;
				} else {
					uint32_t pk = v->s.idx.slots[si].pack;
					pack_name(v->s.idx.packs[pk - 1].id, pname);
					if (v->bad_chunk[si])
						why = "is corrupt";
					else if (v->pack_state[pk] == PK_MISSING)
						why = "is in a missing pack";
					else if (v->pack_state[pk] == PK_SIZE)
						why = "is in a pack of the wrong size";
				}
				if (why) {
					if (!bad++)
						snprintf(first, sizeof first, "chunk %s %s%s%s",
						         hex, why, pname[0] ? " " : "", pname);
				}
			}
			if (bad) {
				char *shown = name_escape(item ? item : "?");
				problem(v, "snapshot %s (target %s), item '%s': %s%s", id,
				        target ? target : "?", shown, first,
				        bad > 1 ? " (and more chunks)" : "");
				free(shown);
			}
		}
		json_decref(items);
	}
	manifest_free(&m);
}

static void check_blobs(struct vctx *v, int percent)
{
	struct obj_list l;
	if (dest_list_all(v->r, "blobs/", &l) != ARCA_OK) {
		problem(v, "cannot list blobs/: %s", err_msg());
		return;
	}
	struct buf raw = {0}, plain = {0};
	for (size_t i = 0; i < l.n; i++) {
		uint32_t pick;
		if (percent < 100 &&
		    (random_bytes(&pick, sizeof pick) || pick % 100 >= (unsigned)percent))
			continue;
		raw.len = 0;
		char what[300];
		snprintf(what, sizeof what, "blob object %s", l.v[i].name);
		if (named_blob_read(v->r, l.v[i].name, &raw, &plain) != ARCA_OK)
			problem(v, "%s", err_msg());
	}
	buf_free(&raw);
	buf_free(&plain);
	obj_list_free(&l);
}

int repo_verify(struct repo *r, int read_data_percent, repo_report_fn report, void *arg)
{
	struct vctx v = {.r = r, .report = report, .arg = arg};
	r->cache_bypass = 1;
	int rc = scan_load(r, &v.s, index_problem, &v);
	if (rc != ARCA_OK) {
		r->cache_bypass = 0;
		scan_free(&v.s);
		return rc;
	}
	v.pack_state = xcalloc(v.s.idx.npacks + 1, 1);
	v.bad_chunk = xcalloc(v.s.idx.cap + 1, 1);
	check_packs(&v);
	if (read_data_percent > 100)
		read_data_percent = 100;
	if (read_data_percent >= 0) {
		for (uint32_t pk = 1; pk <= v.s.idx.npacks; pk++) {
			uint32_t pick;
			if (v.pack_state[pk] == PK_MISSING)
				continue;
			if (read_data_percent < 100 && (random_bytes(&pick, sizeof pick) ||
			                                pick % 100 >= (unsigned)read_data_percent))
				continue;
			read_pack(&v, pk);
		}
		check_blobs(&v, read_data_percent);
	}
	struct obj_list snaps;
	rc = dest_list_all(r, "snapshots/", &snaps);
	if (rc == ARCA_OK) {
		for (size_t i = 0; i < snaps.n; i++)
			check_snapshot(&v, snaps.v[i].name + strlen("snapshots/"));
		obj_list_free(&snaps);
	}
	r->cache_bypass = 0;
	size_t gone;
	if (rc == ARCA_OK)
		rc = repo_missing_snapshots(r, NULL, index_problem, &v, &gone);
	size_t problems = v.problems;
	free(v.pack_state);
	free(v.bad_chunk);
	scan_free(&v.s);
	if (rc != ARCA_OK)
		return rc;
	if (problems)
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: verify found %zu problem(s); the "
		               "snapshots named above are damaged",
		               r->dest_name, problems);
	return ARCA_OK;
}
