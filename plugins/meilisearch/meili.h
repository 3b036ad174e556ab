/* meili.h — the meilisearch driver's shared declarations.
 *
 * A [target] with `driver = meilisearch` protects one Meilisearch server,
 * either from the dump it writes (method = dump: the server's dump_dir is
 * on this host) or through its API alone (method = export). Both store the
 * same layout, a v6 dump's members under "dump/", plus "meilisearch.json"
 * (what was recorded: versions, per-index document counts, watermark), so
 * restore, verify and the conversion to a .dump serve both. */
#ifndef MEILI_H
#define MEILI_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <jansson.h>
#include <arca/plugin.h>

extern const struct arca_host *meili_host;
#define MEILI_LOG(level, ...)  meili_host->log(level, __VA_ARGS__)
#define MEILI_ERR(status, ...) meili_host->error(status, __VA_ARGS__)

/* Bounds on what a server or a stored snapshot may make us hold. */
#define MEILI_MAX_RESPONSE (256u << 20) /* one HTTP response body */
#define MEILI_MAX_JSON     (64u << 20)  /* one small member read whole */
#define MEILI_MAX_LINE     (64u << 20)  /* one document line */
#define MEILI_INFO_ITEM    "meilisearch.json"
#define MEILI_PREFIX       "dump/"

struct meili {
	const struct arca_config *cfg;
	const char *name;
	const char *url; /* no trailing '/' (copied) */
	char url_buf[1024];
	const char *method;
	const char *dump_dir;
	const char *ca_file;
	const char *rebuild_command;
	int remove_dump, store_keys;
	int64_t task_timeout, page_size, batch_bytes;
	char *key;      /* the API key, wiped on close; NULL: none */
	int key_worked; /* a call with this key succeeded: a 403 is a missing action */
	CURL *curl;
	struct arca_ctx *ctx;
};

struct mbuf {
	char *p;
	size_t len, cap;
};
int mbuf_add(struct mbuf *b, const void *data, size_t len, size_t bound);
void mbuf_free(struct mbuf *b);

/* http.c */
int meili_connect(struct meili *m, struct arca_ctx *ctx, const char *url, const char *key_opt);
void meili_disconnect(struct meili *m);
/* One request. `action` is the API key action it needs (named in errors).
 * On success *out (when out is given) holds the parsed JSON response. */
int meili_call(struct meili *m, const char *method, const char *path, const char *ctype,
               const void *body, size_t len, const char *action, json_t **out);
/* Wait for task `uid` to finish (task_timeout bounds it); a failed task is
 * an error with Meilisearch's message and code. *task: the final object. */
int meili_wait_task(struct meili *m, int64_t uid, const char *what, json_t **task);
int meili_task_uid(json_t *accepted, int64_t *uid);
int meili_server_version(struct meili *m, char *out, size_t cap);

/* snapshot.c */
int meili_snapshot_dump(struct meili *m, struct arca_ctx *ctx);
int meili_snapshot_export(struct meili *m, struct arca_ctx *ctx);
/* An index uid as Meilisearch allows it: safe in a URL path and an item name. */
int meili_valid_uid(const char *s);
int meili_put_item(struct arca_ctx *ctx, const char *name, enum arca_item_type type,
                   const void *data, size_t len, const char *meta);

/* layout.c: what a stored snapshot holds */
struct meili_index {
	char *uid;
	char *dir; /* "dump/indexes/<dir>" */
	char *pk;  /* NULL: none */
	json_t *settings;
	char *docs; /* item name of documents.jsonl, NULL: none */
};
struct meili_layout {
	json_t *info; /* meilisearch.json, NULL for none */
	struct meili_index *idx;
	size_t n;
};
int meili_read_item(struct arca_ctx *ctx, const char *name, size_t bound, struct mbuf *out);
int meili_load_json(struct arca_ctx *ctx, const char *name, json_t **out);
int meili_layout_load(struct arca_ctx *ctx, struct meili_layout *l);
void meili_layout_free(struct meili_layout *l);
/* Read one item's lines: cb gets each line without its newline. */
int meili_read_lines(struct arca_ctx *ctx, int (*cb)(void *arg, const char *line, size_t len),
                     void *arg);

/* restore.c / tofile.c / verify.c / rebuild.c / health.c */
int meili_restore(struct meili *m, struct arca_ctx *ctx);
int meili_restore_file(struct meili *m, struct arca_ctx *ctx, const char *dir);
int meili_verify(struct meili *m, struct arca_ctx *ctx);
int meili_rebuild(struct meili *m);
/* health.c: the health op (options "into", "index", "wait-tasks") */
int meili_health(struct meili *m, struct arca_ctx *ctx);
/* health_dump.c: --into DIR, the .dump files there read to their end;
 * `only` the --index list (NULL: none) */
int meili_health_dump(struct meili *m, struct arca_ctx *ctx, const char *dir, const char *only);
/* ", or ... --rebuild" when the target has a rebuild_command, else "" */
const char *meili_way_out(struct meili *m);

#endif
