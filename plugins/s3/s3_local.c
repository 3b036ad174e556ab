/* s3_local.c — `arca restore TARGET --into DIR` for the s3 target: each
 * object a file under DIR at the path s3_keypath.c makes of its key, its
 * metadata (ETag, Last-Modified, headers, x-amz-meta-*, tags, storage
 * class) a line of DIR/%manifest.jsonl (README.md here, "Restoring into a
 * local directory"). Every file is written beside its final name under a
 * temporary one and renamed; its mtime is the object's Last-Modified.
 * Nothing inside DIR is followed: each component is opened with openat and
 * O_NOFOLLOW from DIR's descriptor, so a symlink planted inside DIR stops
 * the restore instead of leading out. A DIR that holds anything is refused
 * without --overwrite. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "s3.h"
#include "s3_keypath.h"
#include "s3_select.h"
#include "s3_target.h"

static int errno_status(int e)
{
	return e == ENOSPC || e == EDQUOT  ? ARCA_ERR_NOSPACE
	       : e == EACCES || e == EPERM ? ARCA_ERR_AUTH
	                                   : ARCA_ERR_IO;
}

/* A new file in dfd under a temporary name (never an existing one). */
static int tmp_open(int dfd, char *name, size_t n)
{
	static unsigned seq;
	for (int i = 0; i < 100; i++) {
		snprintf(name, n, "%s%ld.%u.%ld", S3K_TMP, (long)getpid(),
		         __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED), (long)time(NULL));
		int fd =
		    openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* The directory of `path` (all components but the last), made as needed,
 * opened without following anything; *leaf points at the last one. */
static int open_parent(int top, const char *dir, char *path, char **leaf)
{
	int fd = dup(top);
	char *c = path, *sl;
	while (fd >= 0 && (sl = strchr(c, '/'))) {
		*sl = '\0';
		int nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && !mkdirat(fd, c, 0777))
			nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		*sl = '/';
		close(fd);
		if (nfd < 0) {
			if (e == ELOOP || e == ENOTDIR)
				return -s3_host->error(
				    ARCA_ERR_EXISTS,
				    "s3: %s/%.*s is a symbolic link or not a directory: "
				    "not followed; restore into an empty directory",
				    dir, (int)(sl - path), path);
			return -s3_host->error(errno_status(e), "s3: %s/%.*s: %s", dir,
			                       (int)(sl - path), path, strerror(e));
		}
		fd = nfd;
		c = sl + 1;
	}
	*leaf = c;
	return fd;
}

/* JSON string: control bytes escaped; a byte of invalid UTF-8 as \u00XX
 * (its Latin-1 reading: header values are Latin-1 in HTTP). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if (*p < 0x80)
			fputc(*p, f);
		else {
			size_t n = (*p & 0xE0) == 0xC0   ? 2
			           : (*p & 0xF0) == 0xE0 ? 3
			           : (*p & 0xF8) == 0xF0 ? 4
			                                 : 0;
			size_t k = 1;
			while (n && k < n && (p[k] & 0xC0) == 0x80)
				k++;
			if (n && k == n) {
				fwrite(p, 1, n, f);
				p += n - 1;
			} else
				fprintf(f, "\\u%04x", *p);
		}
	}
	fputc('"', f);
}

static int valid_utf8(const char *s)
{
	char *p = s3k_path(s, 0); /* invalid bytes come out as %XX of >= 0x80 */
	int ok = 1;
	for (const char *c = p; c && *c; c++)
		if (c[0] == '%' && c[1] >= '8' && c[1] <= 'F' && !(c[1] > '9' && c[1] < 'A'))
			ok = 0;
	free(p);
	return ok;
}

static void b64(FILE *f, const unsigned char *s, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v =
		    s[i] << 16 | (i + 1 < n ? s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
		fputc(t[v >> 18 & 63], f);
		fputc(t[v >> 12 & 63], f);
		fputc(i + 1 < n ? t[v >> 6 & 63] : '=', f);
		fputc(i + 2 < n ? t[v & 63] : '=', f);
	}
}

static void pct_decode(char *v)
{
	char *o = v;
	for (const char *p = v; *p; p++) {
		unsigned x;
		if (*p == '%' && p[1] && p[2] && sscanf(p + 1, "%2x", &x) == 1)
			*o++ = (char)x, p += 2;
		else
			*o++ = *p;
	}
	*o = '\0';
}

/* One manifest line: the object's key, path and the metadata stored with
 * it (README.md: "The manifest"). */
static void manifest_line(FILE *f, const char *key, const char *path,
                          const struct arca_item_info *info)
{
	char iso[32];
	time_t t = (time_t)info->mtime_sec;
	strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &(struct tm){0}));
	fputs("{\"key\":", f);
	if (valid_utf8(key))
		json_str(f, key);
	else {
		fputs("null,\"key_base64\":\"", f);
		b64(f, (const unsigned char *)key, strlen(key));
		fputc('"', f);
	}
	fputs(",\"path\":", f);
	json_str(f, path);
	fprintf(f, ",\"size\":%" PRIu64 ",\"last_modified\":\"%s\"", info->size, iso);
	char *m = strdup(info->meta ? info->meta : ""), *save = NULL;
	int nh = 0, nt = 0;
	const char *sc = NULL;
	for (char *l = m ? strtok_r(m, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		char *c = strstr(l, ": ");
		if (!c)
			continue;
		*c = '\0';
		if (!strcmp(l, "etag")) {
			fputs(",\"etag\":", f);
			json_str(f, c + 2);
		} else if (!strcmp(l, "x-amz-storage-class"))
			sc = c + 2;
	}
	if (sc) {
		fputs(",\"storage_class\":", f);
		json_str(f, sc);
	}
	free(m);
	/* headers, then tags, each an object */
	for (int pass = 0; pass < 2; pass++) {
		m = strdup(info->meta ? info->meta : "");
		fputs(pass ? "},\"tags\":{" : ",\"headers\":{", f);
		for (char *l = m ? strtok_r(m, "\n", &save) : NULL; l;
		     l = strtok_r(NULL, "\n", &save)) {
			char *c = strstr(l, ": ");
			if (!c)
				continue;
			*c = '\0';
			int tag = !strcmp(l, "tag");
			if (pass && tag) {
				char *eq = strchr(c + 2, '=');
				if (!eq)
					continue;
				*eq = '\0';
				pct_decode(c + 2), pct_decode(eq + 1);
				fputs(nt++ ? "," : "", f);
				json_str(f, c + 2);
				fputc(':', f);
				json_str(f, eq + 1);
			} else if (!pass && !tag && strcmp(l, "etag") &&
			           strcmp(l, "last-modified") && strcmp(l, "x-amz-storage-class")) {
				fputs(nh++ ? "," : "", f);
				json_str(f, l);
				fputc(':', f);
				json_str(f, c + 2);
			}
		}
		free(m);
	}
	fputs("}}\n", f);
}

/* Is `key` the beginning of another object's key, key + "/"? names:
 * sorted. */
static int continued(char *const *names, size_t n, const char *key)
{
	size_t kl = strlen(key), lo = 0, hi = n;
	char *kp = malloc(kl + 2);
	if (!kp)
		return 0;
	memcpy(kp, key, kl);
	kp[kl] = '/', kp[kl + 1] = '\0';
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(names[mid], kp) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	int r = lo < n && !strncmp(names[lo], kp, kl + 1);
	free(kp);
	return r;
}

/* One object: the file at its path, its manifest line. */
static int write_one(int top, const char *dir, struct arca_ctx *ctx,
                     const struct arca_item_info *info, const char *key, const char *path,
                     FILE *man, char *buf, size_t cap)
{
	char *p = strdup(path), *leaf = NULL, tmp[64];
	if (!p)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	int dfd = open_parent(top, dir, p, &leaf);
	if (dfd < 0) {
		free(p);
		return -dfd;
	}
	int rc = ARCA_OK, fd = tmp_open(dfd, tmp, sizeof tmp);
	if (fd < 0)
		rc = s3_host->error(errno_status(errno), "s3: %s/%s: %s", dir, path,
		                    strerror(errno));
	uint64_t total = 0;
	for (size_t got; rc == ARCA_OK;) {
		rc = s3_host->item_read(ctx, buf, cap, &got);
		if (rc != ARCA_OK || !got)
			break;
		for (size_t off = 0; off < got && rc == ARCA_OK;) {
			ssize_t w = write(fd, buf + off, got - off);
			if (w < 0 && errno != EINTR)
				rc = s3_host->error(errno_status(errno), "s3: writing %s/%s: %s",
				                    dir, path, strerror(errno));
			off += w > 0 ? (size_t)w : 0;
		}
		total += got;
	}
	if (rc == ARCA_OK && info->size != UINT64_MAX && total != info->size)
		rc = s3_host->error(ARCA_ERR_CORRUPT,
		                    "s3: stored object %s has %" PRIu64
		                    " bytes, not its size %" PRIu64,
		                    path, total, info->size);
	if (fd >= 0) {
		struct timespec ts[2] = {{info->mtime_sec, info->mtime_nsec},
		                         {info->mtime_sec, info->mtime_nsec}};
		if (rc == ARCA_OK && futimens(fd, ts))
			rc = s3_host->error(ARCA_ERR_IO, "s3: %s/%s: setting its mtime: %s", dir,
			                    path, strerror(errno));
		if (close(fd) && rc == ARCA_OK)
			rc = s3_host->error(errno_status(errno), "s3: writing %s/%s: %s", dir, path,
			                    strerror(errno));
		if (rc == ARCA_OK && renameat(dfd, tmp, dfd, leaf))
			rc = s3_host->error(errno == EISDIR || errno == ENOTEMPTY
			                        ? ARCA_ERR_EXISTS
			                        : errno_status(errno),
			                    "s3: %s/%s: %s", dir, path, strerror(errno));
		if (rc != ARCA_OK)
			unlinkat(dfd, tmp, 0);
	}
	close(dfd);
	free(p);
	if (rc == ARCA_OK)
		manifest_line(man, key, path, info);
	return rc;
}

/* DIR made if absent (its parent must exist); one that holds anything is
 * refused without --overwrite. */
static int open_top(const char *dir, int overwrite, int *out)
{
	if (mkdir(dir, 0777) && errno != EEXIST)
		return s3_host->error(errno_status(errno), "s3: --into %s: %s", dir,
		                      strerror(errno));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return s3_host->error(errno == ENOTDIR ? ARCA_ERR_EXISTS : errno_status(errno),
		                      "s3: --into %s: %s", dir, strerror(errno));
	int d2 = dup(fd), empty = 1;
	DIR *dp = d2 >= 0 ? fdopendir(d2) : NULL;
	for (struct dirent *e; dp && (e = readdir(dp));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	if (dp)
		closedir(dp);
	if (!empty && !overwrite) {
		close(fd);
		return s3_host->error(
		    ARCA_ERR_EXISTS,
		    "s3: --into %s: the directory is not empty; nothing was written: "
		    "restore into a new or empty directory, or give --overwrite "
		    "(replaces the files of the same names, keeps the others)",
		    dir);
	}
	*out = fd;
	return ARCA_OK;
}

int s3_restore_local(const char *dir, struct arca_ctx *ctx, struct s3s_entry *e, size_t n)
{
	if (s3_host->option(ctx, "delete-extra"))
		return s3_host->error(
		    ARCA_ERR_CONFIG,
		    "s3: --delete-extra is for a bucket; --into %s: restore into a "
		    "new or empty directory instead",
		    dir);
	int top = -1, rc = open_top(dir, s3_host->option(ctx, "overwrite") != NULL, &top);
	if (rc != ARCA_OK)
		return rc;
	/* the keys given back, sorted (e is), to see which are continued */
	char **names = malloc((n ? n : 1) * sizeof *names), *buf = malloc(1 << 16);
	size_t nn = 0;
	for (size_t i = 0; names && i < n; i++)
		if (e[i].win && !e[i].tomb)
			names[nn++] = e[i].name;
	char mtmp[64];
	int mfd = names ? tmp_open(top, mtmp, sizeof mtmp) : -1;
	FILE *man = mfd >= 0 ? fdopen(mfd, "w") : NULL;
	if (!names || !man || !buf) {
		rc = s3_host->error(names ? errno_status(errno) : ARCA_ERR_INTERNAL,
		                    "s3: --into %s: cannot write its manifest: %s", dir,
		                    strerror(errno));
		if (man)
			fclose(man);
		else if (mfd >= 0)
			close(mfd);
		if (mfd >= 0)
			unlinkat(top, mtmp, 0);
		free(names);
		free(buf);
		close(top);
		return rc;
	}
	s3s_sort_ord(e, n);
	uint64_t written = 0;
	for (size_t i = 0; i < n && rc == ARCA_OK; i++) {
		if (!e[i].win || e[i].tomb)
			continue;
		if (s3_host->cancelled(ctx)) {
			rc = s3_host->error(ARCA_ERR_CANCELLED, "interrupted");
			break;
		}
		struct arca_item_info info = {.struct_size = sizeof info};
		rc = s3r_position(ctx, &e[i], &info);
		char *path =
		    rc == ARCA_OK ? s3k_path(e[i].name, continued(names, nn, e[i].name)) : NULL;
		if (rc == ARCA_OK && !path)
			rc = s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
		if (rc == ARCA_OK)
			rc = write_one(top, dir, ctx, &info, e[i].name, path, man, buf, 1 << 16);
		free(path);
		written += rc == ARCA_OK;
	}
	if (fflush(man) || fsync(fileno(man)))
		rc = rc != ARCA_OK ? rc
		                   : s3_host->error(errno_status(errno), "s3: %s/%s: %s", dir,
		                                    S3K_MANIFEST, strerror(errno));
	fclose(man);
	if (rc == ARCA_OK && renameat(top, mtmp, top, S3K_MANIFEST))
		rc = s3_host->error(errno_status(errno), "s3: %s/%s: %s", dir, S3K_MANIFEST,
		                    strerror(errno));
	if (rc != ARCA_OK)
		unlinkat(top, mtmp, 0);
	else if (syncfs(top))
		rc = s3_host->error(errno_status(errno), "s3: --into %s: %s", dir, strerror(errno));
	close(top);
	free(names);
	free(buf);
	if (rc == ARCA_OK)
		s3_host->log(ARCA_LOG_INFO,
		             "s3: %" PRIu64 " object(s) written under %s (their metadata in %s)",
		             written, dir, S3K_MANIFEST);
	return rc;
}
