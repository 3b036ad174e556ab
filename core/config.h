/* config.h — the host's INI file (inih): parsing and validation.
 *
 * Sections: [engine], [destination NAME], [target NAME], [recovery].
 * Keys of [engine], [recovery] and the engine-owned keys of targets and
 * destinations (driver, destinations, retention, passphrase, ...) are
 * declared in config.c with the same struct arca_option drivers use for
 * theirs, so one validator checks everything and reports every problem
 * as "FILE:LINE: message" before any work starts.
 *
 * The one public header of three files: config_read.c (cfg_load: inih,
 * sections, entries and their lines), config_check.c (cfg_validate and
 * the error collector) and config.c (the option tables, lookups, secrets).
 * What only they share is in config_internal.h. */
#ifndef ARCA_CONFIG_H
#define ARCA_CONFIG_H

#include <stddef.h>
#include "arca/plugin.h"

/* The default state_dir: $(localstatedir)/lib/arca as configured
 * (core/Makefile.am passes $(localstatedir)), so /var/lib/arca for a
 * --prefix=/usr --localstatedir=/var build. */
#ifndef ARCA_LOCALSTATEDIR
#define ARCA_LOCALSTATEDIR "/var"
#endif
#define ARCA_DEFAULT_STATE_DIR ARCA_LOCALSTATEDIR "/lib/arca"

enum cfg_kind { CFG_ENGINE, CFG_DESTINATION, CFG_TARGET, CFG_RECOVERY };

struct cfg_entry {
	char *key;
	char *value;
	int line;
};

/* One section. This is also the struct arca_config a driver instance gets. */
struct arca_config {
	enum cfg_kind kind;
	char *name;       /* "app-db"; NULL for [engine]/[recovery] */
	int line;         /* line of the section header */
	const char *file; /* path of the INI file */
	struct cfg_entry *entries;
	size_t n_entries;
	const struct arca_driver *driver;         /* set by cfg_validate */
	const struct arca_option *driver_options; /* target or dest table */
};

struct cfg_file {
	char *path;
	struct arca_config *sections;
	size_t n_sections;
};

/* Looks up a loaded driver by name (the loader provides it). */
typedef const struct arca_driver *(*cfg_driver_lookup)(const char *name, void *arg);

/* Error collector: every problem found, in file order. */
struct cfg_errors {
	char **msgs; /* "FILE:LINE: message" */
	size_t n;
	int *lines; /* line of each message (0: the whole file) */
};
void cfg_errors_add(struct cfg_errors *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cfg_errors_free(struct cfg_errors *e);

/* Parse; syntax errors go to errs. Returns 0 if the file was read (even
 * with errors recorded), -1 if it could not be opened (errs says why). */
int cfg_load(const char *path, struct cfg_file **out, struct cfg_errors *errs);
/* Parse from memory (tests); `name` is used in messages. */
int cfg_load_string(const char *name, const char *text, struct cfg_file **out,
                    struct cfg_errors *errs);
void cfg_free(struct cfg_file *cf);

/* Validate against the engine's and each driver's declared options: unknown
 * section or key (with "did you mean"), missing required key, bad value
 * (type, enum, bounds, relative path), unknown driver (listing installed
 * ones), a driver of the wrong kind, a target bound to an unknown
 * destination, secrets written inline, duplicate sections/keys.
 * Returns the number of errors added to errs. */
int cfg_validate(struct cfg_file *cf, cfg_driver_lookup lookup, void *lookup_arg,
                 const char *const *installed_drivers, size_t n_installed, struct cfg_errors *errs);

/* Lookup helpers (defaults from the declaring option table applied). */
struct arca_config *cfg_section(struct cfg_file *cf, enum cfg_kind kind, const char *name);
const char *cfg_get(const struct arca_config *sec, const char *key);
const struct cfg_entry *cfg_entry(const struct arca_config *sec, const char *key);
int64_t cfg_get_int(const struct arca_config *sec, const char *key, int64_t dflt);
int cfg_get_bool(const struct arca_config *sec, const char *key, int dflt);
/* Secret NAME from NAME_file or NAME_env; malloc'd in *out. ARCA_OK,
 * ARCA_ERR_NOT_FOUND (neither given) or ARCA_ERR_CONFIG (unreadable; the
 * thread's error says why, without the secret). */
int cfg_secret(const struct arca_config *sec, const char *key, char **out);

/* A destination that sets neither passphrase_file nor passphrase_env takes
 * its passphrase from this environment variable. */
#define CFG_PASSPHRASE_FALLBACK_ENV "ARCA_PASSPHRASE"
/* The one rule of where a destination's passphrase comes from, for the
 * validator and the engine: the variable to read (passphrase_env's, else
 * CFG_PASSPHRASE_FALLBACK_ENV), or NULL when passphrase_file is set (it
 * wins, as in cfg_secret). *fallback (may be NULL): 1 when the variable is
 * the fallback, i.e. the section names no passphrase source at all. */
const char *cfg_passphrase_var(const struct arca_config *dest, int *fallback);

/* A LIST value split at commas, items trimmed; NULL with *n == 0 when the
 * key is absent. Free with cfg_list_free. */
char **cfg_get_list(const struct arca_config *sec, const char *key, size_t *n);
void cfg_list_free(char **items, size_t n);

/* "engine", "destination", "target", "recovery". */
const char *cfg_kind_name(enum cfg_kind kind);

/* The engine-owned option tables (shown by `arca plugins --engine`). */
extern const struct arca_option cfg_engine_options[];
extern const struct arca_option cfg_target_common_options[];
extern const struct arca_option cfg_dest_common_options[];
extern const struct arca_option cfg_recovery_options[];

#endif
