/* verify.c — `arca verify`: the same walk as the snapshot's over the stored
 * dump.rdb (magic, every record, the CRC-64), and its key count against
 * what the snapshot recorded in redis-info.txt. Also the item reader the
 * restores share. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "redis.h"

int redis_item_read(void *arg, void *buf, size_t cap, size_t *got)
{
	struct item_src *s = arg;
	return redis_host->item_read(s->ctx, buf, cap, got);
}

int redis_item_cancelled(void *arg)
{
	return redis_host->cancelled(((struct item_src *)arg)->ctx);
}

int redis_open_item(struct arca_ctx *ctx, struct arca_item_info *info)
{
	int rc = redis_host->item_open(ctx, REDIS_ITEM, info);
	if (rc == ARCA_ERR_NOT_FOUND)
		return R_ERR(ARCA_ERR_CORRUPT, "the snapshot holds no %s: not a redis snapshot",
		             REDIS_ITEM);
	return rc;
}

/* The stored redis-info.txt (malloc'd text), or NULL. */
static char *read_summary(struct arca_ctx *ctx)
{
	struct arca_item_info info;
	if (redis_host->item_open(ctx, "redis-info.txt", &info) != ARCA_OK || info.size > 1u << 20)
		return NULL;
	size_t cap = (size_t)info.size + 1, n = 0, got;
	char *s = malloc(cap);
	while (s && n < cap - 1 &&
	       redis_host->item_read(ctx, s + n, cap - 1 - n, &got) == ARCA_OK && got > 0)
		n += got;
	if (s)
		s[n] = '\0';
	return s;
}

int redis_verify(void *instance, struct arca_ctx *ctx)
{
	(void)instance;
	struct arca_item_info info;
	char *summary = read_summary(ctx);
	int rc = redis_open_item(ctx, &info);
	if (rc != ARCA_OK) {
		free(summary);
		return rc;
	}
	struct item_src src = {ctx};
	struct rdb_walker w = {0};
	w.read = redis_item_read;
	w.read_arg = &src;
	w.cancelled = redis_item_cancelled;
	w.cancel_arg = &src;
	rc = rdb_walk(&w);
	if (rc == ARCA_ERR_CORRUPT)
		rc = R_ERR(ARCA_ERR_CORRUPT, "%s: the stored RDB fails its check %s", REDIS_ITEM,
		           w.err);
	if (rc == ARCA_OK) {
		const unsigned char *lo;
		size_t ln, got = 0;
		char one;
		rdb_walk_leftover(&w, &lo, &ln);
		if (ln == 0)
			rc = redis_host->item_read(ctx, &one, 1, &got);
		if (rc == ARCA_OK && (ln || got))
			rc = R_ERR(ARCA_ERR_CORRUPT,
			           "%s: bytes follow the RDB's end at offset %" PRIu64, REDIS_ITEM,
			           w.offset);
	}
	if (rc == ARCA_OK && summary) {
		const char *k = strstr(summary, "\nkeys=");
		if (k && strtoull(k + 6, NULL, 10) != w.keys)
			rc = R_ERR(ARCA_ERR_CORRUPT,
			           "%s: holds %" PRIu64 " keys, the snapshot recorded %s",
			           REDIS_ITEM, w.keys, k + 6);
	}
	if (rc == ARCA_OK) {
		R_LOG(ARCA_LOG_INFO, "%s: RDB version %d, %" PRIu64 " keys, CRC-64 %s; %s",
		      REDIS_ITEM, w.version, w.keys, w.crc_present ? "correct" : "absent",
		      info.meta ? info.meta : "");
		for (size_t i = 0; i < w.n_dbs; i++)
			R_LOG(ARCA_LOG_INFO,
			      "  db%" PRIu64 ": %" PRIu64 " keys, %" PRIu64 " with a TTL",
			      w.dbs[i].db, w.dbs[i].keys, w.dbs[i].expires);
	}
	free(summary);
	rdb_walker_free(&w);
	return rc;
}

int redis_restore(void *instance, struct arca_ctx *ctx)
{
	struct redis_target *t = instance;
	const char *into = redis_host->option(ctx, "into");
	if (into && into[0] == '/')
		return redis_restore_file(t, ctx, into);
	if (redis_host->option(ctx, "start"))
		return R_ERR(ARCA_ERR_CONFIG, "--start goes with --into DIRECTORY");
	if (into && strncmp(into, "redis://", 8) != 0 && strncmp(into, "rediss://", 9) != 0)
		return R_ERR(
		    ARCA_ERR_CONFIG,
		    "--into %s: give an absolute directory or redis://[user@]host:port[/db]", into);
	return redis_restore_live(t, ctx, into);
}
