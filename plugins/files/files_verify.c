/* files_verify.c — the driver's own check of a stored snapshot.
 *
 * Every item is read to its end (the engine authenticates and hashes what
 * passes through item_read) and checked against what restore needs: a safe
 * name, a known type, content exactly as long as recorded for files, none
 * for directories and symlinks, a target for each symlink. All problems are
 * logged; the first one is the returned error. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

struct verify {
	struct arca_ctx *ctx;
	unsigned char *buf;
	uint64_t problems;
	int first_status;
};

/* Log a problem of one item; the first becomes the operation's error. */
#define PROBLEM(v, ...)                                                          \
	do {                                                                     \
		if ((v)->problems++ == 0)                                        \
			(v)->first_status = files_host->error(ARCA_ERR_CORRUPT,  \
							      __VA_ARGS__);      \
		else                                                             \
			files_host->log(ARCA_LOG_ERROR, __VA_ARGS__);            \
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

static int verify_item(struct verify *v, const struct arca_item_info *info)
{
	uint64_t total;
	int rc;

	rc = read_content(v, &total);
	if (rc != ARCA_OK)
		return rc;        /* the engine recorded what failed */
	if (!strcmp(info->name, ".") && info->type == ARCA_ITEM_DIR)
		return ARCA_OK;   /* the root's metadata */
	if (!files_name_safe(info->name)) {
		PROBLEM(v, "files: item \"%s\" has a name restore would refuse (absolute, "
			   "empty part, \".\" or \"..\")",
			info->name ? info->name : "");
		return ARCA_OK;
	}
	switch (info->type) {
	case ARCA_ITEM_FILE:
		if (info->size != UINT64_MAX && total != info->size)
			PROBLEM(v, "files: item %s has %" PRIu64 " bytes of content but the "
				   "snapshot recorded %" PRIu64,
				info->name, total, info->size);
		break;
	case ARCA_ITEM_DIR:
		if (total != 0)
			PROBLEM(v, "files: directory item %s carries %" PRIu64 " bytes of "
				   "content",
				info->name, total);
		break;
	case ARCA_ITEM_SYMLINK:
		if (!info->link_target || !info->link_target[0])
			PROBLEM(v, "files: symlink item %s has no target", info->name);
		else if (total != 0)
			PROBLEM(v, "files: symlink item %s carries %" PRIu64 " bytes of "
				   "content",
				info->name, total);
		break;
	default:
		PROBLEM(v, "files: item %s has type %d, which the files driver never stores",
			info->name, (int)info->type);
		break;
	}
	return ARCA_OK;
}

int files_verify(void *instance, struct arca_ctx *ctx)
{
	struct verify v = { .ctx = ctx };
	struct arca_item_info info;
	int rc;

	(void)instance;
	v.buf = malloc(FILES_IO_BLOCK);
	if (!v.buf)
		return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	for (;;) {
		if (files_host->cancelled(ctx)) {
			rc = files_host->error(ARCA_ERR_CANCELLED, "files: verify interrupted");
			break;
		}
		memset(&info, 0, sizeof(info));
		info.struct_size = sizeof(info);
		rc = files_host->item_next(ctx, &info);
		if (rc == ARCA_ERR_NOT_FOUND) {
			rc = ARCA_OK;
			break;
		}
		if (rc == ARCA_OK)
			rc = verify_item(&v, &info);
		if (rc != ARCA_OK)
			break;
	}
	free(v.buf);
	if (rc != ARCA_OK)
		return rc;
	if (v.problems > 1)
		files_host->log(ARCA_LOG_ERROR, "files: %" PRIu64 " items failed the check",
				v.problems);
	return v.problems ? v.first_status : ARCA_OK;
}
