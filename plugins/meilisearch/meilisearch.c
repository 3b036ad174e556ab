/* meilisearch.c — the meilisearch driver's descriptor, options and
 * instance; each op is dispatched to the file that implements it. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "meili.h"

const struct arca_host *meili_host;

static const struct arca_option meili_options[] = {
    {"url", ARCA_OPT_STRING, ARCA_OPT_REQUIRED, NULL, "the server's address, http(s)://HOST:PORT",
     NULL, 0, 0},
    {"api_key", ARCA_OPT_STRING, ARCA_OPT_SECRET, NULL,
     "an API key (api_key_file = PATH or api_key_env = VAR); dump needs the actions version, "
     "dumps.create, tasks.get; export version, tasks.get, indexes.get, settings.get, "
     "documents.get (keys.get to store the keys)",
     NULL, 0, 0},
    {"restore_api_key", ARCA_OPT_STRING, ARCA_OPT_SECRET, NULL,
     "the key for `arca restore --into http(s)://...` (restore_api_key_file/_env)", NULL, 0, 0},
    {"ca_file", ARCA_OPT_PATH, 0, NULL,
     "CA certificates that verify the server's TLS certificate (default: the system's)", NULL, 0,
     0},
    {"method", ARCA_OPT_ENUM, 0, "dump",
     "dump: the server writes a dump into dump_dir on this host; export: through the API "
     "alone",
     "dump|export", 0, 0},
    {"dump_dir", ARCA_OPT_PATH, 0, NULL,
     "method = dump: the server's --dump-dir as seen from this host", NULL, 0, 0},
    {"remove_dump", ARCA_OPT_BOOL, 0, "yes", "method = dump: remove the dump once stored", NULL, 0,
     0},
    {"keys", ARCA_OPT_BOOL, 0, "yes",
     "method = export: store the API keys when the key may list them", NULL, 0, 0},
    {"task_timeout", ARCA_OPT_DURATION, 0, "1h",
     "how long to wait for one Meilisearch task (a dump, a batch of documents)", NULL, 1,
     30 * 86400},
    {"page_size", ARCA_OPT_INT, 0, "1000", "method = export: documents fetched per request", NULL,
     1, 100000},
    {"batch_size", ARCA_OPT_SIZE, 0, "8M", "restore: bytes of documents sent per request", NULL,
     65536, 1 << 30},
    {"rebuild_command", ARCA_OPT_STRING, 0, NULL,
     "the command that reindexes from the source of truth (arca rebuild TARGET, or arca "
     "restore TARGET --rebuild)",
     NULL, 0, 0},
    {NULL, 0, 0, NULL, NULL, NULL, 0, 0},
};

static int meili_open(const struct arca_config *cfg, void **instance)
{
	struct meili *m = calloc(1, sizeof *m);
	if (!m)
		return MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
	m->cfg = cfg;
	m->name = meili_host->config_section(cfg);
	const char *url = meili_host->config_get(cfg, "url");
	m->method = meili_host->config_get(cfg, "method");
	if (!m->method)
		m->method = "dump";
	m->dump_dir = meili_host->config_get(cfg, "dump_dir");
	m->ca_file = meili_host->config_get(cfg, "ca_file");
	m->rebuild_command = meili_host->config_get(cfg, "rebuild_command");
	m->remove_dump = meili_host->config_bool(cfg, "remove_dump", 1);
	m->store_keys = meili_host->config_bool(cfg, "keys", 1);
	m->task_timeout = meili_host->config_int(cfg, "task_timeout", 3600);
	m->page_size = meili_host->config_int(cfg, "page_size", 1000);
	m->batch_bytes = meili_host->config_int(cfg, "batch_size", 8 << 20);
	int rc = ARCA_OK;
	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
		rc = MEILI_ERR(ARCA_ERR_CONFIG, "url must start with http:// or https://");
	else if (strlen(url) >= sizeof m->url_buf - 1)
		rc = MEILI_ERR(ARCA_ERR_CONFIG, "url is too long");
	else if (!strcmp(m->method, "dump") && !m->dump_dir)
		rc = MEILI_ERR(ARCA_ERR_CONFIG,
		               "method = dump needs dump_dir (the server's --dump-dir on this "
		               "host); without access to it, use method = export");
	if (rc != ARCA_OK) {
		free(m);
		return rc;
	}
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	memcpy(m->url_buf, url, n);
	m->url = m->url_buf;
	*instance = m;
	return ARCA_OK;
}

static void meili_close(void *instance)
{
	struct meili *m = instance;
	meili_disconnect(m);
	free(m);
}

static int meili_check(void *instance, struct arca_ctx *ctx)
{
	struct meili *m = instance;
	int rc = meili_connect(m, ctx, NULL, "api_key");
	char version[64];
	if (rc == ARCA_OK)
		rc = meili_call(m, "GET", "/health", NULL, NULL, 0, "health", NULL);
	if (rc == ARCA_OK)
		rc = meili_server_version(m, version, sizeof version);
	if (rc == ARCA_OK && !strcmp(m->method, "export"))
		rc = meili_call(m, "GET", "/indexes?limit=1", NULL, NULL, 0, "indexes.get", NULL);
	if (rc == ARCA_OK && !strcmp(m->method, "dump")) {
		struct stat st;
		if (stat(m->dump_dir, &st) != 0 || !S_ISDIR(st.st_mode))
			rc = MEILI_ERR(ARCA_ERR_CONFIG, "dump_dir %s: %s", m->dump_dir,
			               errno ? strerror(errno) : "not a directory");
	}
	if (rc == ARCA_OK)
		MEILI_LOG(ARCA_LOG_INFO, "Meilisearch %s at %s answers", version, m->url);
	meili_disconnect(m);
	return rc;
}

static int meili_snapshot(void *instance, struct arca_ctx *ctx)
{
	struct meili *m = instance;
	int rc = meili_connect(m, ctx, NULL, "api_key");
	if (rc == ARCA_OK)
		rc = !strcmp(m->method, "export") ? meili_snapshot_export(m, ctx)
		                                  : meili_snapshot_dump(m, ctx);
	meili_disconnect(m);
	return rc;
}

static int meili_restore_op(void *instance, struct arca_ctx *ctx)
{
	struct meili *m = instance;
	int rc = meili_restore(m, ctx);
	meili_disconnect(m);
	return rc;
}

static int meili_verify_op(void *instance, struct arca_ctx *ctx)
{
	return meili_verify(instance, ctx);
}

static int meili_command(void *instance, struct arca_ctx *ctx, const char *verb, int argc,
                         char **argv)
{
	if (!strcmp(verb, "rebuild"))
		return meili_rebuild(instance);
	return MEILI_ERR(ARCA_ERR_UNSUPPORTED,
	                 "the meilisearch driver has no verb '%s' (it offers rebuild)", verb);
}

static const struct arca_op_option meili_restore_options[] = {
    {"into", 1,
     "http(s)://HOST:PORT: a running Meilisearch (key: restore_api_key); DIR: write a .dump "
     "there",
     NULL, NULL},
    {"overwrite", 0, "replace indexes that hold documents (or an existing .dump)", NULL, NULL},
    {"index", 1, "restore this index only", NULL, "rebuild"},
    {"rebuild", 0, "run rebuild_command instead of restoring", NULL, "into,index,overwrite"},
    {NULL, 0, NULL, NULL, NULL},
};

static const struct arca_op_option meili_health_options[] = {
    {"into", 1,
     "look at this server instead of the target's: http(s)://HOST:PORT (key: restore_api_key, "
     "as restore --into); or DIR: the .dump a restore --into DIR wrote there",
     NULL, NULL},
    {"index", 1, "UID[,UID...]: these indexes must exist (8 when one does not)", NULL, NULL},
    {"wait-tasks", 1,
     "wait up to SECONDS (or Nm, Nh) for enqueued and processing tasks to finish, else fail "
     "(6); without it they are a warning",
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static int meili_health_op(void *instance, struct arca_ctx *ctx)
{
	return meili_health(instance, ctx);
}

static const struct arca_verb meili_verbs[] = {
    {"rebuild", "", "run a Meilisearch target's rebuild_command (reindex from the source)",
     "Runs rebuild_command of TARGET with a minimal environment (PATH, HOME,\n"
     "ARCA_TARGET, MEILI_URL): the way back when no snapshot can be restored.\n",
     0, 0, ARCA_VERB_FALLBACK},
    {NULL, NULL, NULL, NULL, 0, 0, 0},
};

static const struct arca_target_ops meili_target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .restore_options = meili_restore_options,
    .verbs = meili_verbs,
    .open = meili_open,
    .check = meili_check,
    .snapshot = meili_snapshot,
    .restore = meili_restore_op,
    .verify = meili_verify_op,
    .close = meili_close,
    .command = meili_command,
    .health_options = meili_health_options,
    .health = meili_health_op,
};

static const struct arca_driver meili_driver = {
    .abi_major = ARCA_ABI_MAJOR,
    .struct_size = sizeof(struct arca_driver),
    .name = "meilisearch",
    .version = "0.1.0",
    .description = "Meilisearch: dumps picked up and deduplicated, or an export through the "
                   "API; restores through the API or to a .dump",
    .target_options = meili_options,
    .dest_options = NULL,
    .target = &meili_target_ops,
    .dest = NULL,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	if (!host || host->abi_major != ARCA_ABI_MAJOR ||
	    host->struct_size < offsetof(struct arca_host, blob_remove) + sizeof host->blob_remove)
		return NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	meili_host = host;
	return &meili_driver;
}
