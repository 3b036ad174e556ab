/* redis.h — internals shared by the files of the redis driver.
 *
 *   redis.c          descriptor, options, open/close, check, dispatch
 *   conn.c           one connection: TCP or unix socket, TLS (OpenSSL),
 *                    AUTH, commands and replies (hiredis's reply reader)
 *   snapshot.c       the RDB over the replication protocol, or by BGSAVE
 *   verify.c         the walk over a stored RDB; the item's metadata
 *   restore_file.c   dump.rdb into a directory, and --start
 *   restore_live.c   RESTORE ... ABSTTL into a running server
 *   health.c         `arca health`: is a server serving its data
 *   rdb_walk.c, rdb_blob.c, crc64.c   the RDB walker (rdb.h)
 *
 * One snapshot is one STREAM item, "dump.rdb": the RDB exactly as the
 * server sent it, checked by the walker as it passed. */
#ifndef REDIS_DRIVER_H
#define REDIS_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include <openssl/ssl.h>
#include "arca/plugin.h"
#include "rdb.h"

extern const struct arca_host *redis_host;

#define R_LOG(level, ...)  redis_host->log(level, __VA_ARGS__)
#define R_ERR(status, ...) redis_host->error(status, __VA_ARGS__)

#define REDIS_ITEM "dump.rdb"

/* Where and how to connect: the target's server, or a --into URL. */
struct redis_addr {
	char host[256];
	int port;
	char socket[256]; /* unix socket path; "" for TCP */
	char user[128];   /* "" for the default user */
	char *password;   /* malloc'd secret or NULL; wiped on free */
	int tls;
	const char *ca_file, *cert_file, *key_file, *server_name;
	int db; /* -1: each key to its own database */
	int64_t timeout_ms;
};

struct redis_target {
	const struct arca_config *cfg;
	const char *name;
	struct redis_addr addr;
	int bgsave; /* method = bgsave */
	const char *redis_server;
	int64_t timeout;
};

struct rconn {
	int fd;
	SSL_CTX *sslctx;
	SSL *ssl;
	redisReader *reader;
	struct arca_ctx *ctx;
	int64_t timeout_ms;
	unsigned char buf[65536];
	size_t pos, len;
	char where[300]; /* "redis at HOST:PORT" for messages */
};

/* ---- conn.c -------------------------------------------------------------- */
int rconn_open(struct rconn *c, const struct redis_addr *a, struct arca_ctx *ctx);
void rconn_close(struct rconn *c);
int rconn_write(struct rconn *c, const void *p, size_t n);
/* Raw bytes: what is buffered first, then the socket (waits, with the
 * timeout and cancellation). *got 0: the server closed the connection. */
int rconn_read(struct rconn *c, void *buf, size_t cap, size_t *got);
/* A CRLF- or LF-terminated line without its terminator. */
int rconn_readline(struct rconn *c, char *line, size_t cap);
/* Send one command (argv with lengths; NULL lens: C strings). */
int rconn_send(struct rconn *c, int argc, const char **argv, const size_t *lens);
/* Read one reply (freeReplyObject it). */
int rconn_reply(struct rconn *c, redisReply **out);
/* Send and read; an error reply is turned into a status with a message
 * naming `what` (NOAUTH/WRONGPASS/NOPERM: ARCA_ERR_AUTH, LOADING:
 * ARCA_ERR_CONNECT, else ARCA_ERR_IO). */
int rconn_cmd(struct rconn *c, redisReply **out, const char *what, int argc, const char **argv);
/* INFO SECTION: *out is malloc'd text the caller frees. */
int rconn_info(struct rconn *c, const char *section, char **out);
int rconn_reply_status(struct rconn *c, const redisReply *r, const char *what);
/* A field of an INFO reply into out ("" when absent). */
void redis_info_field(const char *info, const char *field, char *out, size_t cap);
void redis_addr_free(struct redis_addr *a);

/* ---- the ops --------------------------------------------------------- */
int redis_snapshot(void *instance, struct arca_ctx *ctx);
int redis_check_op(struct redis_target *t, struct arca_ctx *ctx);
int redis_verify(void *instance, struct arca_ctx *ctx);
int redis_restore(void *instance, struct arca_ctx *ctx);
int redis_restore_file(struct redis_target *t, struct arca_ctx *ctx, const char *dir);
int redis_restore_live(struct redis_target *t, struct arca_ctx *ctx, const char *url);
/* redis://[user@]host:port[/db][?password_file=PATH] (or rediss://) into *a;
 * the password from password_file or REDISCLI_AUTH (redis_addr_free it). */
int redis_parse_url(struct redis_target *t, const char *url, struct redis_addr *a);
/* url (into *own) or the target's own server, its password read on first
 * use; *a points at the one to use. */
int redis_addr_for(struct redis_target *t, const char *url, struct redis_addr *own,
                   struct redis_addr **a);
int redis_health(void *instance, struct arca_ctx *ctx);

/* A reader over the stored item for the walker (verify, restore). */
struct item_src {
	struct arca_ctx *ctx;
};
int redis_item_read(void *arg, void *buf, size_t cap, size_t *got);
int redis_item_cancelled(void *arg);
/* Open the snapshot's dump.rdb (its info in *info). */
int redis_open_item(struct arca_ctx *ctx, struct arca_item_info *info);

#endif
