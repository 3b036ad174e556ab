/* pack.c — pack objects: sealed chunks back to back, then a sealed header
 * listing them, then an 8-byte trailer (FORMAT.md, "Packs"). */
#include "repo/internal.h"

#include <string.h>
#include "log.h"
#include "repo/blob.h"

#define PACK_HEADER_MAGIC   "APH1"
#define PACK_TRAILER_MAGIC  "ARP1"
#define PACK_TRAILER_LEN    8
#define PACK_ENTRY_LEN      (ID_LEN + 16)
#define PACK_HEADER_MAX_RAW (8 + (size_t)PACK_MAX_ENTRIES * PACK_ENTRY_LEN)

uint64_t pack_overhead(const struct repo *r, uint64_t n)
{
	return 8 + n * PACK_ENTRY_LEN + blob_overhead(r->keys) + PACK_TRAILER_LEN;
}

void pack_builder_free(struct pack_builder *b)
{
	buf_free(&b->data);
	free(b->e);
	memset(b, 0, sizeof *b);
}

void pack_builder_record(struct pack_builder *b, const unsigned char id[ID_LEN], size_t offset,
                         size_t len, uint32_t raw_len)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->e = xrealloc(b->e, b->cap * sizeof *b->e);
	}
	struct pack_entry *e = &b->e[b->n++];
	memcpy(e->id, id, ID_LEN);
	e->offset = offset;
	e->length = (uint32_t)len;
	e->raw_length = raw_len;
}

void pack_builder_add(struct pack_builder *b, const unsigned char id[ID_LEN], const void *sealed,
                      size_t len, uint32_t raw_len)
{
	pack_builder_record(b, id, b->data.len, len, raw_len);
	buf_append(&b->data, sealed, len);
}

void pack_builder_reset(struct pack_builder *b)
{
	b->data.len = 0;
	b->n = 0;
}

int pack_builder_finish(struct repo *r, struct pack_builder *b, unsigned char id[ID_LEN])
{
	struct buf h = {0};
	unsigned char head[8];
	memcpy(head, PACK_HEADER_MAGIC, 4);
	put_le32(head + 4, (uint32_t)b->n);
	buf_append(&h, head, 8);
	for (size_t i = 0; i < b->n; i++) {
		unsigned char e[PACK_ENTRY_LEN];
		memcpy(e, b->e[i].id, ID_LEN);
		put_le64(e + ID_LEN, b->e[i].offset);
		put_le32(e + ID_LEN + 8, b->e[i].length);
		put_le32(e + ID_LEN + 12, b->e[i].raw_length);
		buf_append(&h, e, sizeof e);
	}
	size_t before = b->data.len;
	/* Ids do not compress: the header is stored raw. */
	struct aad aad;
	repo_aad(r, BK_PACK_HEADER, NULL, 0, &aad);
	int rc = blob_seal(r->keys, &aad, NULL, 0, h.data, h.len, &b->data);
	buf_free(&h);
	if (rc != ARCA_OK)
		return rc;
	unsigned char trailer[PACK_TRAILER_LEN];
	put_le32(trailer, (uint32_t)(b->data.len - before));
	memcpy(trailer + 4, PACK_TRAILER_MAGIC, 4);
	buf_append(&b->data, trailer, sizeof trailer);
	sha256(b->data.data, b->data.len, id);
	return ARCA_OK;
}

/* Parse a header found in `tail` (the last tail_len bytes of a pack of
 * pack_size bytes). *need > 0 asks for that many tail bytes instead. */
static int parse_tail(struct repo *r, const unsigned char *tail, size_t tail_len,
                      uint64_t pack_size, const char *name, struct pack_entry **out, size_t *n,
                      size_t *need)
{
	*need = 0;
	if (tail_len < PACK_TRAILER_LEN || memcmp(tail + tail_len - 4, PACK_TRAILER_MAGIC, 4))
		return err_set(ARCA_ERR_CORRUPT,
		               "pack %s is corrupt: no pack trailer at its end "
		               "(truncated or damaged)",
		               name);
	uint32_t hlen = get_le32(tail + tail_len - PACK_TRAILER_LEN);
	if (hlen > PACK_HEADER_MAX_RAW + blob_overhead(r->keys))
		return err_set(ARCA_ERR_CORRUPT,
		               "pack %s is corrupt: header length %u exceeds "
		               "the largest header (%u entries)",
		               name, hlen, PACK_MAX_ENTRIES);
	if ((uint64_t)hlen + PACK_TRAILER_LEN > pack_size)
		return err_set(ARCA_ERR_CORRUPT,
		               "pack %s is corrupt: header length %u exceeds "
		               "the pack's %llu bytes",
		               name, hlen, (unsigned long long)pack_size);
	if ((size_t)hlen + PACK_TRAILER_LEN > tail_len) {
		*need = (size_t)hlen + PACK_TRAILER_LEN;
		return ARCA_OK;
	}
	char what[200];
	snprintf(what, sizeof what, "header of pack %s", name);
	struct buf h = {0};
	struct aad aad;
	repo_aad(r, BK_PACK_HEADER, NULL, 0, &aad);
	int rc = blob_open(r->keys, &aad, tail + tail_len - PACK_TRAILER_LEN - hlen, hlen,
	                   PACK_HEADER_MAX_RAW, &h, what);
	if (rc != ARCA_OK) {
		buf_free(&h);
		return rc;
	}
	uint64_t data_end = pack_size - PACK_TRAILER_LEN - hlen;
	uint32_t cnt = h.len >= 8 ? get_le32(h.data + 4) : 0;
	if (h.len < 8 || memcmp(h.data, PACK_HEADER_MAGIC, 4) ||
	    (h.len - 8) / PACK_ENTRY_LEN != cnt || (h.len - 8) % PACK_ENTRY_LEN) {
		buf_free(&h);
		return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: malformed entry table", what);
	}
	struct pack_entry *e = xmalloc((cnt ? cnt : 1) * sizeof *e);
	for (uint32_t i = 0; i < cnt; i++) {
		const unsigned char *q = h.data + 8 + (size_t)i * PACK_ENTRY_LEN;
		memcpy(e[i].id, q, ID_LEN);
		e[i].offset = get_le64(q + ID_LEN);
		e[i].length = get_le32(q + ID_LEN + 8);
		e[i].raw_length = get_le32(q + ID_LEN + 12);
		if (e[i].offset > data_end || e[i].length > data_end - e[i].offset) {
			free(e);
			buf_free(&h);
			return err_set(ARCA_ERR_CORRUPT,
			               "%s is corrupt: entry %u lies outside "
			               "the pack's data",
			               what, i);
		}
		if (!entry_in_bounds(&e[i], r->cdc.max, (uint32_t)blob_overhead(r->keys))) {
			uint32_t claimed = e[i].raw_length;
			free(e);
			buf_free(&h);
			return err_set(ARCA_ERR_CORRUPT,
			               "%s is corrupt: entry %u claims a chunk "
			               "of %u bytes; chunks are at most %u",
			               what, i, claimed, r->cdc.max);
		}
	}
	buf_free(&h);
	*out = e;
	*n = cnt;
	return ARCA_OK;
}

int pack_parse(struct repo *r, const unsigned char *p, size_t len, const char *name,
               struct pack_entry **e, size_t *n)
{
	size_t need;
	return parse_tail(r, p, len, len, name, e, n, &need);
}

int pack_read_header(struct repo *r, const char *name, uint64_t size, struct pack_entry **e,
                     size_t *n)
{
	size_t want = size < 65536 ? (size_t)size : 65536;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct buf tail = {0};
		int rc = dest_get(r, name, size - want, want, &tail);
		if (rc == ARCA_OK && tail.len != want)
			rc = err_set(ARCA_ERR_CORRUPT,
			             "pack %s is corrupt: expected %llu bytes, "
			             "it is shorter",
			             name, (unsigned long long)size);
		size_t need = 0;
		if (rc == ARCA_OK)
			rc = parse_tail(r, tail.data, tail.len, size, name, e, n, &need);
		buf_free(&tail);
		if (rc != ARCA_OK || !need)
			return rc;
		want = need;
	}
	return err_set(ARCA_ERR_CORRUPT, "pack %s is corrupt: header keeps growing", name);
}

int pack_upload(struct repo *r, struct pack_builder *b, uint64_t *stored)
{
	unsigned char id[ID_LEN];
	char name[96];
	int rc = pack_builder_finish(r, b, id);
	if (rc != ARCA_OK)
		return rc;
	pack_name(id, name);
	rc = dest_put_stream(r, name, b->data.data, b->data.len, 0);
	if (rc != ARCA_OK)
		return rc;
	if (stored)
		*stored += b->data.len;
	struct pack_info pi = {.size = b->data.len, .n = b->n};
	memcpy(pi.id, id, ID_LEN);
	pi.e = xmalloc((b->n ? b->n : 1) * sizeof *pi.e);
	memcpy(pi.e, b->e, b->n * sizeof *pi.e);

	pthread_mutex_lock(&r->idx_mu);
	idx_add_packs(&r->idx, &pi, 1);
	if (r->n_unsaved == r->unsaved_cap) {
		r->unsaved_cap = r->unsaved_cap ? r->unsaved_cap * 2 : 16;
		r->unsaved = xrealloc(r->unsaved, r->unsaved_cap * sizeof *r->unsaved);
	}
	r->unsaved[r->n_unsaved++] = pi;
	int flush = r->n_unsaved >= INDEX_FLUSH_PACKS;
	pthread_mutex_unlock(&r->idx_mu);
	/* Long snapshots index as they go so a crash wastes little. */
	return flush ? index_flush_unsaved(r) : ARCA_OK;
}

int chunk_fetch(struct repo *r, const unsigned char id[ID_LEN], struct buf *data)
{
	char hex[65], name[96];
	id_hex(id, hex);
	pthread_mutex_lock(&r->idx_mu);
	struct idx_slot *s = idx_find(&r->idx, id);
	struct idx_slot loc = s ? *s : (struct idx_slot){0};
	unsigned char pack_id[ID_LEN];
	if (s && s->pack != PACK_PENDING)
		memcpy(pack_id, r->idx.packs[s->pack - 1].id, ID_LEN);
	pthread_mutex_unlock(&r->idx_mu);
	if (!s || loc.pack == PACK_PENDING)
		return err_set(ARCA_ERR_CORRUPT,
		               "chunk %s is not in the index of destination %s "
		               "(its pack or index object is missing; run arca verify)",
		               hex, r->dest_name);
	pack_name(pack_id, name);
	struct buf sealed = {0};
	int rc = dest_get(r, name, loc.offset, loc.length, &sealed);
	if (rc == ARCA_ERR_NOT_FOUND)
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s: pack %s holding chunk %s is missing"
		             " (run arca verify)",
		             r->dest_name, name, hex);
	if (rc == ARCA_OK && sealed.len != loc.length)
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s: pack %s is truncated: chunk %s "
		             "at offset %u is cut short",
		             r->dest_name, name, hex, loc.offset);
	if (rc == ARCA_OK) {
		char what[256];
		struct aad aad;
		repo_aad(r, BK_CHUNK, id, ID_LEN, &aad);
		snprintf(what, sizeof what, "destination %s: chunk %s in pack %s", r->dest_name,
		         hex, name);
		rc = blob_open(r->keys, &aad, sealed.data, sealed.len, loc.raw_length, data, what);
		unsigned char got[ID_LEN];
		if (rc == ARCA_OK &&
		    (data->len != loc.raw_length || chunk_id(r->keys, data->data, data->len, got) ||
		     memcmp(got, id, ID_LEN)))
			rc = err_set(ARCA_ERR_CORRUPT,
			             "%s is corrupt: its content does not hash "
			             "to its id",
			             what);
	}
	buf_free(&sealed);
	return rc;
}
