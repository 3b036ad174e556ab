/* scan.h — a full, strict read of the repository's index objects into a
 * private index, shared by verify and prune (which must not trust the
 * engine's working index: it skips damaged objects). */
#ifndef ARCA_REPO_SCAN_H
#define ARCA_REPO_SCAN_H

#include "repo/internal.h"

struct scan {
	struct idx idx; /* every readable index object, merged */
	struct obj_list index_objs;
	unsigned char *index_ok; /* per index object: 1 when it loaded */
	size_t index_bad;
	struct obj_list packs; /* packs/ listing */
	/* per pack of idx.packs: its slots (indexes into idx.slots) */
	size_t *slot_start, *slot_list;
};

/* report(arg, msg) is called for each unreadable index object. */
int scan_load(struct repo *r, struct scan *s, void (*report)(void *arg, const char *msg),
              void *arg);
void scan_free(struct scan *s);
/* Size of a listed pack, or -1 when the destination does not have it. */
int64_t scan_pack_size(const struct scan *s, const unsigned char id[ID_LEN]);
/* Slot number of a chunk in s->idx, or (size_t)-1. */
size_t scan_slot(const struct scan *s, const unsigned char id[ID_LEN]);

#endif
