/* rebuild.c — rebuilding the index from the packs alone: every pack ends
 * with its own authenticated header, so a lost or damaged index/ is
 * recoverable. Under the exclusive lock: read each pack's header, write
 * new index objects for every readable pack, then delete the old index
 * objects (same order as prune: a crash leaves a usable index). */
#include "repo/internal.h"

#include <string.h>
#include "log.h"

int repo_rebuild_index(struct repo *r, repo_report_fn report, void *arg, size_t *packs_indexed)
{
	*packs_indexed = 0;
	int took, rc = lock_exclusive_for(r, "rebuilding the index", &took);
	if (rc != ARCA_OK)
		return rc;
	struct obj_list old, packs;
	rc = dest_list_all(r, "index/", &old);
	if (rc == ARCA_OK)
		rc = dest_list_all(r, "packs/", &packs);
	else
		memset(&packs, 0, sizeof packs);
	struct pack_info *pi = xcalloc(packs.n + 1, sizeof *pi);
	size_t n = 0, bad = 0;
	for (size_t i = 0; rc == ARCA_OK && i < packs.n; i++) {
		struct pack_info *p = &pi[n];
		if (parse_pack_name(packs.v[i].name, p->id)) {
			log_warn("destination %s: %s is not a pack name (skipped)", r->dest_name,
			         packs.v[i].name);
			continue;
		}
		int h = pack_read_header(r, packs.v[i].name, packs.v[i].size, &p->e, &p->n);
		if (h == ARCA_ERR_CORRUPT) {
			/* Its chunks stay lost; snapshots that need them show in verify. */
			bad++;
			if (report)
				report(arg, err_msg());
			continue;
		}
		if (h != ARCA_OK) {
			rc = h;
			break;
		}
		p->size = packs.v[i].size;
		n++;
	}
	/* Spare the names just written: rebuilding an unencrypted repository
	 * again writes the very object the last rebuild wrote. */
	struct obj_list written = {0};
	if (rc == ARCA_OK)
		rc = index_write(r, pi, n, &written);
	for (size_t i = 0; rc == ARCA_OK && i < old.n; i++)
		if (!parse_object_name(old.v[i].name, "index/") &&
		    !obj_list_has(&written, old.v[i].name))
			rc = dest_remove(r, old.v[i].name);
	obj_list_free(&written);
	if (rc == ARCA_OK) {
		*packs_indexed = n;
		log_info("destination %s: index rebuilt from %zu pack(s)%s", r->dest_name, n,
		         bad ? "; some packs are damaged (see above)" : "");
	}
	pthread_mutex_lock(&r->idx_mu);
	r->idx_stale = 1;
	pthread_mutex_unlock(&r->idx_mu);
	pack_info_free(pi, n);
	obj_list_free(&old);
	obj_list_free(&packs);
	if (took)
		lock_release(r);
	if (rc == ARCA_OK && bad)
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s: index rebuilt, but %zu pack(s) have "
		             "unreadable headers and were left out",
		             r->dest_name, bad);
	return rc;
}
