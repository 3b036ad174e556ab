/* verify.c — every member of a stored dump parses: metadata.json, each
 * index's metadata/settings, every line of every JSON lines member; and
 * each index's document count is the one recorded at snapshot time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "meili.h"

struct lines {
	const char *name;
	uint64_t n, lineno;
	int docs;
};

static int on_line(void *arg, const char *line, size_t len)
{
	struct lines *l = arg;
	l->lineno++;
	if (!len)
		return ARCA_OK;
	json_error_t e;
	json_t *j = json_loadb(line, len, JSON_DECODE_ANY, &e);
	int bad = !j || (l->docs && !json_is_object(j));
	json_decref(j);
	if (bad)
		return MEILI_ERR(ARCA_ERR_CORRUPT, "%s:%llu: %s", l->name,
		                 (unsigned long long)l->lineno, j ? "not a JSON object" : e.text);
	l->n++;
	return ARCA_OK;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

int meili_verify(struct meili *m, struct arca_ctx *ctx)
{
	json_t *info = NULL, *names = json_array();
	struct arca_item_info it;
	int rc;
	while ((rc = meili_host->item_next(ctx, &it)) == ARCA_OK)
		if (it.type == ARCA_ITEM_STREAM)
			json_array_append_new(names, json_string(it.name));
	rc = rc == ARCA_ERR_NOT_FOUND ? ARCA_OK : rc;
	if (rc == ARCA_OK)
		rc = meili_load_json(ctx, MEILI_INFO_ITEM, &info);
	json_t *counts = json_object_get(info, "documents");
	size_t i, files = 0;
	uint64_t docs = 0;
	json_t *v;
	json_array_foreach(names, i, v)
	{
		const char *name = json_string_value(v), *base = strrchr(name, '/');
		base = base ? base + 1 : name;
		if (rc != ARCA_OK)
			break;
		/* AppleDouble files (._x) ride along in some dumps: not JSON */
		if (strncmp(name, MEILI_PREFIX, strlen(MEILI_PREFIX)) || !strncmp(base, "._", 2))
			continue;
		if (ends_with(name, ".json")) {
			json_t *j;
			if ((rc = meili_load_json(ctx, name, &j)) == ARCA_OK)
				json_decref(j);
			files++;
		} else if (ends_with(name, ".jsonl")) {
			struct lines l = {.name = name,
			                  .docs = ends_with(name, "/documents.jsonl")};
			if ((rc = meili_host->item_open(ctx, name, &it)) == ARCA_OK)
				rc = meili_read_lines(ctx, on_line, &l);
			json_t *want = json_object_get(counts, name);
			if (rc == ARCA_OK && want && (uint64_t)json_integer_value(want) != l.n)
				rc = MEILI_ERR(ARCA_ERR_CORRUPT,
				               "%s holds %llu documents; %lld were recorded", name,
				               (unsigned long long)l.n,
				               (long long)json_integer_value(want));
			if (l.docs)
				docs += l.n;
			files++;
		}
	}
	const char *key;
	json_object_foreach(counts, key, v)
	{
		int found = 0;
		json_t *n;
		json_array_foreach(names, i, n) found |= !strcmp(json_string_value(n), key);
		if (rc == ARCA_OK && !found)
			rc = MEILI_ERR(ARCA_ERR_CORRUPT, "the snapshot lacks %s, which it recorded",
			               key);
	}
	if (rc == ARCA_OK)
		MEILI_LOG(ARCA_LOG_INFO, "%zu JSON members parse; %llu documents, as recorded",
		          files, (unsigned long long)docs);
	json_decref(names);
	json_decref(info);
	return rc;
}
