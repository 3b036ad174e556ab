/* health_dump.c — `arca health TARGET --into DIR`: the .dump files a
 * restore --into DIR wrote there read to their end as a Meilisearch dump
 * (gzip'd tar, metadata.json naming the dump version), as `meilisearch
 * --import-dump` would read them; their indexes and documents counted, and
 * with --index each named index present (v6 layout: indexes/<uid>/). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include "meili.h"

#define META_MAX (1u << 20) /* metadata.json read whole */

struct dump_seen {
	json_t *meta;   /* metadata.json */
	json_t *uids;   /* {dir name: 1} of indexes/<dir>/ with metadata or meta.json */
	long long docs; /* lines of indexes/ * /documents.jsonl */
};

/* "indexes/<dir>/<file>" of a member name (a "./" prefix dropped): dir
 * into d (NUL-terminated), file returned; NULL for other names. */
static const char *index_member(const char *name, char *d, size_t cap)
{
	if (!strncmp(name, "./", 2))
		name += 2;
	if (strncmp(name, "indexes/", 8))
		return NULL;
	const char *slash = strchr(name + 8, '/');
	if (!slash || slash == name + 8 || (size_t)(slash - name - 8) >= cap)
		return NULL;
	snprintf(d, cap, "%.*s", (int)(slash - name - 8), name + 8);
	return slash + 1;
}

static int read_member(struct archive *a, const char *path, const char *name, int count_lines,
                       struct dump_seen *s)
{
	struct mbuf meta = {0};
	int is_meta = !strcmp(name, "metadata.json") || !strcmp(name, "./metadata.json");
	char buf[65536];
	la_ssize_t k;
	while ((k = archive_read_data(a, buf, sizeof buf)) > 0) {
		if (count_lines)
			for (la_ssize_t i = 0; i < k; i++)
				s->docs += buf[i] == '\n';
		if (is_meta && mbuf_add(&meta, buf, (size_t)k, META_MAX)) {
			mbuf_free(&meta);
			return MEILI_ERR(ARCA_ERR_IO, "%s: metadata.json is over %u KiB", path,
			                 META_MAX >> 10);
		}
	}
	if (k < 0) {
		mbuf_free(&meta);
		return MEILI_ERR(ARCA_ERR_IO, "%s does not read as a dump: member %.300s: %s", path,
		                 name, archive_error_string(a));
	}
	if (is_meta) {
		json_decref(s->meta);
		s->meta = json_loadb(meta.p ? meta.p : "", meta.len, 0, NULL);
		mbuf_free(&meta);
		if (!json_is_object(s->meta))
			return MEILI_ERR(ARCA_ERR_IO, "%s: metadata.json is not a JSON object",
			                 path);
	}
	return ARCA_OK;
}

/* One .dump, opened as fd (closed here), read to its end. */
static int read_dump(int fd, const char *path, struct dump_seen *s)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	int rc = ARCA_OK;
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK)
		rc = MEILI_ERR(ARCA_ERR_IO, "%s does not read as a dump: %s", path,
		               archive_error_string(a));
	struct archive_entry *e;
	int r = ARCHIVE_EOF;
	while (rc == ARCA_OK && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		char dir[512];
		const char *file = name ? index_member(name, dir, sizeof dir) : NULL;
		if (file && (!strcmp(file, "metadata.json") || !strcmp(file, "meta.json")))
			json_object_set_new(s->uids, dir, json_true());
		rc = read_member(a, path, name ? name : "?",
		                 file && !strcmp(file, "documents.jsonl"), s);
	}
	if (rc == ARCA_OK && r != ARCHIVE_EOF)
		rc = MEILI_ERR(ARCA_ERR_IO, "%s does not read as a dump: %s", path,
		               archive_error_string(a));
	archive_read_free(a);
	close(fd);
	if (rc == ARCA_OK && !json_is_string(json_object_get(s->meta, "dumpVersion")))
		rc = MEILI_ERR(
		    ARCA_ERR_IO,
		    "%s has no metadata.json naming a dumpVersion: not a Meilisearch dump", path);
	return rc;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n > k && !strcmp(s + n - k, suf);
}

/* Each of the comma-separated uids is an index directory of a v6 dump. */
static int named(const char *path, const struct dump_seen *s, const char *only)
{
	const char *v = json_string_value(json_object_get(s->meta, "dumpVersion"));
	if (strcmp(v, "V6"))
		return MEILI_ERR(ARCA_ERR_UNSUPPORTED,
		                 "%s is a %s dump, whose index directories are not named by uid: "
		                 "--index is checked in v6 dumps; load it (meilisearch "
		                 "--import-dump) and ask the server",
		                 path, v);
	char *copy = strdup(only), *save = NULL;
	if (!copy)
		return MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
	int rc = ARCA_OK;
	for (char *u = strtok_r(copy, ",", &save); u && rc == ARCA_OK;
	     u = strtok_r(NULL, ",", &save))
		if (!meili_valid_uid(u))
			rc = MEILI_ERR(ARCA_ERR_CONFIG,
			               "--index %s: \"%.100s\" is not an index uid", only, u);
		else if (!json_object_get(s->uids, u))
			rc = MEILI_ERR(ARCA_ERR_NOT_FOUND, "%s has no index %s (it has %zu)", path,
			               u, json_object_size(s->uids));
	free(copy);
	return rc;
}

int meili_health_dump(struct meili *m, struct arca_ctx *ctx, const char *dir, const char *only)
{
	DIR *d = opendir(dir);
	if (!d)
		return MEILI_ERR(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO,
		                 "--into %s: %s", dir, strerror(errno));
	int rc = ARCA_OK, found = 0;
	struct dirent *de;
	while (rc == ARCA_OK && (de = readdir(d))) {
		if (!has_suffix(de->d_name, ".dump"))
			continue;
		char path[4400];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rc = MEILI_ERR(ARCA_ERR_IO, "%s: %s", path, strerror(errno));
			break;
		}
		struct dump_seen s = {.uids = json_object()};
		rc = meili_host->cancelled(ctx) ? MEILI_ERR(ARCA_ERR_CANCELLED, "interrupted")
		                                : read_dump(fd, path, &s);
		if (rc == ARCA_ERR_CANCELLED)
			close(fd);
		if (rc == ARCA_OK && only)
			rc = named(path, &s, only);
		if (rc == ARCA_OK) {
			const char *db = json_string_value(json_object_get(s.meta, "dbVersion"));
			MEILI_LOG(ARCA_LOG_INFO,
			          "%s: a %s dump (Meilisearch %.40s) that reads to its end: %zu "
			          "index(es), %lld document(s)",
			          path, json_string_value(json_object_get(s.meta, "dumpVersion")),
			          db ? db : "version unknown", json_object_size(s.uids), s.docs);
			found++;
		}
		json_decref(s.meta);
		json_decref(s.uids);
	}
	closedir(d);
	if (rc == ARCA_OK && !found)
		rc = MEILI_ERR(ARCA_ERR_NOT_FOUND,
		               "--into %s holds no .dump: `arca restore %s --into %s` writes one",
		               dir, m->name, dir);
	return rc;
}
