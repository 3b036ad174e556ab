/* files_stage.c — where a restore writes, and how that reaches DIR.
 *
 * A restore does not write into its destination DIR (--into, else the
 * configured path) as it reads: it writes a staging directory and moves it
 * into place only once every item was read, authenticated and written. A
 * corrupt chunk, a full disk or ^C then leaves DIR as it was, and the same
 * command can simply be run again. The staging directory is made 0700
 * (nobody else sees the tree before its modes are set) and is named
 *
 *   beside  DIR/../.BASE.arca-restore.XXXXXX, on DIR's filesystem. When DIR
 *           is absent, it is renamed to DIR: one atomic step. When DIR is
 *           an existing directory (empty, or not with --overwrite), it is
 *           merged into DIR (below), so DIR stays the directory it was: a
 *           shell's cwd, its ACLs, labels and watchers stay with it.
 *   inside  DIR/.arca-restore.XXXXXX, when DIR is a mount point (its parent
 *           is another filesystem) or its parent refuses us (not writable);
 *           it is merged into DIR.
 *
 * The merge keeps what --overwrite always meant: an entry of the snapshot
 * replaces what is at its path (a directory in the way of a file or a
 * symlink is removed, and so is a non-directory in the way of a directory),
 * directories present on both sides are merged, and what the snapshot does
 * not hold stays. It only renames within one filesystem, so it is quick,
 * and it starts after the last byte was read; the price is room for a full
 * copy of the tree beside DIR while it runs.
 *
 * In place, as before staging existed, is the last resort: when a
 * filesystem is mounted below DIR (a merge cannot rename across it) or no
 * staging directory can be made. A failure then says what is left in DIR
 * and the command that finishes or removes it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "files.h"

#define STAGE_TAG ".arca-restore."

int files_errno_status(int err, const char **hint)
{
	*hint = "";
	if (err == ENOSPC || err == EDQUOT) {
		*hint = "; free space on that filesystem or restore --into another one";
		return ARCA_ERR_NOSPACE;
	}
	if (err == EACCES || err == EPERM) {
		*hint = "; check the permissions of the restore directory";
		return ARCA_ERR_AUTH;
	}
	return err == ENOMEM ? ARCA_ERR_INTERNAL : ARCA_ERR_IO;
}

static int sg_errno(int err, const char *verb, const char *path)
{
	const char *hint;
	int status = files_errno_status(err, &hint);

	return files_host->error(status, "files: cannot %s %s: %s%s", verb, path, strerror(err),
	                         hint);
}

int files_remove_tree(int dfd, const char *name)
{
	struct stat st;
	struct dirent *de;
	DIR *dir;
	int fd, rc = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	fchmod(fd, 0700); /* a read-only directory cannot be emptied */
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -1;
	}
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rc = files_remove_tree(dirfd(dir), de->d_name);
	}
	closedir(dir);
	if (rc != 0)
		return rc;
	return unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

/* ---- commands we print ---------------------------------------------- */

/* s as one shell word: as it is when that is safe, else in quotes. */
static void put_quoted(FILE *f, const char *s)
{
	if (s[0] && s[0] != '-' &&
	    s[strspn(s,
	             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-")] ==
	        '\0') {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* "rm -rf -- 'PATH'" and the like: a malloc'd command line, or NULL. */
static char *command(const char *verb, const char *path, const char *tail)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		return NULL;
	fputs(verb, f);
	put_quoted(f, path);
	fputs(tail, f);
	fclose(f);
	return s;
}

/* The command that finishes a restore left half done in DIR: the one that
 * was run, with --overwrite (DIR is not empty any more). */
static char *resume_command(const struct stage *sg)
{
	static const char *const passed[] = {"snapshot", "from"};
	const char *cfg = files_host->option(sg->ctx, "config");
	char *s = NULL;
	size_t n = 0, i;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		return NULL;
	fputs("arca ", f);
	if (cfg) {
		fputs("-c ", f);
		put_quoted(f, cfg);
		fputc(' ', f);
	}
	fputs("restore ", f);
	put_quoted(f, sg->fi->name);
	fputs(" --into ", f);
	put_quoted(f, sg->dest);
	fputs(" --overwrite", f);
	for (i = 0; i < sizeof(passed) / sizeof(passed[0]); i++) {
		const char *v = files_host->option(sg->ctx, passed[i]);

		if (v) {
			fprintf(f, " --%s ", passed[i]);
			put_quoted(f, v);
		}
	}
	fclose(f);
	return s;
}

/* ---- DIR as it is before the restore --------------------------------- */

/* Trailing slashes go; a symlink is followed (the restore goes into the
 * directory it names, as it always did), and so are "." and "..", which
 * have no parent of their own to stage beside. */
static int resolve_dest(struct stage *sg, const char *root)
{
	size_t n = strlen(root);
	const char *base;
	struct stat st;
	char *real;

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (!(sg->dest = strndup(root, n)))
		return sg_errno(ENOMEM, "restore into", root);
	base = strrchr(sg->dest, '/');
	base = base ? base + 1 : sg->dest;
	if ((lstat(sg->dest, &st) == 0 && S_ISLNK(st.st_mode)) || !strcmp(base, ".") ||
	    !strcmp(base, "..")) {
		real = realpath(sg->dest, NULL);
		if (real) {
			free(sg->dest);
			sg->dest = real;
		}
	}
	return ARCA_OK;
}

/* 1 when directory fd has entries, 0 when empty, -1 on error. */
static int dir_used(int fd)
{
	struct dirent *de;
	DIR *dir = fdopendir(dup(fd));
	int used = 0;

	if (!dir)
		return -1;
	while (!used && (de = readdir(dir)) != NULL)
		used = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(dir);
	return used;
}

static int inspect_dest(struct stage *sg, int overwrite)
{
	struct stat st;
	int err = lstat(sg->dest, &st) == 0 ? 0 : errno, used;

	if (err == ENOENT) {
		sg->state = STAGE_DEST_ABSENT;
		return ARCA_OK;
	}
	if (err && err != ENOTDIR)
		return sg_errno(err, "inspect", sg->dest);
	if (err || !S_ISDIR(st.st_mode)) /* a dangling symlink too */
		return files_host->error(ARCA_ERR_EXISTS,
		                         "files: cannot restore into %s: it exists and is not a "
		                         "directory; choose --into a new or empty directory",
		                         sg->dest);
	sg->destfd = open(sg->dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sg->destfd < 0 || fstat(sg->destfd, &st) != 0)
		return sg_errno(errno, "open", sg->dest);
	used = dir_used(sg->destfd);
	if (used < 0)
		return sg_errno(errno, "read", sg->dest);
	sg->state = used ? STAGE_DEST_USED : STAGE_DEST_EMPTY;
	if (used && !overwrite)
		return files_host->error(ARCA_ERR_EXISTS,
		                         "files: refusing to restore into %s: it is not empty; "
		                         "pass --overwrite to restore over it, or choose --into "
		                         "an empty directory",
		                         sg->dest);
	return ARCA_OK;
}

/* Undo "\040"-style escapes of /proc/self/mountinfo in place. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Is DIR a mount point (*at), and which mount point lies below it (*below,
 * malloc'd, or NULL)? Without /proc, neither. */
static void find_mounts(const char *dir, int *at, char **below)
{
	char *real = realpath(dir, NULL), *line = NULL;
	size_t cap = 0, n;
	FILE *f = real ? fopen("/proc/self/mountinfo", "re") : NULL;

	*at = 0;
	*below = NULL;
	n = real ? strlen(real) : 0;
	while (f && !*below && getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
		char *mp = line;
		int i;

		for (i = 0; i < 4 && mp; i++) {
			mp = strchr(mp, ' ');
			mp = mp ? mp + 1 : NULL;
		}
		if (!mp)
			continue;
		mp[strcspn(mp, " ")] = '\0';
		unescape_octal(mp);
		if (!strcmp(mp, real))
			*at = 1;
		else if (n == 1 ? mp[1] != '\0' : !strncmp(mp, real, n) && mp[n] == '/')
			*below = strdup(mp);
	}
	if (f)
		fclose(f);
	free(line);
	free(real);
}

/* mkdir -p with the usual mode (umask applies); *made is set to the topmost
 * directory it created, so a failed restore can take them away again. */
static int make_dirs(const char *path, char **made)
{
	char *p = strdup(path), *s, c;
	int rc = 0;

	if (!p)
		return -1;
	for (s = p + 1; rc == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0777) == 0) {
			if (!*made && !(*made = strdup(p)))
				rc = -1;
		} else if (errno != EEXIST) {
			rc = -1;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

/* rmdir what make_dirs made for path, deepest first; only empty ones go. */
static void unmake_dirs(char *path, char **made)
{
	size_t top = *made ? strlen(*made) : 0;
	char *p = *made ? strdup(path) : NULL, *slash;

	while (p && strlen(p) >= top && rmdir(p) == 0 && (slash = strrchr(p, '/')) != NULL)
		*slash = '\0';
	free(p);
	free(*made);
	*made = NULL;
}

/* ---- the staging directory ------------------------------------------- */

static void stage_name(char *out, size_t cap, const char *base)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[6];
	char suffix[sizeof(r) + 1];
	size_t i;

	if (getentropy(r, sizeof(r)) != 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		for (i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)((unsigned long)ts.tv_nsec >> (i * 5) ^
			                       (unsigned long)getpid() >> i);
	}
	for (i = 0; i < sizeof(r); i++)
		suffix[i] = set[r[i] % (sizeof(set) - 1)];
	suffix[sizeof(r)] = '\0';
	/* the name stays within NAME_MAX however long DIR's own name is */
	if (base)
		snprintf(out, cap, ".%.200s" STAGE_TAG "%s", base, suffix);
	else
		snprintf(out, cap, STAGE_TAG "%s", suffix);
}

/* Make the staging directory in pfd (taken over on success); base: DIR's
 * name when it sits beside DIR, NULL inside. An fd on it, or -1 (errno). */
static int make_stage(struct stage *sg, int pfd, const char *base, const char *where)
{
	char name[NAME_MAX + 1];
	struct stat st;
	int fd, err, tries;

	for (tries = 0;; tries++) {
		stage_name(name, sizeof(name), base);
		/* 0777 and the umask: the mode DIR gets when the snapshot has
		 * none for it; private until the end right after */
		if (mkdirat(pfd, name, 0777) == 0)
			break;
		if (errno != EEXIST || tries == 100)
			return -1;
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || fchmod(fd, 0700) != 0) {
		err = errno;
		if (fd >= 0)
			close(fd);
		unlinkat(pfd, name, AT_REMOVEDIR);
		errno = err;
		return -1;
	}
	sg->name = strdup(name);
	if (asprintf(&sg->path, "%s%s%s", where,
	             where[0] && where[strlen(where) - 1] != '/' ? "/" : "", name) < 0)
		sg->path = NULL;
	if (!sg->name || !sg->path) {
		close(fd);
		unlinkat(pfd, name, AT_REMOVEDIR);
		free(sg->name);
		free(sg->path);
		sg->name = sg->path = NULL;
		errno = ENOMEM;
		return -1;
	}
	if (sg->state == STAGE_DEST_ABSENT)
		sg->dest_mode = st.st_mode & 07777;
	sg->pfd = pfd;
	return fd;
}

/* Beside DIR, in its parent; the parent is made when missing. */
static int stage_beside(struct stage *sg)
{
	const char *slash = strrchr(sg->dest, '/');
	char *parent;
	int pfd, fd = -1, err;

	if (slash == sg->dest + strlen(sg->dest) - 1) { /* DIR is "/" */
		errno = EBUSY;
		return -1;
	}
	parent = !slash ? strdup(".") : strndup(sg->dest, slash == sg->dest ? 1 : slash - sg->dest);
	if (!parent)
		return -1;
	if (sg->state == STAGE_DEST_ABSENT && make_dirs(parent, &sg->made) != 0) {
		err = errno;
		unmake_dirs(parent, &sg->made);
		free(parent);
		errno = err;
		return -1;
	}
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd >= 0) {
		fd = make_stage(sg, pfd, slash ? slash + 1 : sg->dest,
		                !slash              ? ""
		                : slash == sg->dest ? "/"
		                                    : parent);
		if (fd < 0) {
			err = errno;
			close(pfd);
			errno = err;
		}
	}
	if (fd < 0) {
		err = errno;
		unmake_dirs(parent, &sg->made);
		errno = err;
	}
	free(parent);
	return fd;
}

/* No staging: DIR itself, made when missing. */
static int stage_in_place(struct stage *sg, int *fd)
{
	int err;

	sg->kind = STAGE_IN_PLACE;
	if (sg->state == STAGE_DEST_ABSENT && make_dirs(sg->dest, &sg->made) != 0) {
		err = errno;
		unmake_dirs(sg->dest, &sg->made);
		return sg_errno(err, "create", sg->dest);
	}
	*fd = open(sg->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0 || !(sg->path = strdup(sg->dest))) {
		err = *fd < 0 ? errno : ENOMEM;
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		unmake_dirs(sg->dest, &sg->made);
		return sg_errno(err, "open", sg->dest);
	}
	files_host->log(ARCA_LOG_INFO,
	                "files: restoring straight into %s, without a staging directory: %s; "
	                "a failure leaves a partial restore there",
	                sg->dest, sg->why ? sg->why : "");
	return ARCA_OK;
}

int stage_open(struct stage *sg, struct arca_ctx *ctx, const struct files_inst *fi,
               const char *root, int overwrite, int *fd)
{
	char *below = NULL;
	int at = 0, err = 0, rc;

	memset(sg, 0, sizeof(*sg));
	sg->ctx = ctx;
	sg->fi = fi;
	sg->pfd = sg->destfd = *fd = -1;
	rc = resolve_dest(sg, root);
	if (rc == ARCA_OK)
		rc = inspect_dest(sg, overwrite);
	if (rc != ARCA_OK)
		return rc;
	if (sg->state != STAGE_DEST_ABSENT)
		find_mounts(sg->dest, &at, &below);
	if (below) {
		rc = asprintf(&sg->why,
		              "%s is a mount point below it, and a staged restore "
		              "cannot be moved across filesystems",
		              below);
		free(below);
		if (rc < 0)
			sg->why = NULL;
		return stage_in_place(sg, fd);
	}
	if (!at) {
		sg->kind = STAGE_BESIDE;
		*fd = stage_beside(sg);
		err = errno;
	}
	if (*fd < 0 && sg->state != STAGE_DEST_ABSENT) {
		int pfd = dup(sg->destfd);

		sg->kind = STAGE_INSIDE;
		*fd = pfd < 0 ? -1 : make_stage(sg, pfd, NULL, sg->dest);
		if (*fd < 0 && pfd >= 0)
			close(pfd);
		err = at ? errno : err;
	}
	if (*fd >= 0)
		return ARCA_OK;
	free(sg->path);
	free(sg->name);
	sg->path = sg->name = NULL;
	if (asprintf(&sg->why, "cannot make a staging directory %s it: %s", at ? "in" : "beside",
	             strerror(err)) < 0)
		sg->why = NULL;
	return stage_in_place(sg, fd);
}

/* ---- into place -------------------------------------------------------- */

int stage_renames(const struct stage *sg)
{
	return sg->kind == STAGE_IN_PLACE ||
	       (sg->kind == STAGE_BESIDE && sg->state == STAGE_DEST_ABSENT);
}

/* The staging directory becomes DIR, which did not exist. */
static int rename_onto(struct stage *sg, int fd, int has_root_item)
{
	const char *slash = strrchr(sg->dest, '/');
	const char *base = slash ? slash + 1 : sg->dest;

	if (!has_root_item && fchmod(fd, sg->dest_mode) != 0)
		return sg_errno(errno, "set the mode of", sg->path);
	if (renameat(sg->pfd, sg->name, sg->pfd, base) != 0) {
		if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR || errno == EISDIR)
			return files_host->error(ARCA_ERR_EXISTS,
			                         "files: refusing to move the restored tree onto "
			                         "%s: something was put there during the restore; "
			                         "run the restore again",
			                         sg->dest);
		return sg_errno(errno, "rename the restored tree onto", sg->dest);
	}
	sg->committed = 1;
	/* the new name durable, as the content is (the caller flushed it) */
	if (fsync(sg->pfd) != 0 && errno != EINVAL)
		return sg_errno(errno, "flush", sg->dest);
	return ARCA_OK;
}

/* The names in directory fd, NULL-terminated and malloc'd; NULL on error.
 * Read whole before anything moves: readdir and renames do not mix. */
static char **list_names(int fd)
{
	struct dirent *de;
	DIR *dir = fdopendir(dup(fd));
	char **names = NULL, **grown;
	size_t n = 0;

	if (!dir)
		return NULL;
	names = calloc(1, sizeof(*names));
	while (names && (de = readdir(dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		grown = realloc(names, (n + 2) * sizeof(*names));
		if (!grown || !(grown[n] = strdup(de->d_name))) {
			names = grown ? grown : names;
			names[n] = NULL;
			goto fail;
		}
		names = grown;
		names[++n] = NULL;
	}
	closedir(dir);
	return names;
fail:
	closedir(dir);
	for (n = 0; names[n]; n++)
		free(names[n]);
	free(names);
	errno = ENOMEM;
	return NULL;
}

static int merge_dir(struct stage *sg, int sfd, int dfd, struct pathbuf *rel);

static int merge_error(struct stage *sg, int err, const char *verb, const struct pathbuf *rel)
{
	const char *hint;
	int status = files_errno_status(err, &hint);

	return files_host->error(status, "files: cannot %s %s%s%s: %s%s", verb, sg->dest,
	                         rel->len ? "/" : "", rel->len ? rel->s : "", strerror(err), hint);
}

/* Directory `name` is in both: its entries go over; the staged one goes. */
static int merge_subdir(struct stage *sg, int sfd, int dfd, const char *name,
                        const struct stat *dst, struct pathbuf *rel)
{
	int sub_s, sub_d = -1, rc;

	sub_s = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub_s >= 0)
		sub_d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub_d < 0) {
		rc = merge_error(sg, errno, "open directory", rel);
		goto out;
	}
	/* it must take the entries; its mode comes from the snapshot after */
	if (geteuid() != 0 && (dst->st_mode & 0700) != 0700 &&
	    fchmod(sub_d, (dst->st_mode & 07777) | 0700) != 0) {
		rc = merge_error(sg, errno, "make writable", rel);
		goto out;
	}
	rc = merge_dir(sg, sub_s, sub_d, rel);
	if (rc == ARCA_OK && unlinkat(sfd, name, AT_REMOVEDIR) != 0)
		rc = merge_error(sg, errno, "remove the staged directory of", rel);
out:
	if (sub_s >= 0)
		close(sub_s);
	if (sub_d >= 0)
		close(sub_d);
	return rc;
}

static int merge_entry(struct stage *sg, int sfd, int dfd, const char *name, struct pathbuf *rel)
{
	struct stat s, d;

	if (fstatat(sfd, name, &s, AT_SYMLINK_NOFOLLOW) != 0)
		return merge_error(sg, errno, "read the staged copy of", rel);
	if (fstatat(dfd, name, &d, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(s.st_mode) && S_ISDIR(d.st_mode))
			return merge_subdir(sg, sfd, dfd, name, &d, rel);
		/* rename replaces a file by a file, a directory only by a directory */
		if ((S_ISDIR(s.st_mode) || S_ISDIR(d.st_mode)) && files_remove_tree(dfd, name) != 0)
			return merge_error(sg, errno, "remove what is in the way at", rel);
	} else if (errno != ENOENT) {
		return merge_error(sg, errno, "inspect", rel);
	}
	if (renameat(sfd, name, dfd, name) != 0)
		return merge_error(sg, errno, "move the restored copy to", rel);
	return ARCA_OK;
}

static int merge_dir(struct stage *sg, int sfd, int dfd, struct pathbuf *rel)
{
	char **names = list_names(sfd);
	size_t i, mark;
	int rc = ARCA_OK;

	if (!names)
		return merge_error(sg, errno, "read the staged copy of", rel);
	for (i = 0; names[i]; i++) {
		if (rc == ARCA_OK) {
			mark = pathbuf_push(rel, names[i]);
			if (mark == (size_t)-1)
				rc = sg_errno(ENOMEM, "restore into", sg->dest);
			else
				rc = merge_entry(sg, sfd, dfd, names[i], rel);
			if (mark != (size_t)-1)
				pathbuf_cut(rel, mark);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int stage_commit(struct stage *sg, int fd, int has_root_item, int *final_fd)
{
	struct pathbuf rel = {0};
	int rc;

	*final_fd = -1;
	if (sg->kind == STAGE_IN_PLACE) {
		sg->committed = 1;
		return ARCA_OK;
	}
	if (stage_renames(sg))
		return rename_onto(sg, fd, has_root_item);
	sg->merging = 1;
	rc = merge_dir(sg, fd, sg->destfd, &rel);
	pathbuf_free(&rel);
	if (rc != ARCA_OK)
		return rc;
	sg->committed = 1;
	if (unlinkat(sg->pfd, sg->name, AT_REMOVEDIR) != 0 &&
	    files_remove_tree(sg->pfd, sg->name) != 0) {
		char *rm = command("rm -rf -- ", sg->path, "");

		files_host->log(ARCA_LOG_WARN,
		                "files: cannot remove the empty staging directory "
		                "%s: %s; remove it with: %s",
		                sg->path, strerror(errno), rm ? rm : "rm -rf");
		free(rm);
	}
	*final_fd = dup(sg->destfd);
	if (*final_fd < 0)
		return sg_errno(errno, "open", sg->dest);
	return ARCA_OK;
}

/* ---- after a failure ----------------------------------------------------- */

/* In place: what is left, and the commands that finish or remove it. */
static void log_in_place_left(const struct stage *sg)
{
	char *resume = resume_command(sg), *clean = NULL;

	if (sg->state == STAGE_DEST_ABSENT)
		clean = command("rm -rf -- ", sg->made ? sg->made : sg->dest, "");
	else if (sg->state == STAGE_DEST_EMPTY)
		clean = command("find ", sg->dest, " -mindepth 1 -delete");
	files_host->log(ARCA_LOG_ERROR,
	                "files: the restore stopped part-way and was written straight into %s "
	                "(%s): %s now holds part of the snapshot%s. Finish it with: %s%s%s",
	                sg->dest, sg->why ? sg->why : "no staging directory", sg->dest,
	                sg->state == STAGE_DEST_USED ? " over what it held before" : "",
	                resume ? resume : "the same command with --overwrite",
	                clean ? "; or remove what it wrote with: " : "", clean ? clean : "");
	free(resume);
	free(clean);
}

void stage_abort(struct stage *sg)
{
	char *rm, *resume;

	if (sg->committed)
		return;
	if (sg->kind == STAGE_IN_PLACE) {
		log_in_place_left(sg);
		return;
	}
	if (files_remove_tree(sg->pfd, sg->name) != 0) {
		rm = command("rm -rf -- ", sg->path, "");
		files_host->log(ARCA_LOG_ERROR,
		                "files: cannot remove the partial restore %s: %s; remove it "
		                "with: %s",
		                sg->path, strerror(errno), rm ? rm : "rm -rf");
		free(rm);
	} else if (!sg->merging) {
		files_host->log(ARCA_LOG_INFO,
		                "files: nothing was written to %s; the partial restore in %s "
		                "was removed",
		                sg->dest, sg->path);
	}
	if (sg->merging) {
		resume = resume_command(sg);
		files_host->log(ARCA_LOG_ERROR,
		                "files: %s was partly updated from the snapshot when the "
		                "restore failed; finish it with: %s",
		                sg->dest, resume ? resume : "the same command with --overwrite");
		free(resume);
	}
	/* DIR's parents, made for it (an absent DIR has nothing merged) */
	if (sg->made) {
		const char *slash = strrchr(sg->dest, '/');
		char *parent = slash ? strndup(sg->dest, (size_t)(slash - sg->dest)) : NULL;

		if (parent)
			unmake_dirs(parent, &sg->made);
		free(parent);
	}
}

void stage_free(struct stage *sg)
{
	if (sg->pfd >= 0)
		close(sg->pfd);
	if (sg->destfd >= 0)
		close(sg->destfd);
	free(sg->dest);
	free(sg->path);
	free(sg->name);
	free(sg->made);
	free(sg->why);
	memset(sg, 0, sizeof(*sg));
	sg->pfd = sg->destfd = -1;
}
