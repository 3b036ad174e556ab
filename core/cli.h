/* cli.h — the `arca` command's verbs. Each cmd_* parses its own options
 * (getopt_long, argv[0] is the verb) and returns an exit code: 0, 2 for
 * usage errors, or an enum arca_status. */
#ifndef ARCA_CLI_H
#define ARCA_CLI_H

#include <getopt.h>
#include <stdio.h>
#include "engine.h"

struct cli {
	const char *config_arg;       /* -c FILE, or NULL */
	int json;                     /* --json */
	int verbose;                  /* how many -v */
	int no_lock;                  /* --no-lock: read without taking a lock */
	int64_t lock_wait;            /* --lock-wait seconds; -1: the default */
	const struct arca_host *host; /* what drivers get: host_table() */
};

/* The global options, accepted before and after the verb: -c FILE, -v,
 * -q (short and long) and these long-only ones. */
enum { CLI_OPT_JSON = 0x100, CLI_OPT_NO_PROGRESS, CLI_OPT_NO_LOCK, CLI_OPT_LOCK_WAIT };
#define CLI_GLOBAL_SHORTOPTS "c:vq"
extern const struct option cli_global_options[];
/* Their help, as printed by `arca --help` and every `arca VERB --help`. */
extern const char cli_global_help[];
/* Apply global option c (a getopt result, arg its optarg): 1 if it was one. */
int cli_global_option(struct cli *cli, int c, const char *arg);
/* getopt_long over the verb's own options plus the global ones: those are
 * applied to cli (and the log level) and never returned. A verb's short
 * options must not use c, v or q. */
int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *longindex);

struct verb {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	int needs_config;
	const char *usage;   /* "arca restore TARGET [options]" */
	const char *summary; /* one line for `arca --help` */
	const char *help;    /* the rest of `arca VERB --help` */
};

extern const struct verb cli_verbs[];

/* The plugin_dir the config names (cf: the loaded file, free it with
 * cfg_free), else the built-in one; nothing is validated or printed. */
const char *plugin_dir_from_config(struct cli *cli, struct cfg_file **cf);
/* Verbs that drivers declare (ABI 1.1), from the modules in plugin_dir:
 * list them under `arca --help`, or print one's `arca VERB --help`
 * (0 when a driver declares it). Quiet: no module's refusal is shown. */
void driver_verbs_list(struct cli *cli, FILE *f);
int driver_verb_help(struct cli *cli, const char *verb, FILE *f);
/* A driver's declared verb, or NULL (a 1.0 driver declares none). */
const struct arca_verb *driver_verb(const struct arca_driver *drv, const char *name);

/* Print `arca VERB --help` to f, with the options drivers declare for it. */
void cli_verb_help(struct cli *cli, const struct verb *v, FILE *f);
/* For a verb without options of its own: apply the global ones (the
 * arguments are then argv + optind); a usage error (2) for any other. */
int cli_no_options(struct cli *cli, const char *verb, int argc, char **argv);
/* A usage error: message, hint to --help; returns 2. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Load config + drivers; prints problems; returns exit code. */
int cli_load(struct cli *cli, struct engine *e);
/* cli_load, then the targets named in argv (all when argc == 0). On
 * failure the problem is printed, e is closed and the exit code returned. */
int cli_load_targets(struct cli *cli, struct engine *e, int argc, char **argv,
                     struct engine_target ***targets, size_t *n);
/* cli_load, then the destinations named in argv (all when argc == 0), as
 * cli_load_targets does for targets. */
int cli_load_dests(struct cli *cli, struct engine *e, const char *verb, int argc, char **argv,
                   struct engine_dest ***dests, size_t *n);
/* A verb that works on targets, after cli_targets_open: the engine loaded,
 * the targets named (all when none), and the options given by long name
 * ({NULL}-terminated, a flag's value "yes"), the verb's own and those the
 * drivers declare for its operation, as host->option hands them over. */
struct cli_targets {
	struct engine e;
	struct engine_target **t;
	size_t n;
	struct ctx_option *opts;
	struct option *names; /* what opts' names point into */
};
/* Parse argv (argv[0] the verb): the global options, the verb's own (`own`,
 * getopt style, {NULL}-terminated or NULL) and those that the target
 * drivers declare for operation `op` ("snapshot", "restore", "verify",
 * "check", "health"; NULL: none). Then load the config and pick the targets
 * (exactly one when `one`), and refuse a driver's option that a target
 * picked does not take, or options that exclude each other (2, naming the
 * targets that take it). Returns the exit code; on failure everything is
 * closed and the problem printed. */
int cli_targets_open(struct cli *cli, const char *verb, const char *op, const struct option *own,
                     int one, int argc, char **argv, struct cli_targets *ct);
/* The value of option `name` given, or NULL. */
const char *cli_option(const struct cli_targets *ct, const char *name);
void cli_targets_close(struct cli_targets *ct);
/* The options drivers declare for operation op, per driver, for `arca
 * VERB --help` (nothing when none does). */
void driver_options_help(struct cli *cli, const char *op, FILE *f);

/* A verb that works on destinations one at a time (init, prune, unlock,
 * repair): cli_load_dests, then each() for every destination in turn, then
 * the engine is closed. Each call prints what it has to say, errors too, and
 * returns its status; the result is the last failing one, or ARCA_OK (or
 * the failure of cli_load_dests, before any each()). */
int cli_each_dest(struct cli *cli, const char *verb, int argc, char **argv,
                  int (*each)(struct cli *cli, struct engine *e, struct engine_dest *d, void *arg),
                  void *arg);
/* Whether any of the targets writes to destination d. */
int targets_use_dest(struct engine_target **targets, size_t n, const struct engine_dest *d);
/* Print a JSON value (jansson json_t *) to stdout and free it. */
void cli_print_json(void *json);

int cmd_snapshot(struct cli *cli, int argc, char **argv);
int cmd_restore(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_list_items(struct cli *cli, int argc, char **argv);
int cmd_verify(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_plugins(struct cli *cli, int argc, char **argv);
int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_forget(struct cli *cli, int argc, char **argv);
int cmd_prune(struct cli *cli, int argc, char **argv);
int cmd_unlock(struct cli *cli, int argc, char **argv);
int cmd_key(struct cli *cli, int argc, char **argv);
int cmd_repair(struct cli *cli, int argc, char **argv);
int cmd_health(struct cli *cli, int argc, char **argv);
int cmd_recover(struct cli *cli, int argc, char **argv);
int cmd_driver_verb(struct cli *cli, int argc, char **argv);

#endif
