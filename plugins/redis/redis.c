/* redis.c — the `redis` target driver: descriptor, options, open/close,
 * check, and the dispatch of restore by what --into names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "redis.h"

const struct arca_host *redis_host;

static const struct arca_option redis_options[] = {
    {"host", ARCA_OPT_STRING, 0, "127.0.0.1", "the server's host name or address", NULL, 0, 0},
    {"port", ARCA_OPT_INT, 0, "6379", "the server's TCP port", NULL, 1, 65535},
    {"socket", ARCA_OPT_PATH, 0, NULL, "a unix socket to connect to instead of host:port", NULL, 0,
     0},
    {"username", ARCA_OPT_STRING, 0, NULL,
     "ACL user (needs +psync +sync +replconf +info, or +bgsave +config|get for method = bgsave)",
     NULL, 0, 0},
    {"password", ARCA_OPT_STRING, ARCA_OPT_SECRET, NULL,
     "the password (password_file = PATH or password_env = VAR)", NULL, 0, 0},
    {"tls", ARCA_OPT_BOOL, 0, "no", "connect with TLS; the certificate is always verified", NULL, 0,
     0},
    {"ca_file", ARCA_OPT_PATH, 0, NULL,
     "tls: the CA certificate(s) to trust (PEM); default: the system's", NULL, 0, 0},
    {"cert_file", ARCA_OPT_PATH, 0, NULL, "tls: a client certificate (PEM), with key_file", NULL, 0,
     0},
    {"key_file", ARCA_OPT_PATH, 0, NULL, "tls: the client certificate's key (PEM)", NULL, 0, 0},
    {"tls_server_name", ARCA_OPT_STRING, 0, NULL,
     "tls: the name the server's certificate must carry (default: host)", NULL, 0, 0},
    {"method", ARCA_OPT_ENUM, 0, "replication",
     "replication: the RDB over the replication protocol (PSYNC/SYNC); bgsave: BGSAVE, then "
     "read the dump file (the server must be on this host)",
     "replication|bgsave", 0, 0},
    {"timeout", ARCA_OPT_DURATION, 0, "60s",
     "how long the server may stay silent before the operation fails", NULL, 1, 86400},
    {"redis_server", ARCA_OPT_PATH, 0, "/usr/bin/redis-server",
     "the redis-server program `arca restore --start` runs", NULL, 0, 0},
    {NULL, 0, 0, NULL, NULL, NULL, 0, 0},
};

static int redis_open(const struct arca_config *cfg, void **instance)
{
	struct redis_target *t = calloc(1, sizeof *t);
	if (!t)
		return R_ERR(ARCA_ERR_INTERNAL, "out of memory");
	const char *host = redis_host->config_get(cfg, "host");
	const char *sock = redis_host->config_get(cfg, "socket");
	const char *user = redis_host->config_get(cfg, "username");
	const char *method = redis_host->config_get(cfg, "method");
	t->cfg = cfg;
	t->name = redis_host->config_section(cfg);
	snprintf(t->addr.host, sizeof t->addr.host, "%s", host ? host : "127.0.0.1");
	t->addr.port = (int)redis_host->config_int(cfg, "port", 6379);
	if (sock && strlen(sock) >= 108) {
		free(t);
		return R_ERR(ARCA_ERR_CONFIG,
		             "socket path is longer than a unix socket allows (107)");
	}
	snprintf(t->addr.socket, sizeof t->addr.socket, "%s", sock ? sock : "");
	if (user && strlen(user) >= sizeof t->addr.user) {
		free(t);
		return R_ERR(ARCA_ERR_CONFIG, "username is longer than %zu bytes",
		             sizeof t->addr.user - 1);
	}
	snprintf(t->addr.user, sizeof t->addr.user, "%s", user ? user : "");
	t->addr.tls = redis_host->config_bool(cfg, "tls", 0);
	t->addr.ca_file = redis_host->config_get(cfg, "ca_file");
	t->addr.cert_file = redis_host->config_get(cfg, "cert_file");
	t->addr.key_file = redis_host->config_get(cfg, "key_file");
	t->addr.server_name = redis_host->config_get(cfg, "tls_server_name");
	t->addr.db = -1;
	if (!t->addr.tls && (t->addr.ca_file || t->addr.cert_file || t->addr.key_file)) {
		free(t);
		return R_ERR(ARCA_ERR_CONFIG, "ca_file, cert_file and key_file need tls = yes");
	}
	if (!t->addr.cert_file != !t->addr.key_file) {
		free(t);
		return R_ERR(ARCA_ERR_CONFIG, "cert_file and key_file go together: give both");
	}
	t->bgsave = method && !strcmp(method, "bgsave");
	t->timeout = redis_host->config_int(cfg, "timeout", 60);
	t->addr.timeout_ms = t->timeout * 1000;
	t->redis_server = redis_host->config_get(cfg, "redis_server");
	if (!t->redis_server)
		t->redis_server = "/usr/bin/redis-server";
	*instance = t;
	return ARCA_OK;
}

static void redis_close(void *instance)
{
	struct redis_target *t = instance;
	if (!t)
		return;
	redis_addr_free(&t->addr);
	free(t);
}

static int redis_check(void *instance, struct arca_ctx *ctx)
{
	return redis_check_op(instance, ctx);
}

static const struct arca_op_option redis_restore_options[] = {
    {"into", 1,
     "a directory (writes dump.rdb) or redis://[user@]host:port[/db] (a running server; "
     "password from REDISCLI_AUTH or ?password_file=PATH); default: the target's server",
     NULL, NULL},
    {"overwrite", 0,
     "replace keys of a server that holds keys, or a dump.rdb / AOF in the directory", NULL, NULL},
    {"start", 0, "with a directory: start redis-server on it on a free loopback port", NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static const struct arca_op_option redis_health_options[] = {
    {"into", 1,
     "look at this server instead of the target's: redis://[user@]host:port (e.g. the one "
     "arca restore --start printed), or a directory a restore wrote dump.rdb into",
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static const struct arca_target_ops redis_target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .open = redis_open,
    .check = redis_check,
    .snapshot = redis_snapshot,
    .restore = redis_restore,
    .verify = redis_verify,
    .close = redis_close,
    .restore_options = redis_restore_options,
    .health_options = redis_health_options,
    .health = redis_health,
};

static const struct arca_driver redis_driver = {
    .abi_major = ARCA_ABI_MAJOR,
    .struct_size = sizeof(struct arca_driver),
    .name = "redis",
    .version = "1.0.0",
    .description = "Redis: RDB snapshots over the replication protocol, checked as they stream; "
                   "restore to a dump.rdb or into a running server",
    .target_options = redis_options,
    .target = &redis_target_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	redis_host = host;
	return &redis_driver;
}
