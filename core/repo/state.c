/* state.c — what this host remembers about the repositories it uses, so that
 * storage an attacker can write cannot silently change them under it
 * (FORMAT.md, "Local state"):
 *
 *   state_dir/pins/<enc(destination)>    the repository id, encryption and
 *                                        config hash seen first (trust on
 *                                        first use; written again by init)
 *   state_dir/<repo id>/seen/<enc(target)>  the snapshots this host wrote or
 *                                        listed, until it forgets them
 *   state_dir/<repo id>/key-hint         the key object that opened last
 *                                        (read first: no listing of keys/)
 *
 * Files are read with O_NOFOLLOW, must be regular and small, and are
 * replaced atomically through an O_EXCL temporary file. */
#include "repo/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "repo/snapshot.h"

#define PIN_MAX_BYTES  4096
#define SEEN_MAX_BYTES (16u * 1024 * 1024)
#define SEEN_LINE_LEN  (64 + 1 + 20 + 1)

/* Files below state_dir are reached without following a symlink (util.h:
 * open_dir_nofollow, read_file_at, write_file_at); `depth` is how many of
 * the directory's last components are arca's own. */

/* The names of the regular files in a directory (none when it cannot be read). */
static void list_names(const char *dir, int depth, struct obj_list *out)
{
	memset(out, 0, sizeof *out);
	int dfd = open_dir_nofollow(dir, depth, 0);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type != DT_REG)
			continue;
		out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		out->v[out->n].name = xstrdup(e->d_name);
		out->v[out->n++].size = 0;
	}
	closedir(d);
}

/* Read a small regular file dir/name; 0, or -1 (errno set; ENOENT when absent). */
static int read_small(const char *dir, int depth, const char *name, size_t max, struct buf *out)
{
	int dfd = open_dir_nofollow(dir, depth, 0);
	if (dfd < 0)
		return -1;
	char *data = NULL;
	size_t len = 0;
	int rc = read_file_at(dfd, name, max, &data, &len);
	int saved = errno;
	close(dfd);
	if (rc == 0) {
		out->len = 0;
		buf_append(out, data, len);
	}
	free(data);
	errno = saved;
	return rc;
}

/* Replace dir/name atomically (the directory made 0700 if missing). */
static int write_atomic(const char *dir, int depth, const char *name, const void *data, size_t len)
{
	int dfd = open_dir_nofollow(dir, depth, 1);
	if (dfd < 0)
		return -1;
	int rc = write_file_at(dfd, name, data, len);
	int saved = errno;
	close(dfd);
	errno = saved;
	return rc;
}

/* The pin's directory (state_dir/pins) and file name; *path for messages. */
static char *pin_name(const struct repo *r, const char *state_dir, char **dir, char **path)
{
	char *e = name_encode(r->dest_name);
	*dir = xasprintf("%s/pins", state_dir);
	*path = xasprintf("%s/%s", *dir, e);
	return e;
}

static char *pin_text(const struct repo *r)
{
	char cfg[65];
	id_hex(r->config_sha, cfg);
	return xasprintf("{\"repository\": \"%s\", \"encryption\": \"%s\", "
	                 "\"config_sha256\": \"%s\"}\n",
	                 r->id, r->keys->encrypted ? "aes-256-gcm" : "none", cfg);
}

int pin_check(struct repo *r, const char *state_dir)
{
	char *dir, *path, *name = pin_name(r, state_dir, &dir, &path);
	struct buf b = {0};
	int rc = ARCA_OK;
	if (read_small(dir, 1, name, PIN_MAX_BYTES, &b)) {
		if (errno != ENOENT)
			rc = err_set(ARCA_ERR_CONFIG,
			             "%s: cannot read this host's pin of destination "
			             "%s (%s); remove it if it is not a regular file arca wrote",
			             path, r->dest_name,
			             errno == EINVAL || errno == EFBIG || errno == ELOOP
			                 ? "not a small regular file"
			                 : strerror(errno));
		goto out;
	}
	json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "repository"));
	const char *enc = json_string_value(json_object_get(j, "encryption"));
	const char *cfg = json_string_value(json_object_get(j, "config_sha256"));
	char have[65];
	id_hex(r->config_sha, have);
	const char *now_enc = r->keys->encrypted ? "aes-256-gcm" : "none";
	if (!id || !enc || !cfg) {
		rc = err_set(ARCA_ERR_CONFIG,
		             "%s: this host's pin of destination %s is damaged; "
		             "remove it and run the command again",
		             path, r->dest_name);
	} else if (strcmp(id, r->id)) {
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s now holds repository %.12s, not "
		             "%.12s which this host used until now (pinned in %s): the storage "
		             "was replaced or tampered with. If you re-created the repository on "
		             "purpose, remove %s",
		             r->dest_name, r->id, id, path, path);
	} else if (strcmp(enc, now_enc)) {
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s: the repository's config now says "
		             "encryption %s, but it was %s when this host first used it (pinned "
		             "in %s): config was tampered with; refusing to use it",
		             r->dest_name, now_enc, enc, path);
	} else if (strcmp(cfg, have)) {
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s: the repository's config object "
		             "changed since this host first used it (pinned in %s); a config is "
		             "never rewritten, so it was tampered with",
		             r->dest_name, path);
	}
	json_decref(j);
out:
	buf_free(&b);
	free(name);
	free(path);
	free(dir);
	return rc;
}

void pin_write(struct repo *r, const char *state_dir)
{
	char *dir, *path, *name = pin_name(r, state_dir, &dir, &path);
	char *text = pin_text(r);
	struct buf old = {0};
	/* Unchanged pins are not rewritten: opening stays read-only. */
	if (read_small(dir, 1, name, PIN_MAX_BYTES, &old) || old.len != strlen(text) ||
	    memcmp(old.data, text, old.len))
		if (write_atomic(dir, 1, name, text, strlen(text)))
			log_debug("could not write the pin %s: %s", path, strerror(errno));
	buf_free(&old);
	free(text);
	free(name);
	free(path);
	free(dir);
}

/* ---- the key that opened ---- */

#define KEY_HINT_NAME "key-hint"
#define KEY_HINT_MAX  128

char *key_hint_load(struct repo *r)
{
	if (!r->cache_dir)
		return NULL;
	struct buf b = {0};
	char *name = NULL;
	if (!read_small(r->cache_dir, 1, KEY_HINT_NAME, KEY_HINT_MAX, &b)) {
		buf_append(&b, "", 1);
		char *nl = strchr((char *)b.data, '\n');
		if (nl)
			*nl = 0;
		if (!parse_object_name((char *)b.data, "keys/"))
			name = xstrdup((char *)b.data);
	}
	buf_free(&b);
	return name;
}

void key_hint_save(struct repo *r, const char *name)
{
	if (!r->cache_dir)
		return;
	char *had = key_hint_load(r);
	if (!had || strcmp(had, name)) {
		char *text = xasprintf("%s\n", name);
		if (write_atomic(r->cache_dir, 1, KEY_HINT_NAME, text, strlen(text)))
			log_debug("could not record the key that opened in %s/%s: %s", r->cache_dir,
			          KEY_HINT_NAME, strerror(errno));
		free(text);
	}
	free(had);
}

/* ---- snapshots seen ---- */

static char *seen_dir(const struct repo *r)
{
	return xasprintf("%s/seen", r->cache_dir);
}

/* seen/ is two levels below state_dir: <repository id>/seen. */
#define SEEN_DEPTH 2

/* The seen file of one target: lines "<64 hex id> <time>\n", sorted. */
struct seen {
	char (*id)[65];
	int64_t *time;
	size_t n;
};

static void seen_free(struct seen *s)
{
	free(s->id);
	free(s->time);
	memset(s, 0, sizeof *s);
}

static void seen_load(const struct repo *r, const char *target, struct seen *s)
{
	memset(s, 0, sizeof *s);
	char *dir = seen_dir(r), *name = name_encode(target);
	struct buf b = {0};
	int bad = read_small(dir, SEEN_DEPTH, name, SEEN_MAX_BYTES, &b);
	free(dir);
	free(name);
	if (bad) {
		buf_free(&b);
		return;
	}
	size_t cap = b.len / 66 + 1;
	s->id = xcalloc(cap, sizeof *s->id);
	s->time = xcalloc(cap, sizeof *s->time);
	buf_append(&b, "", 1);
	char *save = NULL;
	for (char *line = strtok_r((char *)b.data, "\n", &save); line && s->n < cap;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned char raw[ID_LEN];
		char hex[65];
		long long t = 0;
		if (sscanf(line, "%64s %lld", hex, &t) < 1 || id_parse(hex, raw))
			continue;
		memcpy(s->id[s->n], hex, 65);
		s->time[s->n++] = t;
	}
	buf_free(&b);
}

static void seen_save(const struct repo *r, const char *target, const struct seen *s)
{
	struct buf b = {0};
	for (size_t i = 0; i < s->n; i++) {
		char line[SEEN_LINE_LEN + 8];
		int k = snprintf(line, sizeof line, "%s %lld\n", s->id[i], (long long)s->time[i]);
		buf_append(&b, line, (size_t)k);
	}
	char *dir = seen_dir(r), *name = name_encode(target);
	if (b.len <= SEEN_MAX_BYTES &&
	    write_atomic(dir, SEEN_DEPTH, name, b.data ? b.data : (void *)"", b.len))
		log_debug("could not record seen snapshots in %s/%s: %s", dir, name,
		          strerror(errno));
	free(dir);
	free(name);
	buf_free(&b);
}

static int seen_has(const struct seen *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->id[i], id))
			return 1;
	return 0;
}

/* Targets are recorded one file each; snapshots come sorted by time, so
 * consecutive runs of one target are grouped. */
void seen_record(struct repo *r, const struct repo_snapshot *list, size_t n)
{
	if (!r->cache_dir)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *target = list[i].target;
		if (!target || strcmp(list[i].host, r->hostname))
			continue;
		size_t j;
		for (j = 0; j < i; j++)
			if (list[j].target && !strcmp(list[j].target, target))
				break;
		if (j < i)
			continue; /* this target was handled at its first snapshot */
		struct seen s;
		seen_load(r, target, &s);
		size_t added = 0, cap = s.n;
		for (size_t k = i; k < n; k++)
			if (list[k].target && !strcmp(list[k].target, target) &&
			    !strcmp(list[k].host, r->hostname) && !seen_has(&s, list[k].id)) {
				if (s.n == cap) {
					cap = cap * 2 + 8;
					s.id = xrealloc(s.id, cap * sizeof *s.id);
					s.time = xrealloc(s.time, cap * sizeof *s.time);
				}
				memcpy(s.id[s.n], list[k].id, 65);
				s.time[s.n++] = list[k].time;
				added++;
			}
		if (added)
			seen_save(r, target, &s);
		seen_free(&s);
	}
}

void seen_forget(struct repo *r, const char *id)
{
	if (!r->cache_dir)
		return;
	char *dir = seen_dir(r);
	struct obj_list files;
	list_names(dir, SEEN_DEPTH, &files);
	for (size_t f = 0; f < files.n; f++) {
		char *t = name_decode(files.v[f].name);
		if (!t)
			continue;
		struct seen s;
		seen_load(r, t, &s);
		size_t k = 0;
		for (size_t i = 0; i < s.n; i++)
			if (strcmp(s.id[i], id)) {
				memmove(s.id[k], s.id[i], 65);
				s.time[k++] = s.time[i];
			}
		if (k != s.n) {
			s.n = k;
			seen_save(r, t, &s);
		}
		seen_free(&s);
		free(t);
	}
	obj_list_free(&files);
	free(dir);
}

int seen_contains(struct repo *r, const char *id)
{
	if (!r->cache_dir)
		return 0;
	char *dir = seen_dir(r);
	struct obj_list files;
	list_names(dir, SEEN_DEPTH, &files);
	int found = 0;
	for (size_t f = 0; f < files.n && !found; f++) {
		char *t = name_decode(files.v[f].name);
		if (!t)
			continue;
		struct seen s;
		seen_load(r, t, &s);
		found = seen_has(&s, id);
		seen_free(&s);
		free(t);
	}
	obj_list_free(&files);
	free(dir);
	return found;
}

static int listed(const struct obj_list *l, const char *id)
{
	char name[128];
	snprintf(name, sizeof name, "snapshots/%s", id);
	return obj_list_has(l, name);
}

int repo_missing_snapshots(struct repo *r, const char *target, repo_report_fn report, void *arg,
                           size_t *missing)
{
	*missing = 0;
	if (!r->cache_dir)
		return ARCA_OK;
	struct obj_list snaps;
	int rc = dest_list_all(r, "snapshots/", &snaps);
	if (rc != ARCA_OK)
		return rc;
	char *dir = seen_dir(r);
	struct obj_list files = {0};
	if (target) {
		files.v = xcalloc(1, sizeof *files.v);
		files.v[0].name = name_encode(target);
		files.n = 1;
	} else {
		list_names(dir, SEEN_DEPTH, &files);
	}
	for (size_t f = 0; f < files.n; f++) {
		char *t = name_decode(files.v[f].name);
		if (!t || files.v[f].name[0] == '.') {
			free(t);
			continue;
		}
		struct seen s;
		seen_load(r, t, &s);
		for (size_t i = 0; i < s.n; i++) {
			if (listed(&snaps, s.id[i]))
				continue;
			char when[64] = "?", msg[1024];
			format_time_utc(s.time[i], when, sizeof when);
			snprintf(msg, sizeof msg,
			         "snapshot %.12s of target %s (%s) disappeared from "
			         "destination %s without arca forget: deleted or rolled back by "
			         "someone who can write the storage (if another host forgot it on "
			         "purpose, remove its line from %s/%s)",
			         s.id[i], t, when, r->dest_name, dir, files.v[f].name);
			(*missing)++;
			if (report)
				report(arg, msg);
		}
		seen_free(&s);
		free(t);
	}
	obj_list_free(&files);
	obj_list_free(&snaps);
	free(dir);
	return ARCA_OK;
}
