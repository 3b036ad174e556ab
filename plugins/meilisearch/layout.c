/* layout.c — reading a stored snapshot: small JSON members, lines of a
 * JSON lines member, and the list of indexes with their primary key and
 * settings, from a v6 dump (indexes/<uid>/metadata.json, settings.json)
 * or a v4/v5 one (indexes/<uuid>/meta.json, index_uuids/data.jsonl). */
#include <stdlib.h>
#include <string.h>
#include "meili.h"

int meili_read_item(struct arca_ctx *ctx, const char *name, size_t bound, struct mbuf *out)
{
	struct arca_item_info info;
	int rc = meili_host->item_open(ctx, name, &info);
	if (rc != ARCA_OK)
		return rc;
	char buf[1 << 14];
	for (;;) {
		size_t got;
		if ((rc = meili_host->item_read(ctx, buf, sizeof buf, &got)) != ARCA_OK)
			return rc;
		if (got == 0)
			break;
		if (mbuf_add(out, buf, got, bound))
			return MEILI_ERR(ARCA_ERR_CORRUPT, "item %s is larger than %zu MiB", name,
			                 bound >> 20);
	}
	return ARCA_OK;
}

int meili_load_json(struct arca_ctx *ctx, const char *name, json_t **out)
{
	struct mbuf b = {0};
	int rc = meili_read_item(ctx, name, MEILI_MAX_JSON, &b);
	if (rc == ARCA_OK) {
		json_error_t e;
		*out = json_loadb(b.p ? b.p : "", b.len, 0, &e);
		if (!*out)
			rc = MEILI_ERR(ARCA_ERR_CORRUPT, "%s:%d: not JSON: %s", name, e.line,
			               e.text);
	}
	mbuf_free(&b);
	return rc;
}

int meili_read_lines(struct arca_ctx *ctx, int (*cb)(void *arg, const char *line, size_t len),
                     void *arg)
{
	struct mbuf line = {0};
	char *buf = malloc(1 << 16);
	int rc = buf ? ARCA_OK : MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
	while (rc == ARCA_OK) {
		size_t got;
		if ((rc = meili_host->item_read(ctx, buf, 1 << 16, &got)) != ARCA_OK || got == 0)
			break;
		char *p = buf, *end = buf + got;
		while (rc == ARCA_OK && p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (mbuf_add(&line, p, n, MEILI_MAX_LINE)) {
				rc = MEILI_ERR(ARCA_ERR_CORRUPT, "a line longer than %u MiB",
				               MEILI_MAX_LINE >> 20);
				break;
			}
			p += n;
			if (nl) {
				p++;
				rc = cb(arg, line.p ? line.p : "", line.len);
				line.len = 0;
			}
		}
	}
	if (rc == ARCA_OK && line.len)
		rc = cb(arg, line.p, line.len);
	mbuf_free(&line);
	free(buf);
	return rc;
}

void meili_layout_free(struct meili_layout *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->idx[i].uid);
		free(l->idx[i].dir);
		free(l->idx[i].pk);
		free(l->idx[i].docs);
		json_decref(l->idx[i].settings);
	}
	free(l->idx);
	json_decref(l->info);
	memset(l, 0, sizeof *l);
}

static struct meili_index *find_dir(struct meili_layout *l, const char *dir, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->idx[i].dir) == len && !memcmp(l->idx[i].dir, dir, len))
			return &l->idx[i];
	struct meili_index *n = realloc(l->idx, (l->n + 1) * sizeof *n);
	if (!n)
		return NULL;
	l->idx = n;
	memset(&n[l->n], 0, sizeof *n);
	n[l->n].dir = strndup(dir, len);
	return n[l->n].dir ? &n[l->n++] : NULL;
}

static int set_str(char **dst, json_t *v)
{
	free(*dst);
	*dst = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
	return 0;
}

/* index_uuids/data.jsonl (v4/v5): {"uid": NAME, "index_meta": {"uuid": U}} */
static int on_uuid_line(void *arg, const char *line, size_t len)
{
	struct meili_layout *l = arg;
	if (!len)
		return ARCA_OK;
	json_t *j = json_loadb(line, len, 0, NULL);
	const char *uid = json_string_value(json_object_get(j, "uid"));
	const char *uuid =
	    json_string_value(json_object_get(json_object_get(j, "index_meta"), "uuid"));
	int rc = ARCA_OK;
	if (!uid || !uuid)
		rc = MEILI_ERR(ARCA_ERR_CORRUPT, "index_uuids/data.jsonl: a line without uid/uuid");
	else {
		char dir[512];
		snprintf(dir, sizeof dir, MEILI_PREFIX "indexes/%s", uuid);
		struct meili_index *x = find_dir(l, dir, strlen(dir));
		if (!x)
			rc = MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
		else
			set_str(&x->uid, json_object_get(j, "uid"));
	}
	json_decref(j);
	return rc;
}

int meili_layout_load(struct arca_ctx *ctx, struct meili_layout *l)
{
	memset(l, 0, sizeof *l);
	/* names first (item_open moves the cursor), then their contents */
	struct arca_item_info info;
	json_t *names = json_array();
	int rc;
	while ((rc = meili_host->item_next(ctx, &info)) == ARCA_OK)
		json_array_append_new(names, json_string(info.name));
	if (rc != ARCA_ERR_NOT_FOUND) {
		json_decref(names);
		return rc;
	}
	rc = ARCA_OK;
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v)
	{
		const char *name = json_string_value(v);
		size_t pl = strlen(MEILI_PREFIX "indexes/");
		if (rc != ARCA_OK)
			break;
		if (!strcmp(name, MEILI_INFO_ITEM)) {
			rc = meili_load_json(ctx, name, &l->info);
			continue;
		}
		if (!strcmp(name, MEILI_PREFIX "index_uuids/data.jsonl")) {
			struct arca_item_info ii;
			if ((rc = meili_host->item_open(ctx, name, &ii)) == ARCA_OK)
				rc = meili_read_lines(ctx, on_uuid_line, l);
			continue;
		}
		if (strncmp(name, MEILI_PREFIX "indexes/", pl))
			continue;
		const char *slash = strchr(name + pl, '/');
		if (!slash || strchr(slash + 1, '/'))
			continue;
		const char *file = slash + 1;
		if (strcmp(file, "metadata.json") && strcmp(file, "settings.json") &&
		    strcmp(file, "meta.json") && strcmp(file, "documents.jsonl"))
			continue;
		struct meili_index *x = find_dir(l, name, (size_t)(slash - name));
		if (!x) {
			rc = MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
			break;
		}
		if (!strcmp(file, "documents.jsonl")) {
			x->docs = strdup(name);
			continue;
		}
		json_t *j;
		if ((rc = meili_load_json(ctx, name, &j)) != ARCA_OK)
			break;
		if (!strcmp(file, "metadata.json")) { /* v6 */
			set_str(&x->uid, json_object_get(j, "uid"));
			set_str(&x->pk, json_object_get(j, "primaryKey"));
		} else if (!strcmp(file, "settings.json")) {
			json_decref(x->settings);
			x->settings = json_incref(j);
		} else { /* meta.json, v4/v5 */
			set_str(&x->pk, json_object_get(j, "primary_key"));
			json_decref(x->settings);
			x->settings = json_incref(json_object_get(j, "settings"));
		}
		json_decref(j);
	}
	json_decref(names);
	for (size_t k = 0; rc == ARCA_OK && k < l->n; k++)
		if (!l->idx[k].uid)
			rc = MEILI_ERR(ARCA_ERR_CORRUPT, "%s: no index uid is recorded for it",
			               l->idx[k].dir);
		else if (!meili_valid_uid(l->idx[k].uid))
			rc = MEILI_ERR(ARCA_ERR_CORRUPT,
			               "%s: the index uid is not one Meilisearch "
			               "allows ([A-Za-z0-9_-], at most 400 bytes)",
			               l->idx[k].dir);
	if (rc != ARCA_OK)
		meili_layout_free(l);
	return rc;
}
