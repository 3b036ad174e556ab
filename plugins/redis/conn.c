/* conn.c — one connection to a Redis server: TCP or a unix socket, TLS
 * with OpenSSL (hiredis 0.14 has none; verification is always on), AUTH,
 * and commands whose replies hiredis's reader parses. Raw reads (the RDB
 * of a full resync) go through the same buffer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "redis.h"

/* The most a reply may take while it is assembled (INFO is a few KiB). */
#define REPLY_MAX (64u << 20)

void redis_addr_free(struct redis_addr *a)
{
	if (a->password) {
		explicit_bzero(a->password, strlen(a->password));
		free(a->password);
		a->password = NULL;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for `ev`: ARCA_OK, or timeout/cancel. */
static int wait_fd(struct rconn *c, short ev, const char *doing)
{
	int64_t deadline = now_ms() + c->timeout_ms;
	for (;;) {
		struct pollfd p = {c->fd, ev, 0};
		int n = poll(&p, 1, 1000);
		if (n > 0)
			return ARCA_OK;
		if (n < 0 && errno != EINTR)
			return R_ERR(ARCA_ERR_IO, "%s: poll: %s", c->where, strerror(errno));
		if (c->ctx && redis_host->cancelled(c->ctx))
			return ARCA_ERR_CANCELLED;
		if (now_ms() > deadline)
			return R_ERR(
			    ARCA_ERR_IO,
			    "%s: no answer for %lld s while %s; the server is stuck or the "
			    "network is down (raise timeout if it is only slow)",
			    c->where, (long long)(c->timeout_ms / 1000), doing);
	}
}

static int ssl_fail(struct rconn *c, const char *doing)
{
	char msg[256] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, msg, sizeof msg);
	ERR_clear_error();
	int why = e ? ERR_GET_REASON(e) : 0;
	/* The server's alerts about our certificate (TLS 1.3 sends them
	 * after the handshake, at the first read). */
	if (why == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
	    why == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE || why == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
	    why == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN)
		return R_ERR(
		    ARCA_ERR_AUTH,
		    "%s: the server refused the client certificate, or wants one (%s); set "
		    "cert_file and key_file to a certificate its tls-ca-cert-file trusts",
		    c->where, msg);
	return R_ERR(ARCA_ERR_IO, "%s: TLS %s failed: %s", c->where, doing,
	             msg[0] ? msg
	                    : "connection closed (a server that wants a client certificate "
	                      "closes it so: then set cert_file and key_file)");
}

int rconn_write(struct rconn *c, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		int rc = wait_fd(c, POLLOUT, "sending");
		if (rc != ARCA_OK)
			return rc;
		ssize_t k;
		if (c->ssl) {
			int w = SSL_write(c->ssl, s, n > (1u << 30) ? (int)(1u << 30) : (int)n);
			if (w <= 0)
				return ssl_fail(c, "write");
			k = w;
		} else {
			k = send(c->fd, s, n, MSG_NOSIGNAL);
			if (k < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				return R_ERR(ARCA_ERR_IO, "%s: send: %s (did the server go away?)",
				             c->where, strerror(errno));
			}
		}
		s += k;
		n -= (size_t)k;
	}
	return ARCA_OK;
}

/* Read what the socket has (at least one byte, or 0 at its end). */
static int sock_read(struct rconn *c, void *buf, size_t cap, size_t *got)
{
	for (;;) {
		if (!(c->ssl && SSL_pending(c->ssl) > 0)) {
			int rc = wait_fd(c, POLLIN, "waiting for data");
			if (rc != ARCA_OK)
				return rc;
		}
		if (c->ssl) {
			int r =
			    SSL_read(c->ssl, buf, cap > (1u << 30) ? (int)(1u << 30) : (int)cap);
			if (r > 0) {
				*got = (size_t)r;
				return ARCA_OK;
			}
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN) {
				*got = 0;
				return ARCA_OK;
			}
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				continue;
			if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
				*got = 0; /* closed without close_notify: a dead server */
				return ARCA_OK;
			}
			return ssl_fail(c, "read");
		}
		ssize_t k = recv(c->fd, buf, cap, 0);
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ECONNRESET) {
				*got = 0;
				return ARCA_OK;
			}
			return R_ERR(ARCA_ERR_IO, "%s: recv: %s", c->where, strerror(errno));
		}
		*got = (size_t)k;
		return ARCA_OK;
	}
}

int rconn_read(struct rconn *c, void *buf, size_t cap, size_t *got)
{
	if (c->pos < c->len) {
		size_t k = c->len - c->pos;
		if (k > cap)
			k = cap;
		memcpy(buf, c->buf + c->pos, k);
		c->pos += k;
		*got = k;
		return ARCA_OK;
	}
	return sock_read(c, buf, cap, got);
}

int rconn_readline(struct rconn *c, char *line, size_t cap)
{
	size_t n = 0;
	for (;;) {
		if (c->pos == c->len) {
			size_t got;
			int rc = sock_read(c, c->buf, sizeof c->buf, &got);
			if (rc != ARCA_OK)
				return rc;
			if (got == 0)
				return R_ERR(ARCA_ERR_IO,
				             "%s: the server closed the connection (did it die, or "
				             "refuse the client for its output buffer limits?)",
				             c->where);
			c->pos = 0, c->len = got;
		}
		char ch = (char)c->buf[c->pos++];
		if (ch == '\n') {
			if (n > 0 && line[n - 1] == '\r')
				n--;
			line[n] = '\0';
			return ARCA_OK;
		}
		if (n + 1 >= cap)
			return R_ERR(ARCA_ERR_IO, "%s: a protocol line longer than %zu bytes",
			             c->where, cap);
		line[n++] = ch;
	}
}

int rconn_send(struct rconn *c, int argc, const char **argv, const size_t *lens)
{
	size_t l[16];
	char *cmd = NULL;
	if (!lens) {
		if (argc > 16)
			return R_ERR(ARCA_ERR_INTERNAL, "too many arguments");
		for (int i = 0; i < argc; i++)
			l[i] = strlen(argv[i]);
		lens = l;
	}
	int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (n < 0)
		return R_ERR(ARCA_ERR_INTERNAL, "out of memory");
	int rc = rconn_write(c, cmd, (size_t)n);
	redisFreeCommand(cmd);
	return rc;
}

int rconn_reply(struct rconn *c, redisReply **out)
{
	size_t fed = 0;
	for (;;) {
		void *r = NULL;
		if (redisReaderGetReply(c->reader, &r) != REDIS_OK)
			return R_ERR(ARCA_ERR_IO, "%s: the server's reply does not parse: %s",
			             c->where, c->reader->errstr);
		if (r) {
			*out = r;
			return ARCA_OK;
		}
		if (c->pos == c->len) {
			size_t got;
			int rc = sock_read(c, c->buf, sizeof c->buf, &got);
			if (rc != ARCA_OK)
				return rc;
			if (got == 0)
				return R_ERR(ARCA_ERR_IO, "%s: the server closed the connection",
				             c->where);
			c->pos = 0, c->len = got;
		}
		fed += c->len - c->pos;
		if (fed > REPLY_MAX)
			return R_ERR(ARCA_ERR_IO, "%s: a reply larger than %u MiB", c->where,
			             REPLY_MAX >> 20);
		redisReaderFeed(c->reader, (const char *)c->buf + c->pos, c->len - c->pos);
		c->pos = c->len;
	}
}

int rconn_reply_status(struct rconn *c, const redisReply *r, const char *what)
{
	if (r->type != REDIS_REPLY_ERROR)
		return ARCA_OK;
	const char *e = r->str;
	if (!strncmp(e, "NOAUTH", 6))
		return R_ERR(ARCA_ERR_AUTH,
		             "%s: %s: the server wants a password (%s); set password_file or "
		             "password_env (and username for an ACL user)",
		             c->where, what, e);
	if (!strncmp(e, "WRONGPASS", 9) || strstr(e, "invalid password") ||
	    strstr(e, "invalid username-password"))
		return R_ERR(ARCA_ERR_AUTH,
		             "%s: the username or password was refused (%s); check username and "
		             "the password secret",
		             c->where, e);
	if (!strncmp(e, "NOPERM", 6))
		return R_ERR(ARCA_ERR_AUTH,
		             "%s: %s: permission denied (%s); grant the user the command, e.g. "
		             "ACL SETUSER <user> +%s",
		             c->where, what, e, what);
	if (!strncmp(e, "LOADING", 7))
		return R_ERR(ARCA_ERR_CONNECT,
		             "%s: the server is still loading its dataset (%s); try again once it "
		             "has loaded",
		             c->where, e);
	if (!strncmp(e, "MASTERDOWN", 10) || !strncmp(e, "NOMASTERLINK", 12))
		return R_ERR(ARCA_ERR_CONNECT,
		             "%s: the replica has no link to its master (%s); back up the master "
		             "or wait until the replica is in sync",
		             c->where, e);
	return R_ERR(ARCA_ERR_IO, "%s: %s failed: %s", c->where, what, e);
}

int rconn_cmd(struct rconn *c, redisReply **out, const char *what, int argc, const char **argv)
{
	redisReply *r = NULL;
	int rc = rconn_send(c, argc, argv, NULL);
	if (rc == ARCA_OK)
		rc = rconn_reply(c, &r);
	if (rc == ARCA_OK)
		rc = rconn_reply_status(c, r, what);
	if (rc != ARCA_OK || !out)
		freeReplyObject(r);
	else
		*out = r;
	return rc;
}

void redis_info_field(const char *info, const char *field, char *out, size_t cap)
{
	size_t fl = strlen(field);
	out[0] = '\0';
	for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, field, fl) && p[fl] == ':') {
			size_t n = strcspn(p + fl + 1, "\r\n");
			if (n >= cap)
				n = cap - 1;
			memcpy(out, p + fl + 1, n);
			out[n] = '\0';
			return;
		}
	}
}

static int tcp_connect(struct rconn *c, const struct redis_addr *a)
{
	struct addrinfo hints = {0}, *res = NULL;
	char port[16];
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", a->port);
	int g = getaddrinfo(a->host, port, &hints, &res);
	if (g != 0)
		return R_ERR(ARCA_ERR_CONNECT, "%s: cannot resolve the host: %s", c->where,
		             gai_strerror(g));
	int err = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		struct timeval tv = {a->timeout_ms / 1000, (a->timeout_ms % 1000) * 1000};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			c->fd = fd;
			freeaddrinfo(res);
			return ARCA_OK;
		}
		err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	return R_ERR(ARCA_ERR_CONNECT, "%s: cannot connect: %s; is redis-server running there?",
	             c->where, strerror(err));
}

static int unix_connect(struct rconn *c, const struct redis_addr *a)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(a->socket) >= sizeof sa.sun_path)
		return R_ERR(ARCA_ERR_CONFIG, "socket path %s is too long", a->socket);
	strcpy(sa.sun_path, a->socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return R_ERR(ARCA_ERR_IO, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		int e = errno;
		close(fd);
		return R_ERR(e == EACCES ? ARCA_ERR_AUTH : ARCA_ERR_CONNECT,
		             "%s: cannot connect: %s; is redis-server listening on that socket?",
		             c->where, strerror(e));
	}
	c->fd = fd;
	return ARCA_OK;
}

/* With TLS 1.3 a server judges our certificate after the handshake and
 * says so in an alert. Redis speaks only when spoken to, so anything that
 * arrives in the first moments is that verdict (or session tickets): read
 * it without blocking, for up to 300 ms, so a refusal is named as such
 * rather than as a broken connection at the first command. */
static int tls_verdict(struct rconn *c)
{
	if (SSL_version(c->ssl) < TLS1_3_VERSION)
		return ARCA_OK;
	int64_t until = now_ms() + 300;
	while (now_ms() < until) {
		struct pollfd p = {c->fd, POLLIN, 0};
		if (poll(&p, 1, 50) <= 0)
			continue;
		char b;
		int fl = fcntl(c->fd, F_GETFL);
		fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
		int r = SSL_peek(c->ssl, &b, 1);
		int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
		fcntl(c->fd, F_SETFL, fl);
		if (r > 0)
			return ARCA_OK;
		if (e == SSL_ERROR_WANT_READ)
			continue;
		return ssl_fail(c, "handshake");
	}
	return ARCA_OK;
}

static int tls_start(struct rconn *c, const struct redis_addr *a)
{
	c->sslctx = SSL_CTX_new(TLS_client_method());
	if (!c->sslctx)
		return ssl_fail(c, "setup");
	SSL_CTX_set_min_proto_version(c->sslctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->sslctx, SSL_VERIFY_PEER, NULL);
	if (a->ca_file ? SSL_CTX_load_verify_locations(c->sslctx, a->ca_file, NULL) != 1
	               : SSL_CTX_set_default_verify_paths(c->sslctx) != 1) {
		ERR_clear_error();
		return R_ERR(ARCA_ERR_CONFIG, "%s: cannot load the CA certificates of ca_file %s",
		             c->where, a->ca_file ? a->ca_file : "(system default)");
	}
	if (a->cert_file || a->key_file) {
		if (!a->cert_file || !a->key_file) {
			return R_ERR(ARCA_ERR_CONFIG, "%s: give both cert_file and key_file",
			             c->where);
		}
		if (SSL_CTX_use_certificate_chain_file(c->sslctx, a->cert_file) != 1 ||
		    SSL_CTX_use_PrivateKey_file(c->sslctx, a->key_file, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(c->sslctx) != 1) {
			ERR_clear_error();
			return R_ERR(
			    ARCA_ERR_CONFIG,
			    "%s: cannot load the client certificate %s with key %s (both PEM, "
			    "and the key must match)",
			    c->where, a->cert_file, a->key_file);
		}
	}
	c->ssl = SSL_new(c->sslctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return ssl_fail(c, "setup");
	const char *name = a->server_name ? a->server_name : a->host;
	unsigned char ip[16];
	int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
	if (is_ip) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name);
	} else {
		SSL_set_tlsext_host_name(c->ssl, name);
		SSL_set1_host(c->ssl, name);
	}
	if (SSL_connect(c->ssl) != 1) {
		long v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK) {
			ERR_clear_error();
			return R_ERR(
			    ARCA_ERR_CONNECT,
			    "%s: the server's certificate is not trusted: %s (for \"%s\"); set "
			    "ca_file to the CA that signed it, or tls_server_name to the name "
			    "it carries",
			    c->where, X509_verify_cert_error_string(v), name);
		}
		return ssl_fail(c, "handshake");
	}
	return tls_verdict(c);
}

int rconn_open(struct rconn *c, const struct redis_addr *a, struct arca_ctx *ctx)
{
	memset(c, 0, offsetof(struct rconn, buf));
	c->pos = c->len = 0;
	c->fd = -1;
	c->ctx = ctx;
	c->timeout_ms = a->timeout_ms > 0 ? a->timeout_ms : 60000;
	if (a->socket[0])
		snprintf(c->where, sizeof c->where, "redis at %s", a->socket);
	else
		snprintf(c->where, sizeof c->where, "redis at %s:%d", a->host, a->port);
	c->reader = redisReaderCreate();
	if (!c->reader)
		return R_ERR(ARCA_ERR_INTERNAL, "out of memory");
	int rc = a->socket[0] ? unix_connect(c, a) : tcp_connect(c, a);
	if (rc == ARCA_OK && a->tls)
		rc = tls_start(c, a);
	if (rc == ARCA_OK && a->password) {
		const char *argv[3] = {"AUTH", a->user, a->password};
		if (a->user[0])
			rc = rconn_cmd(c, NULL, "AUTH", 3, argv);
		else {
			argv[1] = a->password;
			rc = rconn_cmd(c, NULL, "AUTH", 2, argv);
		}
	}
	if (rc != ARCA_OK)
		rconn_close(c);
	return rc;
}

void rconn_close(struct rconn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->sslctx) {
		SSL_CTX_free(c->sslctx);
		c->sslctx = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->reader)
		redisReaderFree(c->reader);
	c->reader = NULL;
}

int rconn_info(struct rconn *c, const char *section, char **out)
{
	redisReply *r = NULL;
	const char *argv[] = {"INFO", section};
	int rc = rconn_cmd(c, &r, "INFO", 2, argv);
	if (rc != ARCA_OK)
		return rc;
	*out = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
	freeReplyObject(r);
	return *out ? ARCA_OK
	            : R_ERR(ARCA_ERR_IO, "%s: INFO %s: unexpected reply", c->where, section);
}
