/* test_repo_dest.c — directory destination for repository unit tests. */
#include "test_repo_dest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "util.h"

char *test_dir_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static int td_put(void *inst, const char *name, const void *data, size_t len, unsigned flags)
{
	char *path = test_dir_path(inst, name);
	char *tmp = xasprintf("%s.tmp-%d", path, (int)getpid());
	char *slash = strrchr(path, '/');
	*slash = 0;
	mkdir_p(path, 0700);
	*slash = '/';
	int rc = ARCA_OK;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		rc = err_set(ARCA_ERR_IO, "test dest: write %s: %s", tmp, strerror(errno));
	} else if (flags & ARCA_PUT_EXCLUSIVE) {
		if (link(tmp, path))
			rc = errno == EEXIST
			         ? err_set(ARCA_ERR_EXISTS, "%s exists", name)
			         : err_set(ARCA_ERR_IO, "link %s: %s", path, strerror(errno));
	} else if (rename(tmp, path)) {
		rc = err_set(ARCA_ERR_IO, "rename %s: %s", path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	free(path);
	return rc;
}

static int td_get(void *inst, const char *name, uint64_t offset, uint64_t length,
		  arca_sink_fn sink, void *arg)
{
	char *path = test_dir_path(inst, name);
	int fd = open(path, O_RDONLY);
	free(path);
	if (fd < 0)
		return errno == ENOENT ? err_set(ARCA_ERR_NOT_FOUND, "%s not found", name)
				       : err_set(ARCA_ERR_IO, "open %s: %s", name, strerror(errno));
	char b[65536];
	int rc = ARCA_OK;
	while (length) {
		size_t want = length < sizeof b ? (size_t)length : sizeof b;
		ssize_t n = pread(fd, b, want, (off_t)offset);
		if (n < 0) {
			rc = err_set(ARCA_ERR_IO, "read %s: %s", name, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if ((rc = sink(arg, b, (size_t)n)))
			break;
		offset += (uint64_t)n;
		if (length != UINT64_MAX)
			length -= (uint64_t)n;
	}
	close(fd);
	return rc;
}

struct walk {
	const char *root;
	const char *prefix;
	int (*cb)(void *arg, const char *name, uint64_t size);
	void *arg;
	int rc;
};

static int walk_dir(struct walk *w, const char *rel)
{
	char *path = rel[0] ? xasprintf("%s/%s", w->root, rel) : xstrdup(w->root);
	DIR *d = opendir(path);
	free(path);
	if (!d)
		return 0;
	struct dirent *de;
	while (!w->rc && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp-"))
			continue;
		char *name = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		char *full = xasprintf("%s/%s", w->root, name);
		struct stat st;
		if (!stat(full, &st)) {
			if (S_ISDIR(st.st_mode)) {
				walk_dir(w, name);
			} else if (str_starts(name, w->prefix)) {
				w->rc = w->cb(w->arg, name, (uint64_t)st.st_size);
			}
		}
		free(full);
		free(name);
	}
	closedir(d);
	return w->rc;
}

static int td_list(void *inst, const char *prefix,
		   int (*cb)(void *arg, const char *name, uint64_t size), void *arg)
{
	struct walk w = {inst, prefix, cb, arg, 0};
	return walk_dir(&w, "");
}

static int td_remove(void *inst, const char *name)
{
	char *path = test_dir_path(inst, name);
	int rc = unlink(path) && errno != ENOENT ? err_set(ARCA_ERR_IO, "unlink %s", name) : 0;
	free(path);
	return rc;
}

static int td_stat(void *inst, const char *name, uint64_t *size)
{
	char *path = test_dir_path(inst, name);
	struct stat st;
	int rc = stat(path, &st);
	free(path);
	if (rc)
		return err_set(ARCA_ERR_NOT_FOUND, "%s not found", name);
	*size = (uint64_t)st.st_size;
	return ARCA_OK;
}

const struct arca_dest_ops test_dir_ops = {
	.struct_size = sizeof(struct arca_dest_ops),
	.caps = ARCA_CAP_ATOMIC_PUT | ARCA_CAP_EXCLUSIVE | ARCA_CAP_RANGE_GET,
	.put = td_put,
	.get = td_get,
	.list = td_list,
	.remove = td_remove,
	.stat = td_stat,
};

char *test_dir_new(void)
{
	char *t = xstrdup("/tmp/arca-unit-repo.XXXXXX");
	if (!mkdtemp(t))
		abort();
	return t;
}

void test_dir_remove(char *dir)
{
	remove_tree(dir);
	free(dir);
}

void test_fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 32);
	}
}
