/* child.c — running pg_dump, pg_restore, psql and pg_ctl.
 *
 * Programs are started from an argv array with fork/execve, never through
 * a shell, with an environment built for them (env.c): never arca's own,
 * which holds the repository passphrase and other targets' secrets. The
 * password reaches a child that connects only through PGPASSWORD in that
 * environment (not argv, which `ps` shows). stderr is always captured, so
 * a failing child's own words end up in the error message; it is read
 * while stdout/stdin are pumped, so a chatty child never blocks on a full
 * stderr pipe. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "pg.h"

extern char **environ;

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void wipe_free(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = 0;
	free(s);
}

/* In the child after fork: only async-signal-safe calls. */
static void child_exec(const struct child_spec *spec, int in_r, int out_w, int err_w, char **env)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGXFSZ, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	int devnull = open("/dev/null", O_RDWR);
	if (in_r < 0)
		in_r = devnull;
	if (spec->stdout_path) {
		out_w = open(spec->stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (out_w < 0) {
			const char *m = "cannot open the output file\n";
			(void)!write(err_w, m, strlen(m));
			_exit(127);
		}
	}
	if (out_w < 0)
		out_w = err_w; /* messages of programs like pg_ctl are wanted too */
	if (dup2(in_r, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
		_exit(127);
	/* dup2 clears close-on-exec on the copy; fd 3 itself needs it cleared */
	if (spec->pass_fd >= 0 &&
	    (spec->pass_fd == CHILD_PASSED_FD ? fcntl(CHILD_PASSED_FD, F_SETFD, 0)
	                                      : dup2(spec->pass_fd, CHILD_PASSED_FD)) < 0)
		_exit(127);
	if (spec->cwd && chdir(spec->cwd) != 0) {
		const char *m = "cannot change to the working directory\n";
		(void)!write(2, m, strlen(m));
		_exit(127);
	}
	if (spec->as_user && geteuid() == 0) {
		if (setgroups(1, &spec->gid) != 0 || setgid(spec->gid) != 0 ||
		    setuid(spec->uid) != 0) {
			const char *m = "cannot switch to the data directory's owner\n";
			(void)!write(2, m, strlen(m));
			_exit(127);
		}
	}
	execve(spec->argv[0], spec->argv, env);
	const char *m = "exec failed: ";
	(void)!write(2, m, strlen(m));
	(void)!write(2, spec->argv[0], strlen(spec->argv[0]));
	(void)!write(2, "\n", 1);
	_exit(127);
}

int child_start(struct pg_child *c, const struct child_spec *spec)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	const char *what = strrchr(spec->argv[0], '/');
	memset(c, 0, sizeof *c);
	c->in_fd = c->out_fd = c->err_fd = -1;
	c->pid = -1;
	c->what = what ? what + 1 : spec->argv[0];
	/* Without the list of secret variables the environment cannot be built. */
	if (!spec->t || !spec->t->secret_vars)
		return PG_ERR(ARCA_ERR_INTERNAL, "driver bug: %s started before pg_env_load",
		              c->what);

	if (pipe2(err, O_CLOEXEC) != 0 ||
	    ((spec->pipes & CHILD_STDIN) && pipe2(in, O_CLOEXEC) != 0) ||
	    ((spec->pipes & CHILD_STDOUT) && pipe2(out, O_CLOEXEC) != 0)) {
		int e = errno;
		for (int i = 0; i < 2; i++) {
			close_fd(&in[i]);
			close_fd(&out[i]);
			close_fd(&err[i]);
		}
		return PG_ERR(ARCA_ERR_IO, "cannot create pipes for %s: %s", c->what, strerror(e));
	}
	/* A dump streams hundreds of MiB: a 1 MiB pipe (the unprivileged
	 * maximum) instead of 64 KiB cuts the wake-ups between pg_dump and the
	 * pump sixteenfold. Best effort: a smaller pipe only costs speed. */
	if (out[0] >= 0)
		(void)fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
	char *pwvar = NULL;
	char **env =
	    pg_env_build(environ, spec->t->secret_vars, spec->connects, spec->password, &pwvar);
	if (!env) {
		for (int i = 0; i < 2; i++) {
			close_fd(&in[i]);
			close_fd(&out[i]);
			close_fd(&err[i]);
		}
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	}
	pid_t pid = fork();
	if (pid == 0)
		child_exec(spec, in[0], out[1], err[1], env);
	int fork_errno = errno;
	wipe_free(pwvar);
	free(env);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	if (pid < 0) {
		close_fd(&in[1]);
		close_fd(&out[0]);
		close_fd(&err[0]);
		return PG_ERR(ARCA_ERR_IO, "cannot start %s: %s", c->what, strerror(fork_errno));
	}
	c->pid = pid;
	c->in_fd = in[1];
	c->out_fd = out[0];
	c->err_fd = err[0];
	if (c->in_fd >= 0)
		set_nonblock(c->in_fd);
	if (c->out_fd >= 0) {
		set_nonblock(c->out_fd);
		/* 1 MiB (the unprivileged maximum): fewer wake-ups per MiB. */
		fcntl(c->out_fd, F_SETPIPE_SZ, 1 << 20);
	}
	set_nonblock(c->err_fd);
	return ARCA_OK;
}

/* Keep the last sizeof(c->err)-1 bytes of stderr. */
static void err_append(struct pg_child *c, const char *p, size_t n)
{
	size_t cap = sizeof c->err - 1;
	if (n >= cap) {
		p += n - cap;
		n = cap;
		c->err_len = 0;
		c->err_trunc = 1;
	} else if (c->err_len + n > cap) {
		size_t drop = c->err_len + n - cap;
		memmove(c->err, c->err + drop, c->err_len - drop);
		c->err_len -= drop;
		c->err_trunc = 1;
	}
	memcpy(c->err + c->err_len, p, n);
	c->err_len += n;
	c->err[c->err_len] = 0;
}

static void drain_err(struct pg_child *c)
{
	char tmp[4096];
	for (;;) {
		ssize_t r = read(c->err_fd, tmp, sizeof tmp);
		if (r > 0) {
			err_append(c, tmp, (size_t)r);
			continue;
		}
		if (r == 0)
			close_fd(&c->err_fd);
		else if (errno == EINTR)
			continue;
		return;
	}
}

static void drain_out_discard(struct pg_child *c)
{
	char tmp[16384];
	for (;;) {
		ssize_t r = read(c->out_fd, tmp, sizeof tmp);
		if (r > 0)
			continue;
		if (r == 0)
			close_fd(&c->out_fd);
		else if (errno == EINTR)
			continue;
		return;
	}
}

/* Read stdout while draining stderr; no host calls (the pump's thread uses
 * it). 0, or an errno value with *what naming the failing call. */
static int read_raw(struct pg_child *c, void *buf, size_t cap, size_t *got, const char **what)
{
	*got = 0;
	while (c->out_fd >= 0) {
		struct pollfd p[2] = {{c->out_fd, POLLIN, 0}, {c->err_fd, POLLIN, 0}};
		int n = poll(p, c->err_fd >= 0 ? 2 : 1, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*what = "poll";
			return errno;
		}
		if (c->err_fd >= 0 && p[1].revents)
			drain_err(c);
		if (!p[0].revents)
			continue;
		ssize_t r = read(c->out_fd, buf, cap);
		if (r > 0) {
			*got = (size_t)r;
			return 0;
		}
		if (r == 0) {
			close_fd(&c->out_fd);
			return 0;
		}
		if (errno != EINTR && errno != EAGAIN) {
			*what = "read";
			return errno;
		}
	}
	return 0;
}

int child_read(struct pg_child *c, void *buf, size_t cap, size_t *got)
{
	const char *what = "";
	int e = read_raw(c, buf, cap, got, &what);
	if (e)
		return PG_ERR(ARCA_ERR_IO, "%s from %s: %s", what, c->what, strerror(e));
	return ARCA_OK;
}

/* ---- pump: a thread that keeps reading the child's stdout ------------------ */

/*
 * While the engine chunks, hashes and compresses what item_write gave it,
 * the child must keep writing: a reader thread fills a ring of buffers from
 * the pipe and the caller's thread takes them in order. Only the caller's
 * thread calls the host (the ABI forbids host calls from our own threads).
 */
#define PUMP_SLOTS 4
#define PUMP_READ  (256u << 10)
/* pg_dump writes its output 4 KiB at a time. A reader that wakes for each
 * write preempts pg_dump once per 4 KiB, and on VMs a wake-up costs as
 * much as copying the bytes. After a short read the pump therefore naps,
 * letting pg_dump fill more of the 1 MiB pipe; the nap is short enough
 * that the pipe does not fill up meanwhile, and a reader that is behind
 * finds full reads and never naps. */
#define PUMP_SHORT_READ (64u << 10)
#define PUMP_NAP_NS     1000000L

struct child_pump {
	struct pg_child *c;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fbuf slot[PUMP_SLOTS];
	int full[PUMP_SLOTS];
	size_t size;
	unsigned head, tail; /* next slot to fill / to hand out */
	int eof, stop, err;
	const char *err_what;
	pump_filter_fn filter;
	void *filter_arg;
	unsigned char *raw; /* read buffer when filtering */
};

static int reserve(struct fbuf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return 0;
	size_t cap = b->len + extra;
	unsigned char *d = realloc(b->data, cap);
	if (!d)
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

/* Fill one slot with up to p->size bytes (more when a filter expands a
 * little). Returns 0, or an errno value; *eof at the end of the stream. */
static int fill_slot(struct child_pump *p, struct fbuf *b, int *eof)
{
	b->len = 0;
	while (b->len < p->size) {
		size_t got = 0;
		if (!p->filter) {
			if (reserve(b, p->size - b->len))
				return ENOMEM;
			int e =
			    read_raw(p->c, b->data + b->len, p->size - b->len, &got, &p->err_what);
			if (e)
				return e;
			b->len += got;
		} else {
			int e = read_raw(p->c, p->raw, PUMP_READ, &got, &p->err_what);
			if (e)
				return e;
			if (p->filter(p->filter_arg, got ? p->raw : NULL, got, b) != 0) {
				p->err_what = "regrouping the dump";
				return EBADMSG;
			}
		}
		if (got == 0) {
			*eof = 1;
			return 0;
		}
		if (got < PUMP_SHORT_READ) {
			struct timespec nap = {0, PUMP_NAP_NS};
			nanosleep(&nap, NULL);
		}
	}
	return 0;
}

static void *pump_main(void *arg)
{
	struct child_pump *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->full[p->head % PUMP_SLOTS] && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		int stop = p->stop;
		unsigned slot = p->head % PUMP_SLOTS;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			break;
		int eof = 0;
		int e = fill_slot(p, &p->slot[slot], &eof);
		pthread_mutex_lock(&p->mu);
		int filled = p->slot[slot].len > 0;
		p->full[slot] = filled;
		p->head += filled;
		p->err = e;
		p->eof = eof;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (e || eof)
			break;
	}
	return NULL;
}

int pump_start(struct child_pump **out, struct pg_child *c, size_t size, pump_filter_fn filter,
               void *filter_arg)
{
	struct child_pump *p = calloc(1, sizeof *p);
	if (!p)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	p->c = c;
	p->size = size;
	p->filter = filter;
	p->filter_arg = filter_arg;
	if (filter && !(p->raw = malloc(PUMP_READ))) {
		free(p);
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, pump_main, p) != 0) {
		pump_stop(p);
		return PG_ERR(ARCA_ERR_INTERNAL, "cannot start a reader thread for %s", c->what);
	}
	p->started = 1;
	*out = p;
	return ARCA_OK;
}

int pump_next(struct child_pump *p, const void **data, size_t *len)
{
	pthread_mutex_lock(&p->mu);
	unsigned slot = p->tail % PUMP_SLOTS;
	while (!p->full[slot] && !p->eof && !p->err)
		pthread_cond_wait(&p->cv, &p->mu);
	int full = p->full[slot], e = p->err;
	*data = p->slot[slot].data;
	*len = full ? p->slot[slot].len : 0;
	pthread_mutex_unlock(&p->mu);
	if (!full && e)
		return PG_ERR(ARCA_ERR_IO, "%s from %s: %s", p->err_what, p->c->what, strerror(e));
	return ARCA_OK;
}

void pump_release(struct child_pump *p)
{
	pthread_mutex_lock(&p->mu);
	p->full[p->tail % PUMP_SLOTS] = 0;
	p->tail++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void pump_stop(struct child_pump *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	for (int i = 0; i < PUMP_SLOTS; i++)
		free(p->slot[i].data);
	free(p->raw);
	free(p);
}

int child_write(struct pg_child *c, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		if (c->in_fd < 0)
			return ARCA_ERR_IO;
		struct pollfd fds[3] = {
		    {c->in_fd, POLLOUT, 0}, {c->err_fd, POLLIN, 0}, {c->out_fd, POLLIN, 0}};
		int n = poll(fds, 3, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return PG_ERR(ARCA_ERR_IO, "poll on %s: %s", c->what, strerror(errno));
		}
		if (c->err_fd >= 0 && fds[1].revents)
			drain_err(c);
		if (c->out_fd >= 0 && fds[2].revents)
			drain_out_discard(c);
		if (fds[0].revents & (POLLERR | POLLHUP)) {
			close_fd(&c->in_fd);
			return ARCA_ERR_IO;
		}
		if (!(fds[0].revents & POLLOUT))
			continue;
		/* SIGPIPE is ignored by the engine; EPIPE tells us the child
		 * stopped reading. */
		ssize_t w = write(c->in_fd, p, len);
		if (w > 0) {
			p += w;
			len -= (size_t)w;
		} else if (w < 0 && errno == EPIPE) {
			close_fd(&c->in_fd);
			return ARCA_ERR_IO;
		} else if (w < 0 && errno != EINTR && errno != EAGAIN) {
			return PG_ERR(ARCA_ERR_IO, "writing to %s: %s", c->what, strerror(errno));
		}
	}
	return ARCA_OK;
}

void child_close_stdin(struct pg_child *c)
{
	close_fd(&c->in_fd);
}

int child_wait(struct pg_child *c)
{
	close_fd(&c->in_fd);
	int reaped = 0;
	while (c->err_fd >= 0 || c->out_fd >= 0) {
		struct pollfd p[2] = {{c->err_fd, POLLIN, 0}, {c->out_fd, POLLIN, 0}};
		int n = poll(p, 2, 200);
		if (n < 0 && errno != EINTR)
			break;
		if (c->err_fd >= 0 && p[0].revents)
			drain_err(c);
		if (c->out_fd >= 0 && p[1].revents)
			drain_out_discard(c);
		if (reaped)
			break; /* one last drain after the child is gone */
		/* A grandchild (pg_ctl's server) may hold the pipes open. */
		if (waitpid(c->pid, &c->status, WNOHANG) == c->pid)
			reaped = 1;
	}
	close_fd(&c->err_fd);
	close_fd(&c->out_fd);
	if (!reaped) {
		while (waitpid(c->pid, &c->status, 0) < 0) {
			if (errno != EINTR) {
				c->status = -1;
				break;
			}
		}
	}
	c->pid = -1;
	return WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0 ? 0 : -1;
}

void child_kill(struct pg_child *c)
{
	if (c->pid <= 0)
		return;
	close_fd(&c->in_fd);
	kill(c->pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(c->pid, &c->status, WNOHANG) == c->pid) {
			c->pid = -1;
			break;
		}
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
	}
	if (c->err_fd >= 0)
		drain_err(c);
	close_fd(&c->err_fd);
	close_fd(&c->out_fd);
}

void child_describe(const struct pg_child *c, char *out, size_t n)
{
	if (WIFEXITED(c->status))
		snprintf(out, n, "%s exited with status %d", c->what, WEXITSTATUS(c->status));
	else if (WIFSIGNALED(c->status))
		snprintf(out, n, "%s was killed by signal %d (%s)", c->what, WTERMSIG(c->status),
		         strsignal(WTERMSIG(c->status)));
	else
		snprintf(out, n, "%s ended abnormally", c->what);
}

int child_error_status(const struct pg_child *c)
{
	int s = pg_classify_error(c->err);
	return s == ARCA_ERR_CONNECT && !strstr(c->err, "connection to server") ? ARCA_ERR_IO : s;
}

const char *child_stderr(struct pg_child *c)
{
	while (c->err_len > 0 && (c->err[c->err_len - 1] == '\n' || c->err[c->err_len - 1] == ' '))
		c->err[--c->err_len] = 0;
	if (c->err_len == 0)
		return "(no message)";
	if (c->err_trunc) {
		/* Start at a line boundary after the cut. */
		char *nl = strchr(c->err, '\n');
		if (nl && nl[1])
			return nl + 1;
	}
	return c->err;
}

int child_run(const struct child_spec *spec, char **out)
{
	struct pg_child c;
	struct child_spec s = *spec;
	s.pipes |= CHILD_STDOUT;
	*out = NULL;
	int rc = child_start(&c, &s);
	if (rc != ARCA_OK)
		return rc;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	if (!buf) {
		child_kill(&c);
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	}
	for (;;) {
		size_t got = 0;
		if (len + 1 == cap) {
			char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				child_kill(&c);
				return PG_ERR(ARCA_ERR_IO, "%s printed too much", c.what);
			}
			buf = nb;
			cap *= 2;
		}
		rc = child_read(&c, buf + len, cap - 1 - len, &got);
		if (rc != ARCA_OK) {
			free(buf);
			child_kill(&c);
			return rc;
		}
		if (got == 0)
			break;
		len += got;
	}
	buf[len] = 0;
	if (child_wait(&c) != 0) {
		char how[128];
		child_describe(&c, how, sizeof how);
		rc = PG_ERR(pg_classify_error(c.err) == ARCA_ERR_CONNECT ? ARCA_ERR_IO
		                                                         : pg_classify_error(c.err),
		            "%s: %s", how, child_stderr(&c));
		free(buf);
		return rc;
	}
	*out = buf;
	return ARCA_OK;
}
