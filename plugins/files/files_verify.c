/* files_verify.c — the driver's own check of a stored snapshot.
 *
 * Every item is read to its end (the engine authenticates and hashes what
 * passes through item_read) and checked against what restore needs: a safe
 * name, a known type, content exactly as long as recorded for files, none
 * for directories, symlinks, fifos and devices, a target for each symlink,
 * a device number for each device. A hard-link item
 * (see files.h) must have no content and name a file item with content
 * stored before it, which restore links it to: that is checked with a set
 * of 64-bit hashes of the names of such items (11 to 21 bytes per file; a
 * hash collision could hide a missing first path, odds about 2^-64 a pair).
 * All problems are logged; the first one is the returned error. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

struct verify {
	struct arca_ctx *ctx;
	unsigned char *buf;
	uint64_t problems;
	int first_status;
	uint64_t *files;           /* name hashes of file items with content; 0: free */
	size_t n_files, cap_files; /* cap: 0 or a power of two */
};

static uint64_t name_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, then a final mix */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3u;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	return h ? h : 1;
}

static int file_seen(const struct verify *v, uint64_t h)
{
	size_t i;

	if (v->cap_files == 0)
		return 0;
	for (i = (size_t)h & (v->cap_files - 1); v->files[i]; i = (i + 1) & (v->cap_files - 1))
		if (v->files[i] == h)
			return 1;
	return 0;
}

/* Open addressing, at most 3/4 full; -1 when out of memory. */
static int file_add(struct verify *v, uint64_t h)
{
	size_t i, k;

	if (file_seen(v, h))
		return 0;
	if (4 * (v->n_files + 1) > 3 * v->cap_files) {
		size_t cap = v->cap_files ? 2 * v->cap_files : 1024;
		uint64_t *grown = calloc(cap, sizeof(*grown));

		if (!grown)
			return -1;
		for (k = 0; k < v->cap_files; k++) {
			if (!v->files[k])
				continue;
			for (i = (size_t)v->files[k] & (cap - 1); grown[i]; i = (i + 1) & (cap - 1))
				;
			grown[i] = v->files[k];
		}
		free(v->files);
		v->files = grown;
		v->cap_files = cap;
	}
	for (i = (size_t)h & (v->cap_files - 1); v->files[i]; i = (i + 1) & (v->cap_files - 1))
		;
	v->files[i] = h;
	v->n_files++;
	return 0;
}

/* Log a problem of one item; the first becomes the operation's error. */
#define PROBLEM(v, ...)                                                                            \
	do {                                                                                       \
		if ((v)->problems++ == 0)                                                          \
			(v)->first_status = files_host->error(ARCA_ERR_CORRUPT, __VA_ARGS__);      \
		else                                                                               \
			files_host->log(ARCA_LOG_ERROR, __VA_ARGS__);                              \
	} while (0)

/* Read the current item to its end; returns the engine's status. */
static int read_content(struct verify *v, uint64_t *total)
{
	size_t got;
	int rc;

	*total = 0;
	for (;;) {
		got = 0;
		rc = files_host->item_read(v->ctx, v->buf, FILES_IO_BLOCK, &got);
		if (rc != ARCA_OK || got == 0)
			return rc;
		*total += got;
	}
}

static int verify_file(struct verify *v, const struct arca_item_info *info, uint64_t total)
{
	int known;
	const char *first = files_hardlink_target(info->meta, &known);

	if (!known) {
		PROBLEM(v,
		        "files: item %s carries driver metadata the files driver does not "
		        "know (\"%.40s\")",
		        info->name, info->meta);
		return ARCA_OK;
	}
	if (first) {
		if (total != 0 || info->size != 0)
			PROBLEM(v,
			        "files: hard-link item %s carries %" PRIu64 " bytes of "
			        "content",
			        info->name, total ? total : info->size);
		else if (!files_name_safe(first) || !strcmp(first, info->name))
			PROBLEM(v,
			        "files: hard-link item %s names \"%s\" as its first path, "
			        "which restore would refuse",
			        info->name, first);
		else if (!file_seen(v, name_hash(first)))
			PROBLEM(v,
			        "files: hard-link item %s names %s as its first path, but "
			        "no file item with content of that name is stored before it",
			        info->name, first);
		return ARCA_OK;
	}
	if (info->size != UINT64_MAX && total != info->size) {
		PROBLEM(v,
		        "files: item %s has %" PRIu64 " bytes of content but the "
		        "snapshot recorded %" PRIu64,
		        info->name, total, info->size);
		return ARCA_OK;
	}
	if (file_add(v, name_hash(info->name)) != 0)
		return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	return ARCA_OK;
}

static int verify_item(void *arg, const struct arca_item_info *info)
{
	struct verify *v = arg;
	uint64_t total;
	int rc;

	rc = read_content(v, &total);
	if (rc != ARCA_OK)
		return rc; /* the engine recorded what failed */
	if (!strcmp(info->name, ".") && info->type == ARCA_ITEM_DIR)
		return ARCA_OK; /* the root's metadata */
	if (!files_name_safe(info->name)) {
		PROBLEM(v,
		        "files: item \"%s\" has a name restore would refuse (absolute, "
		        "empty part, \".\" or \"..\")",
		        info->name ? info->name : "");
		return ARCA_OK;
	}
	switch (info->type) {
	case ARCA_ITEM_FILE:
		return verify_file(v, info, total);
	case ARCA_ITEM_DIR:
		if (total != 0)
			PROBLEM(v,
			        "files: directory item %s carries %" PRIu64 " bytes of "
			        "content",
			        info->name, total);
		break;
	case ARCA_ITEM_SYMLINK:
		if (!info->link_target || !info->link_target[0])
			PROBLEM(v, "files: symlink item %s has no target", info->name);
		else if (total != 0)
			PROBLEM(v,
			        "files: symlink item %s carries %" PRIu64 " bytes of "
			        "content",
			        info->name, total);
		break;
	case ARCA_ITEM_FIFO:
	case ARCA_ITEM_CHARDEV:
	case ARCA_ITEM_BLOCKDEV: {
		unsigned maj, min;

		if (total != 0)
			PROBLEM(v,
			        "files: special file item %s carries %" PRIu64 " bytes of "
			        "content",
			        info->name, total);
		else if (info->type != ARCA_ITEM_FIFO && files_rdev_parse(info->meta, &maj, &min))
			PROBLEM(v,
			        "files: device item %s has no device number (metadata "
			        "\"%.40s\")",
			        info->name, info->meta ? info->meta : "");
		break;
	}
	default:
		PROBLEM(v, "files: item %s has type %d, which the files driver never stores",
		        info->name, (int)info->type);
		break;
	}
	return ARCA_OK;
}

int files_verify(void *instance, struct arca_ctx *ctx)
{
	struct verify v = {.ctx = ctx};
	int rc;

	(void)instance;
	v.buf = malloc(FILES_IO_BLOCK);
	if (!v.buf)
		return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	rc = files_each_item(ctx, "verify", verify_item, &v);
	free(v.buf);
	free(v.files);
	if (rc != ARCA_OK)
		return rc;
	if (v.problems > 1)
		files_host->log(ARCA_LOG_ERROR, "files: %" PRIu64 " items failed the check",
		                v.problems);
	return v.problems ? v.first_status : ARCA_OK;
}
