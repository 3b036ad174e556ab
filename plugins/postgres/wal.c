/* wal.c — WAL archiving: `arca wal-push TARGET %p`, `arca wal-get TARGET %f %p`
 * and `arca wal-prune TARGET [SEGMENT]`; and wal_walk, the chain of segments
 * a base backup needs, which verify follows across timelines.
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
#include <time.h>
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
	 * in: on a VM page faults are a large share of a wal-push. */
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

/* ---- verify: the WAL a base backup needs, across timeline switches -------
 *
 * Recovery (recovery_target_timeline = 'latest', as arca restore writes
 * it) starts on the backup's timeline, takes the newest timeline whose
 * history files follow it without a gap (PostgreSQL probes TLI+1, TLI+2,
 * ...), and reads each segment from the newest timeline of that history
 * that had begun by then. wal_walk finds the segments that path needs from
 * the backup's first segment to the newest one archived on it, from one
 * listing of the archive (and the latest timeline's history file), and
 * the first of them that is missing or, when asked, cannot be read or is
 * not the segment its name says. */

struct seg_ref {
	uint32_t tli;
	uint64_t segno;
};

/* One step of the path: timeline `tli` supplies the segments from
 * `begin_seg` on (until the next step's begin). */
struct tl_step {
	uint32_t tli;
	uint64_t begin_seg;
};

struct archive_index {
	struct seg_ref *segs; /* every segment, in name order */
	size_t n_segs;
	uint32_t *hist; /* timelines with a history file, ascending */
	size_t n_hist;
	uint32_t max_tli;  /* highest timeline of any segment or history file */
	char max_name[32]; /* a file of that timeline, for messages */
};

static void free_archive(struct archive_index *a)
{
	free(a->segs);
	free(a->hist);
}

static int load_archive(struct arca_ctx *ctx, uint64_t seg_size, struct archive_index *a)
{
	struct name_list l;
	memset(a, 0, sizeof *a);
	int rc = list_wal(ctx, NULL, &l);
	if (rc != ARCA_OK)
		return rc;
	a->segs = malloc((l.n ? l.n : 1) * sizeof *a->segs);
	a->hist = malloc((l.n ? l.n : 1) * sizeof *a->hist);
	if (!a->segs || !a->hist) {
		free_names(&l);
		free_archive(a);
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < l.n; i++) {
		const char *n = l.names[i];
		uint32_t tli;
		if (wal_is_segment(n)) {
			struct seg_ref *s = &a->segs[a->n_segs++];
			parse_segment(n, seg_size, &s->tli, &s->segno);
			tli = s->tli;
		} else if (strlen(n) == 16 && all_hex(n, 8) && strcmp(n + 8, ".history") == 0) {
			tli = (uint32_t)strtoul(n, NULL, 16);
			a->hist[a->n_hist++] = tli; /* names sort by timeline */
		} else {
			continue;
		}
		if (tli > a->max_tli) {
			a->max_tli = tli;
			snprintf(a->max_name, sizeof a->max_name, "%s", n);
			for (char *p = a->max_name; *p && *p != '.'; p++)
				*p = (char)toupper((unsigned char)*p);
		}
	}
	free_names(&l);
	return ARCA_OK;
}

static int has_history(const struct archive_index *a, uint32_t tli)
{
	size_t lo = 0, hi = a->n_hist;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (a->hist[mid] == tli)
			return 1;
		if (a->hist[mid] < tli)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Parse a timeline history file ("parentTLI <tab> switchpoint <tab>
 * reason" per line, '#' comments) as PostgreSQL's readTimeLineHistory.
 * The parents must be in increasing order and below `tli`. */
static int parse_history(uint32_t tli, const char *text, size_t len, struct tl_step **out,
                         size_t *n)
{
	struct tl_step *e = NULL;
	size_t cap = 0;
	*n = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - text - pos) : len - pos;
		char line[256];
		snprintf(line, sizeof line, "%.*s", (int)(ll < 255 ? ll : 255), text + pos);
		pos += ll + 1;
		char *p = line;
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p || *p == '#')
			continue;
		unsigned parent, hi, lo;
		if (sscanf(p, "%u %X/%X", &parent, &hi, &lo) != 3 ||
		    (*n && parent <= e[*n - 1].tli) || parent >= tli) {
			free(e);
			return PG_ERR(ARCA_ERR_CORRUPT,
			              "timeline history file %08X.history is malformed at \"%s\" "
			              "(expected increasing parent timelines below %u, each with "
			              "its switch point)",
			              tli, p, tli);
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			struct tl_step *ne = realloc(e, cap * sizeof *e);
			if (!ne) {
				free(e);
				return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
			}
			e = ne;
		}
		/* begin_seg holds the parent's switch point (an LSN) here */
		e[*n].tli = parent;
		e[*n].begin_seg = ((uint64_t)hi << 32) | lo;
		(*n)++;
	}
	*out = e;
	return ARCA_OK;
}

/* The timelines recovery from (b, start_lsn) goes through to the latest. */
static int timeline_path(struct arca_ctx *ctx, const struct archive_index *a, uint32_t b,
                         uint64_t start_lsn, uint64_t seg_size, struct tl_step **path,
                         size_t *n_path, uint32_t *latest)
{
	*path = NULL;
	*n_path = 0;
	if (b > 1 && !has_history(a, b))
		return PG_ERR(
		    ARCA_ERR_CORRUPT,
		    "the timeline history file %08X.history of the base backup's timeline "
		    "%u is missing from the archive: recovery cannot start without it",
		    b, b);
	uint32_t l = b;
	while (l < UINT32_MAX && has_history(a, l + 1))
		l++;
	*latest = l;
	if (a->max_tli > l)
		return PG_ERR(ARCA_ERR_CORRUPT,
		              "the archive holds timeline %u (%s), but the timeline history file "
		              "%08X.history is missing: recovery would stay on timeline %u and "
		              "never reach the WAL after it",
		              a->max_tli, a->max_name, l + 1, l);
	struct tl_step *hist = NULL, *p = NULL;
	size_t n_hist = 0;
	if (l > b) {
		char blob[32];
		void *data = NULL;
		size_t len = 0;
		snprintf(blob, sizeof blob, "wal/%08x.history", l);
		int rc = pg_host->blob_get(ctx, blob, &data, &len);
		if (rc != ARCA_OK)
			return rc == ARCA_ERR_NOT_FOUND
			           ? PG_ERR(ARCA_ERR_CORRUPT,
			                    "timeline history file %08X.history vanished while "
			                    "arca read the archive",
			                    l)
			           : rc;
		rc = parse_history(l, data, len, &hist, &n_hist);
		free(data);
		if (rc != ARCA_OK)
			return rc;
	}
	size_t j = 0;
	if (l > b) {
		while (j < n_hist && hist[j].tli != b)
			j++;
		if (j == n_hist || hist[j].begin_seg <= start_lsn) {
			int rc = PG_ERR(
			    ARCA_ERR_CORRUPT,
			    "the latest timeline %u does not descend from this base backup: %s; "
			    "recovery with recovery_target_timeline = 'latest' (what arca restore "
			    "writes) refuses to start (\"requested timeline %u is not a child of "
			    "this server's history\"). A restored copy archived its own timeline "
			    "into this target (drills need --no-archive)",
			    l,
			    j == n_hist
			        ? "its timeline is not in that timeline's history"
			        : "that history left the backup's timeline before the backup "
			          "started",
			    l);
			free(hist);
			return rc;
		}
	}
	p = malloc((n_hist - j + 1) * sizeof *p);
	if (!p) {
		free(hist);
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	}
	p[0].tli = b;
	p[0].begin_seg = 0;
	size_t k = 1;
	for (size_t i = j + 1; l > b && i <= n_hist; i++, k++) {
		p[k].tli = i < n_hist ? hist[i].tli : l;
		p[k].begin_seg = hist[i - 1].begin_seg / seg_size;
	}
	free(hist);
	*path = p;
	*n_path = k;
	return ARCA_OK;
}

static uint32_t tli_of_segment(const struct tl_step *path, size_t n, uint64_t segno)
{
	while (n > 1 && path[n - 1].begin_seg > segno)
		n--;
	return path[n - 1].tli;
}

static int cmp_segno(const void *a, const void *b)
{
	uint64_t x = ((const struct seg_ref *)a)->segno, y = ((const struct seg_ref *)b)->segno;
	return x < y ? -1 : x > y;
}

/* The cluster blob's system identifier (0 when unknown). */
static uint64_t cluster_sysid(struct arca_ctx *ctx)
{
	void *data = NULL;
	size_t len = 0;
	uint64_t id = 0;
	if (pg_host->blob_get(ctx, CLUSTER_BLOB, &data, &len) != ARCA_OK)
		return 0;
	char text[128];
	snprintf(text, sizeof text, "%.*s", (int)(len < 127 ? len : 127), (char *)data);
	free(data);
	const char *p = strstr(text, "system_identifier=");
	if (p)
		id = strtoull(p + 18, NULL, 10);
	return id;
}

/* Is `p` segment `segno` of timeline `tli` of this cluster? NULL when it
 * looks so, else why not (in `why`). The first page's long header: magic
 * u16, info u16, tli u32, pageaddr u64, rem_len u32, padding, sysid u64,
 * seg_size u32, blcksz u32. The magic changes with the major version, so
 * every segment must have the first one's. A segment that begins a
 * timeline starts with pages copied from its parent's: page timelines may
 * be lower than the file's, never higher. */
static const char *segment_problem(const unsigned char *p, size_t len, uint32_t tli, uint64_t segno,
                                   uint64_t seg_size, uint64_t sysid, uint16_t *magic, char *why,
                                   size_t n)
{
	uint16_t m, info;
	uint32_t page_tli, size;
	uint64_t pageaddr, id;
	if (len != seg_size) {
		snprintf(why, n, "is %zu bytes where segments have %" PRIu64, len, seg_size);
		return why;
	}
	if (len < 40) {
		snprintf(why, n, "is too short for a page header");
		return why;
	}
	memcpy(&m, p, 2);
	memcpy(&info, p + 2, 2);
	memcpy(&page_tli, p + 4, 4);
	memcpy(&pageaddr, p + 8, 8);
	memcpy(&id, p + 24, 8);
	memcpy(&size, p + 32, 4);
	if ((m & 0xFE00) != 0xD000)
		snprintf(why, n, "has page magic 0x%04X, which no WAL page has", m);
	else if (*magic && m != *magic)
		snprintf(why, n, "has page magic 0x%04X where the segments before it have 0x%04X",
		         m, *magic);
	else if (!(info & XLP_LONG_HEADER))
		snprintf(why, n, "does not start with a segment's long page header");
	else if (!page_tli || page_tli > tli)
		snprintf(why, n,
		         "starts with a page of timeline %" PRIu32
		         " in a file of timeline %" PRIu32,
		         page_tli, tli);
	else if (pageaddr != segno * seg_size)
		snprintf(why, n, "holds the WAL at %X/%X, not this segment's (%X/%X)",
		         (unsigned)(pageaddr >> 32), (unsigned)pageaddr,
		         (unsigned)((segno * seg_size) >> 32), (unsigned)(segno * seg_size));
	else if (sysid && id != sysid)
		snprintf(why, n,
		         "comes from the cluster with system_identifier=%" PRIu64 ", not %" PRIu64,
		         id, sysid);
	else if (size != seg_size)
		snprintf(why, n, "gives a segment size of %" PRIu32 " bytes, not %" PRIu64, size,
		         seg_size);
	else {
		*magic = m;
		return NULL;
	}
	return why;
}

int wal_walk(struct arca_ctx *ctx, struct wal_walk *w)
{
	uint32_t b;
	uint64_t s;
	w->latest_tli = 0;
	w->brk[0] = w->last[0] = w->newest[0] = w->next[0] = w->why[0] = 0;
	w->n_archived = w->n_missing = w->n_after = w->n_read = 0;
	w->n_timelines = 1;
	w->consistent = 0;
	if (!w->seg_size || (w->seg_size & (w->seg_size - 1)) || w->seg_size > (1u << 30))
		return PG_ERR(ARCA_ERR_CORRUPT,
		              "wal_segment_size %llu recorded in the repository is not a "
		              "PostgreSQL segment size (a power of two up to 1 GiB)",
		              (unsigned long long)w->seg_size);
	if (!wal_is_segment(w->start))
		return PG_ERR(ARCA_ERR_CORRUPT, "bad start_wal %s", w->start);
	parse_segment(w->start, w->seg_size, &b, &s);
	uint64_t start_lsn = w->start_lsn ? w->start_lsn : s * w->seg_size;
	struct archive_index a;
	struct tl_step *path = NULL;
	size_t n_path = 0;
	int rc = load_archive(ctx, w->seg_size, &a);
	if (rc != ARCA_OK)
		return rc;
	if ((rc = timeline_path(ctx, &a, b, start_lsn, w->seg_size, &path, &n_path,
	                        &w->latest_tli)) != ARCA_OK)
		goto out;
	w->n_timelines = n_path;
	/* the segments on the path, in order: one per segment number */
	size_t k = 0;
	for (size_t i = 0; i < a.n_segs; i++)
		if (a.segs[i].segno >= s &&
		    a.segs[i].tli == tli_of_segment(path, n_path, a.segs[i].segno))
			a.segs[k++] = a.segs[i];
	qsort(a.segs, k, sizeof *a.segs, cmp_segno);
	uint64_t want = s, sysid = w->read_pct ? cluster_sysid(ctx) : 0;
	uint64_t brk_seg = 0;
	uint16_t magic = 0;
	int broken = 0;
	for (size_t i = 0; i < k; i++) {
		const struct seg_ref *g = &a.segs[i];
		if (g->segno > want) {
			w->n_missing += g->segno - want;
			if (!broken) {
				broken = 1;
				brk_seg = want;
				segment_from_number(tli_of_segment(path, n_path, want), want,
				                    w->seg_size, w->brk);
				snprintf(w->why, sizeof w->why, "is missing from the archive");
			}
		}
		want = g->segno + 1;
		w->n_archived++;
		if (broken && g->segno > brk_seg)
			w->n_after++;
		segment_from_number(g->tli, g->segno, w->seg_size, w->newest);
		if (broken || !w->read_pct ||
		    (w->read_pct < 100 && (g->segno * 2654435761u + (uint64_t)time(NULL)) % 100 >=
		                              (uint64_t)w->read_pct))
			continue;
		if (pg_host->cancelled(ctx)) {
			rc = PG_ERR(ARCA_ERR_CANCELLED, "verify interrupted");
			goto out;
		}
		char blob[64], why[200];
		void *data = NULL;
		size_t len = 0;
		wal_blob_name(w->newest, blob, sizeof blob);
		rc = pg_host->blob_get(ctx, blob, &data, &len);
		if (rc == ARCA_ERR_NOT_FOUND || rc == ARCA_ERR_CORRUPT) {
			snprintf(
			    why, sizeof why, "%s",
			    rc == ARCA_ERR_NOT_FOUND
			        ? "was removed from the archive while verify read it"
			        : "cannot be read: its blob is damaged (see the message above)");
		} else if (rc != ARCA_OK) {
			goto out;
		} else {
			const char *bad = segment_problem(data, len, g->tli, g->segno, w->seg_size,
			                                  sysid, &magic, why, sizeof why);
			free(data);
			w->n_read++;
			if (!bad)
				continue;
		}
		rc = ARCA_OK;
		broken = 1;
		brk_seg = g->segno;
		snprintf(w->brk, sizeof w->brk, "%s", w->newest);
		snprintf(w->why, sizeof w->why, "%s", why);
	}
	if (broken && brk_seg > s)
		segment_from_number(tli_of_segment(path, n_path, brk_seg - 1), brk_seg - 1,
		                    w->seg_size, w->last);
	else if (!broken)
		snprintf(w->last, sizeof w->last, "%s", w->newest);
	if (broken)
		snprintf(w->next, sizeof w->next, "%s", w->brk);
	else
		segment_from_number(tli_of_segment(path, n_path, want), want, w->seg_size, w->next);
	w->last_segno = broken ? brk_seg - 1 : want - 1;
	w->has_last = k > 0 && (!broken || brk_seg > s);
	if (w->end && wal_is_segment(w->end)) {
		uint32_t end_tli;
		uint64_t end_seg;
		parse_segment(w->end, w->seg_size, &end_tli, &end_seg);
		w->consistent = w->has_last && w->last_segno >= end_seg;
	}
out:
	free(path);
	free_archive(&a);
	return rc;
}
