/* lock.c — repository locks (FORMAT.md, "Locks"): one locks/<random id>
 * object per holder naming host, pid, time and mode. Shared locks exclude
 * exclusive ones; an exclusive lock excludes all others. A holder rewrites
 * its lock (new object, then removes the old one) every LOCK_REFRESH_SEC;
 * a lock is stale when it was not refreshed for LOCK_STALE_SEC, or at once
 * when it names this host and a pid that no longer exists.
 *
 * The storage may be written by others: a lock is read with a bound and
 * every field range-checked. An object that is no valid lock blocks locking
 * (it may hide a live holder) and `arca unlock` removes it. */
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

/* A lock is about 150 bytes: more cannot be one, and is never read whole
 * (a huge object in locks/ must not cost memory). */
#define LOCK_MAX_BYTES 4096
/* Clock skew tolerated in a lock's time; further ahead is absurd. */
#define LOCK_FUTURE_SEC 86400
#define LOCK_HOST_MAX   255

struct lock_info {
	char *name;
	char *host;
	long pid;
	int64_t time;
	int exclusive;
	char why[512]; /* set: not a valid lock of this repository, and why */
};

static void lock_info_free(struct lock_info *li)
{
	free(li->name);
	free(li->host);
}

/* Collects at most `cap` bytes of a get; more sets `over`. */
struct capped_buf {
	struct buf b;
	size_t cap;
	int over;
};

static int sink_capped(void *arg, const void *data, size_t len)
{
	struct capped_buf *c = arg;
	if (len > c->cap - c->b.len) {
		c->over = 1;
		return 1; /* aborts the get: nothing more is read */
	}
	buf_append(&c->b, data, len);
	return 0;
}

static void reset_capped(void *arg)
{
	struct capped_buf *c = arg;
	c->b.len = 0;
	c->over = 0;
}

/* A host name arca could have written (the engine's is at most 255 bytes)
 * and that prints without control characters; UTF-8 is fine. */
static int printable_host(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > LOCK_HOST_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Fill li from the lock JSON, or say what makes it absurd. No value is
 * kept before its range is checked: pid fits a pid_t and time is at most a
 * day ahead, so nothing computed from them can overflow. */
static const char *parse_lock(struct repo *r, json_t *j, struct lock_info *li)
{
	json_t *host = json_object_get(j, "host"), *pid = json_object_get(j, "pid");
	json_t *time = json_object_get(j, "time"), *excl = json_object_get(j, "exclusive");
	json_t *repo = json_object_get(j, "repository");
	if (!json_is_object(j))
		return "not a JSON object";
	if (!json_is_string(host) || !json_is_integer(pid) || !json_is_integer(time) ||
	    !json_is_boolean(excl) || !json_is_string(repo))
		return "a field is missing or of the wrong type (a lock has host, pid, time, "
		       "exclusive and repository)";
	if (!printable_host(json_string_value(host)))
		return "its host is empty, longer than 255 bytes or has control characters";
	json_int_t p = json_integer_value(pid), t = json_integer_value(time);
	if (p <= 0 || p > INT32_MAX)
		return "its pid is not a process id (1 to 2147483647)";
	if (t < 0)
		return "its time is before 1970";
	if (t > now_epoch() + LOCK_FUTURE_SEC)
		return "its time is more than a day in the future";
	if (strcmp(json_string_value(repo), r->id))
		return "it belongs to another repository";
	free(li->host);
	li->host = xstrdup(json_string_value(host));
	li->pid = (long)p;
	li->time = (int64_t)t;
	li->exclusive = json_is_true(excl);
	return NULL;
}

/* Read the lock `o` (name and listed size) with a bound. ARCA_OK with
 * li->why set for an object that is no valid lock; ARCA_ERR_NOT_FOUND when
 * it went away; another status when the destination could not be read. */
static int read_lock(struct repo *r, const struct obj *o, struct lock_info *li)
{
	memset(li, 0, sizeof *li);
	li->name = xstrdup(o->name);
	li->host = xstrdup("?");
	li->exclusive = 1; /* an invalid lock counts as exclusive and fresh */
	li->time = now_epoch();
	if (o->size > LOCK_MAX_BYTES) {
		snprintf(li->why, sizeof li->why, "it is %llu bytes, more than a lock's %d",
		         (unsigned long long)o->size, LOCK_MAX_BYTES);
		return ARCA_OK;
	}
	/* Never more than LOCK_MAX_BYTES + 1, whatever the object holds. */
	struct capped_buf c = {.cap = LOCK_MAX_BYTES + 1};
	int rc = dest_get_sink(r, o->name, 0, o->size, sink_capped, &c, reset_capped);
	const char *why = NULL;
	if (c.over || c.b.len > LOCK_MAX_BYTES) {
		why = "it holds more bytes than a lock can have";
	} else if (rc == ARCA_ERR_CORRUPT) {
		snprintf(li->why, sizeof li->why, "it cannot be read: %s", err_msg());
	} else if (rc != ARCA_OK) {
		buf_free(&c.b);
		lock_info_free(li);
		if (rc == ARCA_ERR_NOT_FOUND)
			return rc;
		return err_wrap(rc, "destination %s: reading %s", r->dest_name, o->name);
	} else {
		json_t *j = json_loadb((const char *)c.b.data, c.b.len, 0, NULL);
		why = j ? parse_lock(r, j, li) : "it is not valid JSON";
		json_decref(j);
	}
	if (why)
		snprintf(li->why, sizeof li->why, "%s", why);
	buf_free(&c.b);
	return ARCA_OK;
}

/* Seconds since `t`, 0 for a time ahead of now; cannot overflow. */
static uint64_t lock_age(int64_t now, int64_t t)
{
	return t >= now ? 0 : (uint64_t)now - (uint64_t)t;
}

static int lock_is_stale(struct repo *r, const struct lock_info *li, const char **why)
{
	if (lock_age(now_epoch(), li->time) > LOCK_STALE_SEC) {
		*why = "not refreshed for 30 minutes";
		return 1;
	}
	if (!strcmp(li->host, r->hostname) && li->pid > 0 && kill((pid_t)li->pid, 0) == -1 &&
	    errno == ESRCH) {
		*why = "its process is gone";
		return 1;
	}
	return 0;
}

static void warn_invalid(struct repo *r, const struct lock_info *li)
{
	log_warn("destination %s: %s is not a valid lock: %s", r->dest_name, li->name, li->why);
}

/* The error for a live lock `li` that conflicts with ours. */
static int locked_by(struct repo *r, const struct lock_info *li)
{
	if (li->why[0])
		return err_set(ARCA_ERR_LOCKED,
		               "destination %s is locked by %s, which is not a "
		               "valid lock (%s); it counts as held until removed: if no arca is "
		               "working on this repository, arca unlock removes it",
		               r->dest_name, li->name, li->why);
	char when[64];
	format_time_utc(li->time, when, sizeof when);
	return err_set(ARCA_ERR_LOCKED,
	               "destination %s is locked (%s) by %s pid %ld since %s "
	               "(%s); wait for it to finish, or if that process is gone run arca unlock",
	               r->dest_name, li->exclusive ? "exclusive" : "shared", li->host, li->pid,
	               when, li->name);
}

/* ARCA_OK when no live lock other than ours conflicts with `exclusive`.
 * An invalid lock conflicts with everything: it may hide a live holder. */
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
		int g = read_lock(r, &l.v[i], &li);
		if (g == ARCA_ERR_NOT_FOUND)
			continue; /* released meanwhile */
		if (g != ARCA_OK) {
			rc = g;
			break;
		}
		if (li.why[0])
			warn_invalid(r, &li);
		const char *why;
		if (li.why[0] || (!lock_is_stale(r, &li, &why) && (exclusive || li.exclusive)))
			rc = locked_by(r, &li);
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
	json_t *j =
	    json_pack("{s:s,s:I,s:I,s:b,s:s}", "host", r->hostname, "pid", (json_int_t)getpid(),
	              "time", (json_int_t)now_epoch(), "exclusive", exclusive, "repository", r->id);
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

static int lock_once(struct repo *r, int exclusive);

/* Another arca's lock is retried until r->lock_wait runs out, every 5 to
 * 15 s (jittered, so waiting hosts do not retry in step). */
int repo_lock(struct repo *r, int exclusive)
{
	double deadline = now_monotonic() + (double)r->lock_wait;
	int told = 0;
	for (;;) {
		int rc = lock_once(r, exclusive);
		if (rc != ARCA_ERR_LOCKED || now_monotonic() >= deadline)
			return rc;
		if (!told++)
			log_info("%s; waiting up to %llds for it (--lock-wait)", err_msg(),
			         (long long)r->lock_wait);
		unsigned char j = 0;
		(void)random_bytes(&j, 1);
		double left = deadline - now_monotonic();
		double nap = 5.0 + 10.0 * j / 255.0;
		if (nap > left)
			nap = left > 0 ? left : 0;
		struct timespec ts = {(time_t)nap, (long)((nap - (time_t)nap) * 1e9)};
		if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
			return err_set(ARCA_ERR_CANCELLED,
			               "interrupted while waiting for the lock "
			               "of destination %s",
			               r->dest_name);
		err_clear();
	}
}

static int lock_once(struct repo *r, int exclusive)
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

int repo_lock_reading(struct repo *r)
{
	if (r->no_lock) {
		log_warn("destination %s: --no-lock: reading without a lock (a prune running now "
		         "could remove data this command needs)",
		         r->dest_name);
		return ARCA_OK;
	}
	int rc = repo_lock(r, 0);
	/* Read-only, immutable or full media: a lock cannot be written, and a
	 * prune cannot run there either; reading is still safe. */
	if (rc == ARCA_ERR_AUTH || rc == ARCA_ERR_IO || rc == ARCA_ERR_NOSPACE) {
		log_warn("%s; reading without a lock (the repository cannot be written, so no "
		         "prune can run meanwhile; --no-lock skips this attempt)",
		         err_msg());
		err_clear();
		return ARCA_OK;
	}
	return rc;
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
	/* The first failure is what the user reads: a lock that cannot be
	 * removed is added after the error that ended the command. */
	int st = err_status();
	char *first = st ? xstrdup(err_msg()) : NULL;
	if (dest_remove_cleanup(r, ls->name) != ARCA_OK) {
		/* a copy: err_set writes where err_msg points */
		char *why = xstrdup(err_msg());
		if (st)
			err_set(st,
			        "%s; cleaning up, lock %s could not be removed either (%s): arca "
			        "unlock removes it",
			        first, ls->name, why);
		else
			log_warn("could not remove lock %s: %s (arca unlock removes it)", ls->name,
			         why);
		free(why);
	} else if (st) {
		err_set(st, "%s", first);
	}
	free(first);
	pthread_mutex_destroy(&ls->mu);
	pthread_cond_destroy(&ls->cv);
	free(ls);
	r->lock = NULL;
}

void repo_unlock(struct repo *r)
{
	lock_release(r);
}

/* Remove one lock that is stale or invalid; say so through `report`. */
static int unlock_one(struct repo *r, const struct lock_info *li, const char *stale_why,
                      repo_unlock_report_fn report, void *arg)
{
	int rc = dest_remove(r, li->name);
	if (rc != ARCA_OK || !report)
		return rc;
	char *what = li->why[0] ? xasprintf("%s, which is not a valid lock (%s)", li->name, li->why)
	                        : xasprintf("stale lock %s of %s pid %ld (%s)", li->name, li->host,
	                                    li->pid, stale_why);
	report(arg, what);
	free(what);
	return ARCA_OK;
}

int repo_unlock_stale(struct repo *r, repo_unlock_report_fn report, void *arg, int *stale,
                      int *invalid)
{
	*stale = *invalid = 0;
	struct obj_list l;
	int rc = dest_list_all(r, "locks/", &l);
	if (rc != ARCA_OK)
		return rc;
	for (size_t i = 0; i < l.n && rc == ARCA_OK; i++) {
		if (r->lock && !strcmp(l.v[i].name, r->lock->name))
			continue;
		struct lock_info li;
		int g = read_lock(r, &l.v[i], &li);
		if (g == ARCA_ERR_NOT_FOUND)
			continue;
		if (g != ARCA_OK) {
			rc = g;
			break;
		}
		/* No arca writes an invalid lock: whatever wrote it holds nothing
		 * arca could wait for, so unlock removes it (and says so). */
		const char *why = NULL;
		if (li.why[0]) {
			warn_invalid(r, &li);
			if ((rc = unlock_one(r, &li, NULL, report, arg)) == ARCA_OK)
				(*invalid)++;
		} else if (lock_is_stale(r, &li, &why)) {
			if ((rc = unlock_one(r, &li, why, report, arg)) == ARCA_OK)
				(*stale)++;
		}
		lock_info_free(&li);
	}
	obj_list_free(&l);
	unsigned swept;
	if (rc == ARCA_OK)
		rc = repo_sweep(r, &swept);
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
		return err_set(ARCA_ERR_LOCKED,
		               "%s needs the exclusive lock of destination %s "
		               "(engine holds a shared one)",
		               what, r->dest_name);
	return ARCA_OK;
}
