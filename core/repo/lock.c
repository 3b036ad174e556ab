/* lock.c — repository locks (FORMAT.md, "Locks"): one locks/<random id>
 * object per holder naming host, pid, time and mode. Shared locks exclude
 * exclusive ones; an exclusive lock excludes all others. A holder rewrites
 * its lock (new object, then removes the old one) every LOCK_REFRESH_SEC;
 * a lock is stale when it was not refreshed for LOCK_STALE_SEC, or at once
 * when it names this host and a pid that no longer exists. */
#include "repo/internal.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"


struct repo_lock_state {
	char name[128];
	int exclusive;
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

struct lock_info {
	char *name;
	char *host;
	long pid;
	int64_t time;
	int exclusive;
};

/* A lock object is a few hundred bytes; a larger one is not read (storage
 * may hold anything) and counts as unreadable. */
#define LOCK_MAX_BYTES 4096

static int read_lock(struct repo *r, const char *name, struct lock_info *li)
{
	memset(li, 0, sizeof *li);
	struct buf raw = {0};
	int rc = dest_get_bounded(r, name, LOCK_MAX_BYTES, &raw);
	if (rc == ARCA_ERR_CORRUPT) {
		log_warn("%s", err_msg());
		raw.len = 0;
		rc = ARCA_OK;
	}
	if (rc != ARCA_OK) {
		buf_free(&raw);
		return rc;
	}
	json_t *j = json_loadb((const char *)raw.data, raw.len, 0, NULL);
	buf_free(&raw);
	const char *host = json_string_value(json_object_get(j, "host"));
	li->name = xstrdup(name);
	li->host = xstrdup(host ? host : "?");
	li->pid = (long)json_integer_value(json_object_get(j, "pid"));
	li->time = json_integer_value(json_object_get(j, "time"));
	li->exclusive = json_is_true(json_object_get(j, "exclusive"));
	json_decref(j);
	/* An unreadable lock counts as exclusive and fresh: safe side. A
	 * partly written one cannot exist (puts are atomic). */
	if (!host) {
		li->exclusive = 1;
		li->time = now_epoch();
	}
	return ARCA_OK;
}

static void lock_info_free(struct lock_info *li)
{
	free(li->name);
	free(li->host);
}

static int lock_is_stale(struct repo *r, const struct lock_info *li, const char **why)
{
	if (li->time + LOCK_STALE_SEC < now_epoch()) {
		*why = "not refreshed for 30 minutes";
		return 1;
	}
	if (!strcmp(li->host, r->hostname) && li->pid > 0 &&
	    kill((pid_t)li->pid, 0) == -1 && errno == ESRCH) {
		*why = "its process is gone";
		return 1;
	}
	return 0;
}

/* ARCA_OK when no live lock other than ours conflicts with `exclusive`. */
static int check_conflicts(struct repo *r, int exclusive, const char *own)
{
	struct obj_list l;
	int rc = dest_list_all(r, "locks/", &l);
	if (rc != ARCA_OK)
		return rc;
	for (size_t i = 0; i < l.n && rc == ARCA_OK; i++) {
		if (own && !strcmp(l.v[i].name, own))
			continue;
		struct lock_info li;
		int g = read_lock(r, l.v[i].name, &li);
		if (g == ARCA_ERR_NOT_FOUND)
			continue;   /* released meanwhile */
		if (g != ARCA_OK) {
			rc = g;
			break;
		}
		const char *why;
		if (!lock_is_stale(r, &li, &why) && (exclusive || li.exclusive)) {
			char when[64];
			format_time_utc(li.time, when, sizeof when);
			rc = err_set(ARCA_ERR_LOCKED, "destination %s is locked (%s) by %s pid %ld "
				     "since %s (%s); wait for it to finish, or if that process is "
				     "gone run arca unlock", r->dest_name,
				     li.exclusive ? "exclusive" : "shared", li.host, li.pid, when,
				     li.name);
		}
		lock_info_free(&li);
	}
	obj_list_free(&l);
	return rc;
}

static int write_lock(struct repo *r, int exclusive, char name[128])
{
	unsigned char rnd[ID_LEN];
	char hex[65];
	if (random_bytes(rnd, sizeof rnd))
		return err_set(ARCA_ERR_INTERNAL, "no random bytes from libcrypto");
	id_hex(rnd, hex);
	snprintf(name, 128, "locks/%s", hex);
	json_t *j = json_pack("{s:s,s:I,s:I,s:b,s:s}", "host", r->hostname, "pid",
			      (json_int_t)getpid(), "time", (json_int_t)now_epoch(), "exclusive",
			      exclusive, "repository", r->id);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	int rc = dest_put(r, name, text, strlen(text), ARCA_PUT_EXCLUSIVE);
	free(text);
	return rc;
}

static void *refresher(void *arg)
{
	struct repo *r = arg;
	struct repo_lock_state *ls = r->lock;
	pthread_mutex_lock(&ls->mu);
	while (!ls->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += r->lock_refresh_sec > 0 ? r->lock_refresh_sec : LOCK_REFRESH_SEC;
		int w = pthread_cond_timedwait(&ls->cv, &ls->mu, &ts);
		if (ls->stop || w != ETIMEDOUT)
			continue;
		char fresh[128];
		if (write_lock(r, ls->exclusive, fresh) == ARCA_OK) {
			char old[128];
			snprintf(old, sizeof old, "%s", ls->name);
			snprintf(ls->name, sizeof ls->name, "%s", fresh);
			if (dest_remove(r, old) != ARCA_OK)
				log_warn("could not remove old lock %s: %s", old, err_msg());
		} else {
			log_warn("could not refresh the lock in destination %s: %s", r->dest_name,
				 err_msg());
		}
	}
	pthread_mutex_unlock(&ls->mu);
	return NULL;
}

int repo_lock(struct repo *r, int exclusive)
{
	if (r->lock) {
		if (r->lock->exclusive || !exclusive)
			return ARCA_OK;
		lock_release(r);
	}
	int rc = check_conflicts(r, exclusive, NULL);
	if (rc != ARCA_OK)
		return rc;
	char name[128];
	rc = write_lock(r, exclusive, name);
	if (rc != ARCA_OK)
		return rc;
	/* Two lockers may both have passed the first check: look again now
	 * that ours is visible. Both may back off; neither proceeds wrongly. */
	rc = check_conflicts(r, exclusive, name);
	if (rc != ARCA_OK) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", err_msg());
		dest_remove(r, name);
		return err_set(rc, "%s", msg);
	}
	struct repo_lock_state *ls = xcalloc(1, sizeof *ls);
	snprintf(ls->name, sizeof ls->name, "%s", name);
	ls->exclusive = exclusive;
	pthread_mutex_init(&ls->mu, NULL);
	pthread_cond_init(&ls->cv, NULL);
	r->lock = ls;
	if (pthread_create(&ls->thread, NULL, refresher, r) == 0)
		ls->running = 1;
	else
		log_warn("cannot start the lock refresher; the lock may turn stale after 30 min");
	return ARCA_OK;
}

void lock_release(struct repo *r)
{
	struct repo_lock_state *ls = r->lock;
	if (!ls)
		return;
	if (ls->running) {
		pthread_mutex_lock(&ls->mu);
		ls->stop = 1;
		pthread_cond_signal(&ls->cv);
		pthread_mutex_unlock(&ls->mu);
		pthread_join(ls->thread, NULL);
	}
	if (dest_remove(r, ls->name) != ARCA_OK)
		log_warn("could not remove lock %s: %s", ls->name, err_msg());
	pthread_mutex_destroy(&ls->mu);
	pthread_cond_destroy(&ls->cv);
	free(ls);
	r->lock = NULL;
}

void repo_unlock(struct repo *r)
{
	lock_release(r);
}

int repo_unlock_stale(struct repo *r, int *removed)
{
	*removed = 0;
	struct obj_list l;
	int rc = dest_list_all(r, "locks/", &l);
	if (rc != ARCA_OK)
		return rc;
	for (size_t i = 0; i < l.n && rc == ARCA_OK; i++) {
		if (r->lock && !strcmp(l.v[i].name, r->lock->name))
			continue;
		struct lock_info li;
		int g = read_lock(r, l.v[i].name, &li);
		if (g == ARCA_ERR_NOT_FOUND)
			continue;
		if (g != ARCA_OK) {
			rc = g;
			break;
		}
		const char *why;
		if (lock_is_stale(r, &li, &why)) {
			rc = dest_remove(r, li.name);
			if (rc == ARCA_OK) {
				log_info("removed stale lock %s of %s pid %ld (%s)", li.name,
				         li.host, li.pid, why);
				(*removed)++;
			}
		}
		lock_info_free(&li);
	}
	obj_list_free(&l);
	return rc;
}

/* Whether this repo holds the exclusive lock (prune/forget need it). */
int lock_held_exclusive(struct repo *r)
{
	return r->lock && r->lock->exclusive;
}

int lock_exclusive_for(struct repo *r, const char *what, int *took)
{
	*took = 0;
	if (!r->lock) {
		int rc = repo_lock(r, 1);
		if (rc == ARCA_OK)
			*took = 1;
		return rc;
	}
	if (!lock_held_exclusive(r))
		return err_set(ARCA_ERR_LOCKED, "%s needs the exclusive lock of destination %s "
			       "(engine holds a shared one)", what, r->dest_name);
	return ARCA_OK;
}
