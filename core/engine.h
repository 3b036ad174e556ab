/* engine.h — one run of arca: the config, the loaded drivers, and the
 * opened destinations (with their repositories) and targets. */
#ifndef ARCA_ENGINE_H
#define ARCA_ENGINE_H

#include <stddef.h>
#include "config.h"
#include "loader.h"
#include "repo.h"

struct engine_dest {
	struct arca_config *cfg;
	const struct arca_driver *drv;
	void *inst;           /* driver instance, NULL until opened */
	struct repo *repo;    /* NULL until opened */
	char *env_passphrase; /* taken from the environment at load (wiped) */
};

struct engine_target {
	struct arca_config *cfg;
	const struct arca_driver *drv;
	void *inst;                 /* driver instance, NULL until opened */
	struct engine_dest **dests; /* the target's `destinations`, in order */
	size_t n_dests;
};

struct engine {
	const char *config_path;
	struct cfg_file *cf;
	struct loader ld;
	struct arca_config *engine_sec; /* may be NULL: all defaults */
	struct engine_dest *dests;
	size_t n_dests;
	struct engine_target *targets;
	size_t n_targets;
	const char *state_dir; /* NULL: none could be created (no cache) */
	const char *plugin_dir;
	char hostname[256];
	int workers;
	char **env_names;  /* host->config_env_names, made at the first call */
	int no_lock;       /* --no-lock (set before engine_load) */
	int64_t lock_wait; /* --lock-wait seconds, -1 for the default */
};

/* $(sysconfdir) as configured (core/Makefile.am passes it). */
#ifndef ARCA_SYSCONFDIR
#define ARCA_SYSCONFDIR "/etc"
#endif
#define ARCA_DEFAULT_CONFIG ARCA_SYSCONFDIR "/arca/arca.ini"

/* Where the config comes from: -c, else $ARCA_CONFIG, else the default. */
const char *engine_config_path(const char *cli_path);

/* Read and validate the whole config and load the drivers it needs.
 * The drivers get host as their services table (host_table()).
 * Prints every config problem as FILE:LINE and returns ARCA_ERR_CONFIG
 * without touching anything when there is one. Then takes every
 * destination passphrase that comes from the environment (passphrase_env,
 * or ARCA_PASSPHRASE) and removes those variables, so no child sees them. */
int engine_load(struct engine *e, const char *config_path, const struct arca_host *host);
void engine_close(struct engine *e);

struct engine_target *engine_find_target(struct engine *e, const char *name);
struct engine_dest *engine_find_dest(struct engine *e, const char *name);

/* Open a destination's driver instance, then (engine_open_repo) its
 * repository with the destination's passphrase. */
int engine_open_dest(struct engine *e, struct engine_dest *d);
int engine_open_repo(struct engine *e, struct engine_dest *d);
int engine_open_target(struct engine *e, struct engine_target *t);
/* The repo_params for a destination (passphrase is read into *secret,
 * which the caller wipes and frees). */
int engine_repo_params(struct engine *e, struct engine_dest *d, struct repo_params *p,
                       char **secret);

/* A name on the command line that is no [KIND NAME] of the config: records
 * a usage error (2) with "did you mean", else the names there are. */
int engine_unknown_name(struct engine *e, const char *kind, const char *name,
                        const char *const *names, size_t n);

/* Select targets by name (argv) or all; unknown names are a usage error
 * with a suggestion. *out is malloc'd. */
int engine_select_targets(struct engine *e, int argc, char **argv, struct engine_target ***out,
                          size_t *n);

#endif
