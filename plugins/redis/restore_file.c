/* restore_file.c — `arca restore TARGET --into DIR`: the stored RDB, walked
 * again on the way, written to DIR/dump.rdb through a temporary file that
 * is fsync'd and renamed (a crash leaves the old file or the new one).
 * `--start` then runs redis-server on it on a free loopback port. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "redis.h"

extern char **environ;

struct out {
	int fd;
	const char *path;
};

static int write_out(void *arg, const void *data, size_t len)
{
	struct out *o = arg;
	const char *p = data;
	while (len > 0) {
		ssize_t k = write(o->fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return R_ERR(errno == ENOSPC || errno == EDQUOT ? ARCA_ERR_NOSPACE
			                                                : ARCA_ERR_IO,
			             "writing %s: %s", o->path, strerror(errno));
		p += k;
		len -= (size_t)k;
	}
	return ARCA_OK;
}

static int exists_at(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &l) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* redis-server on DIR/dump.rdb, daemonized; wait until it has loaded. */
static int start_server(struct redis_target *t, struct arca_ctx *ctx, const char *dir)
{
	char ports[16], pidf[4200], logf[4200];
	int port = free_port();
	if (port < 0)
		return R_ERR(ARCA_ERR_IO, "no free loopback port for redis-server: %s",
		             strerror(errno));
	snprintf(ports, sizeof ports, "%d", port);
	snprintf(pidf, sizeof pidf, "%s/redis-server.pid", dir);
	snprintf(logf, sizeof logf, "%s/redis-server.log", dir);
	char *argv[] = {(char *)t->redis_server,
	                "--port",
	                ports,
	                "--bind",
	                "127.0.0.1",
	                "--dir",
	                (char *)dir,
	                "--dbfilename",
	                "dump.rdb",
	                "--appendonly",
	                "no",
	                "--daemonize",
	                "yes",
	                "--pidfile",
	                pidf,
	                "--logfile",
	                logf,
	                NULL};
	/* The server needs nothing of our environment (secrets stay here). */
	char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	pid_t pid;
	int st, err = posix_spawn(&pid, t->redis_server, NULL, NULL, argv, envp);
	if (err)
		return R_ERR(ARCA_ERR_CONFIG, "cannot run %s: %s; set redis_server to the program",
		             t->redis_server, strerror(err));
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return R_ERR(ARCA_ERR_IO, "%s did not start; see %s", t->redis_server, logf);
	struct redis_addr a = {.port = port, .db = -1, .timeout_ms = 5000};
	snprintf(a.host, sizeof a.host, "127.0.0.1");
	time_t deadline = time(NULL) + t->timeout;
	for (;;) {
		struct rconn c;
		int rc = rconn_open(&c, &a, ctx);
		if (rc == ARCA_OK) {
			const char *ping[] = {"PING"};
			redisReply *r = NULL;
			rc = rconn_send(&c, 1, ping, NULL);
			if (rc == ARCA_OK)
				rc = rconn_reply(&c, &r);
			int ok = rc == ARCA_OK && r->type != REDIS_REPLY_ERROR;
			freeReplyObject(r);
			rconn_close(&c);
			if (ok)
				break;
		}
		if (redis_host->cancelled(ctx))
			return ARCA_ERR_CANCELLED;
		if (time(NULL) > deadline)
			return R_ERR(
			    ARCA_ERR_IO,
			    "redis-server on port %d has not loaded %s/dump.rdb within %lld s; see "
			    "%s",
			    port, dir, (long long)t->timeout, logf);
		usleep(100000);
	}
	R_LOG(ARCA_LOG_INFO,
	      "redis-server is running on %s/dump.rdb at 127.0.0.1:%d (pid file %s, log %s): "
	      "redis-cli -p %d; stop it with: redis-cli -p %d shutdown nosave",
	      dir, port, pidf, logf, port, port);
	printf("redis-server: 127.0.0.1:%d (redis-cli -p %d)\n", port, port);
	fflush(stdout);
	return ARCA_OK;
}

int redis_restore_file(struct redis_target *t, struct arca_ctx *ctx, const char *dir)
{
	int overwrite = redis_host->option(ctx, "overwrite") != NULL;
	int start = redis_host->option(ctx, "start") != NULL;
	char tmp[4200], dst[4200];
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return R_ERR(errno == EACCES ? ARCA_ERR_AUTH : ARCA_ERR_IO, "cannot create %s: %s",
		             dir, strerror(errno));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return R_ERR(errno == EACCES ? ARCA_ERR_AUTH : ARCA_ERR_IO,
		             "cannot open the directory %s: %s", dir, strerror(errno));
	int aof = exists_at(dfd, "appendonlydir") || exists_at(dfd, "appendonly.aof");
	if (aof && !overwrite) {
		close(dfd);
		return R_ERR(
		    ARCA_ERR_EXISTS,
		    "%s holds an append-only file (appendonlydir or appendonly.aof): a server "
		    "started with appendonly yes loads the AOF and ignores dump.rdb. Restore "
		    "into an empty directory, or give --overwrite and start the server with "
		    "redis-server --dir %s --dbfilename dump.rdb --appendonly no (then CONFIG "
		    "SET appendonly yes writes a new AOF from the loaded data)",
		    dir, dir);
	}
	if (exists_at(dfd, "dump.rdb") && !overwrite) {
		close(dfd);
		return R_ERR(ARCA_ERR_EXISTS, "%s/dump.rdb exists; give --overwrite to replace it",
		             dir);
	}
	struct arca_item_info info;
	int rc = redis_open_item(ctx, &info);
	if (rc != ARCA_OK) {
		close(dfd);
		return rc;
	}
	snprintf(tmp, sizeof tmp, "%s/.dump.rdb.arca-%ld", dir, (long)getpid());
	snprintf(dst, sizeof dst, "%s/dump.rdb", dir);
	struct out o = {-1, tmp};
	o.fd = openat(dfd, strrchr(tmp, '/') + 1,
	              O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (o.fd < 0) {
		close(dfd);
		return R_ERR(ARCA_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
	}
	redis_host->progress_total(ctx, info.size == UINT64_MAX ? 0 : info.size, 1);
	struct item_src src = {ctx};
	struct rdb_walker w = {0};
	w.read = redis_item_read;
	w.read_arg = &src;
	w.tee = write_out;
	w.tee_arg = &o;
	w.cancelled = redis_item_cancelled;
	w.cancel_arg = &src;
	rc = rdb_walk(&w);
	if (rc == ARCA_ERR_CORRUPT)
		rc = R_ERR(ARCA_ERR_CORRUPT,
		           "%s: the stored RDB fails its check %s; %s left as it was", REDIS_ITEM,
		           w.err, dst);
	if (rc == ARCA_OK && fsync(o.fd) != 0)
		rc = R_ERR(ARCA_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
	if (close(o.fd) != 0 && rc == ARCA_OK)
		rc = R_ERR(ARCA_ERR_IO, "close %s: %s", tmp, strerror(errno));
	if (rc == ARCA_OK && renameat(dfd, strrchr(tmp, '/') + 1, dfd, "dump.rdb") != 0)
		rc = R_ERR(ARCA_ERR_IO, "rename %s to %s: %s", tmp, dst, strerror(errno));
	if (rc != ARCA_OK)
		unlinkat(dfd, strrchr(tmp, '/') + 1, 0);
	else if (fsync(dfd) != 0)
		rc = R_ERR(ARCA_ERR_IO, "fsync %s: %s", dir, strerror(errno));
	close(dfd);
	if (rc == ARCA_OK) {
		R_LOG(ARCA_LOG_INFO, "wrote %s (RDB version %d, %" PRIu64 " keys)", dst, w.version,
		      w.keys);
		if (!start)
			R_LOG(ARCA_LOG_INFO,
			      "start a server on it: redis-server --dir %s --dbfilename "
			      "dump.rdb --appendonly no",
			      dir);
	}
	rdb_walker_free(&w);
	if (rc == ARCA_OK && start)
		rc = start_server(t, ctx, dir);
	return rc;
}
