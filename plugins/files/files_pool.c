/* files_pool.c — the worker threads of a parallel snapshot or restore.
 *
 * The thread the engine called into walks (or reads the snapshot's items)
 * and hands jobs over; each worker runs them with its own I/O buffer. The
 * queue is bounded, so the walk never runs far ahead. The first failure
 * stops the rest: later jobs are dropped unrun, and its status and message
 * are handed back to the calling thread (host->error_message), where the
 * op returns them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

struct fpool {
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_space, cv_idle;
	struct fjob *head, *tail;
	size_t qlen, qcap, busy;
	int stop;
	int status; /* the first failure */
	char msg[1024];
	pthread_t *threads;
	int n;
};

static void fail_locked(struct fpool *p, int rc)
{
	if (p->status)
		return;
	p->status = rc;
	snprintf(p->msg, sizeof(p->msg), "%s", files_host->error_message());
	if (!p->msg[0])
		snprintf(p->msg, sizeof(p->msg), "files: a worker failed");
}

static void *worker_main(void *arg)
{
	struct fpool *p = arg;
	unsigned char *buf = malloc(FILES_IO_BLOCK);

	pthread_mutex_lock(&p->mu);
	if (!buf) {
		files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
		fail_locked(p, ARCA_ERR_INTERNAL);
	}
	for (;;) {
		struct fjob *j;
		int rc;

		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cv_job, &p->mu);
		j = p->head;
		if (!j)
			break;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->qlen--;
		p->busy++;
		pthread_cond_signal(&p->cv_space);
		if (p->status || !buf) {
			pthread_mutex_unlock(&p->mu);
			j->drop(j);
			rc = ARCA_OK;
		} else {
			pthread_mutex_unlock(&p->mu);
			rc = j->run(j, buf);
		}
		pthread_mutex_lock(&p->mu);
		if (rc != ARCA_OK)
			fail_locked(p, rc);
		p->busy--;
		if (!p->head && !p->busy)
			pthread_cond_broadcast(&p->cv_idle);
	}
	pthread_mutex_unlock(&p->mu);
	free(buf);
	return NULL;
}

int fpool_start(struct fpool **out, int n)
{
	struct fpool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p || !(p->threads = calloc((size_t)n, sizeof(*p->threads)))) {
		free(p);
		return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv_job, NULL);
	pthread_cond_init(&p->cv_space, NULL);
	pthread_cond_init(&p->cv_idle, NULL);
	p->qcap = 4 * (size_t)n;
	for (p->n = 0; p->n < n; p->n++)
		if (pthread_create(&p->threads[p->n], NULL, worker_main, p) != 0)
			break;
	*out = p;
	if (p->n == 0) {
		fpool_stop(p);
		*out = NULL;
		return files_host->error(ARCA_ERR_INTERNAL, "files: cannot start worker threads");
	}
	return ARCA_OK;
}

/* The pool's failure as this thread's error. Caller holds p->mu. */
static int status_locked(struct fpool *p)
{
	if (p->status)
		files_host->error(p->status, "%s", p->msg);
	return p->status;
}

int fpool_submit(struct fpool *p, struct fjob *j)
{
	int rc;

	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	while (p->qlen >= p->qcap && !p->status)
		pthread_cond_wait(&p->cv_space, &p->mu);
	rc = status_locked(p);
	if (rc == ARCA_OK) {
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->qlen++;
		pthread_cond_signal(&p->cv_job);
	}
	pthread_mutex_unlock(&p->mu);
	if (rc != ARCA_OK)
		j->drop(j);
	return rc;
}

int fpool_wait(struct fpool *p)
{
	int rc;

	pthread_mutex_lock(&p->mu);
	while (p->head || p->busy)
		pthread_cond_wait(&p->cv_idle, &p->mu);
	rc = status_locked(p);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int fpool_stop(struct fpool *p)
{
	int i, rc;

	if (!p)
		return ARCA_OK;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv_job);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_lock(&p->mu);
	rc = status_locked(p);
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv_job);
	pthread_cond_destroy(&p->cv_space);
	pthread_cond_destroy(&p->cv_idle);
	free(p->threads);
	free(p);
	return rc;
}

int files_jobs(const struct files_inst *fi, struct arca_ctx *ctx)
{
	const char *opt = ctx ? files_host->option(ctx, "jobs") : NULL;
	long n = opt ? strtol(opt, NULL, 10) : fi->jobs;

	if (n < 1)
		n = 1;
	if (n > FILES_JOBS_MAX)
		n = FILES_JOBS_MAX;
	/* the handle calls and the way to carry a worker's message back */
	if (n > 1 && !ARCA_HOST_HAS(files_host, error_message))
		n = 1;
	return (int)n;
}
