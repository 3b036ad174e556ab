/* tofile.c — `arca restore T --into DIR`: the stored members written back
 * as a .dump (tar + gzip, through libarchive) that `meilisearch
 * --import-dump` loads. Written to a temporary name, renamed when whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>
#include "meili.h"

/* The member's own name, as the server wrote it (meta "member=NAME"). */
static const char *member_of(const struct arca_item_info *info, char *buf, size_t cap)
{
	if (info->meta && !strncmp(info->meta, "member=", 7) && strlen(info->meta + 7) < cap &&
	    !strchr(info->meta + 7, '\n')) {
		snprintf(buf, cap, "%s", info->meta + 7);
		return buf;
	}
	snprintf(buf, cap, "%s", info->name + strlen(MEILI_PREFIX));
	return buf;
}

/* Items whose size was not known when stored (export): counted first. */
static int item_size(struct arca_ctx *ctx, const char *name, uint64_t *size, char *buf, size_t cap)
{
	struct arca_item_info info;
	int rc = meili_host->item_open(ctx, name, &info);
	*size = 0;
	for (size_t got = 1; rc == ARCA_OK && got;) {
		rc = meili_host->item_read(ctx, buf, cap, &got);
		*size += got;
	}
	if (rc == ARCA_OK)
		rc = meili_host->item_open(ctx, name, &info);
	return rc;
}

static int write_member(struct archive *a, struct arca_ctx *ctx, const char *name, const char *only,
                        char *buf, size_t cap)
{
	struct arca_item_info info;
	int rc = meili_host->item_open(ctx, name, &info);
	if (rc != ARCA_OK)
		return rc;
	/* --index NAME: the other indexes are left out (v6 layout) */
	if (only && !strncmp(name, MEILI_PREFIX "indexes/", 13)) {
		size_t l = strlen(only);
		const char *rest = name + 13;
		if (strncmp(rest, only, l) || (rest[l] && rest[l] != '/'))
			return ARCA_OK;
	}
	char member[1100];
	member_of(&info, member, sizeof member);
	uint64_t size = info.size;
	if (info.type != ARCA_ITEM_DIR && size == UINT64_MAX &&
	    (rc = item_size(ctx, name, &size, buf, cap)) != ARCA_OK)
		return rc;
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, member);
	archive_entry_set_mtime(e, info.mtime_sec, 0);
	if (info.type == ARCA_ITEM_DIR) {
		archive_entry_set_filetype(e, AE_IFDIR);
		archive_entry_set_perm(e, info.mode ? info.mode : 0755);
	} else {
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, info.mode ? info.mode : 0644);
		archive_entry_set_size(e, (la_int64_t)size);
	}
	if (archive_write_header(a, e) != ARCHIVE_OK)
		rc = MEILI_ERR(ARCA_ERR_IO, "writing the dump: %s", archive_error_string(a));
	archive_entry_free(e);
	uint64_t written = 0;
	for (size_t got = 1; rc == ARCA_OK && info.type != ARCA_ITEM_DIR && got;) {
		if ((rc = meili_host->item_read(ctx, buf, cap, &got)) != ARCA_OK)
			break;
		if (got && archive_write_data(a, buf, got) != (la_ssize_t)got)
			rc =
			    MEILI_ERR(ARCA_ERR_IO, "writing the dump: %s", archive_error_string(a));
		written += got;
	}
	if (rc == ARCA_OK && info.type != ARCA_ITEM_DIR && written != size)
		rc = MEILI_ERR(ARCA_ERR_CORRUPT, "item %s holds %llu bytes, %llu recorded", name,
		               (unsigned long long)written, (unsigned long long)size);
	return rc;
}

int meili_restore_file(struct meili *m, struct arca_ctx *ctx, const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return MEILI_ERR(ARCA_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return MEILI_ERR(ARCA_ERR_CONFIG, "--into %s is not a directory", dir);
	const char *only = meili_host->option(ctx, "index");
	const char *id = meili_host->option(ctx, "snapshot-id");
	char path[4096], tmp[4200];
	snprintf(path, sizeof path, "%s/%s%.12s.dump", dir, only ? only : "", id ? id : "arca");
	if (only)
		snprintf(path, sizeof path, "%s/%s-%.12s.dump", dir, only, id ? id : "arca");
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (!meili_host->option(ctx, "overwrite") && access(path, F_OK) == 0)
		return MEILI_ERR(ARCA_ERR_EXISTS, "%s exists; give --overwrite to replace it",
		                 path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return MEILI_ERR(ARCA_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
	/* item names first: item_open moves the cursor that item_next uses */
	json_t *names = json_array();
	struct arca_item_info info;
	int rc;
	while ((rc = meili_host->item_next(ctx, &info)) == ARCA_OK)
		if (!strncmp(info.name, MEILI_PREFIX, strlen(MEILI_PREFIX)))
			json_array_append_new(names, json_string(info.name));
	rc = rc == ARCA_ERR_NOT_FOUND ? ARCA_OK : rc;
	struct archive *a = archive_write_new();
	archive_write_add_filter_gzip(a);
	archive_write_set_format_gnutar(a);
	if (rc == ARCA_OK && archive_write_open_fd(a, fd) != ARCHIVE_OK)
		rc = MEILI_ERR(ARCA_ERR_IO, "%s: %s", tmp, archive_error_string(a));
	char *buf = malloc(1 << 16);
	if (!buf && rc == ARCA_OK)
		rc = MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v)
	{
		if (rc == ARCA_OK)
			rc = write_member(a, ctx, json_string_value(v), only, buf, 1 << 16);
	}
	free(buf);
	json_decref(names);
	if (archive_write_close(a) != ARCHIVE_OK && rc == ARCA_OK)
		rc = MEILI_ERR(ARCA_ERR_IO, "%s: %s", tmp, archive_error_string(a));
	archive_write_free(a);
	if (rc == ARCA_OK && fsync(fd) != 0)
		rc = MEILI_ERR(ARCA_ERR_IO, "%s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == ARCA_OK && rename(tmp, path) != 0)
		rc = MEILI_ERR(ARCA_ERR_IO, "cannot rename %s: %s", tmp, strerror(errno));
	if (rc != ARCA_OK) {
		unlink(tmp);
		return rc;
	}
	MEILI_LOG(ARCA_LOG_INFO,
	          "wrote %s; load it into a Meilisearch with an empty database: "
	          "meilisearch --import-dump %s",
	          path, path);
	printf("meilisearch --import-dump %s\n", path);
	return ARCA_OK;
}
