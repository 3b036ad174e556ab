/* engine.c — loading the config and drivers, opening destinations,
 * repositories and targets. */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "engine.h"
#include "log.h"
#include "util.h"

const char *engine_config_path(const char *cli_path)
{
	if (cli_path)
		return cli_path;
	const char *env = getenv("ARCA_CONFIG");
	if (env && *env)
		return env;
	return ARCA_DEFAULT_CONFIG;
}

static const struct arca_driver *lookup_driver(const char *name, void *arg)
{
	return loader_find(arg, name);
}

static int print_config_errors(struct cfg_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "%s\n", errs->msgs[i]);
	if (errs->n)
		fprintf(stderr, "arca: %zu problem%s in the configuration; nothing was done\n",
		        errs->n, errs->n == 1 ? "" : "s");
	return errs->n ? ARCA_ERR_CONFIG : ARCA_OK;
}

/* The module of a driver the config names but the loader refused, by the
 * file name a driver's module has: NAME.so. */
static const struct refused_module *refused_module_of(const struct loader *ld, const char *name)
{
	for (size_t i = 0; i < ld->n_refused; i++) {
		const char *base = strrchr(ld->refused[i].path, '/');
		base = base ? base + 1 : ld->refused[i].path;
		size_t n = strlen(name);
		if (n && !strncmp(base, name, n) && !strcmp(base + n, ".so"))
			return &ld->refused[i];
	}
	return NULL;
}

/* A section naming a driver whose module the loader refused was reported
 * as an unknown driver: say instead which module was refused and why, at
 * the line of `driver =`. Returns how many sections did. */
static size_t explain_refused_drivers(struct engine *e, struct cfg_errors *errs)
{
	size_t found = 0;
	for (size_t i = 0; i < e->cf->n_sections; i++) {
		struct arca_config *s = &e->cf->sections[i];
		const struct cfg_entry *d = cfg_entry(s, "driver");
		if (s->driver || !d || (s->kind != CFG_TARGET && s->kind != CFG_DESTINATION))
			continue;
		const struct refused_module *m = refused_module_of(&e->ld, d->value);
		if (!m)
			continue;
		for (size_t j = 0; j < errs->n; j++) {
			if (errs->lines[j] != d->line || !strstr(errs->msgs[j], "unknown driver"))
				continue;
			free(errs->msgs[j]);
			errs->msgs[j] =
			    xasprintf("%s:%d: [%s %s] names driver '%s', whose module %s "
			              "the loader refused: %s",
			              e->cf->path, d->line, cfg_kind_name(s->kind), s->name,
			              d->value, m->path, m->reason);
			found++;
			break;
		}
	}
	return found;
}

static void set_log_level(const char *level)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	for (size_t i = 0; level && i < ARRAY_LEN(names); i++)
		if (!strcmp(level, names[i]) && log_level == ARCA_LOG_INFO && !log_verbose)
			log_level = (int)i; /* the CLI's -v/-q win over the file */
}

static void bind_sections(struct engine *e)
{
	struct cfg_file *cf = e->cf;
	for (size_t i = 0; i < cf->n_sections; i++) {
		struct arca_config *s = &cf->sections[i];
		if (s->kind == CFG_ENGINE)
			e->engine_sec = s;
		else if (s->kind == CFG_DESTINATION)
			e->n_dests++;
		else if (s->kind == CFG_TARGET)
			e->n_targets++;
	}
	e->dests = xcalloc(e->n_dests, sizeof *e->dests);
	e->targets = xcalloc(e->n_targets, sizeof *e->targets);
	size_t nd = 0, nt = 0;
	for (size_t i = 0; i < cf->n_sections; i++) {
		struct arca_config *s = &cf->sections[i];
		if (s->kind == CFG_DESTINATION) {
			e->dests[nd].cfg = s;
			e->dests[nd++].drv = s->driver;
		} else if (s->kind == CFG_TARGET) {
			e->targets[nt].cfg = s;
			e->targets[nt++].drv = s->driver;
		}
	}
	/* resolve each target's destinations (validated to exist) */
	for (size_t i = 0; i < e->n_targets; i++) {
		struct engine_target *t = &e->targets[i];
		char *list = xstrdup(cfg_get(t->cfg, "destinations"));
		t->dests = xcalloc(e->n_dests + 1, sizeof *t->dests);
		for (char *save, *tok = strtok_r(list, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			struct engine_dest *d = engine_find_dest(e, str_trim(tok));
			if (d)
				t->dests[t->n_dests++] = d;
		}
		free(list);
	}
}

/* The line a driver's complaint about its section belongs to: that of the
 * first of the section's keys the message names (after a "[target NAME]"
 * prefix), else the section header's. */
static int line_of_message(const struct arca_config *s, const char *msg)
{
	if (msg[0] == '[' && strchr(msg, ']'))
		msg = strchr(msg, ']') + 1;
	const char *best = NULL;
	int line = s->line;
	for (size_t i = 0; i < s->n_entries; i++) {
		const char *key = s->entries[i].key;
		size_t n = strlen(key);
		for (const char *p = strstr(msg, key); p; p = strstr(p + 1, key)) {
			int word = (p == msg || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
			           !(isalnum((unsigned char)p[n]) || p[n] == '_');
			if (!word)
				continue;
			if (!best || p < best) {
				best = p;
				line = s->entries[i].line;
			}
			break;
		}
	}
	return line;
}

/* Every target's driver opens its instance while the config is validated:
 * open must not connect (arca/plugin.h), and a value it rejects
 * (ARCA_ERR_CONFIG) is reported as FILE:LINE like any other config error,
 * before anything runs. Other failures are left for engine_open_target to
 * report when the target is used. */
static int open_targets(struct engine *e)
{
	struct cfg_errors errs = {0};
	for (size_t i = 0; i < e->n_targets; i++) {
		struct engine_target *t = &e->targets[i];
		err_clear();
		int rc = t->drv->target->open(t->cfg, &t->inst);
		if (rc == ARCA_OK)
			continue;
		t->inst = NULL;
		if (rc != ARCA_ERR_CONFIG)
			continue;
		const char *msg = err_msg()[0] ? err_msg() : "the driver rejects this section";
		if (msg[0] == '[')
			cfg_errors_add(&errs, t->cfg->file, line_of_message(t->cfg, msg), "%s",
			               msg);
		else
			cfg_errors_add(&errs, t->cfg->file, line_of_message(t->cfg, msg),
			               "[target %s] (driver %s): %s", t->cfg->name, t->drv->name,
			               msg);
	}
	err_clear();
	int rc = print_config_errors(&errs);
	cfg_errors_free(&errs);
	return rc;
}

/* Who should own state_dir: the user arca runs as, by name if it has one. */
static void effective_user(char *out, size_t n)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res)
		snprintf(out, n, "%s", res->pw_name);
	else
		snprintf(out, n, "%u", (unsigned)geteuid());
}

/* state_dir holds what arca trusts from one run to the next (the cached
 * snapshot summaries are used as they are) and drivers' scratch files, so
 * it lives by plugin_dir's rule: only root or the user arca runs as may
 * change it or a directory above it. Created 0700 when missing; when it
 * cannot be created, arca runs without it (the cache is only a cache). */
static int check_state_dir(struct engine *e)
{
	struct stat st;
	if (stat(e->state_dir, &st) < 0 && errno == ENOENT && mkdir_p(e->state_dir, 0700) < 0) {
		log_warn("cannot create state_dir %s: %s; running without the local cache",
		         e->state_dir, strerror(errno));
		e->state_dir = NULL;
		return ARCA_OK;
	}
	char me[256];
	effective_user(me, sizeof me);
	char *reason = loader_unsafe_dir(e->state_dir,
	                                 "plant or change the cache and "
	                                 "scratch files arca trusts",
	                                 me);
	if (!reason)
		return ARCA_OK;
	int root = geteuid() == 0;
	err_set(ARCA_ERR_CONFIG,
	        "state_dir %s refused: %s (or set state_dir in [engine] of %s "
	        "to a directory only root%s%s can write)",
	        e->state_dir, reason, e->config_path, root ? "" : " or ", root ? "" : me);
	free(reason);
	return err_print(ARCA_ERR_CONFIG);
}

/* Children (pg_dump, hooks, a started server) must not inherit the
 * repository passphrase: keep a copy for each destination, then remove the
 * variables. All are read before any is removed, since several
 * destinations may name the same one. */
static void take_env_passphrases(struct engine *e)
{
	for (size_t i = 0; i < e->n_dests; i++) {
		const char *var = cfg_passphrase_var(e->dests[i].cfg, NULL);
		const char *v = var ? getenv(var) : NULL;
		if (v && *v)
			e->dests[i].env_passphrase = xstrdup(v);
	}
	for (size_t i = 0; i < e->n_dests; i++) {
		const char *var = cfg_passphrase_var(e->dests[i].cfg, NULL);
		if (e->dests[i].env_passphrase && getenv(var))
			unsetenv(var);
	}
}

/* The modules of the drivers the config names (`driver =` of every target
 * and destination), and no others. When one is not found by its name,
 * every module is loaded: another file may hold it, and if none does the
 * validator names the installed drivers. */
static int load_drivers(struct engine *e, const struct arca_host *host)
{
	int rc = loader_open_dir(&e->ld, e->plugin_dir);
	int missing = 0;
	for (size_t i = 0; rc == ARCA_OK && i < e->cf->n_sections; i++) {
		const struct arca_config *s = &e->cf->sections[i];
		const struct cfg_entry *d = cfg_entry(s, "driver");
		if (d && (s->kind == CFG_TARGET || s->kind == CFG_DESTINATION))
			missing |= !loader_need(&e->ld, d->value, host);
	}
	return rc == ARCA_OK && missing ? loader_load_all(&e->ld, host) : rc;
}

static int load(struct engine *e, const char *config_path, const struct arca_host *host)
{
	struct cfg_errors errs = {0};
	e->config_path = config_path;
	if (cfg_load(config_path, &e->cf, &errs) < 0 || errs.n) {
		int rc = print_config_errors(&errs);
		cfg_errors_free(&errs);
		return rc ? rc : ARCA_ERR_CONFIG;
	}
	/* [engine] first: it says where the drivers are */
	struct arca_config *esec = cfg_section(e->cf, CFG_ENGINE, NULL);
	e->plugin_dir = esec ? cfg_get(esec, "plugin_dir") : NULL;
	if (!e->plugin_dir)
		e->plugin_dir = ARCA_PLUGIN_DIR;
	e->state_dir = esec ? cfg_get(esec, "state_dir") : NULL;
	if (!e->state_dir)
		e->state_dir = ARCA_DEFAULT_STATE_DIR;
	if (esec)
		set_log_level(cfg_get(esec, "log_level"));
	e->workers = esec ? (int)cfg_get_int(esec, "workers", 0) : 0;
	const char *hn = esec ? cfg_get(esec, "hostname") : NULL;
	if (hn)
		snprintf(e->hostname, sizeof e->hostname, "%s", hn);
	else if (gethostname(e->hostname, sizeof e->hostname) < 0)
		snprintf(e->hostname, sizeof e->hostname, "localhost");

	int rc = load_drivers(e, host);
	if (rc != ARCA_OK) {
		cfg_errors_free(&errs);
		return err_print(rc);
	}
	const char **names = xcalloc(e->ld.n_drivers + 1, sizeof *names);
	for (size_t i = 0; i < e->ld.n_drivers; i++)
		names[i] = e->ld.drivers[i].drv->name;
	cfg_validate(e->cf, lookup_driver, &e->ld, names, e->ld.n_drivers, &errs);
	free(names);
	/* a refused module is exit 14 even when the config then names it */
	size_t refused = explain_refused_drivers(e, &errs);
	rc = print_config_errors(&errs);
	cfg_errors_free(&errs);
	if (rc == ARCA_OK)
		rc = check_state_dir(e);
	if (rc != ARCA_OK)
		return refused ? ARCA_ERR_PLUGIN : rc;
	bind_sections(e);
	take_env_passphrases(e);
	return open_targets(e);
}

int engine_load(struct engine *e, const char *config_path, const struct arca_host *host)
{
	int rc = load(e, config_path, host);
	if (rc != ARCA_OK) {
		/* keep the message: engine_close must not clobber it */
		engine_close(e);
		e->config_path = config_path;
	}
	return rc;
}

struct engine_target *engine_find_target(struct engine *e, const char *name)
{
	for (size_t i = 0; i < e->n_targets; i++)
		if (!strcmp(e->targets[i].cfg->name, name))
			return &e->targets[i];
	return NULL;
}

struct engine_dest *engine_find_dest(struct engine *e, const char *name)
{
	for (size_t i = 0; i < e->n_dests; i++)
		if (!strcmp(e->dests[i].cfg->name, name))
			return &e->dests[i];
	return NULL;
}

int engine_open_dest(struct engine *e, struct engine_dest *d)
{
	(void)e;
	if (d->inst)
		return ARCA_OK;
	log_set_scope(NULL);
	err_clear();
	int rc = d->drv->dest->open(d->cfg, &d->inst);
	if (rc != ARCA_OK)
		return err_wrap(rc, "destination %s (driver %s)", d->cfg->name, d->drv->name);
	return ARCA_OK;
}

int engine_repo_params(struct engine *e, struct engine_dest *d, struct repo_params *p,
                       char **secret)
{
	memset(p, 0, sizeof *p);
	*secret = NULL;
	const char *enc = cfg_get(d->cfg, "encryption");
	p->encrypt = !(enc && !strcmp(enc, "none"));
	p->zstd_level = (int)cfg_get_int(d->cfg, "compression", REPO_ZSTD_LEVEL_DEFAULT);
	p->pack_size = (uint64_t)cfg_get_int(d->cfg, "pack_size", 0);
	p->state_dir = e->state_dir;
	p->workers = e->workers;
	p->hostname = e->hostname;
	p->no_lock = e->no_lock;
	/* No waiting unless asked: the shipped systemd units ask for 10m, so a
	 * scheduled snapshot outlasts a running prune instead of failing. */
	p->lock_wait = e->lock_wait >= 0 ? e->lock_wait : 0;
	/* from the environment (cfg_passphrase_var): taken at load, gone from environ */
	int rc = ARCA_OK;
	if (d->env_passphrase)
		*secret = xstrdup(d->env_passphrase);
	else
		rc = cfg_secret(d->cfg, "passphrase", secret);
	if (rc == ARCA_ERR_NOT_FOUND) {
		if (p->encrypt)
			return err_set(
			    ARCA_ERR_CONFIG,
			    "%s:%d: destination %s is encrypted but has no passphrase: set "
			    "passphrase_file = /path (mode 0600) or " CFG_PASSPHRASE_FALLBACK_ENV
			    ", or "
			    "encryption = none to opt out",
			    d->cfg->file, d->cfg->line, d->cfg->name);
		rc = ARCA_OK;
	}
	if (rc != ARCA_OK)
		return rc;
	p->passphrase = *secret;
	return ARCA_OK;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int engine_open_repo(struct engine *e, struct engine_dest *d)
{
	if (d->repo)
		return ARCA_OK;
	int rc = engine_open_dest(e, d);
	if (rc != ARCA_OK)
		return rc;
	struct repo_params p;
	char *secret;
	rc = engine_repo_params(e, d, &p, &secret);
	if (rc == ARCA_OK) {
		struct repo_dest rd = {d->cfg->name, d->drv->dest, d->inst};
		rc = repo_open(&rd, &p, &d->repo);
		if (rc != ARCA_OK)
			err_wrap(rc, "repository in destination %s", d->cfg->name);
	}
	free_secret(secret);
	return rc;
}

int engine_open_target(struct engine *e, struct engine_target *t)
{
	(void)e;
	if (t->inst)
		return ARCA_OK;
	err_clear();
	int rc = t->drv->target->open(t->cfg, &t->inst);
	if (rc != ARCA_OK)
		return err_wrap(rc, "target %s (driver %s)", t->cfg->name, t->drv->name);
	return ARCA_OK;
}

int engine_unknown_name(struct engine *e, const char *kind, const char *name,
                        const char *const *names, size_t n)
{
	const char *hint = did_you_mean(name, names, n);
	if (hint)
		return err_set(2, "no %s '%s' in %s (did you mean '%s'?)", kind, name,
		               e->config_path, hint);
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 2;
	char *list = xcalloc(len, 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(list, ", ");
		strcat(list, names[i]);
	}
	if (n)
		err_set(2, "no %s '%s' in %s (its %ss: %s)", kind, name, e->config_path, kind,
		        list);
	else
		err_set(2, "no %s '%s' in %s (it has no [%s NAME] section)", kind, name,
		        e->config_path, kind);
	free(list);
	return 2;
}

int engine_select_targets(struct engine *e, int argc, char **argv, struct engine_target ***out,
                          size_t *n)
{
	*out = xcalloc(e->n_targets + (size_t)argc + 1, sizeof **out);
	*n = 0;
	if (argc == 0) {
		for (size_t i = 0; i < e->n_targets; i++)
			(*out)[(*n)++] = &e->targets[i];
		if (!*n)
			return err_set(ARCA_ERR_CONFIG,
			               "%s has no [target NAME] section: nothing to do",
			               e->config_path);
		return ARCA_OK;
	}
	for (int i = 0; i < argc; i++) {
		struct engine_target *t = engine_find_target(e, argv[i]);
		if (!t) {
			const char **names = xcalloc(e->n_targets + 1, sizeof *names);
			for (size_t j = 0; j < e->n_targets; j++)
				names[j] = e->targets[j].cfg->name;
			engine_unknown_name(e, "target", argv[i], names, e->n_targets);
			free(names);
			free(*out);
			*out = NULL;
			return 2;
		}
		(*out)[(*n)++] = t;
	}
	return ARCA_OK;
}

void engine_close(struct engine *e)
{
	for (size_t i = 0; i < e->n_targets; i++) {
		if (e->targets[i].inst)
			e->targets[i].drv->target->close(e->targets[i].inst);
		free(e->targets[i].dests);
	}
	for (size_t i = 0; i < e->n_dests; i++) {
		free_secret(e->dests[i].env_passphrase);
		if (e->dests[i].repo)
			repo_close(e->dests[i].repo);
		if (e->dests[i].inst)
			e->dests[i].drv->dest->close(e->dests[i].inst);
	}
	free(e->targets);
	free(e->dests);
	loader_close(&e->ld);
	if (e->cf)
		cfg_free(e->cf);
	for (char **n = e->env_names; n && *n; n++)
		free(*n);
	free(e->env_names);
	memset(e, 0, sizeof *e);
}
