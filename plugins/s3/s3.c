/* s3.c — the `s3` driver: descriptor, options, open and close, and the
 * ABI 1.0 ops (the 1.1 ones without a call context). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3.h"

const struct arca_host *s3_host;

const struct arca_option s3_options[] = {
    {.name = "endpoint",
     .type = ARCA_OPT_STRING,
     .help = "https://HOST[:PORT] of the S3 server (default https://s3.REGION.amazonaws.com); "
             "http:// only with a warning"},
    {.name = "bucket", .type = ARCA_OPT_STRING, .flags = ARCA_OPT_REQUIRED, .help = "the bucket"},
    {.name = "prefix",
     .type = ARCA_OPT_STRING,
     .help = "key prefix of the repository in the bucket, e.g. arca/host1/ (default: none)"},
    {.name = "region", .type = ARCA_OPT_STRING, .default_value = "us-east-1", .help = "region"},
    {.name = "addressing",
     .type = ARCA_OPT_ENUM,
     .default_value = "auto",
     .choices = "auto|path|virtual",
     .help = "path-style (MinIO, s3rver) or virtual-host (AWS); auto: virtual for "
             "*.amazonaws.com, else path"},
    {.name = "ca_file",
     .type = ARCA_OPT_PATH,
     .help = "CA certificates (PEM) that sign the server's certificate (default: the "
             "system's)"},
    {.name = "access_key_id", .type = ARCA_OPT_STRING, .help = "access key id"},
    {.name = "secret_access_key",
     .type = ARCA_OPT_STRING,
     .flags = ARCA_OPT_SECRET,
     .help = "secret access key (secret_access_key_file / _env)"},
    {.name = "session_token",
     .type = ARCA_OPT_STRING,
     .flags = ARCA_OPT_SECRET,
     .help = "session token of temporary credentials (session_token_file / _env)"},
    {.name = "profile",
     .type = ARCA_OPT_STRING,
     .help = "profile in the shared credentials file (default AWS_PROFILE, else default)"},
    {.name = "credentials_file",
     .type = ARCA_OPT_PATH,
     .help = "shared credentials file (default AWS_SHARED_CREDENTIALS_FILE, else "
             "~/.aws/credentials)"},
    {.name = "part_size",
     .type = ARCA_OPT_SIZE,
     .default_value = "8M",
     .min = 5 * 1024 * 1024,
     .max = 512 * 1024 * 1024,
     .help = "objects larger than this go up in parts of this size"},
    {.name = "multipart_threshold",
     .type = ARCA_OPT_SIZE,
     .default_value = "64M",
     .min = 5 * 1024 * 1024,
     .max = 5ll * 1024 * 1024 * 1024,
     .help = "repository objects up to this size go up in one PUT (one write for the "
             "server; a pack is 32 MiB), larger ones in parts"},
    {.name = "parallel_parts",
     .type = ARCA_OPT_INT,
     .default_value = "4",
     .min = 1,
     .max = 64,
     .help = "parts of one object sent at once"},
    {.name = "parallel_objects",
     .type = ARCA_OPT_INT,
     .default_value = "16",
     .min = 1,
     .max = 64,
     .help = "target: objects read at once (the engine buffers up to 8 MiB of each, 64 MiB "
             "in all; larger ones stream)"},
    {.name = "versions",
     .type = ARCA_OPT_BOOL,
     .default_value = "no",
     .help = "target: keep every version and delete marker of a versioned bucket "
             "(ListObjectVersions), so a restore can go back to any snapshot even after "
             "deletions; a bucket without versioning is snapshotted as with no, with a "
             "warning"},
    {.name = "tags",
     .type = ARCA_OPT_ENUM,
     .default_value = "auto",
     .choices = "auto|always|never",
     .help = "target: an object's tags are read (GetObjectTagging) when its GET says it has "
             "some (auto; a server never seen to say so, Amazon S3 excepted, is asked for "
             "every object), for every object (always), or not at all and not kept (never: "
             "one request per object)"},
    {.name = "sse",
     .type = ARCA_OPT_ENUM,
     .default_value = "none",
     .choices = "none|s3|kms",
     .help = "server-side encryption to ask for on every write: s3 (AES256, keys of the "
             "server's), kms (aws:kms; sse_kms_key_id) or none (the bucket's default)"},
    {.name = "sse_kms_key_id",
     .type = ARCA_OPT_STRING,
     .help = "with sse = kms: the KMS key (id, ARN or alias); default: the account's "
             "aws/s3 key"},
    {.name = "connect_timeout",
     .type = ARCA_OPT_DURATION,
     .default_value = "30s",
     .min = 1,
     .max = 600,
     .help = "give up connecting after this long (retried)"},
    {.name = NULL},
};

void s3_inst_close(void *instance)
{
	struct s3_inst *s = instance;
	if (!s)
		return;
	s3_pool_free(s);
	pthread_mutex_destroy(&s->pool_mu);
	pthread_mutex_destroy(&s->creds_mu);
	s3_creds_free(&s->creds);
	free(s->section);
	free(s->scheme_host);
	free(s->host);
	free(s->base_path);
	free(s->bucket);
	free(s->prefix);
	free(s->region);
	free(s->ca_file);
	free(s->sse_kms_key);
	free(s);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* HOST[:PORT] (len n) names this host's loopback: localhost, *.localhost
 * (RFC 6761), 127.0.0.0/8 or [::1]. */
static int loopback(const char *hp, size_t n)
{
	char h[256];
	if (n >= sizeof h)
		return 0;
	memcpy(h, hp, n);
	h[n] = '\0';
	if (h[0] == '[')
		return !strncmp(h, "[::1]", 5) && (h[5] == '\0' || h[5] == ':');
	char *colon = strchr(h, ':');
	if (colon)
		*colon = '\0';
	size_t l = strlen(h);
	if (!strcasecmp(h, "localhost") || (l > 10 && !strcasecmp(h + l - 10, ".localhost")))
		return 1;
	unsigned a, b, c, d;
	char end;
	return sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &end) == 4 && a == 127 && b < 256 &&
	       c < 256 && d < 256;
}

int s3_inst_open(const struct arca_config *cfg, void **instance)
{
	struct s3_inst *s = calloc(1, sizeof *s);
	if (!s)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_mutex_init(&s->creds_mu, NULL);
	const char *sec = s3_host->config_section(cfg);
	const char *ep = s3_host->config_get(cfg, "endpoint");
	const char *region = s3_host->config_get(cfg, "region");
	const char *bucket = s3_host->config_get(cfg, "bucket");
	const char *mode = s3_host->config_get(cfg, "addressing");
	char def[256];
	s->section = strdup(sec);
	s->region = dup_or_empty(region);
	s->bucket = dup_or_empty(bucket);
	s->prefix = dup_or_empty(s3_host->config_get(cfg, "prefix"));
	const char *ca = s3_host->config_get(cfg, "ca_file");
	s->ca_file = ca ? strdup(ca) : NULL;
	s->part_size = (uint64_t)s3_host->config_int(cfg, "part_size", 8 << 20);
	s->mp_threshold = (uint64_t)s3_host->config_int(cfg, "multipart_threshold", 64 << 20);
	if (s->mp_threshold < s->part_size)
		s->mp_threshold = s->part_size;
	s->parallel = (int)s3_host->config_int(cfg, "parallel_parts", 4);
	s->connect_timeout = (long)s3_host->config_int(cfg, "connect_timeout", 30);
	const char *sse = s3_host->config_get(cfg, "sse");
	const char *kms_key = s3_host->config_get(cfg, "sse_kms_key_id");
	s->sse = sse && !strcmp(sse, "s3")    ? "AES256"
	         : sse && !strcmp(sse, "kms") ? "aws:kms"
	                                      : NULL;
	if (kms_key && *kms_key && (!s->sse || strcmp(s->sse, "aws:kms"))) {
		*instance = s;
		return s3_host->error(ARCA_ERR_CONFIG,
		                      "section [%s]: sse_kms_key_id is set but sse is not kms: set "
		                      "sse = kms, or remove sse_kms_key_id",
		                      sec);
	}
	s->sse_kms_key = kms_key && *kms_key ? strdup(kms_key) : NULL;
	*instance = s;
	if (!ep || !*ep) {
		snprintf(def, sizeof def, "https://s3.%s.amazonaws.com", s->region);
		ep = def;
	}
	if (!strncmp(ep, "https://", 8)) {
		s->https = 1;
	} else if (strncmp(ep, "http://", 7)) {
		return s3_host->error(ARCA_ERR_CONFIG,
		                      "endpoint \"%s\" must start with https:// (or http://)", ep);
	}
	const char *hostpart = ep + (s->https ? 8 : 7);
	size_t hl = strcspn(hostpart, "/");
	if (!hl || (hostpart[hl] && strcmp(hostpart + hl, "/")))
		return s3_host->error(ARCA_ERR_CONFIG,
		                      "endpoint \"%s\" must be scheme://HOST[:PORT] without a path "
		                      "(the bucket goes in bucket =)",
		                      ep);
	if (!bucket || !*bucket || strchr(bucket, '/'))
		return s3_host->error(ARCA_ERR_CONFIG, "bucket \"%s\" is not a bucket name",
		                      bucket ? bucket : "");
	size_t pl = strlen(s->prefix);
	if (pl && (s->prefix[0] == '/' || s->prefix[pl - 1] != '/'))
		return s3_host->error(ARCA_ERR_CONFIG,
		                      "prefix \"%s\" must not start with '/' and must end with '/' "
		                      "(e.g. arca/host1/)",
		                      s->prefix);
	s->amazon = strstr(hostpart, "amazonaws.com") != NULL;
	s->path_style = mode && !strcmp(mode, "path")      ? 1
	                : mode && !strcmp(mode, "virtual") ? 0
	                                                   : !s->amazon;
	char host[512];
	if (s->path_style)
		snprintf(host, sizeof host, "%.*s", (int)hl, hostpart);
	else
		snprintf(host, sizeof host, "%s.%.*s", s->bucket, (int)hl, hostpart);
	s->host = strdup(host);
	size_t n = strlen(host) + 9;
	s->scheme_host = malloc(n);
	if (s->scheme_host)
		snprintf(s->scheme_host, n, "%s://%s", s->https ? "https" : "http", host);
	n = strlen(s->bucket) + 2;
	s->base_path = malloc(n);
	if (s->base_path)
		snprintf(s->base_path, n, "%s%s", s->path_style ? "/" : "",
		         s->path_style ? s->bucket : "");
	if (!s->host || !s->scheme_host || !s->base_path || !s->section || !s->region ||
	    !s->bucket || !s->prefix)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	/* Once per process (each command opens an instance per target and
	 * destination using it), and not for this host's own loopback, where
	 * no network sees the requests. */
	static atomic_int warned;
	if (!s->https && !loopback(hostpart, hl) && !atomic_exchange(&warned, 1))
		s3_host->log(ARCA_LOG_WARN,
		             "section [%s]: endpoint %s is plain http: what arca stores is "
		             "encrypted, but requests can be seen and replayed on the network; use "
		             "https",
		             sec, ep);
	s->cfg = cfg;
	return ARCA_OK;
}

/* ABI 1.0 ops: the 1.1 ones without a context (no retries). */
static int s3_put(void *i, const char *name, const void *data, size_t len, unsigned flags)
{
	return s3_put_call(i, NULL, name, data, len, flags, NULL);
}

static int s3_get(void *i, const char *name, uint64_t off, uint64_t len, arca_sink_fn sink,
                  void *arg)
{
	return s3_get_call(i, NULL, name, off, len, sink, arg);
}

static int s3_list(void *i, const char *prefix, int (*cb)(void *, const char *, uint64_t),
                   void *arg)
{
	return s3_list_call(i, NULL, prefix, cb, arg);
}

static int s3_remove(void *i, const char *name)
{
	return s3_remove_call(i, NULL, &name, 1);
}

static int s3_stat(void *i, const char *name, uint64_t *size)
{
	struct arca_dest_stat st = {.struct_size = sizeof st};
	int rc = s3_stat_call(i, NULL, name, &st);
	*size = st.size;
	return rc;
}

static const struct arca_dest_ops s3_dest_ops = {
    .struct_size = sizeof(struct arca_dest_ops),
    .caps = ARCA_CAP_ATOMIC_PUT | ARCA_CAP_MULTIPART | ARCA_CAP_RANGE_GET,
    .open = s3_inst_open,
    .check = s3_check,
    .put = s3_put,
    .get = s3_get,
    .list = s3_list,
    .remove = s3_remove,
    .stat = s3_stat,
    .close = s3_inst_close,
    .probe = s3_probe,
    .put_call = s3_put_call,
    .put_stream = s3_put_stream,
    .get_call = s3_get_call,
    .list_call = s3_list_call,
    .remove_call = s3_remove_call,
    .stat_call = s3_stat_call,
};

static const struct arca_driver s3_driver = {
    .abi_major = ARCA_ABI_MAJOR,
    .struct_size = sizeof(struct arca_driver),
    .name = "s3",
    .version = "1.0.0",
    .description = "S3 bucket (AWS, MinIO, any S3-compatible server): a repository in it "
                   "(destination), or its objects as the data to protect (target)",
    .target_options = s3_options,
    .dest_options = s3_options,
    .target = &s3_target_ops,
    .dest = &s3_dest_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	s3_host = host;
	/* once, from the main thread, before any thread of ours */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	return &s3_driver;
}
