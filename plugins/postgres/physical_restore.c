/* physical_restore.c — restore a base backup into a data directory for point-in-time
 * recovery.
 *
 * `arca restore TARGET --into DATADIR [--to-time T | --to-lsn L | --to-xid X]
 * [--start]`: checks that DATADIR is empty (or absent), that the archive
 * holds the WAL the backup needs without a hole, and that the disk has
 * room; lays the files down with their modes and times; appends
 * restore_command (`arca -c CONFIG wal-get TARGET %f %p`) and the recovery
 * target to postgresql.auto.conf; writes recovery.signal; hands the tree
 * to the data directory's owner (when run as root: the owner of the parent
 * directory, or postgres). With --start it starts the server with pg_ctl
 * (as that owner) and waits until recovery has reached the target and the
 * server is promoted, reporting the server's own words if it stops. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include "pg.h"

#define IO_BUF (1u << 20)

struct restore {
	struct pg_target *t;
	struct arca_ctx *ctx;
	char *into;
	uid_t uid;
	gid_t gid;
	int chown;           /* running as root: hand files to uid/gid */
	int created_into;    /* we created `into` (remove it on failure) */
	int no_archive;      /* --no-archive: archive_mode = off */
	char *tblspc[64][2]; /* oid -> location */
	size_t n_tblspc;
	uint64_t files, bytes;
	unsigned char *buf;
};

/* ---- checks before anything is written ---------------------------------- */

static int dir_is_empty(const char *path, int *exists)
{
	DIR *d = opendir(path);
	*exists = d != NULL || errno != ENOENT;
	if (!d)
		return errno == ENOENT ? 1 : -1;
	struct dirent *e;
	int empty = 1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

static int remove_tree(const char *path, int keep_top)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return -1;
		struct dirent *e;
		int rc = 0;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *child = NULL;
			if (asprintf(&child, "%s/%s", path, e->d_name) < 0)
				rc = -1;
			else if (remove_tree(child, 0) != 0)
				rc = -1;
			free(child);
		}
		closedir(d);
		return rc == 0 && !keep_top ? rmdir(path) : rc;
	}
	return unlink(path);
}

/* Is a postmaster alive in datadir? Its status line ("ready", "starting",
 * "standby", "stopping"; line 8 of postmaster.pid) goes to `status`. */
static int postmaster_alive(const char *datadir, char *status, size_t n)
{
	char path[4096], line[256];
	snprintf(path, sizeof path, "%s/postmaster.pid", datadir);
	if (status)
		status[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long pid = 0;
	for (int i = 1; fgets(line, sizeof line, f); i++) {
		if (i == 1)
			pid = strtol(line, NULL, 10);
		if (i == 8 && status)
			snprintf(status, n, "%.*s", (int)strcspn(line, " \n"), line);
	}
	fclose(f);
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static int server_running_in(const char *datadir)
{
	return postmaster_alive(datadir, NULL, 0);
}

static int check_target_dir(struct restore *r, int overwrite)
{
	int exists = 0;
	int empty = dir_is_empty(r->into, &exists);
	if (empty < 0)
		return PG_ERR(ARCA_ERR_IO, "cannot read %s: %s", r->into, strerror(errno));
	if (empty)
		return ARCA_OK;
	if (!overwrite)
		return PG_ERR(
		    ARCA_ERR_EXISTS,
		    "[target %s]: %s is not empty; restore a base backup into an empty or "
		    "new directory (or pass --overwrite to replace its contents)",
		    r->t->name, r->into);
	if (server_running_in(r->into))
		return PG_ERR(ARCA_ERR_EXISTS,
		              "[target %s]: a PostgreSQL server is running in %s; "
		              "stop it before overwriting its data directory",
		              r->t->name, r->into);
	PG_LOG(ARCA_LOG_WARN, "--overwrite: removing the contents of %s", r->into);
	if (remove_tree(r->into, 1) != 0)
		return PG_ERR(ARCA_ERR_IO, "cannot empty %s: %s", r->into, strerror(errno));
	return ARCA_OK;
}

/* Who will own the restored files: when root, the owner of the parent
 * directory unless that is root, else the postgres user. */
static int choose_owner(struct restore *r)
{
	if (geteuid() != 0)
		return ARCA_OK;
	char *parent = strdup(r->into);
	if (!parent)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	char *slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	struct stat st;
	int have = stat(parent, &st) == 0;
	free(parent);
	r->chown = 1;
	if (have && st.st_uid != 0) {
		r->uid = st.st_uid;
		r->gid = st.st_gid;
		return ARCA_OK;
	}
	struct passwd *pw = getpwnam("postgres");
	if (!pw)
		return PG_ERR(ARCA_ERR_CONFIG,
		              "[target %s]: running as root and %s's parent is owned by root, but "
		              "there is no postgres user to own the data directory; create the "
		              "directory owned by the database user first",
		              r->t->name, r->into);
	r->uid = pw->pw_uid;
	r->gid = pw->pw_gid;
	return ARCA_OK;
}

static int check_space(struct restore *r, const struct manifest *m)
{
	uint64_t need = 0;
	for (size_t i = 0; i < m->n_files; i++)
		need += m->files[i].size;
	char *probe = strdup(r->into);
	if (!probe)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	struct statvfs vfs;
	/* the nearest existing ancestor */
	while (statvfs(probe, &vfs) != 0) {
		char *slash = strrchr(probe, '/');
		if (!slash || slash == probe) {
			free(probe);
			return ARCA_OK;
		}
		*slash = 0;
	}
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < need + need / 50) {
		int rc =
		    PG_ERR(ARCA_ERR_NOSPACE,
		           "[target %s]: not enough space for the data directory in %s: the base "
		           "backup needs %" PRIu64 " MiB, %" PRIu64 " MiB are free; free space or "
		           "restore elsewhere with --into",
		           r->t->name, probe, need >> 20, avail >> 20);
		free(probe);
		return rc;
	}
	free(probe);
	return ARCA_OK;
}

/* The WAL from the backup's start must be archived without a hole up to at
 * least the backup's end; a hole later on is fatal only when recovery is
 * to run to the end of the archive. The chain is followed as recovery
 * follows it (wal_walk: across timeline switches to the latest timeline),
 * so a restore after a failover or an earlier PITR finds the WAL of the
 * newer timeline. */
static int check_wal(struct restore *r, const char *meta, const char *to_lsn, int has_target)
{
	char *start = pg_meta_value(meta, "start_wal");
	char *end = pg_meta_value(meta, "end_wal");
	char *seg = pg_meta_value(meta, "wal_segment_size");
	char *start_lsn = pg_meta_value(meta, "start_lsn");
	char *end_lsn = pg_meta_value(meta, "end_lsn");
	struct wal_walk w = {0};
	w.seg_size = seg ? strtoull(seg, NULL, 10) : 0;
	if (!w.seg_size)
		w.seg_size = 16u << 20;
	int rc = ARCA_OK;
	if (!start || !end || !wal_is_segment(start) || !wal_is_segment(end)) {
		rc = PG_ERR(ARCA_ERR_CORRUPT,
		            "[target %s]: the snapshot lacks its WAL range "
		            "(start_wal/end_wal)",
		            r->t->name);
		goto out;
	}
	w.start = start;
	w.end = end;
	if (start_lsn)
		wal_parse_lsn(start_lsn, &w.start_lsn);
	/* its errors (a missing or foreign timeline history) say what is wrong */
	if ((rc = wal_walk(r->ctx, &w)) != ARCA_OK)
		goto out;
	if (!w.consistent) {
		const char *gone = w.brk[0] ? w.brk : w.next;
		rc = PG_ERR(
		    ARCA_ERR_NOT_FOUND,
		    "[target %s]: WAL segment %s is missing from the archive; the base backup "
		    "needs %s to %s to become consistent, so it cannot be restored (choose "
		    "another snapshot)",
		    r->t->name, gone, start, end);
		goto out;
	}
	if (to_lsn) {
		uint64_t lsn, bend = 0;
		wal_parse_lsn(to_lsn, &lsn);
		if (end_lsn)
			wal_parse_lsn(end_lsn, &bend);
		if (lsn < bend) {
			rc =
			    PG_ERR(ARCA_ERR_CONFIG,
			           "[target %s]: --to-lsn %s is before the end of this base backup "
			           "(%s); restore an older snapshot with --snapshot",
			           r->t->name, to_lsn, end_lsn);
			goto out;
		}
		if (lsn / w.seg_size > w.last_segno) {
			rc = PG_ERR(
			    ARCA_ERR_NOT_FOUND,
			    "[target %s]: --to-lsn %s is past the archive's unbroken WAL chain, "
			    "which ends with segment %s (timeline %" PRIu32
			    "); the next one, %s, %s",
			    r->t->name, to_lsn, w.last, w.latest_tli, w.next,
			    w.brk[0] ? "is missing" : "is not archived yet");
			goto out;
		}
	} else if (w.brk[0] && w.n_after && !has_target) {
		rc = PG_ERR(
		    ARCA_ERR_NOT_FOUND,
		    "[target %s]: WAL segment %s is missing from the archive although later "
		    "segments (up to %s) exist: recovery to the end of the archive would stop "
		    "at %s. Restore with --to-time/--to-lsn before it, or put the segment "
		    "back",
		    r->t->name, w.brk, w.newest, w.brk);
		goto out;
	} else if (w.brk[0] && w.n_after) {
		PG_LOG(ARCA_LOG_WARN,
		       "WAL segment %s is missing from the archive; "
		       "recovery cannot go past it",
		       w.brk);
	}
	if (w.n_timelines > 1)
		PG_LOG(ARCA_LOG_INFO,
		       "the WAL goes from the backup's timeline through %zu timeline switches to "
		       "timeline %" PRIu32 "; recovery follows it",
		       w.n_timelines - 1, w.latest_tli);
out:
	free(start);
	free(end);
	free(seg);
	free(start_lsn);
	free(end_lsn);
	return rc;
}

/* ---- laying files down --------------------------------------------------- */

static int io_status(int e)
{
	return e == ENOSPC || e == EDQUOT ? ARCA_ERR_NOSPACE : ARCA_ERR_IO;
}

static int write_error(struct restore *r, const char *path, int e)
{
	if (e == ENOSPC || e == EDQUOT)
		return PG_ERR(ARCA_ERR_NOSPACE,
		              "[target %s]: disk full while writing %s (%" PRIu64 " files, %" PRIu64
		              " MiB restored so far); free space or restore elsewhere with --into",
		              r->t->name, path, r->files, r->bytes >> 20);
	return PG_ERR(ARCA_ERR_IO, "[target %s]: writing %s: %s", r->t->name, path, strerror(e));
}

static int mkdirs(struct restore *r, const char *path, mode_t mode)
{
	char *p = strdup(path);
	if (!p)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			int e = errno;
			int rc =
			    PG_ERR(io_status(e), "cannot create directory %s: %s", p, strerror(e));
			free(p);
			return rc;
		}
		if (r->chown && !c && lchown(p, r->uid, r->gid) != 0) {
			int e = errno;
			free(p);
			return PG_ERR(ARCA_ERR_IO, "chown %s: %s", path, strerror(e));
		}
		if (!c)
			break;
		*s = c;
	}
	free(p);
	return ARCA_OK;
}

static int parent_dirs(struct restore *r, const char *path)
{
	char *p = strdup(path);
	if (!p)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	char *slash = strrchr(p, '/');
	int rc = ARCA_OK;
	if (slash && slash != p) {
		*slash = 0;
		struct stat st;
		if (stat(p, &st) != 0)
			rc = mkdirs(r, p, 0700);
	}
	free(p);
	return rc;
}

static int write_item_file(struct restore *r, const struct arca_item_info *info, const char *path)
{
	int rc = parent_dirs(r, path);
	if (rc != ARCA_OK)
		return rc;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return write_error(r, path, errno);
	for (;;) {
		size_t got = 0;
		if ((rc = pg_host->item_read(r->ctx, r->buf, IO_BUF, &got)) != ARCA_OK || !got)
			break;
		if (pg_write_all(fd, r->buf, got) != 0) {
			rc = write_error(r, path, errno);
			close(fd);
			return rc;
		}
		r->bytes += got;
	}
	if (rc != ARCA_OK) {
		close(fd);
		return rc;
	}
	struct timespec times[2] = {{info->mtime_sec, 0}, {info->mtime_sec, 0}};
	if (fchmod(fd, info->mode ? info->mode & 07777 : 0600) != 0 ||
	    (r->chown && fchown(fd, r->uid, r->gid) != 0) || futimens(fd, times) != 0) {
		int e = errno;
		close(fd);
		return PG_ERR(ARCA_ERR_IO, "setting owner/mode/time of %s: %s", path, strerror(e));
	}
	if (close(fd) != 0)
		return write_error(r, path, errno);
	r->files++;
	return ARCA_OK;
}

static const char *tablespace_location(struct restore *r, const char *oid)
{
	for (size_t i = 0; i < r->n_tblspc; i++)
		if (strcmp(r->tblspc[i][0], oid) == 0)
			return r->tblspc[i][1];
	return NULL;
}

/* Where an item goes: NULL (error set) for names the backup cannot hold. */
static char *item_path(struct restore *r, const struct arca_item_info *info)
{
	char *path = NULL;
	const char *name = info->name;
	if (strcmp(name, "backup_manifest") == 0) {
		if (asprintf(&path, "%s/backup_manifest", r->into) < 0)
			path = NULL;
		return path;
	}
	if (strncmp(name, "base/", 5) == 0 && pg_path_safe(name + 5)) {
		if (asprintf(&path, "%s/%s", r->into, name + 5) < 0)
			path = NULL;
		return path;
	}
	if (strncmp(name, "tblspc/", 7) == 0) {
		const char *slash = strchr(name + 7, '/');
		if (!slash || !pg_path_safe(slash + 1))
			return NULL;
		char oid[32];
		snprintf(oid, sizeof oid, "%.*s", (int)(slash - name - 7), name + 7);
		const char *loc = tablespace_location(r, oid);
		if (!loc) {
			PG_ERR(ARCA_ERR_CORRUPT, "%s: no pg_tblspc/%s link in the data directory",
			       name, oid);
			return NULL;
		}
		if (asprintf(&path, "%s/%s", loc, slash + 1) < 0)
			path = NULL;
		return path;
	}
	PG_ERR(ARCA_ERR_CORRUPT, "unexpected item %s in a base backup", name);
	return NULL;
}

/* A tablespace link, seen in the first pass (tablespace archives come
 * before the data directory's): remember the location, which must be empty. */
static int note_tablespace(struct restore *r, const struct arca_item_info *info)
{
	const char *oid = info->name + strlen("base/pg_tblspc/");
	const char *loc = info->link_target;
	int exists = 0;
	if (!loc || loc[0] != '/')
		return PG_ERR(ARCA_ERR_CORRUPT, "tablespace link %s has no absolute target",
		              info->name);
	if (dir_is_empty(loc, &exists) != 1)
		return PG_ERR(ARCA_ERR_EXISTS,
		              "[target %s]: tablespace %s's location %s is not "
		              "empty; empty it (it may belong to a running server)",
		              r->t->name, oid, loc);
	if (r->n_tblspc == sizeof r->tblspc / sizeof r->tblspc[0])
		return PG_ERR(ARCA_ERR_UNSUPPORTED, "more than 64 tablespaces");
	r->tblspc[r->n_tblspc][0] = strdup(oid);
	r->tblspc[r->n_tblspc][1] = strdup(loc);
	if (!r->tblspc[r->n_tblspc][0] || !r->tblspc[r->n_tblspc][1])
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	r->n_tblspc++;
	return ARCA_OK;
}

static int lay_down(struct restore *r)
{
	for (;;) {
		struct arca_item_info info;
		int rc = pg_item_next(r->ctx, &info);
		if (rc == ARCA_ERR_NOT_FOUND)
			return ARCA_OK;
		if (rc != ARCA_OK)
			return rc;
		if (pg_host->cancelled(r->ctx))
			return PG_ERR(ARCA_ERR_CANCELLED, "restore interrupted");
		char *path = item_path(r, &info);
		if (!path)
			return ARCA_ERR_CORRUPT;
		switch (info.type) {
		case ARCA_ITEM_DIR:
			rc = mkdirs(r, path, 0700);
			if (rc == ARCA_OK && chmod(path, info.mode ? info.mode & 07777 : 0700) != 0)
				rc = PG_ERR(ARCA_ERR_IO, "chmod %s: %s", path, strerror(errno));
			break;
		case ARCA_ITEM_SYMLINK:
			if ((rc = parent_dirs(r, path)) != ARCA_OK)
				break;
			if (symlink(info.link_target ? info.link_target : "", path) != 0)
				rc = write_error(r, path, errno);
			else if (r->chown && lchown(path, r->uid, r->gid) != 0)
				rc = PG_ERR(ARCA_ERR_IO, "chown %s: %s", path, strerror(errno));
			break;
		default:
			rc = write_item_file(r, &info, path);
			break;
		}
		free(path);
		if (rc != ARCA_OK)
			return rc;
	}
}

/* ---- recovery settings --------------------------------------------------- */

/* Append s to a postgresql.conf string value: ' doubled. */
static void conf_quote(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
}

/* A shell word for restore_command (PostgreSQL runs it with sh -c). */
static void shell_word(FILE *f, const char *s)
{
	int plain = *s != 0;
	for (const char *p = s; *p; p++)
		if (!strchr(
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-:=@+,",
		        *p))
			plain = 0;
	if (plain) {
		conf_quote(f, s);
		return;
	}
	conf_quote(f, "'");
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			conf_quote(f, "'\\''");
		else
			fputc(*p, f);
	}
	conf_quote(f, "'");
}

static int write_recovery(struct restore *r, const char *target_kind, const char *target,
                          const char *snapshot_label)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return PG_ERR(ARCA_ERR_IO, "cannot find the arca program (/proc/self/exe): %s",
		              strerror(errno));
	exe[n] = 0;
	const char *config = pg_host->option(r->ctx, "config");
	if (!config)
		config = getenv("ARCA_CONFIG");
	struct stat cst;
	if (config && r->chown && stat(config, &cst) == 0 &&
	    !((cst.st_uid == r->uid && (cst.st_mode & 0400)) ||
	      (cst.st_gid == r->gid && (cst.st_mode & 0040)) || (cst.st_mode & 0004)))
		PG_LOG(ARCA_LOG_WARN,
		       "the server will run restore_command as uid %u, which cannot read %s: "
		       "recovery will fail until it can (e.g. chgrp it to the server's group and "
		       "chmod g+r)",
		       (unsigned)r->uid, config);
	char *path = NULL;
	if (asprintf(&path, "%s/postgresql.auto.conf", r->into) < 0)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	FILE *f = fopen(path, "a");
	if (!f) {
		int rc = write_error(r, path, errno);
		free(path);
		return rc;
	}
	time_t now = time(NULL);
	char stamp[32];
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
	fprintf(f, "\n# Added by arca restore at %s (base backup \"%s\").\n", stamp,
	        snapshot_label ? snapshot_label : "?");
	fputs("# Remove these lines and recovery.signal once recovery has finished.\n", f);
	fputs("restore_command = '", f);
	shell_word(f, exe);
	if (config) {
		fputs(" -c ", f);
		shell_word(f, config);
	}
	fputs(" wal-get ", f);
	shell_word(f, r->t->name);
	fputs(" %f %p'\n", f);
	if (target_kind) {
		fprintf(f, "recovery_target_%s = '", target_kind);
		conf_quote(f, target);
		fputs("'\nrecovery_target_inclusive = on\n", f);
	}
	fputs("recovery_target_timeline = 'latest'\n", f);
	/* A drill or a copy must not archive its new timeline into the
	 * production target (a real recovery keeps archiving, as pgBackRest). */
	if (r->no_archive)
		fputs("archive_mode = 'off'\n", f);
	fputs("recovery_target_action = 'promote'\n", f);
	int bad = ferror(f);
	int e = errno;
	if (fclose(f) != 0 || bad) {
		int rc = write_error(r, path, bad ? e : errno);
		free(path);
		return rc;
	}
	if (r->chown && chown(path, r->uid, r->gid) != 0) {
		int rc = PG_ERR(ARCA_ERR_IO, "chown %s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	free(path);
	if (asprintf(&path, "%s/recovery.signal", r->into) < 0)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = ARCA_OK;
	if (fd < 0 || (r->chown && fchown(fd, r->uid, r->gid) != 0))
		rc = write_error(r, path, errno);
	if (fd >= 0)
		close(fd);
	free(path);
	if (rc == ARCA_OK && chmod(r->into, 0700) != 0)
		rc = PG_ERR(ARCA_ERR_IO, "chmod 0700 %s: %s", r->into, strerror(errno));
	if (rc == ARCA_OK && r->chown && chown(r->into, r->uid, r->gid) != 0)
		rc = PG_ERR(ARCA_ERR_IO, "chown %s: %s", r->into, strerror(errno));
	return rc;
}

/* ---- --start -------------------------------------------------------------- */

static char *cluster_state(struct restore *r, const char *pg_controldata)
{
	char *argv[] = {(char *)pg_controldata, "-D", r->into, NULL};
	struct child_spec spec = CHILD_SPEC_INIT;
	char *out = NULL;
	spec.argv = argv;
	spec.t = r->t;
	if (child_run(&spec, &out) != ARCA_OK)
		return NULL;
	char *p = strstr(out, "Database cluster state:");
	char *state = NULL;
	if (p) {
		p += strlen("Database cluster state:");
		while (*p == ' ')
			p++;
		state = strndup(p, strcspn(p, "\n"));
	}
	free(out);
	return state;
}

/* The last lines of the server log, for an error message. */
static char *log_tail(const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("(no server log)");
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	long from = size > (long)max ? size - (long)max : 0;
	fseek(f, from, SEEK_SET);
	char *buf = calloc(1, max + 1);
	size_t n = buf ? fread(buf, 1, max, f) : 0;
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = 0;
	char *start = from ? strchr(buf, '\n') : NULL;
	if (start) {
		memmove(buf, start + 1, strlen(start + 1) + 1);
	}
	for (size_t i = strlen(buf); i > 0 && buf[i - 1] == '\n'; i--)
		buf[i - 1] = 0;
	return buf;
}

static int start_server(struct restore *r)
{
	char *pg_ctl = pg_program(r->t, "pg_ctl");
	char *pg_controldata = pg_ctl ? pg_program(r->t, "pg_controldata") : NULL;
	char *logdir = NULL, *logfile = NULL, *state = NULL;
	int rc = ARCA_ERR_CONFIG;
	if (!pg_controldata)
		goto out;
	rc = ARCA_ERR_INTERNAL;
	if (asprintf(&logdir, "%s/log", r->into) < 0 ||
	    asprintf(&logfile, "%s/arca-recovery.log", logdir) < 0)
		goto out;
	if ((rc = mkdirs(r, logdir, 0700)) != ARCA_OK)
		goto out;
	char *argv[] = {pg_ctl, "-D", r->into, "-l", logfile, "-W", "start", NULL};
	/* The server gets pg_ctl's environment: no passphrase, no secrets. */
	struct child_spec spec = CHILD_SPEC_INIT;
	spec.argv = argv;
	spec.t = r->t;
	spec.cwd = r->into;
	spec.as_user = r->chown;
	spec.uid = r->uid;
	spec.gid = r->gid;
	char *out = NULL;
	if ((rc = child_run(&spec, &out)) != ARCA_OK)
		goto out;
	free(out);
	PG_LOG(ARCA_LOG_INFO, "server started in %s; waiting for recovery (log: %s)", r->into,
	       logfile);
	time_t started = time(NULL), deadline = started + r->t->recovery_timeout;
	int seen_pid = 0;
	char *signal = NULL;
	if (asprintf(&signal, "%s/recovery.signal", r->into) < 0) {
		rc = PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (;;) {
		free(state);
		state = cluster_state(r, pg_controldata);
		/* The copied pg_control says "in production" before recovery
		 * even starts; the server removes recovery.signal when it
		 * leaves archive recovery. */
		struct stat st;
		char pm[32];
		int recovering = stat(signal, &st) == 0;
		int alive = postmaster_alive(r->into, pm, sizeof pm);
		if (!recovering && alive && strcmp(pm, "ready") == 0 && state &&
		    strcmp(state, "in production") == 0) {
			PG_LOG(ARCA_LOG_INFO,
			       "recovery finished; the server in %s is "
			       "promoted and accepting writes",
			       r->into);
			rc = ARCA_OK;
			break;
		}
		seen_pid |= alive;
		if (!alive && (seen_pid || time(NULL) - started > 30)) {
			char *tail = log_tail(logfile, 3000);
			const char *why = tail && strstr(tail, "recovery ended before configured "
			                                       "recovery target was reached")
			                      ? "the archived WAL ends before the recovery target"
			                      : "the server stopped during recovery";
			/* env.c keeps the passphrase from the server we start */
			const char *hint =
			    tail && strstr(tail, "passphrase")
			        ? "\nThe server arca starts gets no ARCA_PASSPHRASE, so its "
			          "restore_command needs passphrase_file in the config (readable "
			          "by the server's user); or start it by hand with the "
			          "passphrase in its environment."
			        : "";
			rc = PG_ERR(
			    ARCA_ERR_NOT_FOUND,
			    "[target %s]: %s (cluster state: %s). Server log %s ends with:\n%s%s",
			    r->t->name, why, state ? state : "unknown", logfile, tail ? tail : "",
			    hint);
			free(tail);
			break;
		}
		if (time(NULL) >= deadline) {
			rc =
			    PG_ERR(ARCA_ERR_IO,
			           "[target %s]: recovery did not finish within recovery_timeout "
			           "(%llds); the server is still running in %s (state: %s), see %s",
			           r->t->name, (long long)r->t->recovery_timeout, r->into,
			           state ? state : "unknown", logfile);
			break;
		}
		if (pg_host->cancelled(r->ctx)) {
			rc = PG_ERR(ARCA_ERR_CANCELLED,
			            "stopped waiting for recovery; the server keeps "
			            "running in %s",
			            r->into);
			break;
		}
		struct timespec ts = {0, 300 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	free(signal);
out:
	free(state);
	free(pg_ctl);
	free(pg_controldata);
	free(logdir);
	free(logfile);
	return rc;
}

/* ---- the restore ----------------------------------------------------------- */

static int recovery_target(struct restore *r, const char **kind, const char **value)
{
	const char *time_v = pg_host->option(r->ctx, "to-time");
	const char *lsn_v = pg_host->option(r->ctx, "to-lsn");
	const char *xid_v = pg_host->option(r->ctx, "to-xid");
	/* at most one is given: pg_restore_op checked that */
	*kind = *value = NULL;
	if (time_v && strcmp(time_v, "latest") != 0) {
		if (time_v[0] < '0' || time_v[0] > '9')
			return PG_ERR(ARCA_ERR_CONFIG,
			              "--to-time %s: expected a timestamp such as "
			              "'2026-04-01 12:30:00+00'",
			              time_v);
		*kind = "time";
		*value = time_v;
	} else if (lsn_v) {
		uint64_t lsn;
		if (wal_parse_lsn(lsn_v, &lsn) != 0)
			return PG_ERR(ARCA_ERR_CONFIG,
			              "--to-lsn %s: expected an LSN such as 0/3000060", lsn_v);
		*kind = "lsn";
		*value = lsn_v;
	} else if (xid_v) {
		if (!xid_v[0] || strspn(xid_v, "0123456789") != strlen(xid_v))
			return PG_ERR(ARCA_ERR_CONFIG,
			              "--to-xid %s: expected a transaction id (digits)", xid_v);
		*kind = "xid";
		*value = xid_v;
	}
	return ARCA_OK;
}

/* First pass, before anything is written: tablespace links and the
 * manifest (the last item) with its metadata; then back to the first item. */
static int scan_backup(struct restore *r, struct manifest *m, char **meta)
{
	struct arca_item_info info;
	int rc, found = 0;
	while (!found && (rc = pg_item_next(r->ctx, &info)) == ARCA_OK) {
		if (info.type == ARCA_ITEM_SYMLINK &&
		    strncmp(info.name, "base/pg_tblspc/", 15) == 0 &&
		    (rc = note_tablespace(r, &info)) != ARCA_OK)
			return rc;
		if (strcmp(info.name, "backup_manifest") != 0)
			continue;
		char *text = NULL;
		size_t len = 0;
		if (!(*meta = strdup(info.meta ? info.meta : "")))
			return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		if ((rc = pg_read_current(r->ctx, &text, &len, SIZE_MAX)) == ARCA_OK)
			rc = manifest_parse(text, len, m);
		free(text);
		if (rc != ARCA_OK)
			return rc;
		found = 1;
	}
	if (!found)
		return rc == ARCA_ERR_NOT_FOUND
		           ? PG_ERR(ARCA_ERR_CORRUPT, "the snapshot has no backup_manifest")
		           : rc;
	return pg_host->item_rewind(r->ctx);
}

int physical_restore(struct pg_target *t, struct arca_ctx *ctx)
{
	struct restore r;
	struct manifest m;
	char *meta = NULL, *label = NULL;
	const char *kind, *value;
	memset(&r, 0, sizeof r);
	r.t = t;
	r.ctx = ctx;
	r.no_archive = pg_host->option(ctx, "no-archive") != NULL;
	int rc = recovery_target(&r, &kind, &value);
	if (rc != ARCA_OK)
		return rc;
	memset(&m, 0, sizeof m);
	char *orig = NULL;
	if ((rc = scan_backup(&r, &m, &meta)) != ARCA_OK)
		goto out;
	const char *into = pg_host->option(ctx, "into");
	orig = pg_meta_value(meta, "data_directory");
	if (!into || !into[0])
		into = orig && orig[0] ? orig : NULL;
	if (!into) {
		rc = PG_ERR(ARCA_ERR_CONFIG,
		            "[target %s]: give --into DATADIR (the backup does not "
		            "record its data directory)",
		            t->name);
		goto out;
	}
	if (into[0] != '/') {
		rc = PG_ERR(ARCA_ERR_CONFIG,
		            "--into %s: give an absolute path for the data directory", into);
		goto out;
	}
	r.into = strdup(into);
	label = pg_meta_value(meta, "label");
	r.buf = malloc(IO_BUF);
	if (!r.into || !r.buf) {
		rc = PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		goto out;
	}
	int exists = 0;
	dir_is_empty(r.into, &exists);
	if ((rc = check_target_dir(&r, pg_host->option(ctx, "overwrite") != NULL)) != ARCA_OK ||
	    (rc = check_wal(&r, meta, kind && !strcmp(kind, "lsn") ? value : NULL, kind != NULL)) !=
	        ARCA_OK ||
	    (rc = choose_owner(&r)) != ARCA_OK || (rc = check_space(&r, &m)) != ARCA_OK)
		goto out;
	r.created_into = !exists;
	if ((rc = mkdirs(&r, r.into, 0700)) != ARCA_OK)
		goto cleanup;
	for (size_t i = 0; i < r.n_tblspc; i++)
		if ((rc = mkdirs(&r, r.tblspc[i][1], 0700)) != ARCA_OK)
			goto cleanup;
	if ((rc = lay_down(&r)) != ARCA_OK)
		goto cleanup;
	if ((rc = write_recovery(&r, kind, value, label)) != ARCA_OK)
		goto cleanup;
	PG_LOG(ARCA_LOG_INFO,
	       "restored %" PRIu64 " files (%" PRIu64 " MiB) into %s; "
	       "recovery to %s%s%s",
	       r.files, r.bytes >> 20, r.into, kind ? kind : "the end of the archive",
	       kind ? " " : "", kind ? value : "");
	if (pg_host->option(ctx, "start")) {
		rc = start_server(&r);
		goto out;
	}
	struct passwd *pw = r.chown ? getpwuid(r.uid) : NULL;
	PG_LOG(ARCA_LOG_INFO,
	       "start it with: %s%s%spg_ctl -D %s start (the server runs "
	       "restore_command, so it needs the repository passphrase in its "
	       "environment or passphrase_file in the config)",
	       pw ? "runuser -u " : "", pw ? pw->pw_name : "", pw ? " -- " : "", r.into);
	goto out;
cleanup:
	/* The directory was empty: leave it that way, not half restored. */
	if (remove_tree(r.into, !r.created_into) != 0)
		PG_LOG(ARCA_LOG_WARN, "could not remove the partial restore in %s", r.into);
	else
		PG_LOG(ARCA_LOG_WARN, "removed the partial restore from %s", r.into);
	for (size_t i = 0; i < r.n_tblspc; i++)
		remove_tree(r.tblspc[i][1], 1);
out:
	for (size_t i = 0; i < r.n_tblspc; i++) {
		free(r.tblspc[i][0]);
		free(r.tblspc[i][1]);
	}
	free(r.into);
	free(r.buf);
	free(orig);
	free(label);
	free(meta);
	manifest_free(&m);
	return rc;
}
