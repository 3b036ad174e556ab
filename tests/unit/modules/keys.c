/* keys.c — a target driver that stores STREAM items named by keys (issue
 * 15, item 5): every kind of name an S3 bucket can hold, tombstones, and
 * items whose size, meta and checksum are known only at item_end. Its
 * restore reads them back and checks every name, type, attribute and byte
 * against the same table; `--into FILE` gets one line, "ok N" (N items
 * checked), so a test knows the check ran.
 *
 * Options:
 *   mode = hostile   the table below (default)
 *          mismatch  one item whose item_end_info states a wrong size (the
 *                    snapshot must fail with it: nothing recorded)
 *          traversal key-named streams "../ESC...", "../../etc/x",
 *                    "/etc/x", "../x", "a/../../x" and `outside` (for a
 *                    restore by the files driver, which must refuse them)
 *          misuse    driver bugs the engine must refuse, then the table
 *   outside = an absolute path for the traversal mode
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "arca/plugin.h"

static const struct arca_host *host;

struct inst {
	const struct arca_config *cfg;
};

/* How an item is sent: its size announced at item_begin, or unknown then
 * and given with its meta and checksum at item_end_info. */
enum how { AT_BEGIN, AT_END, AT_END_UNCHECKED };

struct key {
	const char *name; /* NULL: the long names below */
	enum arca_item_type type;
	size_t size;
	enum how how;
	const char *meta, *fp, *checksum;
	uint32_t mode, uid, gid;
	int64_t mtime;
	int32_t mtime_nsec;
};

static char long1024[1025], long4096[4097], longnot[4098];

static const struct key table[] = {
    {"plain.txt", ARCA_ITEM_STREAM, 11, AT_BEGIN, "content-type=text/plain", "etag-1", NULL, 0644,
     1000, 1000, 1700000000, 123456789},
    {"/leading-slash", ARCA_ITEM_STREAM, 5, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 1, 0},
    {"a//b", ARCA_ITEM_STREAM, 3, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"..", ARCA_ITEM_STREAM, 2, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {".", ARCA_ITEM_STREAM, 1, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"../up", ARCA_ITEM_STREAM, 4, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"a/./b/../c", ARCA_ITEM_STREAM, 4, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"trailing/", ARCA_ITEM_STREAM, 0, AT_BEGIN, "dir-marker", NULL, NULL, 0, 0, 0, 0, 0},
    {"/", ARCA_ITEM_STREAM, 1, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"//", ARCA_ITEM_STREAM, 1, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {" ", ARCA_ITEM_STREAM, 1, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"  spaces  around  ", ARCA_ITEM_STREAM, 9, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"new\nline", ARCA_ITEM_STREAM, 9, AT_BEGIN, "x-amz-meta-a=b\nc", NULL, NULL, 0, 0, 0, 0, 0},
    {"tab\there\rcr", ARCA_ITEM_STREAM, 7, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"esc\x1b[31mred\x1b[0m", ARCA_ITEM_STREAM, 6, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"del\x7f", ARCA_ITEM_STREAM, 6, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"c1-csi-\xc2\x9b"
     "31m",
     ARCA_ITEM_STREAM, 6, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"bidi-\xe2\x80\xae"
     "txt.exe",
     ARCA_ITEM_STREAM, 6, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"back\\slash\\x41", ARCA_ITEM_STREAM, 6, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"latin1-\xe9\xe8\xff", ARCA_ITEM_STREAM, 7, AT_BEGIN, "caf\xe9", "fp-\x80", "md5:\xfe", 0, 0,
     0, 0, 0},
    {"bad-utf8-\xc0\xaf-\xed\xa0\x80-\xf4\x90\x80\x80", ARCA_ITEM_STREAM, 3, AT_BEGIN, NULL, NULL,
     NULL, 0, 0, 0, 0, 0},
    {"\xc3\xbc"
     "ber/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x93\xa6.bin",
     ARCA_ITEM_STREAM, 70000, AT_BEGIN, NULL, NULL, NULL, 0600, 0, 0, 0, 0},
    {"quote\"and'apostrophe,comma", ARCA_ITEM_STREAM, 2, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"name_hex", ARCA_ITEM_STREAM, 2, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"deleted/object", ARCA_ITEM_TOMBSTONE, 0, AT_BEGIN, "version=3 delete-marker", NULL, NULL, 0,
     0, 0, 1700000100, 0},
    {"/../tomb\nstone", ARCA_ITEM_TOMBSTONE, 0, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {"streamed/unknown-size", ARCA_ITEM_STREAM, 300000, AT_END, "version=v42 etag=\"abc\"", "v42",
     "md5:0123456789abcdef0123456789abcdef", 0, 0, 0, 1700000200, 5},
    {"streamed/empty", ARCA_ITEM_STREAM, 0, AT_END, "version=v1", NULL, "sha256:e3b0", 0, 0, 0, 0,
     0},
    {"streamed/unchecked", ARCA_ITEM_STREAM, 17, AT_END_UNCHECKED, "final-meta", "fp-final", NULL,
     0640, 7, 8, 99, 9},
    {"deleted/at-end", ARCA_ITEM_TOMBSTONE, 0, AT_END, "version=7", NULL, NULL, 0, 0, 0, 0, 0},
    /* the versions of one object and its delete marker: one key, three items */
    {"versioned/obj", ARCA_ITEM_STREAM, 100, AT_BEGIN, "version=v1", "v1", NULL, 0, 0, 0, 10, 0},
    {"versioned/obj", ARCA_ITEM_STREAM, 200, AT_BEGIN, "version=v2", "v2", NULL, 0, 0, 0, 20, 0},
    {"versioned/obj", ARCA_ITEM_TOMBSTONE, 0, AT_BEGIN, "version=v3 delete-marker", "v3", NULL, 0,
     0, 0, 30, 0},
    {NULL /* long1024 */, ARCA_ITEM_STREAM, 10, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
    {NULL /* long4096 */, ARCA_ITEM_STREAM, 10, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0},
};
#define N_KEYS (sizeof table / sizeof table[0])

static const char *key_name(size_t i)
{
	if (table[i].name)
		return table[i].name;
	return i == N_KEYS - 2 ? long1024 : long4096;
}

static void make_long_names(void)
{
	/* a 1024-byte S3 key (the longest S3 allows), and the engine's limit */
	for (size_t i = 0; i < 1024; i++)
		long1024[i] = (char)(i % 64 == 63 ? '/' : "abcdefghij"[i % 10]);
	for (size_t i = 0; i < 4096; i++)
		long4096[i] = (char)(i % 2 ? '\xe9' : '.');
	memset(longnot, 'x', 4097);
}

/* Content of item i: a pattern no two items share at the same offset. */
static unsigned char byte_at(size_t i, size_t off)
{
	return (unsigned char)((off * 31 + i * 7 + (off >> 8)) & 0xff);
}

static int k_open(const struct arca_config *cfg, void **out)
{
	struct inst *in = calloc(1, sizeof *in);
	if (!in)
		return host->error(ARCA_ERR_INTERNAL, "out of memory");
	in->cfg = cfg;
	*out = in;
	return ARCA_OK;
}

static void k_close(void *p)
{
	free(p);
}

static int k_check(void *p, struct arca_ctx *ctx)
{
	(void)p, (void)ctx;
	return ARCA_OK;
}

static void fill(const struct key *k, const char *name, struct arca_item_info *info)
{
	memset(info, 0, sizeof *info);
	info->struct_size = sizeof *info;
	info->name = name;
	info->type = k->type;
	info->flags = ARCA_ITEM_KEY_NAME;
	info->mode = k->mode;
	info->uid = k->uid;
	info->gid = k->gid;
	info->mtime_sec = k->mtime;
	info->mtime_nsec = k->mtime_nsec;
	info->size = k->size;
	info->meta = k->meta;
	info->fingerprint = k->fp;
	info->checksum = k->checksum;
}

static int send_item(struct arca_ctx *ctx, size_t i, const struct key *k, size_t claimed)
{
	struct arca_item_info info;
	const char *name = k->name ? k->name : key_name(i);
	fill(k, name, &info);
	if (k->how != AT_BEGIN) {
		/* what a listing without sizes or versions gives */
		info.size = UINT64_MAX;
		info.meta = NULL;
		info.fingerprint = NULL;
		info.checksum = NULL;
		info.mode = 0;
		info.mtime_sec = 0;
	}
	int rc = host->item_begin(ctx, &info);
	if (rc != ARCA_OK && rc != ARCA_ITEM_UNCHANGED)
		return rc;
	unsigned char buf[4096];
	for (size_t off = 0; rc == ARCA_OK && off < k->size;) {
		size_t n = k->size - off < sizeof buf ? k->size - off : sizeof buf;
		for (size_t j = 0; j < n; j++)
			buf[j] = byte_at(i, off + j);
		if ((rc = host->item_write(ctx, buf, n)) != ARCA_OK)
			return rc;
		off += n;
	}
	rc = ARCA_OK;
	if (k->how == AT_BEGIN)
		return host->item_end(ctx);
	fill(k, name, &info);
	info.size = k->how == AT_END_UNCHECKED ? UINT64_MAX : claimed;
	if (i % 2)
		info.name = NULL; /* "the open item's" */
	return host->item_end_info(ctx, &info);
}

/* A name `arca list` shows as "misuse/\x1b]0;pwned\x07tomb\x0a\\". */
#define MISUSE_NAME "misuse/\x1b]0;pwned\x07tomb\n\\"

/* Each of these must be refused, and the snapshot must go on after it. */
static int misuse(struct arca_ctx *ctx)
{
	struct arca_item_info info;
	int rc;
	const struct key k = {"x", ARCA_ITEM_FILE, 0, AT_BEGIN, NULL, NULL, NULL, 0, 0, 0, 0, 0};
	fill(&k, "a file with a key", &info);
	if (host->item_begin(ctx, &info) != ARCA_ERR_INTERNAL)
		return host->error(ARCA_ERR_INTERNAL, "keys: a FILE with a key name was taken");
	info.type = ARCA_ITEM_STREAM;
	info.name = longnot;
	if (host->item_begin(ctx, &info) != ARCA_ERR_INTERNAL)
		return host->error(ARCA_ERR_INTERNAL, "keys: a 4097-byte key was taken");
	info.name = "flags";
	info.flags = 0x80;
	if (host->item_begin(ctx, &info) != ARCA_ERR_INTERNAL)
		return host->error(ARCA_ERR_INTERNAL, "keys: unknown item flags were taken");
	info.flags = 0;
	info.name = "../not-a-key";
	if (host->item_begin(ctx, &info) != ARCA_ERR_INTERNAL)
		return host->error(ARCA_ERR_INTERNAL, "keys: '..' in a path name was taken");
	info.type = ARCA_ITEM_TOMBSTONE + 1;
	info.name = "future";
	if (host->item_begin(ctx, &info) != ARCA_ERR_INTERNAL)
		return host->error(ARCA_ERR_INTERNAL, "keys: an unknown type was taken");
	if (host->item_end_info(ctx, &info) != ARCA_ERR_INTERNAL)
		return host->error(ARCA_ERR_INTERNAL, "keys: item_end_info outside an item");
	/* a tombstone takes no content */
	info.type = ARCA_ITEM_TOMBSTONE;
	info.flags = ARCA_ITEM_KEY_NAME;
	info.name = MISUSE_NAME;
	if ((rc = host->item_begin(ctx, &info)) != ARCA_OK)
		return rc;
	if (host->item_write(ctx, "x", 1) != ARCA_ERR_INTERNAL)
		return host->error(ARCA_ERR_INTERNAL, "keys: content for a tombstone was taken");
	/* item_end_info may not rename or retype the item */
	info.name = "misuse/renamed";
	if (host->item_end_info(ctx, &info) != ARCA_ERR_INTERNAL)
		return host->error(ARCA_ERR_INTERNAL, "keys: item_end_info renamed an item");
	/* ... and the item is gone, not recorded: report it as skipped */
	return host->item_skipped(ctx, MISUSE_NAME, "dropped by the misuse test");
}

static int snapshot_mismatch(struct arca_ctx *ctx)
{
	const struct key k = {"lies/about-its-size",
	                      ARCA_ITEM_STREAM,
	                      1000,
	                      AT_END,
	                      "version=1",
	                      NULL,
	                      NULL,
	                      0,
	                      0,
	                      0,
	                      0,
	                      0};
	int rc = send_item(ctx, 0, &table[0], table[0].size);
	if (rc != ARCA_OK)
		return rc;
	return send_item(ctx, 2, &k, 999); /* the driver's error, as the host gave it */
}

static int snapshot_traversal(struct inst *in, struct arca_ctx *ctx)
{
	const char *outside = host->config_get(in->cfg, "outside");
	const char *names[] = {"../\x1b]0;owned\x07\xc2\x9b"
	                       "2J/x",
	                       "../../etc/x",
	                       "/etc/x",
	                       "../x",
	                       "a/../../x",
	                       outside};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!names[i])
			continue;
		struct arca_item_info info;
		memset(&info, 0, sizeof info);
		info.struct_size = sizeof info;
		info.name = names[i];
		info.type = ARCA_ITEM_STREAM;
		info.flags = ARCA_ITEM_KEY_NAME;
		info.mode = 0644;
		info.size = 6;
		int rc = host->item_begin(ctx, &info);
		if (rc == ARCA_OK)
			rc = host->item_write(ctx, "owned\n", 6);
		if (rc == ARCA_OK)
			rc = host->item_end(ctx);
		if (rc != ARCA_OK)
			return rc;
	}
	return ARCA_OK;
}

static int k_snapshot(void *p, struct arca_ctx *ctx)
{
	struct inst *in = p;
	const char *mode = host->config_get(in->cfg, "mode");
	int rc;
	make_long_names();
	if (!strcmp(mode, "mismatch"))
		return snapshot_mismatch(ctx);
	if (!strcmp(mode, "traversal"))
		return snapshot_traversal(in, ctx);
	if (!strcmp(mode, "misuse") && (rc = misuse(ctx)) != ARCA_OK)
		return rc;
	host->progress_total(ctx, 0, N_KEYS);
	for (size_t i = 0; i < N_KEYS; i++)
		if ((rc = send_item(ctx, i, &table[i], table[i].size)) != ARCA_OK)
			return rc;
	return ARCA_OK;
}

/* ---- restore: every item back exactly ---------------------------------- */

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int differs(size_t i, const char *what)
{
	return host->error(ARCA_ERR_CORRUPT, "keys: item %zu: %s differs", i, what);
}

static int compare(size_t i, const struct arca_item_info *got)
{
	const struct key *k = &table[i];
	if (got->struct_size < sizeof *got)
		return differs(i, "struct_size (the engine filled less than asked)");
	if (strcmp(got->name, key_name(i)))
		return differs(i, "name");
	if (got->type != k->type)
		return differs(i, "type");
	if (got->flags != ARCA_ITEM_KEY_NAME)
		return differs(i, "flags");
	if (got->size != k->size)
		return differs(i, "size");
	if (got->mode != k->mode || got->uid != k->uid || got->gid != k->gid)
		return differs(i, "mode/uid/gid");
	if (got->mtime_sec != k->mtime || got->mtime_nsec != k->mtime_nsec)
		return differs(i, "mtime");
	if (!same_str(got->meta, k->meta))
		return differs(i, "meta");
	if (!same_str(got->fingerprint, k->fp))
		return differs(i, "fingerprint");
	if (!same_str(got->checksum, k->checksum))
		return differs(i, "checksum");
	return ARCA_OK;
}

static int read_content(struct arca_ctx *ctx, size_t i)
{
	unsigned char buf[5000];
	size_t off = 0, got;
	int rc;
	do {
		if ((rc = host->item_read(ctx, buf, sizeof buf, &got)) != ARCA_OK)
			return rc;
		for (size_t j = 0; j < got; j++)
			if (off + j >= table[i].size || buf[j] != byte_at(i, off + j))
				return differs(i, "content");
		off += got;
	} while (got);
	return off == table[i].size ? ARCA_OK : differs(i, "content length");
}

static int k_restore(void *p, struct arca_ctx *ctx)
{
	(void)p;
	make_long_names();
	const char *into = host->option(ctx, "into");
	size_t n = 0;
	int rc;
	for (;;) {
		struct arca_item_info got;
		memset(&got, 0, sizeof got);
		got.struct_size = sizeof got;
		rc = host->item_next(ctx, &got);
		if (rc == ARCA_ERR_NOT_FOUND)
			break;
		if (rc != ARCA_OK)
			return rc;
		if (n >= N_KEYS)
			return host->error(ARCA_ERR_CORRUPT, "keys: more items than stored");
		if ((rc = compare(n, &got)) != ARCA_OK || (rc = read_content(ctx, n)) != ARCA_OK)
			return rc;
		n++;
	}
	if (n != N_KEYS)
		return host->error(ARCA_ERR_CORRUPT, "keys: %zu items back of %zu", n,
		                   (size_t)N_KEYS);
	/* item_open by every key, backwards (each one a search): a key that
	 * repeats (versions) opens its first item */
	for (size_t i = N_KEYS; i-- > 0;) {
		struct arca_item_info got;
		size_t first = 0;
		while (strcmp(key_name(first), key_name(i)))
			first++;
		memset(&got, 0, sizeof got);
		got.struct_size = sizeof got;
		if ((rc = host->item_open(ctx, key_name(i), &got)) != ARCA_OK)
			return rc;
		if ((rc = compare(first, &got)) != ARCA_OK ||
		    (rc = read_content(ctx, first)) != ARCA_OK)
			return rc;
	}
	/* a 1.0-sized reader is given the 1.0 members only */
	struct {
		struct arca_item_info info;
	} small;
	memset(&small, 0xa5, sizeof small);
	small.info.struct_size = offsetof(struct arca_item_info, flags);
	if ((rc = host->item_open(ctx, key_name(0), &small.info)) != ARCA_OK)
		return rc;
	if (small.info.struct_size != offsetof(struct arca_item_info, flags) ||
	    small.info.flags != 0xa5a5a5a5u)
		return host->error(ARCA_ERR_INTERNAL, "keys: the engine wrote past a 1.0 struct");
	if (into) {
		FILE *f = fopen(into, "w");
		if (!f || fprintf(f, "ok %zu\n", n) < 0 || fclose(f))
			return host->error(ARCA_ERR_IO, "keys: cannot write %s", into);
	}
	return ARCA_OK;
}

static const struct arca_option options[] = {
    {"mode", ARCA_OPT_ENUM, 0, "hostile", "which items", "hostile|mismatch|traversal|misuse", 0, 0},
    {"outside", ARCA_OPT_PATH, 0, NULL, "an absolute key for the traversal mode", NULL, 0, 0},
    {NULL, 0, 0, NULL, NULL, NULL, 0, 0},
};

static const struct arca_op_option restore_options[] = {
    {"into", 1, "write \"ok N\" to this file", NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static const struct arca_target_ops target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .open = k_open,
    .check = k_check,
    .snapshot = k_snapshot,
    .restore = k_restore,
    .close = k_close,
    .restore_options = restore_options,
};

static const struct arca_driver driver = {
    .abi_major = ARCA_ABI_MAJOR,
    .struct_size = sizeof(struct arca_driver),
    .name = "keys",
    .version = "1.0.0",
    .description = "test: STREAM items named by any key, tombstones, item_end_info",
    .target_options = options,
    .target = &target_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *h);

const struct arca_driver *arca_driver_entry(const struct arca_host *h)
{
	host = h;
	if (!ARCA_HOST_HAS(h, item_end_info))
		return NULL;
	return &driver;
}
