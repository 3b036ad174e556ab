/* dir_sweep.c — removing temporary files that interrupted puts left.
 *
 * A put writes ".tmp.<object>.<host tag>.<pid>.<random>" beside the object
 * and renames it into place; a writer killed in between leaves the file.
 * The sweep walks the repository from the root descriptor (never following
 * a symlink) and removes such a file when it was written on this host by a
 * process that no longer exists, or when it is older than max_age_sec: no
 * put takes that long. Files of another host's live writer stay. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dir.h"

#define SWEEP_DEPTH 4 /* root/blobs/<target>/...: nothing arca writes is deeper */

void dir_host_tag(const char *hostname, char out[9])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)hostname; *p; p++)
		h = (h ^ *p) * 16777619u;
	snprintf(out, 9, "%08x", h);
}

/* "...<tag>.<pid>.<16 hex>": the tag and pid of a temporary file's name. */
static int parse_tmp(const char *name, char tag[9], long *pid)
{
	const char *end = name + strlen(name), *p = end;
	const char *dots[3];

	for (int k = 0; k < 3; k++) {
		while (p > name && p[-1] != '.')
			p--;
		if (p == name)
			return -1;
		dots[k] = --p; /* at the '.' */
	}
	/* dots[0]: before the random part, dots[1]: before the pid, dots[2]:
	 * before the tag */
	if (end - dots[0] - 1 != 16 || dots[1] - dots[2] - 1 != 8)
		return -1;
	char *stop;
	*pid = strtol(dots[1] + 1, &stop, 10);
	if (stop != dots[0] || *pid <= 0)
		return -1;
	memcpy(tag, dots[2] + 1, 8);
	tag[8] = '\0';
	return 0;
}

static int stale(const char *name, const struct stat *st, const char *tag_a, const char *tag_b,
                 int64_t max_age)
{
	char tag[9];
	long pid;

	if (time(NULL) - st->st_mtime > max_age)
		return 1;
	if (parse_tmp(name, tag, &pid) != 0 || (strcmp(tag, tag_a) && strcmp(tag, tag_b)))
		return 0; /* another host's, or a name we cannot read: age decides */
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static void sweep_dir(int dfd, int depth, const char *tag_a, const char *tag_b, int64_t max_age,
                      unsigned *removed)
{
	DIR *dir = fdopendir(dfd);
	struct dirent *e;
	struct stat st;

	if (!dir) {
		close(dfd);
		return;
	}
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth > 0) {
			int sub = openat(dirfd(dir), e->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				sweep_dir(sub, depth - 1, tag_a, tag_b, max_age, removed);
		} else if (S_ISREG(st.st_mode) &&
		           !strncmp(e->d_name, DIR_TMP_PREFIX, strlen(DIR_TMP_PREFIX)) &&
		           stale(e->d_name, &st, tag_a, tag_b, max_age) &&
		           unlinkat(dirfd(dir), e->d_name, 0) == 0) {
			(*removed)++;
		}
	}
	closedir(dir);
}

int dir_sweep(void *instance, const char *hostname, int64_t max_age_sec, unsigned *removed)
{
	struct dir_inst *d = instance;
	char tag[9];
	int fd, rc;

	*removed = 0;
	dir_host_tag(hostname ? hostname : "", tag);
	rc = dir_open_dirs(d, "", 0, 0, &fd);
	if (rc == ARCA_ERR_NOT_FOUND)
		return ARCA_OK;
	if (rc != ARCA_OK)
		return rc;
	/* fdopendir takes the descriptor: sweep a copy of the root's */
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	dir_release(d, fd);
	if (copy < 0)
		return dir_errno(d, errno, "open", d->root);
	sweep_dir(copy, SWEEP_DEPTH, tag, d->host_tag, max_age_sec, removed);
	return ARCA_OK;
}
