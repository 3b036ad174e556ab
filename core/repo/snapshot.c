/* snapshot.c — manifest object codec and snapshot listing. */
#include "repo/snapshot.h"

#include <string.h>
#include "log.h"
#include "repo/blob.h"

#define SNAP_TRAILER_MAGIC "ASN1"
#define SNAP_TRAILER_LEN   8

void mw_free(struct manifest_writer *m)
{
	buf_free(&m->obj);
	json_decref(m->items);
	memset(m, 0, sizeof *m);
}

/* The AAD of item frame `seq` of a snapshot of `target`. */
static void frame_aad(struct repo *r, uint32_t seq, const char *target, struct aad *aad)
{
	unsigned char s4[4];
	put_le32(s4, seq);
	repo_aad(r, BK_FRAME, s4, 4, aad);
	aad_add(aad, target, strlen(target));
}

/* Append one frame: u32 LE sealed length, then the sealed JSON. */
static int put_frame(struct repo *r, struct buf *obj, json_t *doc, const struct aad *aad,
                     size_t *sealed_len)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		return err_set(ARCA_ERR_INTERNAL,
		               "cannot encode a manifest frame (out of memory?)");
	size_t at = obj->len;
	unsigned char len4[4] = {0};
	buf_append(obj, len4, 4);
	int rc = blob_seal(r->keys, aad, NULL, r->zstd_level, text, strlen(text), obj);
	free(text);
	if (rc != ARCA_OK)
		return rc;
	*sealed_len = obj->len - at - 4;
	put_le32(obj->data + at, (uint32_t)*sealed_len);
	return ARCA_OK;
}

static int flush_frame(struct repo *r, struct manifest_writer *m)
{
	if (!m->items || !json_array_size(m->items))
		return ARCA_OK;
	json_t *f = json_pack("{s:I,s:O}", "seq", (json_int_t)m->frames, "items", m->items);
	size_t sl;
	struct aad aad;
	frame_aad(r, m->frames, m->target, &aad);
	int rc = put_frame(r, &m->obj, f, &aad, &sl);
	json_decref(f);
	json_array_clear(m->items);
	m->frame_bytes = 0;
	if (rc == ARCA_OK)
		m->frames++;
	return rc;
}

int mw_add_item(struct repo *r, struct manifest_writer *m, json_t *item, size_t approx)
{
	if (!m->items)
		m->items = json_array();
	json_array_append_new(m->items, item);
	m->frame_bytes += approx;
	if (json_array_size(m->items) >= FRAME_MAX_ITEMS || m->frame_bytes >= FRAME_MAX_BYTES)
		return flush_frame(r, m);
	return ARCA_OK;
}

int mw_finish(struct repo *r, struct manifest_writer *m, json_t *summary, unsigned char id[ID_LEN])
{
	int rc = flush_frame(r, m);
	if (rc != ARCA_OK) {
		json_decref(summary);
		return rc;
	}
	/* The summary authenticates every frame: a snapshot is one whole. */
	unsigned char fh[ID_LEN];
	char fhex[65];
	sha256(m->obj.data, m->obj.len, fh);
	id_hex(fh, fhex);
	json_object_set_new(summary, "frames", json_integer(m->frames));
	json_object_set_new(summary, "frames_sha256", json_string(fhex));
	size_t sl;
	struct aad aad;
	repo_aad(r, BK_SUMMARY, NULL, 0, &aad);
	rc = put_frame(r, &m->obj, summary, &aad, &sl);
	json_decref(summary);
	if (rc != ARCA_OK)
		return rc;
	unsigned char trailer[SNAP_TRAILER_LEN];
	put_le32(trailer, (uint32_t)sl);
	memcpy(trailer + 4, SNAP_TRAILER_MAGIC, 4);
	buf_append(&m->obj, trailer, sizeof trailer);
	char hex[65], name[128];
	sha256(m->obj.data, m->obj.len, id);
	id_hex(id, hex);
	snprintf(name, sizeof name, "snapshots/%s", hex);
	rc = dest_put(r, name, m->obj.data, m->obj.len, 0);
	if (rc == ARCA_OK)
		cache_put(r, name, m->obj.data, m->obj.len);
	return rc;
}

/* Locate and open the summary in the last `len` bytes of a manifest. */
static int open_summary(struct repo *r, const char *name, const unsigned char *tail, size_t len,
                        json_t **out, size_t *need)
{
	*need = 0;
	if (len < SNAP_TRAILER_LEN || memcmp(tail + len - 4, SNAP_TRAILER_MAGIC, 4))
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: snapshot %s is corrupt: no "
		               "trailer at its end (truncated or damaged)",
		               r->dest_name, name);
	uint32_t sl = get_le32(tail + len - SNAP_TRAILER_LEN);
	if (sl > SUMMARY_PLAIN_MAX + blob_overhead(r->keys))
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: snapshot %s is corrupt: its "
		               "summary claims %u bytes, more than a summary can have",
		               r->dest_name, name, sl);
	if ((size_t)sl + 4 + SNAP_TRAILER_LEN > len) {
		*need = (size_t)sl + 4 + SNAP_TRAILER_LEN;
		return ARCA_OK;
	}
	const unsigned char *frame = tail + len - SNAP_TRAILER_LEN - sl;
	if (get_le32(frame - 4) != sl)
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: snapshot %s is corrupt: summary "
		               "frame length disagrees with the trailer",
		               r->dest_name, name);
	char what[256];
	snprintf(what, sizeof what, "destination %s: summary of snapshot %s", r->dest_name, name);
	struct buf plain = {0};
	struct aad aad;
	repo_aad(r, BK_SUMMARY, NULL, 0, &aad);
	int rc = blob_open(r->keys, &aad, frame, sl, SUMMARY_PLAIN_MAX, &plain, what);
	if (rc != ARCA_OK) {
		buf_free(&plain);
		return rc;
	}
	json_error_t jerr;
	*out = json_loadb((const char *)plain.data, plain.len, 0, &jerr);
	buf_free(&plain);
	const char *target = json_string_value(json_object_get(*out, "target"));
	if (!*out || !json_is_object(*out) ||
	    json_integer_value(json_object_get(*out, "version")) != REPO_FORMAT_VERSION ||
	    !target || !*target || strlen(target) > TARGET_NAME_MAX) {
		json_decref(*out);
		*out = NULL;
		return err_set(ARCA_ERR_CORRUPT,
		               "%s is corrupt: not a version %d summary naming "
		               "its target",
		               what, REPO_FORMAT_VERSION);
	}
	return ARCA_OK;
}

int summary_to_snapshot(json_t *s, const char *id, struct repo_snapshot *out)
{
	memset(out, 0, sizeof *out);
	const char *target = json_string_value(json_object_get(s, "target"));
	if (!target)
		return err_set(ARCA_ERR_CORRUPT,
		               "snapshot %s is corrupt: its summary names no "
		               "target",
		               id);
	snprintf(out->id, sizeof out->id, "%s", id);
	const char *v;
	out->target = xstrdup(target);
	out->driver = xstrdup((v = json_string_value(json_object_get(s, "driver"))) ? v : "");
	out->host = xstrdup((v = json_string_value(json_object_get(s, "host"))) ? v : "");
	v = json_string_value(json_object_get(s, "recovery_point"));
	out->recovery_point = v ? xstrdup(v) : NULL;
	out->time = json_integer_value(json_object_get(s, "time"));
	out->time_nsec = (int32_t)json_integer_value(json_object_get(s, "time_nsec"));
	out->items = (uint64_t)json_integer_value(json_object_get(s, "items"));
	out->bytes = (uint64_t)json_integer_value(json_object_get(s, "bytes"));
	out->new_bytes = (uint64_t)json_integer_value(json_object_get(s, "new_bytes"));
	json_t *partial = json_object_get(s, "partial");
	if (json_is_object(partial)) {
		json_int_t skipped = json_integer_value(json_object_get(partial, "skipped"));
		json_t *names = json_object_get(partial, "items");
		size_t k = json_array_size(names);
		out->skipped = skipped > 0 ? (uint64_t)skipped : 1;
		if (k > REPO_SKIPPED_NAMES_MAX)
			k = REPO_SKIPPED_NAMES_MAX;
		out->skipped_items = k ? xcalloc(k, sizeof *out->skipped_items) : NULL;
		for (size_t i = 0; i < k; i++) {
			v = json_string_value(json_array_get(names, i));
			if (v)
				out->skipped_items[out->n_skipped_items++] = xstrdup(v);
		}
	}
	json_t *notes = json_object_get(s, "notes");
	if (json_is_object(notes) && json_object_size(notes)) {
		size_t k = json_object_size(notes) < REPO_NOTES_MAX ? json_object_size(notes)
		                                                    : REPO_NOTES_MAX;
		out->note_keys = xcalloc(k, sizeof *out->note_keys);
		out->note_values = xcalloc(k, sizeof *out->note_values);
		const char *key;
		json_t *val;
		json_object_foreach(notes, key, val)
		{
			if (out->n_notes == k)
				break;
			if (!json_is_string(val))
				continue;
			out->note_keys[out->n_notes] = xstrdup(key);
			out->note_values[out->n_notes++] = xstrdup(json_string_value(val));
		}
	}
	return ARCA_OK;
}

/* Summaries are small and immutable: the local cache keeps each one as the
 * JSON text it decrypted to, so listing does not fetch every snapshot. */
static int cached_summary(struct repo *r, const char *id, struct repo_snapshot *s)
{
	char name[128];
	snprintf(name, sizeof name, "summaries/%s", id);
	struct buf b = {0};
	int rc = -1;
	if (cache_get(r, name, &b) == 0) {
		json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL);
		if (j && summary_to_snapshot(j, id, s) == ARCA_OK)
			rc = 0;
		json_decref(j);
	}
	buf_free(&b);
	return rc;
}

static void cache_summary(struct repo *r, const char *id, json_t *sum)
{
	char name[128], *text = json_dumps(sum, JSON_COMPACT);
	snprintf(name, sizeof name, "summaries/%s", id);
	if (text)
		cache_put(r, name, text, strlen(text));
	free(text);
}

int snapshot_read_summary(struct repo *r, const char *name, uint64_t size, struct repo_snapshot *s)
{
	size_t want = size < 65536 ? (size_t)size : 65536;
	const char *id = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	if (!r->cache_bypass && cached_summary(r, id, s) == 0)
		return ARCA_OK;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct buf tail = {0};
		int rc = dest_get(r, name, size - want, want, &tail);
		json_t *sum = NULL;
		size_t need = 0;
		if (rc == ARCA_OK)
			rc = open_summary(r, id, tail.data, tail.len, &sum, &need);
		buf_free(&tail);
		if (rc != ARCA_OK)
			return rc;
		if (!need || need > size) {
			if (need > size)
				return err_set(ARCA_ERR_CORRUPT,
				               "destination %s: snapshot %s is "
				               "corrupt: summary larger than the object",
				               r->dest_name, id);
			rc = summary_to_snapshot(sum, id, s);
			if (rc == ARCA_OK)
				cache_summary(r, id, sum);
			json_decref(sum);
			return rc;
		}
		want = need;
	}
	return err_set(ARCA_ERR_CORRUPT, "snapshot %s is corrupt: unreadable summary", id);
}

int manifest_load(struct repo *r, const char *id, struct manifest *m)
{
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "%s", id);
	char name[128];
	snprintf(name, sizeof name, "snapshots/%s", id);
	int rc = get_checked_object(r, name, SNAPSHOT_OBJECT_MAX, &m->obj);
	if (rc != ARCA_OK)
		return rc;
	size_t need;
	rc = open_summary(r, id, m->obj.data, m->obj.len, &m->summary, &need);
	if (rc == ARCA_OK && need)
		rc = err_set(ARCA_ERR_CORRUPT,
		             "snapshot %s is corrupt: summary larger than the "
		             "object",
		             id);
	if (rc != ARCA_OK)
		return rc;
	json_int_t frames = json_integer_value(json_object_get(m->summary, "frames"));
	size_t end = m->obj.len - SNAP_TRAILER_LEN -
	             get_le32(m->obj.data + m->obj.len - SNAP_TRAILER_LEN) - 4;
	if (frames < 0 || (uint64_t)frames > end / 5)
		return err_set(ARCA_ERR_CORRUPT, "snapshot %s is corrupt: bad frame count", id);
	m->frames = (uint32_t)frames;
	m->frame_off = xmalloc((m->frames + 1) * sizeof *m->frame_off);
	m->frame_len = xmalloc((m->frames + 1) * sizeof *m->frame_len);
	size_t off = 0;
	for (uint32_t i = 0; i < m->frames; i++) {
		if (end - off < 4)
			goto bad;
		uint32_t fl = get_le32(m->obj.data + off);
		if (fl > end - off - 4)
			goto bad;
		m->frame_off[i] = off + 4;
		m->frame_len[i] = fl;
		off += 4 + (size_t)fl;
	}
	if (off != end)
		goto bad;
	/* The frames are exactly the ones the summary was sealed over. */
	const char *want = json_string_value(json_object_get(m->summary, "frames_sha256"));
	unsigned char got[ID_LEN];
	char hex[65];
	sha256(m->obj.data, end, got);
	id_hex(got, hex);
	if (!want || strcmp(want, hex))
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: snapshot %s is corrupt: its "
		               "item frames are not the ones its summary was written with "
		               "(spliced or tampered with)",
		               r->dest_name, id);
	m->target = xstrdup(json_string_value(json_object_get(m->summary, "target")));
	return ARCA_OK;
bad:
	return err_set(ARCA_ERR_CORRUPT, "snapshot %s is corrupt: its item frames do not add up",
	               id);
}

/* JSON values in `text` (objects, arrays, strings, numbers, literals),
 * counted without parsing: refuses a frame whose parse would cost far more
 * memory than its bytes (FORMAT.md, "Bounds"). */
static size_t json_tokens(const unsigned char *p, size_t n)
{
	size_t tokens = 0;
	int in_str = 0, in_atom = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
			tokens++;
			in_atom = 0;
		} else if (c == '{' || c == '[') {
			tokens++;
			in_atom = 0;
		} else if (c == ',' || c == ':' || c == '}' || c == ']' || c == ' ' || c == '\n' ||
		           c == '\t' || c == '\r') {
			in_atom = 0;
		} else if (!in_atom) {
			tokens++;
			in_atom = 1;
		}
	}
	return tokens;
}

int manifest_frame(struct repo *r, struct manifest *m, uint32_t i, json_t **items)
{
	char what[200];
	snprintf(what, sizeof what, "destination %s: frame %u of snapshot %s", r->dest_name, i,
	         m->id);
	struct buf plain = {0};
	struct aad aad;
	frame_aad(r, i, m->target, &aad);
	int rc = blob_open(r->keys, &aad, m->obj.data + m->frame_off[i], m->frame_len[i],
	                   FRAME_PLAIN_MAX, &plain, what);
	if (rc != ARCA_OK) {
		buf_free(&plain);
		return rc;
	}
	if (json_tokens(plain.data, plain.len) > FRAME_MAX_TOKENS) {
		buf_free(&plain);
		return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: more than %d JSON values", what,
		               FRAME_MAX_TOKENS);
	}
	json_error_t jerr;
	json_t *f = json_loadb((const char *)plain.data, plain.len, 0, &jerr);
	buf_free(&plain);
	json_t *arr = json_object_get(f, "items");
	if (!f || json_integer_value(json_object_get(f, "seq")) != i || !json_is_array(arr) ||
	    json_array_size(arr) > FRAME_MAX_ITEMS) {
		json_decref(f);
		return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: malformed or out of order", what);
	}
	*items = json_incref(arr);
	json_decref(f);
	return ARCA_OK;
}

int manifest_each_item(struct repo *r, const char *id, manifest_item_fn fn, void *arg)
{
	struct manifest m;
	int rc = manifest_load(r, id, &m);
	for (uint32_t f = 0; rc == ARCA_OK && f < m.frames; f++) {
		json_t *items, *it;
		size_t i;
		rc = manifest_frame(r, &m, f, &items);
		if (rc != ARCA_OK)
			break;
		json_array_foreach(items, i, it)
		{
			if ((rc = fn(arg, &m, it)) != ARCA_OK)
				break;
		}
		json_decref(items);
	}
	manifest_free(&m);
	return rc;
}

void manifest_free(struct manifest *m)
{
	free(m->target);
	buf_free(&m->obj);
	free(m->frame_off);
	free(m->frame_len);
	json_decref(m->summary);
	memset(m, 0, sizeof *m);
}

/* Indexed by enum arca_item_type. */
static const char *const type_names[] = {"stream", "file",    "dir",      "symlink",
                                         "fifo",   "chardev", "blockdev", "tombstone"};

/* Names are bytes, not text: a string that is not valid UTF-8 (a latin-1
 * file name) is stored as "<key>_hex" instead of "<key>". */
static void set_bytes(json_t *o, const char *key, const char *value)
{
	json_t *s = json_string(value);
	if (s) {
		json_object_set_new(o, key, s);
		return;
	}
	size_t n = strlen(value);
	char *hex = xmalloc(2 * n + 1), *k = xasprintf("%s_hex", key);
	hex_encode((const unsigned char *)value, n, hex);
	json_object_set_new(o, k, json_string(hex));
	free(hex);
	free(k);
}

const char *item_string(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	if (v)
		return v;
	char *k = xasprintf("%s_hex", key);
	const char *hex = json_string_value(json_object_get(o, k));
	free(k);
	size_t n = hex ? strlen(hex) : 0;
	if (!hex || n % 2)
		return NULL;
	char *raw = xmalloc(n / 2 + 1);
	if (hex_decode(hex, (unsigned char *)raw, n / 2) || memchr(raw, 0, n / 2)) {
		free(raw);
		return NULL;
	}
	raw[n / 2] = 0;
	/* Kept in the item (in memory only, never dumped) so the pointer
	 * lives as long as the item. */
	json_object_set_new_nocheck(o, key, json_stringn_nocheck(raw, n / 2));
	free(raw);
	return json_string_value(json_object_get(o, key));
}

json_t *item_to_json(const struct arca_item_info *info, uint64_t bytes)
{
	json_t *o = json_object();
	set_bytes(o, "name", info->name);
	if (info->flags & ARCA_ITEM_KEY_NAME)
		json_object_set_new(o, "key", json_true());
	json_object_set_new(o, "type",
	                    json_string((unsigned)info->type < ARRAY_LEN(type_names)
	                                    ? type_names[info->type]
	                                    : "stream"));
	item_set_attrs(o, info, bytes);
	json_object_set_new(o, "chunks", json_string(""));
	return o;
}

/* What item_begin says and item_end_info may replace (ABI 1.1). */
static const char *const attr_keys[] = {
    "mode", "uid",      "gid", "mtime",  "mtime_nsec", "link",        "link_hex",
    "meta", "meta_hex", "fp",  "fp_hex", "checksum",   "checksum_hex"};

void item_set_attrs(json_t *o, const struct arca_item_info *info, uint64_t bytes)
{
	for (size_t k = 0; k < ARRAY_LEN(attr_keys); k++)
		json_object_del(o, attr_keys[k]);
	if (info->mode)
		json_object_set_new(o, "mode", json_integer(info->mode));
	if (info->uid)
		json_object_set_new(o, "uid", json_integer(info->uid));
	if (info->gid)
		json_object_set_new(o, "gid", json_integer(info->gid));
	json_object_set_new(o, "mtime", json_integer(info->mtime_sec));
	if (info->mtime_nsec)
		json_object_set_new(o, "mtime_nsec", json_integer(info->mtime_nsec));
	json_object_set_new(o, "size", json_integer((json_int_t)bytes));
	if (info->type == ARCA_ITEM_SYMLINK && info->link_target)
		set_bytes(o, "link", info->link_target);
	if (info->meta)
		set_bytes(o, "meta", info->meta);
	if (info->fingerprint)
		set_bytes(o, "fp", info->fingerprint);
	if (info->checksum)
		set_bytes(o, "checksum", info->checksum);
}

/* The attributes besides the fingerprint (matched, not kept), for an item
 * with meta only: what ARCA_ITEM_KEEP_ATTRS gives back. */
char *item_attrs_text(json_t *item)
{
	if (!json_object_get(item, "meta") && !json_object_get(item, "meta_hex"))
		return NULL;
	json_t *a = json_object();
	for (size_t k = 0; k < ARRAY_LEN(attr_keys); k++) {
		json_t *v = json_object_get(item, attr_keys[k]);
		if (v && strncmp(attr_keys[k], "fp", 2))
			json_object_set(a, attr_keys[k], v);
	}
	char *t = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return t;
}

int item_attrs_apply(json_t *item, const char *text)
{
	json_t *a = json_loads(text, 0, NULL);
	if (!json_is_object(a)) {
		json_decref(a);
		return -1;
	}
	for (size_t k = 0; k < ARRAY_LEN(attr_keys); k++)
		if (strncmp(attr_keys[k], "fp", 2))
			json_object_del(item, attr_keys[k]);
	json_object_update(item, a);
	json_decref(a);
	return 0;
}

int item_from_json(json_t *item, struct arca_item_info *info)
{
	memset(info, 0, sizeof *info);
	info->struct_size = sizeof *info;
	info->name = item_string(item, "name");
	const char *type = json_string_value(json_object_get(item, "type"));
	json_t *chunks = json_object_get(item, "chunks");
	if (!info->name || !type || !json_is_string(chunks) ||
	    json_string_length(chunks) % (2 * ID_LEN))
		return -1;
	info->type = ARCA_ITEM_STREAM;
	size_t t;
	for (t = 0; t < ARRAY_LEN(type_names); t++)
		if (!strcmp(type, type_names[t]))
			break;
	if (t == ARRAY_LEN(type_names))
		return -1;
	info->type = (enum arca_item_type)t;
	info->mode = (uint32_t)json_integer_value(json_object_get(item, "mode"));
	info->uid = (uint32_t)json_integer_value(json_object_get(item, "uid"));
	info->gid = (uint32_t)json_integer_value(json_object_get(item, "gid"));
	info->mtime_sec = json_integer_value(json_object_get(item, "mtime"));
	info->mtime_nsec = (int32_t)json_integer_value(json_object_get(item, "mtime_nsec"));
	info->size = (uint64_t)json_integer_value(json_object_get(item, "size"));
	info->link_target = item_string(item, "link");
	info->meta = item_string(item, "meta");
	info->fingerprint = item_string(item, "fp");
	info->checksum = item_string(item, "checksum");
	json_t *key = json_object_get(item, "key");
	if (key && !json_is_boolean(key))
		return -1;
	if (json_is_true(key)) {
		/* FORMAT.md: only streams and tombstones have keys for names */
		if ((info->type != ARCA_ITEM_STREAM && info->type != ARCA_ITEM_TOMBSTONE) ||
		    strlen(info->name) > ARCA_KEY_NAME_MAX)
			return -1;
		info->flags |= ARCA_ITEM_KEY_NAME;
	}
	if (info->type == ARCA_ITEM_TOMBSTONE && (info->size || item_chunk_count(item)))
		return -1;
	return 0;
}

size_t item_chunk_count(json_t *item)
{
	return json_string_length(json_object_get(item, "chunks")) / (2 * ID_LEN);
}

int item_chunk(json_t *item, size_t i, unsigned char id[ID_LEN])
{
	json_t *c = json_object_get(item, "chunks");
	const char *hex = json_string_value(c);
	if (!hex || i >= json_string_length(c) / (2 * ID_LEN))
		return -1;
	char one[2 * ID_LEN + 1];
	memcpy(one, hex + i * 2 * ID_LEN, 2 * ID_LEN);
	one[2 * ID_LEN] = 0;
	return id_parse(one, id);
}

static int is_hex_prefix(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

int snapshot_resolve(struct repo *r, const char *id, char full[65])
{
	if (!is_hex_prefix(id) || strlen(id) > 64)
		return err_set(ARCA_ERR_NOT_FOUND,
		               "'%s' is not a snapshot id (hex digits); see "
		               "arca list",
		               id);
	char prefix[128];
	snprintf(prefix, sizeof prefix, "snapshots/%s", id);
	struct obj_list l;
	int rc = dest_list_all(r, prefix, &l);
	if (rc != ARCA_OK)
		return rc;
	if (l.n != 1) {
		rc = err_set(l.n ? ARCA_ERR_CONFIG : ARCA_ERR_NOT_FOUND,
		             "destination %s: snapshot "
		             "id '%s' %s; see arca list",
		             r->dest_name, id,
		             l.n ? "is ambiguous: give more digits" : "does not exist");
	} else {
		snprintf(full, 65, "%s", l.v[0].name + strlen("snapshots/"));
	}
	obj_list_free(&l);
	return rc;
}

int repo_resolve_snapshot(struct repo *r, const char *id, char full[65])
{
	return snapshot_resolve(r, id, full);
}

static int cmp_snap(const void *a, const void *b)
{
	const struct repo_snapshot *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->time_nsec != y->time_nsec)
		return x->time_nsec < y->time_nsec ? -1 : 1;
	return strcmp(x->id, y->id);
}

int repo_snapshots(struct repo *r, const char *target, struct repo_snapshot **list, size_t *n)
{
	*list = NULL;
	*n = 0;
	struct obj_list l;
	int rc = dest_list_all(r, "snapshots/", &l);
	if (rc != ARCA_OK)
		return rc;
	struct repo_snapshot *v = xcalloc(l.n ? l.n : 1, sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < l.n; i++) {
		rc = snapshot_read_summary(r, l.v[i].name, l.v[i].size, &v[k]);
		if (rc == ARCA_ERR_CORRUPT) {
			log_warn("%s (not listed; run arca verify)", err_msg());
			continue;
		}
		if (rc != ARCA_OK) {
			repo_snapshots_free(v, k);
			obj_list_free(&l);
			return rc;
		}
		if (target && strcmp(v[k].target, target)) {
			repo_snapshot_clear(&v[k]);
			continue;
		}
		k++;
	}
	/* Forget the cached summaries of snapshots that are gone. */
	struct obj_list keep = {0};
	keep.v = xcalloc(l.n + 1, sizeof *keep.v);
	for (size_t i = 0; i < l.n; i++)
		keep.v[keep.n++].name =
		    xasprintf("summaries/%s", l.v[i].name + strlen("snapshots/"));
	cache_sync(r, "summaries/", &keep);
	obj_list_free(&keep);
	obj_list_free(&l);
	if (k)
		qsort(v, k, sizeof *v, cmp_snap);
	seen_record(r, v, k);
	*list = v;
	*n = k;
	return ARCA_OK;
}

void repo_snapshots_free(struct repo_snapshot *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		repo_snapshot_clear(&list[i]);
	free(list);
}
