/* config_internal.h — what config.c, config_read.c and config_check.c share.
 * Not for the rest of the engine: config.h is the public header. */
#ifndef ARCA_CONFIG_INTERNAL_H
#define ARCA_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"

#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)

/* ---- config.c ---- */

#define CFG_KIND_COUNT (CFG_RECOVERY + 1)
/* "engine", "destination", ... by enum cfg_kind (cfg_kind_name's words). */
extern const char *const cfg_kind_names[CFG_KIND_COUNT];
/* [destination NAME] and [target NAME] have a name; [engine] does not. */
int cfg_kind_has_name(enum cfg_kind kind);
/* "[target app-db]" or "[engine]" */
void cfg_section_label(const struct arca_config *sec, char *out, size_t n);
int cfg_same_section(const struct arca_config *sec, enum cfg_kind kind, const char *name);

/* The engine's option table for a kind of section, and an option by name. */
const struct arca_option *cfg_engine_table(enum cfg_kind kind);
const struct arca_option *cfg_table_find(const struct arca_option *table, const char *key);
/* An INT, SIZE or DURATION value into *out; 0 or -1. */
int cfg_parse_number(enum arca_opt_type type, const char *s, int64_t *out);
/* Splits at commas, trimming; empty items are kept (validation reports
 * them); an all-blank value is no items. Free with cfg_list_free. */
char **cfg_list_split(const char *value, size_t *n);
/* The entry KEY SUFFIX ("passphrase" "_file") of a section, or NULL. */
const struct cfg_entry *cfg_secret_entry(const struct arca_config *sec, const char *key,
                                         const char *suffix);

/* ---- config_check.c: the error collector ---- */

void cfg_errors_vadd(struct cfg_errors *e, const char *file, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
