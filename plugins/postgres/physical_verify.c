/* physical_verify.c — mode = physical: verify a base backup and its WAL.
 *
 * Every stored file is read back and checked against the backup manifest
 * (size and checksum, as pg_verifybackup does), then the WAL chain from the
 * backup's start to the newest archived segment is walked (wal_walk). The
 * "wal-verify" hook checks the oldest kept backup's chain. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pg.h"

/* Manifest path -> item name. */
static void item_for_path(const char *path, char *out, size_t n)
{
	if (strncmp(path, "pg_tblspc/", 10) == 0)
		snprintf(out, n, "tblspc/%s", path + 10);
	else
		snprintf(out, n, "base/%s", path);
}

static void describe_backup(struct arca_ctx *ctx, const char *meta, const char *extra, char *out,
                            size_t n)
{
	const char *id = pg_host->option(ctx, "snapshot-id");
	char *label = pg_meta_value(meta, "label"); /* "arca TARGET STAMP" */
	const char *when = label ? strrchr(label, ' ') : NULL;
	snprintf(out, n, "%s%.12s (base backup of %s%s)", id ? "snapshot " : "the snapshot",
	         id ? id : "", when ? when + 1 : "unknown time", extra);
	free(label);
}

static int read_pct_option(struct arca_ctx *ctx)
{
	const char *v = pg_host->option(ctx, "read-data");
	char *end = NULL;
	if (!v)
		return 0;
	long pct = strtol(v, &end, 10);
	if (end == v || *end)
		return 100;
	return pct < 0 ? 0 : pct > 100 ? 100 : (int)pct;
}

/* Walk the chain of the base backup whose backup_manifest metadata is
 * `meta`; *restorable: the WAL that makes it consistent (start to end) is
 * there. */
static int walk_backup(struct pg_target *t, struct arca_ctx *ctx, const char *meta, int read_pct,
                       struct wal_walk *w, char *start, char *end, int *restorable)
{
	char *sw = pg_meta_value(meta, "start_wal"), *ew = pg_meta_value(meta, "end_wal");
	char *seg = pg_meta_value(meta, "wal_segment_size"),
	     *lsn = pg_meta_value(meta, "start_lsn");
	int rc = ARCA_OK;
	memset(w, 0, sizeof *w);
	if (!sw || !ew || !wal_is_segment(sw) || !wal_is_segment(ew)) {
		rc = PG_ERR(ARCA_ERR_CORRUPT,
		            "[target %s]: the snapshot lacks its WAL range (start_wal/end_wal)",
		            t->name);
		goto out;
	}
	snprintf(start, WAL_NAME_LEN + 1, "%s", sw);
	snprintf(end, WAL_NAME_LEN + 1, "%s", ew);
	w->start = start;
	w->end = end;
	w->seg_size = seg ? strtoull(seg, NULL, 10) : (16u << 20);
	w->read_pct = read_pct;
	if (lsn)
		wal_parse_lsn(lsn, &w->start_lsn);
	rc = wal_walk(ctx, w);
	*restorable = w->consistent;
out:
	free(sw);
	free(ew);
	free(seg);
	free(lsn);
	return rc;
}

/* The chain of the snapshot being verified must be whole from its start to
 * the newest archived segment: PITR from it to any later moment. */
static int physical_verify_wal(struct pg_target *t, struct arca_ctx *ctx, const char *meta)
{
	struct wal_walk w;
	char start[WAL_NAME_LEN + 1], end[WAL_NAME_LEN + 1], who[160];
	int restorable = 0, read_pct = read_pct_option(ctx);
	int rc = walk_backup(t, ctx, meta, read_pct, &w, start, end, &restorable);
	if (rc != ARCA_OK)
		return rc;
	describe_backup(ctx, meta, "", who, sizeof who);
	if (!restorable)
		return PG_ERR(ARCA_ERR_CORRUPT,
		              "[target %s]: %s cannot be restored: it needs WAL %s to %s to become "
		              "consistent, and segment %s %s. Take a new base backup with arca "
		              "snapshot %s",
		              t->name, who, start, end, w.next,
		              w.brk[0] ? w.why : "is missing from the archive", t->name);
	if (w.brk[0]) {
		char later[128] = "";
		if (w.n_after)
			snprintf(later, sizeof later,
			         ", while %" PRIu64 " later segment%s up to %s %s archived",
			         w.n_after, w.n_after == 1 ? "" : "s", w.newest,
			         w.n_after == 1 ? "is" : "are");
		return PG_ERR(
		    ARCA_ERR_CORRUPT,
		    "[target %s]: the WAL chain is broken: segment %s %s%s; %s needs it: "
		    "point-in-time recovery from that backup cannot go past the end of %s. "
		    "Take a new base backup with arca snapshot %s; recovery to a moment "
		    "after the end of %s and before that backup will stay impossible",
		    t->name, w.brk, w.why, later, who, w.last, t->name, w.last);
	}
	PG_LOG(ARCA_LOG_INFO,
	       "WAL %s to %s: %" PRIu64 " segment%s without a gap%s%s (timeline %" PRIu32 ")",
	       start, w.newest, w.n_archived, w.n_archived == 1 ? "" : "s",
	       w.n_timelines > 1 ? " across timeline switches" : "",
	       w.n_read == w.n_archived && w.n_read ? ", each read back with a valid header"
	       : w.n_read                           ? ", a sample read back with valid headers"
	                                            : "",
	       w.latest_tli);
	return ARCA_OK;
}

/* The "wal-verify" verb: run by arca verify, once the latest snapshot
 * passed, with the oldest snapshot open. Every segment after the latest
 * base backup's start is known to be there; a gap before it only bounds
 * how far the older backups recover (a later backup covers the time after
 * it), which no action can repair: a warning. An oldest backup that cannot
 * become consistent is a damaged snapshot: an error. */
int physical_verify_oldest(struct pg_target *t, struct arca_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc || !pg_host->option(ctx, "snapshot-id"))
		return PG_ERR(ARCA_ERR_CONFIG,
		              "wal-verify is run by arca verify (with the oldest snapshot open): "
		              "run arca verify %s",
		              t->name);
	struct arca_item_info info;
	memset(&info, 0, sizeof info);
	info.struct_size = sizeof info;
	int rc = pg_host->item_open(ctx, "backup_manifest", &info);
	if (rc == ARCA_ERR_NOT_FOUND)
		return ARCA_OK; /* a logical dump: it needs no WAL */
	if (rc != ARCA_OK)
		return rc;
	char *meta = strdup(info.meta ? info.meta : "");
	if (!meta)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	struct wal_walk w;
	char start[WAL_NAME_LEN + 1], end[WAL_NAME_LEN + 1], who[160];
	int restorable = 0;
	rc = walk_backup(t, ctx, meta, 0, &w, start, end, &restorable);
	describe_backup(ctx, meta, ", the oldest kept", who, sizeof who);
	free(meta);
	if (rc != ARCA_OK)
		return rc;
	const char *id = pg_host->option(ctx, "snapshot-id");
	if (!restorable)
		return PG_ERR(
		    ARCA_ERR_CORRUPT,
		    "[target %s]: %s cannot be restored: it needs WAL %s to %s to become "
		    "consistent, and segment %s %s. Forget it with arca forget --snapshot "
		    "%.12s",
		    t->name, who, start, end, w.next,
		    w.brk[0] ? w.why : "is missing from the archive", id);
	if (w.brk[0])
		PG_LOG(ARCA_LOG_WARN,
		       "WAL segment %s %s: %s and any other base backup taken before it can "
		       "recover only to the end of %s; point-in-time recovery between that and "
		       "the next base backup is impossible. The latest base backup does not need "
		       "it. This warning ends once the snapshots taken before %s are forgotten "
		       "(retention, or arca forget --snapshot ID)",
		       w.brk, w.why, who, w.last, w.brk);
	else
		PG_LOG(ARCA_LOG_INFO,
		       "the WAL of the oldest kept base backup is unbroken from %s to %s", start,
		       w.newest);
	return ARCA_OK;
}

int physical_verify(struct pg_target *t, struct arca_ctx *ctx)
{
	struct manifest m;
	char *meta = NULL;
	int rc = pg_read_manifest(ctx, &m, &meta);
	if (rc != ARCA_OK)
		return rc;
	unsigned char *buf = malloc(1 << 20);
	size_t bad = 0;
	uint64_t bytes = 0;
	if (!buf) {
		rc = PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < m.n_files && rc == ARCA_OK; i++) {
		const struct manifest_file *f = &m.files[i];
		char name[1024], why[256];
		struct arca_item_info info;
		memset(&info, 0, sizeof info);
		info.struct_size = sizeof info;
		item_for_path(f->path, name, sizeof name);
		int orc = pg_host->item_open(ctx, name, &info);
		if (orc == ARCA_ERR_NOT_FOUND) {
			PG_LOG(ARCA_LOG_ERROR,
			       "%s is in the backup manifest but not in "
			       "the snapshot",
			       f->path);
			bad++;
			continue;
		}
		if (orc != ARCA_OK) {
			rc = orc;
			break;
		}
		struct file_check *fc = file_check_new(f);
		if (!fc) {
			rc = PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
			break;
		}
		for (;;) {
			size_t got = 0;
			if ((orc = pg_host->item_read(ctx, buf, 1 << 20, &got)) != ARCA_OK || !got)
				break;
			file_check_update(fc, buf, got);
			bytes += got;
		}
		if (orc != ARCA_OK) {
			file_check_done(fc, why, sizeof why);
			rc = orc;
			break;
		}
		if (file_check_done(fc, why, sizeof why) != 0) {
			PG_LOG(ARCA_LOG_ERROR, "%s: %s", f->path, why);
			bad++;
		}
	}
	if (rc != ARCA_OK)
		goto out;
	if (bad) {
		rc = PG_ERR(ARCA_ERR_CORRUPT,
		            "[target %s]: %zu of %zu files do not match the backup "
		            "manifest (listed above)",
		            t->name, bad, m.n_files);
		goto out;
	}
	PG_LOG(ARCA_LOG_INFO, "%zu files (%" PRIu64 " bytes) match the backup manifest", m.n_files,
	       bytes);
	/* The WAL it needs, from its start to the newest archived segment. */
	rc = physical_verify_wal(t, ctx, meta);
out:
	free(buf);
	free(meta);
	manifest_free(&m);
	return rc;
}
