/* wal.c — WAL archiving: `arca wal-push TARGET %p`, `arca wal-get TARGET %f %p`
 * and `arca wal-prune TARGET [SEGMENT]`.
 *
 * Each WAL file is one blob "wal/<name in lower case>" (blob names are
 * lower case; WAL names are upper-case hex). blob_put returns only once the
 * blob is durable in every destination of the target, so archive_command
 * reports success only then. A second push of an identical file succeeds
 * (PostgreSQL retries after a crash); a different file under the same name
 * fails loudly, as two clusters archiving into one target would.
 *
 * The blob "wal/cluster" remembers the database system identifier of the
 * first segment pushed; a segment of another cluster is refused.
 *
 * wal-prune removes segments older than the oldest kept base backup. The
 * engine calls it after forget with the operation positioned on that
 * backup (item "backup_manifest" carries start_wal in its metadata), or a
 * segment name is given as the argument. History files are always kept:
 * they are tiny and recovery needs them to follow timelines. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pg.h"

#define CLUSTER_BLOB     "wal/cluster"
#define XLP_LONG_HEADER  0x0002
#define DEFAULT_SEG_SIZE (16u << 20)

static int all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int wal_is_segment(const char *name)
{
	return strlen(name) == WAL_NAME_LEN && all_hex(name, WAL_NAME_LEN);
}

int wal_is_archivable(const char *name)
{
	size_t n = strlen(name);
	if (wal_is_segment(name))
		return 1;
	if (n == WAL_NAME_LEN + 8 && all_hex(name, WAL_NAME_LEN) &&
	    strcmp(name + WAL_NAME_LEN, ".partial") == 0)
		return 1;
	if (n == 8 + 8 && all_hex(name, 8) && strcmp(name + 8, ".history") == 0)
		return 1;
	/* 000000010000000000000002.00000028.backup */
	if (n == WAL_NAME_LEN + 16 && all_hex(name, WAL_NAME_LEN) && name[WAL_NAME_LEN] == '.' &&
	    all_hex(name + WAL_NAME_LEN + 1, 8) && strcmp(name + WAL_NAME_LEN + 9, ".backup") == 0)
		return 1;
	return 0;
}

void wal_blob_name(const char *walname, char *out, size_t n)
{
	size_t k = (size_t)snprintf(out, n, "wal/%s", walname);
	for (size_t i = 4; i < k && i < n; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

static uint64_t segs_per_id(uint64_t seg_size)
{
	return 0x100000000ull / seg_size;
}

void wal_segment_name(uint32_t tli, uint64_t lsn, uint64_t seg_size, char *out)
{
	uint64_t segno = lsn / seg_size;
	snprintf(out, WAL_NAME_LEN + 1, "%08X%08X%08X", tli,
	         (uint32_t)(segno / segs_per_id(seg_size)),
	         (uint32_t)(segno % segs_per_id(seg_size)));
}

int wal_parse_lsn(const char *s, uint64_t *out)
{
	unsigned hi, lo;
	char tail;
	if (sscanf(s, "%X/%X%c", &hi, &lo, &tail) != 2)
		return -1;
	*out = ((uint64_t)hi << 32) | lo;
	return 0;
}

/* Timeline and segment number of a (lower- or upper-case) segment name. */
static void parse_segment(const char *name, uint64_t seg_size, uint32_t *tli, uint64_t *segno)
{
	char part[9];
	part[8] = 0;
	memcpy(part, name, 8);
	*tli = (uint32_t)strtoul(part, NULL, 16);
	memcpy(part, name + 8, 8);
	uint64_t log = strtoul(part, NULL, 16);
	memcpy(part, name + 16, 8);
	*segno = log * segs_per_id(seg_size) + strtoul(part, NULL, 16);
}

static void segment_from_number(uint32_t tli, uint64_t segno, uint64_t seg_size, char *out)
{
	snprintf(out, WAL_NAME_LEN + 1, "%08X%08X%08X", tli,
	         (uint32_t)(segno / segs_per_id(seg_size)),
	         (uint32_t)(segno % segs_per_id(seg_size)));
}

static int read_whole(const char *path, unsigned char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PG_ERR(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO,
		              "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1ll << 30)) {
		close(fd);
		return PG_ERR(ARCA_ERR_IO, "%s is not a regular file of at most 1 GiB", path);
	}
	unsigned char *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory reading %s", path);
	}
	/* One fault per 2 MiB instead of per 4 KiB while the segment is read
	 * in: on a VM that was a third of a wal-push. */
	if (st.st_size >= (4 << 20)) {
		uintptr_t a = ((uintptr_t)buf + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
		uintptr_t e = ((uintptr_t)buf + (size_t)st.st_size) & ~(uintptr_t)((2u << 20) - 1);
		if (e > a)
			(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			free(buf);
			close(fd);
			return PG_ERR(ARCA_ERR_IO, "reading %s: %s", path,
			              r < 0 ? strerror(e) : "file shrank while read");
		}
		got += (size_t)r;
	}
	close(fd);
	*data = buf;
	*len = got;
	return ARCA_OK;
}

/* The database system identifier in a segment's first (long) page header:
 * magic u16, info u16, tli u32, pageaddr u64, rem_len u32 (+4 padding),
 * then sysid u64, seg_size u32, blcksz u32. */
static int segment_sysid(const unsigned char *p, size_t len, uint64_t *sysid, uint32_t *seg_size)
{
	uint16_t info;
	if (len < 40)
		return -1;
	memcpy(&info, p + 2, sizeof info);
	if (!(info & XLP_LONG_HEADER))
		return -1;
	memcpy(sysid, p + 24, sizeof *sysid);
	memcpy(seg_size, p + 32, sizeof *seg_size);
	return 0;
}

/* Refuse a segment from another cluster than the one this target archives. */
static int check_cluster(struct pg_target *t, struct arca_ctx *ctx, const char *name,
                         const unsigned char *data, size_t len)
{
	uint64_t sysid;
	uint32_t seg_size;
	if (segment_sysid(data, len, &sysid, &seg_size) != 0 || len != seg_size)
		return PG_ERR(ARCA_ERR_CORRUPT,
		              "[target %s]: %s is not a WAL segment (%zu bytes, no "
		              "valid long page header)",
		              t->name, name, len);
	/* initdb --wal-segsize allows 1 MiB to 1 GiB, powers of two */
	if ((seg_size & (seg_size - 1)) || seg_size < (1u << 20) || seg_size > (1u << 30))
		return PG_ERR(ARCA_ERR_CORRUPT,
		              "[target %s]: %s is not a WAL segment: its header gives a "
		              "segment size of %" PRIu32 " bytes, and PostgreSQL's are a "
		              "power of two from 1 MiB to 1 GiB",
		              t->name, name, seg_size);
	char mine[96];
	snprintf(mine, sizeof mine, "system_identifier=%" PRIu64 "\nwal_segment_size=%" PRIu32 "\n",
	         sysid, seg_size);
	void *stored = NULL;
	size_t slen = 0;
	int rc = pg_host->blob_get(ctx, CLUSTER_BLOB, &stored, &slen);
	if (rc == ARCA_ERR_NOT_FOUND)
		return pg_host->blob_put(ctx, CLUSTER_BLOB, mine, strlen(mine), 1) ==
		               ARCA_ERR_EXISTS
		           ? check_cluster(t, ctx, name, data, len)
		           : ARCA_OK;
	if (rc != ARCA_OK)
		return rc;
	int same = slen == strlen(mine) && memcmp(stored, mine, slen) == 0;
	char theirs[96];
	snprintf(theirs, sizeof theirs, "%.*s", (int)(slen < 95 ? slen : 95), (char *)stored);
	free(stored);
	if (!same) {
		/* one line each: "system_identifier=N wal_segment_size=M" */
		for (char *p = mine; *p; p++)
			if (*p == '\n')
				*p = p[1] ? ' ' : 0;
		for (char *p = theirs; *p; p++)
			if (*p == '\n')
				*p = p[1] ? ' ' : 0;
		return PG_ERR(
		    ARCA_ERR_EXISTS,
		    "[target %s]: refusing %s: it comes from a cluster with %s but this "
		    "target archives the cluster with %s; give each cluster its own target "
		    "(two clusters' archive_command point at the same one)",
		    t->name, name, mine, theirs);
	}
	return ARCA_OK;
}

int wal_push(struct pg_target *t, struct arca_ctx *ctx, int argc, char **argv)
{
	if (argc != 1)
		return PG_ERR(ARCA_ERR_CONFIG,
		              "usage: arca wal-push TARGET PATH (archive_command = "
		              "'arca wal-push %s %%p')",
		              t->name);
	const char *path = argv[0];
	const char *name = strrchr(path, '/');
	name = name ? name + 1 : path;
	if (!wal_is_archivable(name))
		return PG_ERR(ARCA_ERR_CONFIG,
		              "[target %s]: %s is not a WAL file name (segment, "
		              ".partial, .history or .backup); archive_command must "
		              "pass %%p",
		              t->name, path);
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = read_whole(path, &data, &len);
	if (rc != ARCA_OK)
		return rc;
	if ((strchr(name, '.') == NULL || strstr(name, ".partial")) &&
	    (rc = check_cluster(t, ctx, name, data, len)) != ARCA_OK) {
		free(data);
		return rc;
	}
	char blob[64];
	wal_blob_name(name, blob, sizeof blob);
	rc = pg_host->blob_put(ctx, blob, data, len, 1);
	free(data);
	if (rc == ARCA_ERR_EXISTS)
		return PG_ERR(
		    ARCA_ERR_EXISTS,
		    "[target %s]: WAL file %s is already archived with DIFFERENT content; "
		    "refusing to overwrite it. Two clusters may be archiving into one "
		    "target, or a restored cluster is archiving without a new timeline: "
		    "give each cluster its own target",
		    t->name, name);
	if (rc == ARCA_OK)
		PG_LOG(ARCA_LOG_DEBUG, "archived %s (%zu bytes)", name, len);
	return rc;
}

struct name_list {
	char **names;
	size_t n, cap;
	const char *prefix_filter; /* keep only names starting with this (after "wal/") */
};

static int collect_name(void *arg, const char *name)
{
	struct name_list *l = arg;
	if (strncmp(name, "wal/", 4) != 0)
		return 0;
	if (l->prefix_filter && strncmp(name + 4, l->prefix_filter, strlen(l->prefix_filter)) != 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char **n = realloc(l->names, cap * sizeof *n);
		if (!n)
			return ARCA_ERR_INTERNAL;
		l->names = n;
		l->cap = cap;
	}
	if (!(l->names[l->n] = strdup(name + 4)))
		return ARCA_ERR_INTERNAL;
	l->n++;
	return 0;
}

static void free_names(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_wal(struct arca_ctx *ctx, const char *filter, struct name_list *l)
{
	memset(l, 0, sizeof *l);
	l->prefix_filter = filter;
	int rc = pg_host->blob_list(ctx, "wal/", collect_name, l);
	if (rc != ARCA_OK) {
		free_names(l);
		return rc;
	}
	qsort(l->names, l->n, sizeof *l->names, cmp_str);
	return ARCA_OK;
}

int wal_chain(struct arca_ctx *ctx, const char *from, uint64_t seg_size, char *last, char *hole,
              char *newest)
{
	char tli_part[9];
	struct name_list l;
	last[0] = hole[0] = newest[0] = 0;
	/* From snapshot metadata or the cluster blob: authenticated, but a value
	 * PostgreSQL cannot have would divide by zero below (segments per
	 * 4 GiB). PostgreSQL allows powers of two from 1 MiB to 1 GiB; smaller
	 * ones are accepted for tests' synthetic segments. */
	if (!seg_size || (seg_size & (seg_size - 1)) || seg_size > (1u << 30))
		return PG_ERR(ARCA_ERR_CORRUPT,
		              "wal_segment_size %llu recorded in the repository is not a "
		              "PostgreSQL segment size (a power of two up to 1 GiB)",
		              (unsigned long long)seg_size);
	snprintf(tli_part, sizeof tli_part, "%.8s", from);
	for (char *p = tli_part; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	last[0] = hole[0] = newest[0] = 0;
	int rc = list_wal(ctx, tli_part, &l);
	if (rc != ARCA_OK)
		return rc;
	uint32_t tli, t2;
	uint64_t want, segno;
	parse_segment(from, seg_size, &tli, &want);
	for (size_t i = 0; i < l.n; i++) {
		if (!wal_is_segment(l.names[i]))
			continue;
		parse_segment(l.names[i], seg_size, &t2, &segno);
		if (segno < want && !hole[0])
			continue;
		segment_from_number(tli, segno, seg_size, newest);
		if (hole[0])
			continue;
		if (segno > want) {
			segment_from_number(tli, want, seg_size, hole);
		} else {
			segment_from_number(tli, segno, seg_size, last);
			want++;
		}
	}
	free_names(&l);
	return ARCA_OK;
}

uint64_t wal_segment_size(struct arca_ctx *ctx)
{
	void *data = NULL;
	size_t len = 0;
	uint64_t size = DEFAULT_SEG_SIZE;
	if (pg_host->blob_get(ctx, CLUSTER_BLOB, &data, &len) != ARCA_OK)
		return size;
	char text[128];
	snprintf(text, sizeof text, "%.*s", (int)(len < 127 ? len : 127), (char *)data);
	free(data);
	const char *p = strstr(text, "wal_segment_size=");
	if (p)
		size = strtoull(p + 17, NULL, 10);
	return size && !(size & (size - 1)) && size <= (1u << 30) ? size : DEFAULT_SEG_SIZE;
}

static int write_file_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.arca-tmp", path) >= sizeof tmp)
		return PG_ERR(ARCA_ERR_IO, "path too long: %s", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return PG_ERR(errno == ENOSPC ? ARCA_ERR_NOSPACE : ARCA_ERR_IO,
		              "cannot create %s: %s", tmp, strerror(errno));
	if (pg_write_all(fd, data, len) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return PG_ERR(e == ENOSPC || e == EDQUOT ? ARCA_ERR_NOSPACE : ARCA_ERR_IO,
		              "writing %s: %s", tmp, strerror(e));
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return PG_ERR(e == ENOSPC ? ARCA_ERR_NOSPACE : ARCA_ERR_IO, "cannot write %s: %s",
		              path, strerror(e));
	}
	return ARCA_OK;
}

int wal_get(struct pg_target *t, struct arca_ctx *ctx, int argc, char **argv)
{
	if (argc != 2)
		return PG_ERR(ARCA_ERR_CONFIG,
		              "usage: arca wal-get TARGET NAME PATH (restore_command "
		              "= 'arca wal-get %s %%f %%p')",
		              t->name);
	const char *name = argv[0], *dest = argv[1];
	if (!wal_is_archivable(name))
		return PG_ERR(ARCA_ERR_CONFIG,
		              "[target %s]: %s is not a WAL file name; "
		              "restore_command must pass %%f and %%p",
		              t->name, name);
	char blob[64];
	void *data = NULL;
	size_t len = 0;
	wal_blob_name(name, blob, sizeof blob);
	int rc = pg_host->blob_get(ctx, blob, &data, &len);
	if (rc == ARCA_ERR_NOT_FOUND) {
		/* Recovery asks for files past the end of the archive and for
		 * history files that never existed: that is how it ends. But a
		 * segment missing while later ones exist is a hole in the chain. */
		char last[WAL_NAME_LEN + 1], hole[WAL_NAME_LEN + 1], newest[WAL_NAME_LEN + 1];
		if (wal_is_segment(name) &&
		    wal_chain(ctx, name, wal_segment_size(ctx), last, hole, newest) == ARCA_OK &&
		    newest[0]) {
			PG_LOG(
			    ARCA_LOG_ERROR,
			    "WAL segment %s is missing from the archive although later "
			    "segments exist (up to %s): recovery stops here and the WAL after it "
			    "cannot be replayed",
			    name, newest);
			return PG_ERR(ARCA_ERR_NOT_FOUND,
			              "[target %s]: WAL segment %s is missing in the middle of the "
			              "archived chain (later segments up to %s exist)",
			              t->name, name, newest);
		}
		return PG_ERR(ARCA_ERR_NOT_FOUND,
		              "[target %s]: %s is not in the archive (normal "
		              "at the end of recovery)",
		              t->name, name);
	}
	if (rc != ARCA_OK)
		return rc;
	rc = write_file_atomic(dest, data, len);
	free(data);
	return rc;
}

/* The first segment the oldest kept base backup needs. */
static int prune_start(struct pg_target *t, struct arca_ctx *ctx, int argc, char **argv, char *keep,
                       uint64_t *seg_size)
{
	*seg_size = DEFAULT_SEG_SIZE;
	if (argc >= 1) {
		if (!wal_is_segment(argv[0]))
			return PG_ERR(ARCA_ERR_CONFIG, "wal-prune: %s is not a WAL segment name",
			              argv[0]);
		snprintf(keep, WAL_NAME_LEN + 1, "%s", argv[0]);
		*seg_size = wal_segment_size(ctx);
		return ARCA_OK;
	}
	struct arca_item_info info;
	memset(&info, 0, sizeof info);
	info.struct_size = sizeof info;
	keep[0] = 0;
	int rc = pg_host->item_open(ctx, "backup_manifest", &info);
	if (rc == ARCA_ERR_NOT_FOUND) {
		/* The oldest kept snapshot is a logical dump: no base backup
		 * bounds the WAL, so all of it stays. */
		PG_LOG(ARCA_LOG_INFO,
		       "the oldest kept snapshot is not a base backup: no WAL removed");
		return ARCA_OK;
	}
	if (rc != ARCA_OK)
		return PG_ERR(ARCA_ERR_CONFIG,
		              "[target %s]: wal-prune needs the first WAL segment to keep: arca "
		              "wal-prune %s SEGMENT (arca forget runs it with the oldest kept base "
		              "backup)",
		              t->name, t->name);
	const char *p = info.meta ? strstr(info.meta, "start_wal=") : NULL;
	const char *s = info.meta ? strstr(info.meta, "wal_segment_size=") : NULL;
	if (!p || strlen(p + 10) < WAL_NAME_LEN)
		return PG_ERR(ARCA_ERR_CORRUPT,
		              "[target %s]: the snapshot's backup_manifest has no "
		              "start_wal metadata",
		              t->name);
	snprintf(keep, WAL_NAME_LEN + 1, "%.24s", p + 10);
	if (s)
		*seg_size = strtoull(s + 17, NULL, 10);
	if (!*seg_size || (*seg_size & (*seg_size - 1)))
		*seg_size = DEFAULT_SEG_SIZE;
	return wal_is_segment(keep)
	           ? ARCA_OK
	           : PG_ERR(ARCA_ERR_CORRUPT, "[target %s]: bad start_wal %s", t->name, keep);
}

int wal_prune(struct pg_target *t, struct arca_ctx *ctx, int argc, char **argv)
{
	char keep[WAL_NAME_LEN + 1];
	uint64_t seg_size;
	int rc = prune_start(t, ctx, argc, argv, keep, &seg_size);
	if (rc != ARCA_OK || !keep[0])
		return rc;
	uint32_t keep_tli, tli;
	uint64_t keep_seg, segno;
	parse_segment(keep, seg_size, &keep_tli, &keep_seg);
	struct name_list l;
	if ((rc = list_wal(ctx, NULL, &l)) != ARCA_OK)
		return rc;
	size_t removed = 0;
	for (size_t i = 0; i < l.n && rc == ARCA_OK; i++) {
		const char *n = l.names[i];
		/* segments, partial segments and backup history files */
		if (strlen(n) < WAL_NAME_LEN || !all_hex(n, WAL_NAME_LEN) || strstr(n, ".history"))
			continue;
		parse_segment(n, seg_size, &tli, &segno);
		if (tli > keep_tli || segno >= keep_seg)
			continue;
		char blob[64];
		snprintf(blob, sizeof blob, "wal/%s", n);
		rc = pg_host->blob_remove(ctx, blob);
		removed += rc == ARCA_OK;
	}
	free_names(&l);
	if (rc == ARCA_OK)
		PG_LOG(ARCA_LOG_INFO, "removed %zu WAL files older than %s", removed, keep);
	return rc;
}
