/* items.c — reading a stored snapshot back: the readers that restore and
 * verify share, in either mode (host->item_rewind starts a second pass).
 *
 * A logical snapshot holds "dump/DBNAME.pgdump" and, with globals = yes,
 * "globals.sql"; a physical one "base/...", "tblspc/OID/..." and
 * "backup_manifest", whose metadata carries the backup's WAL range. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pg.h"

#define IO_BUF (1u << 20)

int pg_item_next(struct arca_ctx *ctx, struct arca_item_info *info)
{
	memset(info, 0, sizeof *info);
	info->struct_size = sizeof *info;
	return pg_host->item_next(ctx, info);
}

/* ---- one item ------------------------------------------------------------- */

int pg_item_open(struct arca_ctx *ctx, const char *name)
{
	struct arca_item_info info;
	memset(&info, 0, sizeof info);
	info.struct_size = sizeof info;
	return pg_host->item_open(ctx, name, &info);
}

/* Read the current item to its end into a NUL-terminated buffer. */
int pg_read_current(struct arca_ctx *ctx, char **out, size_t *out_len, size_t limit)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	if (!buf)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= limit) {
				free(buf);
				return PG_ERR(ARCA_ERR_CORRUPT, "item larger than %zu bytes",
				              limit);
			}
			char *n = realloc(buf, cap * 2);
			if (!n) {
				free(buf);
				return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
			}
			buf = n;
			cap *= 2;
		}
		size_t got = 0;
		int rc = pg_host->item_read(ctx, buf + len, cap - 1 - len, &got);
		if (rc != ARCA_OK) {
			free(buf);
			return rc;
		}
		if (got == 0)
			break;
		len += got;
	}
	buf[len] = 0;
	*out = buf;
	if (out_len)
		*out_len = len;
	return ARCA_OK;
}

/* Pipe the current item into a child's stdin. */
int pg_pipe_current(struct arca_ctx *ctx, struct pg_child *c, int *child_closed)
{
	unsigned char *buf = malloc(IO_BUF);
	if (!buf)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	int rc = ARCA_OK;
	*child_closed = 0;
	for (;;) {
		size_t got = 0;
		if (pg_host->cancelled(ctx)) {
			rc = PG_ERR(ARCA_ERR_CANCELLED, "interrupted");
			break;
		}
		if ((rc = pg_host->item_read(ctx, buf, IO_BUF, &got)) != ARCA_OK || got == 0)
			break;
		if (child_write(c, buf, got) != ARCA_OK) {
			*child_closed = 1; /* the child's exit status says why */
			break;
		}
	}
	free(buf);
	child_close_stdin(c);
	return rc;
}

char *pg_meta_value(const char *meta, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = meta; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
			return strndup(p + klen + 1, len - klen - 1);
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* ---- what a logical snapshot holds ----------------------------------------- */

int logical_items_find(struct pg_target *t, struct arca_ctx *ctx, struct logical_items *li)
{
	struct arca_item_info info;
	memset(li, 0, sizeof *li);
	for (;;) {
		int rc = pg_item_next(ctx, &info);
		if (rc == ARCA_ERR_NOT_FOUND)
			break;
		if (rc != ARCA_OK)
			return rc;
		if (strcmp(info.name, GLOBALS_ITEM) == 0) {
			li->has_globals = 1;
		} else if (strncmp(info.name, DUMP_PREFIX, strlen(DUMP_PREFIX)) == 0 && !li->dump) {
			li->dump = strdup(info.name);
			li->dump_db = pg_meta_value(info.meta, "database");
			if (!li->dump)
				return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		}
	}
	if (!li->dump)
		return PG_ERR(ARCA_ERR_CORRUPT,
		              "[target %s]: the snapshot holds no dump item (dump/*.pgdump); "
		              "it was not made by the postgres driver in logical mode",
		              t->name);
	return ARCA_OK;
}

void logical_items_free(struct logical_items *li)
{
	free(li->dump);
	free(li->dump_db);
}

/* ---- what a physical snapshot holds ---------------------------------------- */

int pg_read_manifest(struct arca_ctx *ctx, struct manifest *m, char **meta)
{
	struct arca_item_info info;
	memset(&info, 0, sizeof info);
	info.struct_size = sizeof info;
	int rc = pg_host->item_open(ctx, "backup_manifest", &info);
	if (rc != ARCA_OK)
		return rc == ARCA_ERR_NOT_FOUND
		           ? PG_ERR(ARCA_ERR_CORRUPT, "the snapshot has no backup_manifest")
		           : rc;
	if (meta && !(*meta = strdup(info.meta ? info.meta : "")))
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	char *text = NULL;
	size_t len = 0;
	if ((rc = pg_read_current(ctx, &text, &len, SIZE_MAX)) == ARCA_OK)
		rc = manifest_parse(text, len, m);
	free(text);
	if (rc != ARCA_OK && meta) {
		free(*meta);
		*meta = NULL;
	}
	return rc;
}
