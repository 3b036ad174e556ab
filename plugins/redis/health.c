/* health.c — `arca health TARGET [--into redis://...]`: the server answers
 * PING, has loaded its dataset, and says what it holds (after a restore:
 * that the keys are there). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "redis.h"

static int file_read(void *arg, void *buf, size_t cap, size_t *got)
{
	ssize_t k;
	do
		k = read(*(int *)arg, buf, cap);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return R_ERR(ARCA_ERR_IO, "reading dump.rdb: %s", strerror(errno));
	*got = (size_t)k;
	return ARCA_OK;
}

/* --into DIR (a restore to files): DIR/dump.rdb walks clean to its end. */
static int health_file(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/dump.rdb", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return R_ERR(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO, "%s: %s", path,
		             strerror(errno));
	struct rdb_walker w = {0};
	w.read = file_read;
	w.read_arg = &fd;
	int rc = rdb_walk(&w);
	const unsigned char *lo;
	size_t ln = 0, got = 0;
	char one;
	if (rc == ARCA_OK) {
		rdb_walk_leftover(&w, &lo, &ln);
		if (ln == 0)
			rc = file_read(&fd, &one, 1, &got);
	}
	if (rc == ARCA_ERR_CORRUPT)
		rc = R_ERR(ARCA_ERR_IO, "%s does not load: %s", path, w.err);
	else if (rc == ARCA_OK && (ln || got))
		rc = R_ERR(ARCA_ERR_IO, "%s: bytes follow the RDB's end", path);
	if (rc == ARCA_OK)
		R_LOG(ARCA_LOG_INFO, "%s: RDB version %d, %" PRIu64 " keys, loads", path, w.version,
		      w.keys);
	rdb_walker_free(&w);
	close(fd);
	return rc;
}

int redis_health(void *instance, struct arca_ctx *ctx)
{
	struct redis_target *t = instance;
	const char *into = redis_host->option(ctx, "into");
	struct redis_addr own, *a = &t->addr;
	int rc;
	if (into && into[0] == '/')
		return health_file(into);
	if (into && strncmp(into, "redis://", 8) && strncmp(into, "rediss://", 9))
		return R_ERR(ARCA_ERR_CONFIG, "--into %s: give redis://host:port or a directory",
		             into);
	if ((rc = redis_addr_for(t, into, &own, &a)) != ARCA_OK)
		return rc;
	struct rconn c;
	char *srv = NULL, *pers = NULL, *ks = NULL;
	rc = rconn_open(&c, a, ctx);
	if (rc == ARCA_OK) {
		const char *ping[] = {"PING"};
		if ((rc = rconn_cmd(&c, NULL, "PING", 1, ping)) == ARCA_OK &&
		    (rc = rconn_info(&c, "server", &srv)) == ARCA_OK &&
		    (rc = rconn_info(&c, "persistence", &pers)) == ARCA_OK)
			rc = rconn_info(&c, "keyspace", &ks);
		char ver[32], loading[8];
		if (rc == ARCA_OK) {
			redis_info_field(srv, "redis_version", ver, sizeof ver);
			redis_info_field(pers, "loading", loading, sizeof loading);
			if (!strcmp(loading, "1"))
				rc = R_ERR(ARCA_ERR_CONNECT, "%s: still loading its dataset",
				           c.where);
		}
		if (rc == ARCA_OK) {
			uint64_t keys = 0;
			for (const char *p = ks; (p = strstr(p, ":keys=")) != NULL; p++)
				keys += strtoull(p + 6, NULL, 10);
			R_LOG(ARCA_LOG_INFO, "%s: Redis %s serving, %" PRIu64 " keys", c.where, ver,
			      keys);
		}
		rconn_close(&c);
	}
	free(srv);
	free(pers);
	free(ks);
	if (a == &own)
		redis_addr_free(&own);
	return rc;
}
