/* snapshot.c — method = dump (the server writes a .dump into dump_dir; its
 * tar members are stored decompressed, one item each, so an unchanged
 * index deduplicates) and method = export (the API alone: indexes,
 * settings, documents page by page, keys), both in a v6 dump's layout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>
#include "meili.h"

int meili_put_item(struct arca_ctx *ctx, const char *name, enum arca_item_type type,
                   const void *data, size_t len, const char *meta)
{
	struct arca_item_info info = {
	    .struct_size = sizeof info,
	    .name = name,
	    .type = type,
	    .mode = type == ARCA_ITEM_DIR ? 0755 : 0644,
	    .mtime_sec = time(NULL),
	    .size = type == ARCA_ITEM_DIR ? 0 : len,
	    .meta = meta,
	};
	int rc = meili_host->item_begin(ctx, &info);
	if (rc == ARCA_ITEM_UNCHANGED)
		return meili_host->item_end(ctx);
	if (rc != ARCA_OK)
		return rc;
	if (len && (rc = meili_host->item_write(ctx, data, len)) != ARCA_OK)
		return rc;
	return meili_host->item_end(ctx);
}

static int put_json(struct arca_ctx *ctx, const char *name, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
	int rc = meili_put_item(ctx, name, ARCA_ITEM_STREAM, s, strlen(s), NULL);
	free(s);
	return rc;
}

/* A member name from a tar file written elsewhere: relative, no "..". */
static int member_name(const char *raw, char *out, size_t cap)
{
	const char *p = raw;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	size_t n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	if (n == 0 || (n == 1 && p[0] == '.'))
		return 0; /* the root */
	if (p[0] == '/' || n + sizeof MEILI_PREFIX >= cap)
		return -1;
	snprintf(out, cap, "%s%.*s", MEILI_PREFIX, (int)n, p);
	for (const char *s = out; *s;) {
		const char *e = strchr(s, '/');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (l == 0 || (l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
			return -1;
		s += l + (e != NULL);
	}
	return 1;
}

static int is_docs(const char *name)
{
	size_t n = strlen(name), k = strlen("/documents.jsonl");
	return !strncmp(name, MEILI_PREFIX "indexes/", 13) && n > k &&
	       !strcmp(name + n - k, "/documents.jsonl");
}

/* Write the tar member now under `name`; count its lines when documents. */
static int copy_member(struct arca_ctx *ctx, struct archive *a, struct archive_entry *e,
                       const char *name, json_t *counts, struct mbuf *metadata, char *buf,
                       size_t cap)
{
	char meta[1200];
	snprintf(meta, sizeof meta, "member=%s", archive_entry_pathname(e));
	struct arca_item_info info = {
	    .struct_size = sizeof info,
	    .name = name,
	    .type = ARCA_ITEM_STREAM,
	    .mode = archive_entry_perm(e) & 07777,
	    .mtime_sec = archive_entry_mtime(e),
	    .size = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : UINT64_MAX,
	    .meta = meta,
	};
	if (archive_entry_filetype(e) == AE_IFDIR) {
		info.type = ARCA_ITEM_DIR;
		info.size = 0;
	}
	int rc = meili_host->item_begin(ctx, &info);
	if (rc == ARCA_ITEM_UNCHANGED)
		return meili_host->item_end(ctx);
	if (rc != ARCA_OK)
		return rc;
	json_int_t lines = 0;
	int docs = info.type == ARCA_ITEM_STREAM && is_docs(name), last_nl = 1;
	int is_md = !strcmp(name, MEILI_PREFIX "metadata.json");
	for (;;) {
		la_ssize_t got = archive_read_data(a, buf, cap);
		if (got < 0)
			return MEILI_ERR(ARCA_ERR_CORRUPT, "dump member %s: %s",
			                 archive_entry_pathname(e), archive_error_string(a));
		if (got == 0)
			break;
		if (docs) {
			for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + got - p))); p++)
				lines++;
			last_nl = buf[got - 1] == '\n';
		}
		if (is_md && mbuf_add(metadata, buf, (size_t)got, MEILI_MAX_JSON))
			return MEILI_ERR(ARCA_ERR_CORRUPT, "the dump's metadata.json is too large");
		if ((rc = meili_host->item_write(ctx, buf, (size_t)got)) != ARCA_OK)
			return rc;
		if (meili_host->cancelled(ctx))
			return MEILI_ERR(ARCA_ERR_CANCELLED, "interrupted");
	}
	if (docs)
		json_object_set_new(counts, name, json_integer(lines + !last_nl));
	return meili_host->item_end(ctx);
}

/* Read `path` (a .dump the server just wrote) into items. */
static int store_dump_file(struct arca_ctx *ctx, const char *path, json_t *info)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return MEILI_ERR(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO,
		                 "cannot open the dump %s: %s; is dump_dir the server's "
		                 "--dump-dir, seen from this host?",
		                 path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return MEILI_ERR(ARCA_ERR_IO, "the dump %s is not a regular file", path);
	}
	struct archive *a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	json_t *counts = json_object();
	int rc = ARCA_OK;
	if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
		rc = MEILI_ERR(ARCA_ERR_CORRUPT, "the dump %s: %s", path, archive_error_string(a));
		goto out;
	}
	json_t *seen = json_object();
	struct mbuf md = {0};
	char *buf = malloc(1 << 16);
	if (!buf) {
		rc = MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
		json_decref(seen);
		goto out;
	}
	struct archive_entry *e;
	int r;
	while (rc == ARCA_OK && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char name[1100];
		int ok = member_name(archive_entry_pathname(e), name, sizeof name);
		if (ok == 0)
			continue;
		mode_t t = archive_entry_filetype(e);
		if (ok < 0 || (t != AE_IFREG && t != AE_IFDIR))
			rc = MEILI_ERR(ARCA_ERR_CORRUPT,
			               "the dump %s has a member arca does not take: %s", path,
			               archive_entry_pathname(e));
		else if (json_object_get(seen, name))
			rc = MEILI_ERR(ARCA_ERR_CORRUPT, "the dump %s has member %s twice", path,
			               archive_entry_pathname(e));
		else {
			json_object_set_new(seen, name, json_true());
			rc = copy_member(ctx, a, e, name, counts, &md, buf, 1 << 16);
		}
	}
	if (rc == ARCA_OK && r != ARCHIVE_EOF)
		rc = MEILI_ERR(ARCA_ERR_CORRUPT, "the dump %s: %s", path, archive_error_string(a));
	json_decref(seen);
	free(buf);
	json_object_set(info, "documents", counts);
	/* metadata.json: the dump's format and the version that wrote it */
	json_t *j = md.p ? json_loadb(md.p, md.len, 0, NULL) : NULL;
	mbuf_free(&md);
	if (rc == ARCA_OK && !json_is_object(j))
		rc = MEILI_ERR(ARCA_ERR_CORRUPT, "the dump %s has no readable metadata.json", path);
	json_object_set(info, "dumpVersion", json_object_get(j, "dumpVersion"));
	json_object_set(info, "dbVersion", json_object_get(j, "dbVersion"));
	json_decref(j);
out:
	json_decref(counts);
	archive_read_free(a);
	return rc;
}

static int last_task(struct meili *m, json_t *info)
{
	json_t *r;
	int rc = meili_call(m, "GET", "/tasks?statuses=succeeded,failed,canceled&limit=1", NULL,
	                    NULL, 0, "tasks.get", &r);
	if (rc != ARCA_OK)
		return rc;
	json_t *uid = json_object_get(json_array_get(json_object_get(r, "results"), 0), "uid");
	json_object_set(info, "watermark", json_is_integer(uid) ? uid : json_null());
	json_decref(r);
	return ARCA_OK;
}

int meili_snapshot_dump(struct meili *m, struct arca_ctx *ctx)
{
	char version[64];
	int rc = meili_server_version(m, version, sizeof version);
	if (rc != ARCA_OK)
		return rc;
	json_t *accepted, *task = NULL;
	if ((rc = meili_call(m, "POST", "/dumps", NULL, NULL, 0, "dumps.create", &accepted)))
		return rc;
	int64_t uid;
	rc = meili_task_uid(accepted, &uid);
	json_decref(accepted);
	if (rc != ARCA_OK)
		return rc;
	MEILI_LOG(ARCA_LOG_INFO, "dump task %lld created; waiting for it", (long long)uid);
	if ((rc = meili_wait_task(m, uid, "dumpCreation", &task)) != ARCA_OK)
		return rc;
	const char *dump_uid =
	    json_string_value(json_object_get(json_object_get(task, "details"), "dumpUid"));
	char path[4096];
	if (!dump_uid || !dump_uid[0] || strchr(dump_uid, '/') || dump_uid[0] == '.') {
		json_decref(task);
		return MEILI_ERR(ARCA_ERR_IO, "dump task %lld names no usable dumpUid",
		                 (long long)uid);
	}
	snprintf(path, sizeof path, "%s/%s.dump", m->dump_dir, dump_uid);
	json_t *info = json_pack("{s:s, s:s, s:s, s:I}", "method", "dump", "serverVersion", version,
	                         "dumpUid", dump_uid, "watermark", (json_int_t)uid);
	json_decref(task);
	rc = store_dump_file(ctx, path, info);
	if (rc == ARCA_OK)
		rc = put_json(ctx, MEILI_INFO_ITEM, info);
	json_decref(info);
	/* removed also after a failure: a retry asks for a new dump anyway */
	if (m->remove_dump && unlink(path) != 0 && errno != ENOENT)
		MEILI_LOG(ARCA_LOG_WARN, "cannot remove the dump %s: %s (remove_dump = yes)", path,
		          strerror(errno));
	return rc;
}

/* ------------------------------------------------------------ export */

int meili_valid_uid(const char *s)
{
	if (!s || !*s || strlen(s) > 400)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

/* Documents of one index, page by page: one page in memory at a time. */
static int export_documents(struct meili *m, struct arca_ctx *ctx, const char *uid,
                            const char *item, json_int_t *count)
{
	struct arca_item_info info = {.struct_size = sizeof info,
	                              .name = item,
	                              .type = ARCA_ITEM_STREAM,
	                              .mode = 0644,
	                              .mtime_sec = time(NULL),
	                              .size = UINT64_MAX};
	int rc = meili_host->item_begin(ctx, &info);
	if (rc == ARCA_ITEM_UNCHANGED)
		return meili_host->item_end(ctx);
	if (rc != ARCA_OK)
		return rc;
	char path[600];
	snprintf(path, sizeof path, "/indexes/%s/documents/fetch", uid);
	json_int_t offset = 0;
	*count = 0;
	for (;;) {
		char body[128];
		int n = snprintf(body, sizeof body, "{\"offset\":%lld,\"limit\":%lld}",
		                 (long long)offset, (long long)m->page_size);
		json_t *page;
		if ((rc = meili_call(m, "POST", path, "application/json", body, (size_t)n,
		                     "documents.get", &page)))
			return rc;
		json_t *res = json_object_get(page, "results");
		json_int_t total = json_integer_value(json_object_get(page, "total"));
		size_t i;
		json_t *d;
		json_array_foreach(res, i, d)
		{
			char *s = json_dumps(d, JSON_COMPACT);
			if (!s) {
				rc = MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
				break;
			}
			size_t l = strlen(s);
			s[l] = '\n';
			rc = meili_host->item_write(ctx, s, l + 1);
			free(s);
			if (rc != ARCA_OK)
				break;
		}
		size_t got = json_array_size(res);
		json_decref(page);
		if (rc != ARCA_OK)
			return rc;
		offset += (json_int_t)got;
		*count += (json_int_t)got;
		if (got == 0 || offset >= total)
			break;
		if (meili_host->cancelled(ctx))
			return MEILI_ERR(ARCA_ERR_CANCELLED, "interrupted");
	}
	return meili_host->item_end(ctx);
}

/* keys.jsonl in the dump's own format, when the key may list keys. */
static int export_keys(struct meili *m, struct arca_ctx *ctx, json_t *info)
{
	struct mbuf out = {0};
	json_int_t offset = 0;
	int rc = ARCA_OK;
	for (;;) {
		char path[128];
		snprintf(path, sizeof path, "/keys?offset=%lld&limit=100", (long long)offset);
		json_t *page;
		rc = meili_call(m, "GET", path, NULL, NULL, 0, "keys.get", &page);
		if (rc == ARCA_ERR_AUTH) {
			MEILI_LOG(ARCA_LOG_INFO,
			          "the API key may not list keys (keys.get): API keys "
			          "are not stored");
			json_object_set_new(info, "keys", json_false());
			mbuf_free(&out);
			return meili_put_item(ctx, MEILI_PREFIX "keys.jsonl", ARCA_ITEM_STREAM, "",
			                      0, NULL);
		}
		if (rc != ARCA_OK)
			break;
		json_t *res = json_object_get(page, "results"), *k;
		size_t i;
		json_array_foreach(res, i, k)
		{
			json_t *o = json_pack(
			    "{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "description",
			    json_object_get(k, "description"), "name", json_object_get(k, "name"),
			    "uid", json_object_get(k, "uid"), "actions",
			    json_object_get(k, "actions"), "indexes", json_object_get(k, "indexes"),
			    "expires_at", json_object_get(k, "expiresAt"), "created_at",
			    json_object_get(k, "createdAt"), "updated_at",
			    json_object_get(k, "updatedAt"));
			char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
			json_decref(o);
			if (!s || mbuf_add(&out, s, strlen(s), MEILI_MAX_JSON) ||
			    mbuf_add(&out, "\n", 1, MEILI_MAX_JSON))
				rc = MEILI_ERR(ARCA_ERR_IO, "the API keys take over %u MiB",
				               MEILI_MAX_JSON >> 20);
			free(s);
		}
		size_t got = json_array_size(res);
		json_int_t total = json_integer_value(json_object_get(page, "total"));
		json_decref(page);
		offset += (json_int_t)got;
		if (rc != ARCA_OK || got == 0 || offset >= total)
			break;
	}
	if (rc == ARCA_OK)
		rc = meili_put_item(ctx, MEILI_PREFIX "keys.jsonl", ARCA_ITEM_STREAM,
		                    out.p ? out.p : "", out.len, NULL);
	mbuf_free(&out);
	return rc;
}

static int export_index(struct meili *m, struct arca_ctx *ctx, json_t *ix, json_t *counts)
{
	const char *uid = json_string_value(json_object_get(ix, "uid"));
	char name[600], path[600];
	if (!meili_valid_uid(uid))
		return MEILI_ERR(ARCA_ERR_IO, "Meilisearch lists an index with an invalid uid");
	snprintf(name, sizeof name, MEILI_PREFIX "indexes/%s", uid);
	int rc = meili_put_item(ctx, name, ARCA_ITEM_DIR, NULL, 0, NULL);
	json_t *meta = json_pack("{s:s, s:O?, s:O?, s:O?}", "uid", uid, "primaryKey",
	                         json_object_get(ix, "primaryKey"), "createdAt",
	                         json_object_get(ix, "createdAt"), "updatedAt",
	                         json_object_get(ix, "updatedAt"));
	snprintf(name, sizeof name, MEILI_PREFIX "indexes/%s/metadata.json", uid);
	if (rc == ARCA_OK)
		rc = put_json(ctx, name, meta);
	json_decref(meta);
	json_t *settings = NULL;
	snprintf(path, sizeof path, "/indexes/%s/settings", uid);
	if (rc == ARCA_OK)
		rc = meili_call(m, "GET", path, NULL, NULL, 0, "settings.get", &settings);
	snprintf(name, sizeof name, MEILI_PREFIX "indexes/%s/settings.json", uid);
	if (rc == ARCA_OK)
		rc = put_json(ctx, name, settings);
	json_decref(settings);
	snprintf(name, sizeof name, MEILI_PREFIX "indexes/%s/documents.jsonl", uid);
	json_int_t n = 0;
	if (rc == ARCA_OK)
		rc = export_documents(m, ctx, uid, name, &n);
	if (rc == ARCA_OK) {
		json_object_set_new(counts, name, json_integer(n));
		MEILI_LOG(ARCA_LOG_INFO, "index %s: %lld documents", uid, (long long)n);
	}
	return rc;
}

int meili_snapshot_export(struct meili *m, struct arca_ctx *ctx)
{
	char version[64];
	int rc = meili_server_version(m, version, sizeof version);
	if (rc != ARCA_OK)
		return rc;
	json_t *info = json_pack("{s:s, s:s, s:s, s:s}", "method", "export", "serverVersion",
	                         version, "dumpVersion", "V6", "dbVersion", version);
	json_t *counts = json_object(), *indexes = json_array();
	/* the watermark first: everything up to it is in the snapshot */
	rc = last_task(m, info);
	json_int_t offset = 0;
	while (rc == ARCA_OK) {
		char path[128];
		snprintf(path, sizeof path, "/indexes?offset=%lld&limit=100", (long long)offset);
		json_t *page;
		if ((rc = meili_call(m, "GET", path, NULL, NULL, 0, "indexes.get", &page)))
			break;
		json_t *res = json_object_get(page, "results");
		json_array_extend(indexes, res);
		size_t got = json_array_size(res);
		json_int_t total = json_integer_value(json_object_get(page, "total"));
		json_decref(page);
		offset += (json_int_t)got;
		if (got == 0 || offset >= total)
			break;
	}
	char date[64];
	time_t now = time(NULL);
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_t *md = json_pack("{s:s, s:s, s:s}", "dumpVersion", "V6", "dbVersion", version,
	                       "dumpDate", date);
	if (rc == ARCA_OK)
		rc = put_json(ctx, MEILI_PREFIX "metadata.json", md);
	json_decref(md);
	if (rc == ARCA_OK)
		rc = meili_put_item(ctx, MEILI_PREFIX "tasks", ARCA_ITEM_DIR, NULL, 0, NULL);
	if (rc == ARCA_OK)
		rc = meili_put_item(ctx, MEILI_PREFIX "tasks/queue.jsonl", ARCA_ITEM_STREAM, "", 0,
		                    NULL);
	if (rc == ARCA_OK && m->store_keys)
		rc = export_keys(m, ctx, info);
	if (rc == ARCA_OK)
		rc = meili_put_item(ctx, MEILI_PREFIX "indexes", ARCA_ITEM_DIR, NULL, 0, NULL);
	size_t i;
	json_t *ix;
	json_array_foreach(indexes, i, ix)
	{
		if (rc == ARCA_OK)
			rc = export_index(m, ctx, ix, counts);
	}
	json_object_set(info, "documents", counts);
	if (rc == ARCA_OK)
		rc = put_json(ctx, MEILI_INFO_ITEM, info);
	json_decref(counts);
	json_decref(indexes);
	json_decref(info);
	return rc;
}
