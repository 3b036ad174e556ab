/* trust.c — checking a program before the driver runs it.
 *
 * pg_dump & co. run as the backup user (often root) with a database
 * password in their environment, and pg_ctl starts a server: whoever can
 * replace one of them runs code as that user. So a program from pg_bin_dir
 * or PATH must pass the checks the engine's loader applies to driver
 * modules (core/loader.c, which a driver cannot call): the file and every
 * directory leading to it, as written and as resolved, are owned by root or
 * by the user arca runs as and are not writable by group or others. A
 * parent directory with the sticky bit (like /tmp) may be writable: there
 * others may add entries but cannot rename or replace ours. */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pg.h"

/* "uid 65534 (nobody)" */
static void describe_uid(uid_t uid, char *out, size_t n)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
		snprintf(out, n, "uid %u (%s)", (unsigned)uid, res->pw_name);
	else
		snprintf(out, n, "uid %u", (unsigned)uid);
}

/* Why `st` (of `path`, called `what`) could be changed by someone other
 * than root or us, into why; 0 when it is safe. */
static int unsafe_stat(const char *what, const char *path, const struct stat *st, int sticky_ok,
                       char *why, size_t n)
{
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		char owner[160], me[200] = "";
		describe_uid(st->st_uid, owner, sizeof owner);
		if (geteuid() != 0) {
			char uid[160];
			describe_uid(geteuid(), uid, sizeof uid);
			snprintf(me, sizeof me, " or by %s that arca runs as", uid);
		}
		snprintf(why, n,
		         "%s is owned by %s, not by root%s, so that user could replace the program "
		         "arca runs: chown root %s",
		         what, owner, me, path);
		return 1;
	}
	mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);
	if (!w || (sticky_ok && (st->st_mode & S_ISVTX)))
		return 0;
	const char *who = w == (S_IWGRP | S_IWOTH) ? "group- and world-writable"
	                  : w == S_IWOTH           ? "world-writable"
	                                           : "group-writable";
	snprintf(why, n,
	         "%s is %s (mode %04o), so others could replace the program arca runs: "
	         "chmod go-w %s",
	         what, who, (unsigned)(st->st_mode & 07777), path);
	return 1;
}

/* One directory on the way to a program. */
static int unsafe_dir_step(const char *prefix, const char *dir, int last, char *why, size_t n)
{
	struct stat st;
	if (stat(prefix, &st) < 0) {
		snprintf(why, n, "cannot inspect %s: %s", prefix, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, n, "%s is not a directory", prefix);
		return 1;
	}
	char what[PATH_MAX + 64];
	if (last)
		snprintf(what, sizeof what, "the directory %s", prefix);
	else
		snprintf(what, sizeof what, "%s (a parent of %s)", prefix, dir);
	return unsafe_stat(what, prefix, &st, !last, why, n);
}

/* `dir` and every directory above it, "/" first. Each prefix is stat'ed,
 * so a symlinked component is judged by the directory it leads to (and the
 * symlink by the directory holding it, checked just before). */
static int unsafe_dir_chain(const char *dir, char *why, size_t n)
{
	char p[PATH_MAX];
	size_t len = strlen(dir);
	if (len >= sizeof p) {
		snprintf(why, n, "the path %s is too long", dir);
		return 1;
	}
	memcpy(p, dir, len + 1);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = 0;
	int bad = unsafe_dir_step("/", dir, len == 1, why, n);
	for (size_t i = 1; i <= len && len > 1 && !bad; i++) {
		if (i < len && p[i] != '/')
			continue;
		char saved = p[i];
		p[i] = 0;
		bad = unsafe_dir_step(p, dir, i == len, why, n);
		p[i] = saved;
	}
	return bad;
}

/* A directory both as written and as resolved, so a symlink on the way is
 * judged by where it leads and by who could repoint it. */
static int unsafe_dir(const char *dir, char *why, size_t n)
{
	if (unsafe_dir_chain(dir, why, n))
		return 1;
	char *real = realpath(dir, NULL);
	if (!real) {
		snprintf(why, n, "cannot resolve %s: %s", dir, strerror(errno));
		return 1;
	}
	int bad = strcmp(real, dir) != 0 && unsafe_dir_chain(real, why, n);
	free(real);
	return bad;
}

/* The directory part of an absolute path into out ("/a/b" -> "/a", "/b" -> "/"). */
static void dir_of(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash == path ? 1 : (size_t)(slash - path);
	snprintf(out, n, "%.*s", (int)len, path);
}

int pg_program_unsafe(const char *path, char *why, size_t n)
{
	if (path[0] != '/') {
		snprintf(why, n, "it is not an absolute path");
		return 1;
	}
	struct stat lst, st;
	char *real = NULL;
	if (lstat(path, &lst) < 0 || !(real = realpath(path, NULL)) || stat(real, &st) < 0) {
		snprintf(why, n, "cannot inspect it: %s", strerror(errno));
		free(real);
		return 1;
	}
	int is_link = S_ISLNK(lst.st_mode);
	char what[PATH_MAX + 64], dir[PATH_MAX];
	if (is_link)
		snprintf(what, sizeof what, "it is a symbolic link and its target %s", real);
	else
		snprintf(what, sizeof what, "the program %s", path);
	int bad = 0;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, n, "%s is not a regular file", what);
		bad = 1;
	}
	dir_of(path, dir, sizeof dir);
	bad = bad || unsafe_dir(dir, why, n);
	if (!bad && is_link) {
		dir_of(real, dir, sizeof dir);
		bad = unsafe_dir(dir, why, n);
	}
	bad = bad || unsafe_stat(what, real, &st, 0, why, n);
	free(real);
	return bad;
}
