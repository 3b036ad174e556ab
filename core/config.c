/* config.c — the host's INI file: reading it with inih, then validating it
 * against the engine's option tables and each driver's declared options.
 *
 * Line numbers: Debian's inih is built without INI_HANDLER_LINENO, so the
 * handler is not told where a key was. We feed inih through our own line
 * reader (ini_parse_stream), which counts lines; inih calls the handler while
 * the line it just read is current, so the reader's count is the key's line.
 * The reader also sees the section headers (inih reports none of its own)
 * and checks each line's shape, so every syntax error is reported, not only
 * the first one inih would return. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ini.h>
#include "config.h"
#include "log.h"
#include "repo.h"
#include "util.h"

#ifndef ARCA_PLUGIN_DIR
#define ARCA_PLUGIN_DIR "/usr/local/lib/arca"
#endif

/* "2" from a macro that expands to 2 */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)

/* ---------------------------------------------------------------------- */
/* The engine-owned option tables.                                        */
/* ---------------------------------------------------------------------- */

const struct arca_option cfg_engine_options[] = {
	{.name = "plugin_dir", .type = ARCA_OPT_PATH, .default_value = ARCA_PLUGIN_DIR,
	 .help = "directory the driver modules (*.so) are loaded from"},
	{.name = "state_dir", .type = ARCA_OPT_PATH, .default_value = "/var/lib/arca",
	 .help = "local cache of repository indexes and file metadata"},
	{.name = "log_level", .type = ARCA_OPT_ENUM, .default_value = "info",
	 .help = "how much to log", .choices = "error|warn|info|debug"},
	{.name = "workers", .type = ARCA_OPT_INT, .default_value = "0",
	 .help = "threads that hash, compress and encrypt; 0 = one per CPU core",
	 .min = 0, .max = 256},
	{.name = "hostname", .type = ARCA_OPT_STRING,
	 .help = "name recorded in snapshots and locks (default: the system's host name)"},
	{.name = NULL},
};

const struct arca_option cfg_dest_common_options[] = {
	{.name = "driver", .type = ARCA_OPT_STRING, .flags = ARCA_OPT_REQUIRED,
	 .help = "the destination driver that stores the repository, e.g. dir "
		 "(`arca plugins` lists them)"},
	{.name = "passphrase", .type = ARCA_OPT_STRING, .flags = ARCA_OPT_SECRET,
	 .help = "passphrase that unlocks the repository key"},
	{.name = "encryption", .type = ARCA_OPT_ENUM, .default_value = "aes-256-gcm",
	 .help = "encryption of the repository's objects", .choices = "aes-256-gcm|none"},
	{.name = "compression", .type = ARCA_OPT_INT,
	 .default_value = STRINGIFY(REPO_ZSTD_LEVEL_DEFAULT),
	 .help = "zstd level of stored chunks (the README's design notes say why the default)",
	 .min = REPO_ZSTD_LEVEL_MIN, .max = REPO_ZSTD_LEVEL_MAX},
	{.name = "pack_size", .type = ARCA_OPT_SIZE, .default_value = "32M",
	 .help = "target size of the pack objects chunks are grouped into",
	 .min = 4 * MIB, .max = GIB},
	{.name = NULL},
};

const struct arca_option cfg_target_common_options[] = {
	{.name = "driver", .type = ARCA_OPT_STRING, .flags = ARCA_OPT_REQUIRED,
	 .help = "the target driver that reads the data store, e.g. postgres or files"},
	{.name = "destinations", .type = ARCA_OPT_LIST, .flags = ARCA_OPT_REQUIRED,
	 .help = "the [destination NAME] sections that receive this target's snapshots"},
	{.name = "retention", .type = ARCA_OPT_STRING,
	 .help = "snapshots to keep, e.g. last=7, daily=30, weekly=8, monthly=12, within=30d"},
	{.name = "description", .type = ARCA_OPT_STRING, .help = "free text shown by arca list"},
	{.name = NULL},
};

const struct arca_option cfg_recovery_options[] = {
	{.name = "order", .type = ARCA_OPT_LIST,
	 .help = "targets restored by arca recover, in this order"},
	{.name = "pre_hook", .type = ARCA_OPT_STRING,
	 .help = "command run before the recovery (e.g. stop the application)"},
	{.name = "post_hook", .type = ARCA_OPT_STRING,
	 .help = "command run after the recovery (e.g. start the application)"},
	{.name = "scratch_dir", .type = ARCA_OPT_PATH,
	 .help = "where arca drill and arca recover put temporary instances"},
	{.name = NULL},
};

static const char *const kind_names[] = {"engine", "destination", "target", "recovery"};

const char *cfg_kind_name(enum cfg_kind kind)
{
	return (size_t)kind < ARRAY_LEN(kind_names) ? kind_names[kind] : "?";
}

static int kind_has_name(enum cfg_kind kind)
{
	return kind == CFG_DESTINATION || kind == CFG_TARGET;
}

/* "[target app-db]" or "[engine]" */
static void section_label(const struct arca_config *sec, char *out, size_t n)
{
	if (sec->name)
		snprintf(out, n, "[%s %s]", cfg_kind_name(sec->kind), sec->name);
	else
		snprintf(out, n, "[%s]", cfg_kind_name(sec->kind));
}

/* ---------------------------------------------------------------------- */
/* Error collector.                                                       */
/* ---------------------------------------------------------------------- */

__attribute__((format(printf, 4, 0)))
static void errors_vadd(struct cfg_errors *e, const char *file, int line, const char *fmt,
			va_list ap)
{
	char *msg, *full;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup(fmt);
	if (line > 0)
		full = xasprintf("%s:%d: %s", file ? file : "arca", line, msg);
	else
		full = xasprintf("%s: %s", file ? file : "arca", msg);
	free(msg);
	e->msgs = xrealloc(e->msgs, (e->n + 1) * sizeof *e->msgs);
	e->lines = xrealloc(e->lines, (e->n + 1) * sizeof *e->lines);
	e->msgs[e->n] = full;
	e->lines[e->n] = line;
	e->n++;
}

void cfg_errors_add(struct cfg_errors *e, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errors_vadd(e, file, line, fmt, ap);
	va_end(ap);
}

void cfg_errors_free(struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	free(e->lines);
	e->msgs = NULL;
	e->lines = NULL;
	e->n = 0;
}

static int errors_have_line(const struct cfg_errors *e, int line)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->lines && e->lines[i] == line)
			return 1;
	return 0;
}

/* Stable insertion sort by line: parse errors and validation errors come
 * from different passes, the user wants them in file order. */
static void errors_sort(struct cfg_errors *e)
{
	if (!e->lines)
		return;
	for (size_t i = 1; i < e->n; i++) {
		char *msg = e->msgs[i];
		int line = e->lines[i];
		size_t j = i;
		for (; j > 0 && e->lines[j - 1] > line; j--) {
			e->msgs[j] = e->msgs[j - 1];
			e->lines[j] = e->lines[j - 1];
		}
		e->msgs[j] = msg;
		e->lines[j] = line;
	}
}

/* ---------------------------------------------------------------------- */
/* Reading: a line reader for inih that counts lines and checks shapes.   */
/* ---------------------------------------------------------------------- */

struct parser {
	struct cfg_file *cf;
	struct cfg_errors *errs;
	int lineno;
	long section;       /* index of the open section in cf->sections; -1: none */
	int skip_keys;      /* the open section is unusable: drop its keys quietly */
	/* the source: a FILE, or a string */
	FILE *fp;
	const char *text;
	int read_errno;     /* set when reading the FILE failed */
	char *line;         /* the current raw line */
	size_t cap;
};

__attribute__((format(printf, 2, 3)))
static void parse_error(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errors_vadd(p->errs, p->cf->path, p->lineno, fmt, ap);
	va_end(ap);
}

/* Next line of the source into p->line without its line ending; -1 at the end. */
static ssize_t next_raw_line(struct parser *p)
{
	ssize_t len;
	if (p->fp) {
		errno = 0;
		len = getline(&p->line, &p->cap, p->fp);
		if (len < 0) {
			if (ferror(p->fp))
				p->read_errno = errno ? errno : EIO;
			return -1;
		}
	} else {
		if (!p->text || !*p->text)
			return -1;
		size_t n = strcspn(p->text, "\n");
		if (p->cap < n + 1) {
			p->cap = n + 1;
			p->line = xrealloc(p->line, p->cap);
		}
		memcpy(p->line, p->text, n);
		p->line[n] = 0;
		p->text += n + (p->text[n] == '\n');
		len = (ssize_t)n;
	}
	if (len > 0 && p->line[len - 1] == '\n')
		p->line[--len] = 0;
	if (len > 0 && p->line[len - 1] == '\r')
		p->line[--len] = 0;
	return len;
}

/* The first of `chars` in s, stopping at an inline comment (';' after
 * whitespace) exactly where inih stops; points at the NUL when absent. */
static const char *find_before_comment(const char *s, const char *chars)
{
	int was_space = 0;
	while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return *s == ';' && !strchr(chars, ';') ? s + strlen(s) : s;
}

static int valid_section_name(const char *name)
{
	if (!*name)
		return 0;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.-", *c))
			return 0;
	return 1;
}

static int kind_from_word(const char *word)
{
	for (size_t i = 0; i < ARRAY_LEN(kind_names); i++)
		if (!strcmp(word, kind_names[i]))
			return (int)i;
	return -1;
}

static void report_unknown_section(struct parser *p, const char *type, const char *name)
{
	const char *hint = did_you_mean(type, kind_names, ARRAY_LEN(kind_names));
	const char *sp = *name ? " " : "";
	if (hint)
		parse_error(p, "unknown section [%s%s%s] (did you mean [%s%s%s]?)",
			    type, sp, name, hint, sp, name);
	else
		parse_error(p, "unknown section [%s%s%s]: the sections are [engine], "
			    "[destination NAME], [target NAME] and [recovery]", type, sp, name);
}

static void append_section(struct parser *p, enum cfg_kind kind, const char *name)
{
	struct cfg_file *cf = p->cf;
	cf->sections = xrealloc(cf->sections, (cf->n_sections + 1) * sizeof *cf->sections);
	struct arca_config *sec = &cf->sections[cf->n_sections];
	memset(sec, 0, sizeof *sec);
	sec->kind = kind;
	sec->name = kind_has_name(kind) ? xstrdup(name) : NULL;
	sec->line = p->lineno;
	sec->file = cf->path;
	p->section = (long)cf->n_sections++;
	p->skip_keys = 0;
}

/* `header` is the trimmed text between the brackets. */
static void open_section(struct parser *p, char *header)
{
	size_t tlen = strcspn(header, " \t");
	char *name = header + tlen;
	while (isspace((unsigned char)*name))
		*name++ = 0;
	header[tlen] = 0;
	int kind = kind_from_word(header);
	if (kind < 0)
		report_unknown_section(p, header, name);
	else if (kind_has_name(kind) && !*name)
		parse_error(p, "[%s] needs a name: write [%s NAME]", header, header);
	else if (!kind_has_name(kind) && *name)
		parse_error(p, "[%s] takes no name: write [%s] (there is only one)",
			    header, header);
	else if (kind_has_name(kind) && !valid_section_name(name))
		parse_error(p, "bad name '%s' in [%s %s]: use only letters, digits, '_', '.' "
			    "and '-'", name, header, name);
	else
		append_section(p, (enum cfg_kind)kind, name);
}

/* A "[...]" line. Returns 0 when inih must not see it (already reported). */
static int check_header_line(struct parser *p, const char *s)
{
	/* keys after a bad header must not land in the previous section */
	p->section = -1;
	p->skip_keys = 1;
	const char *end = find_before_comment(s + 1, "]");
	if (*end != ']') {
		parse_error(p, "section header is missing its closing ']'");
		return 0;
	}
	const char *rest = end + 1;
	while (isspace((unsigned char)*rest))
		rest++;
	if (*rest && *rest != ';' && *rest != '#') {
		parse_error(p, "unexpected text after the section header's ']'");
		return 0;
	}
	char *header = xstrndup(s + 1, (size_t)(end - s - 1));
	open_section(p, str_trim(header));
	free(header);
	return 1;
}

/* Decides what inih gets to see of line `s` (leading blanks removed).
 * Returns 0 to hand inih an empty line instead (the problem is reported). */
static int check_line(struct parser *p, const char *s, size_t raw_len, int max)
{
	if (strlen(s) + 3 > (size_t)max) {
		parse_error(p, "line is %zu characters long; at most %d fit: shorten it "
			    "(e.g. move a long command into a script)", raw_len, max - 3);
		return 0;
	}
	if (!*s || *s == ';' || *s == '#')
		return 1;
	if (*s == '[')
		return check_header_line(p, s);
	if (!*find_before_comment(s, "=:")) {
		/* the text is not echoed: it may be a mistyped secret */
		parse_error(p, "expected 'key = value', a [section] header or a comment");
		return 0;
	}
	return 1;
}

/* ini_reader: fgets-like, called once per line. */
static char *ini_read_line(char *out, int max, void *stream)
{
	struct parser *p = stream;
	ssize_t len = next_raw_line(p);
	if (len < 0)
		return NULL;
	p->lineno++;
	const char *s = p->line;
	if ((size_t)len != strlen(s)) {
		parse_error(p, "line contains a NUL byte: is this a text file?");
		s = "";
	}
	if (p->lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3;
	/* Leading blanks are dropped so inih never treats an indented line as
	 * the continuation of the previous value: indented keys are keys. */
	while (isspace((unsigned char)*s))
		s++;
	if (!check_line(p, s, (size_t)len, max))
		s = "";
	snprintf(out, (size_t)max, "%s", s);
	return out;
}

static void append_entry(struct arca_config *sec, const char *key, const char *value, int line)
{
	sec->entries = xrealloc(sec->entries, (sec->n_entries + 1) * sizeof *sec->entries);
	struct cfg_entry *e = &sec->entries[sec->n_entries++];
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	e->line = line;
}

/* ini_handler: one key = value; the reader's line count is its line. */
static int ini_on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	(void)section; /* the reader tracks sections itself, with their lines */
	if (p->skip_keys)
		return 1;
	if (p->section < 0) {
		parse_error(p, "'%s' is set before any section: put it under [engine], "
			    "[destination NAME], [target NAME] or [recovery]", name);
		p->skip_keys = 1;
		return 1;
	}
	if (!*name) {
		parse_error(p, "the key name is missing before '='");
		return 1;
	}
	append_entry(&p->cf->sections[p->section], name, value ? value : "", p->lineno);
	return 1;
}

static void parse(struct parser *p)
{
	int r = ini_parse_stream(ini_read_line, p, ini_on_key, p);
	if (r == -2)
		parse_error(p, "out of memory while reading");
	/* our reader reports every bad line itself; this catches a rule of
	 * inih's we do not mirror, so nothing is ever silently skipped */
	else if (r > 0 && !errors_have_line(p->errs, r))
		cfg_errors_add(p->errs, p->cf->path, r, "cannot parse this line");
}

static struct cfg_file *new_file(const char *name)
{
	struct cfg_file *cf = xcalloc(1, sizeof *cf);
	cf->path = xstrdup(name);
	return cf;
}

int cfg_load_string(const char *name, const char *text, struct cfg_file **out,
		    struct cfg_errors *errs)
{
	struct parser p = {.errs = errs, .section = -1, .text = text};
	p.cf = new_file(name ? name : "<string>");
	parse(&p);
	free(p.line);
	*out = p.cf;
	return 0;
}

int cfg_load(const char *path, struct cfg_file **out, struct cfg_errors *errs)
{
	*out = NULL;
	FILE *fp = fopen(path, "re");
	if (!fp) {
		cfg_errors_add(errs, path, 0, "cannot open the config file: %s (give another "
			       "with -c FILE or the ARCA_CONFIG variable)", strerror(errno));
		return -1;
	}
	struct parser p = {.errs = errs, .section = -1, .fp = fp};
	p.cf = new_file(path);
	parse(&p);
	free(p.line);
	fclose(fp);
	if (p.read_errno) {
		cfg_errors_add(errs, path, 0, "cannot read the config file: %s",
			       strerror(p.read_errno));
		cfg_free(p.cf);
		return -1;
	}
	*out = p.cf;
	return 0;
}

void cfg_free(struct cfg_file *cf)
{
	if (!cf)
		return;
	for (size_t i = 0; i < cf->n_sections; i++) {
		struct arca_config *sec = &cf->sections[i];
		for (size_t j = 0; j < sec->n_entries; j++) {
			free(sec->entries[j].key);
			free(sec->entries[j].value);
		}
		free(sec->entries);
		free(sec->name);
	}
	free(cf->sections);
	free(cf->path);
	free(cf);
}

/* ---------------------------------------------------------------------- */
/* Lookups.                                                               */
/* ---------------------------------------------------------------------- */

static int same_section(const struct arca_config *sec, enum cfg_kind kind, const char *name)
{
	if (sec->kind != kind)
		return 0;
	if (!kind_has_name(kind))
		return 1;
	return name && sec->name && !strcmp(sec->name, name);
}

struct arca_config *cfg_section(struct cfg_file *cf, enum cfg_kind kind, const char *name)
{
	for (size_t i = 0; i < cf->n_sections; i++)
		if (same_section(&cf->sections[i], kind, name))
			return &cf->sections[i];
	return NULL;
}

const struct cfg_entry *cfg_entry(const struct arca_config *sec, const char *key)
{
	for (size_t i = 0; i < sec->n_entries; i++)
		if (!strcmp(sec->entries[i].key, key))
			return &sec->entries[i];
	return NULL;
}

/* The engine's table for a kind of section. */
static const struct arca_option *engine_table(enum cfg_kind kind)
{
	switch (kind) {
	case CFG_ENGINE:
		return cfg_engine_options;
	case CFG_DESTINATION:
		return cfg_dest_common_options;
	case CFG_TARGET:
		return cfg_target_common_options;
	case CFG_RECOVERY:
		return cfg_recovery_options;
	}
	return NULL;
}

static const struct arca_option *table_find(const struct arca_option *table, const char *key)
{
	for (; table && table->name; table++)
		if (!strcmp(table->name, key))
			return table;
	return NULL;
}

/* The option declaring `key` in a section: the engine's first, then the driver's. */
static const struct arca_option *option_for(const struct arca_config *sec, const char *key)
{
	const struct arca_option *opt = table_find(engine_table(sec->kind), key);
	return opt ? opt : table_find(sec->driver_options, key);
}

const char *cfg_get(const struct arca_config *sec, const char *key)
{
	const struct arca_option *opt = option_for(sec, key);
	if (opt && (opt->flags & ARCA_OPT_SECRET))
		return NULL; /* secrets only through cfg_secret */
	const struct cfg_entry *e = cfg_entry(sec, key);
	if (e)
		return e->value;
	return opt ? opt->default_value : NULL;
}

static int parse_sized(const char *s, int64_t *out)
{
	uint64_t v;
	if (parse_size(s, &v) < 0 || v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* Parses an INT, SIZE or DURATION value into *out. */
static int parse_number(enum arca_opt_type type, const char *s, int64_t *out)
{
	switch (type) {
	case ARCA_OPT_SIZE:
		return parse_sized(s, out);
	case ARCA_OPT_DURATION:
		return parse_duration(s, out);
	default:
		return parse_int64(s, out);
	}
}

int64_t cfg_get_int(const struct arca_config *sec, const char *key, int64_t dflt)
{
	const char *s = cfg_get(sec, key);
	const struct arca_option *opt = option_for(sec, key);
	int64_t v;
	if (!s || parse_number(opt ? opt->type : ARCA_OPT_INT, s, &v) < 0)
		return dflt;
	return v;
}

int cfg_get_bool(const struct arca_config *sec, const char *key, int dflt)
{
	const char *s = cfg_get(sec, key);
	int v;
	if (!s || parse_bool(s, &v) < 0)
		return dflt;
	return v;
}

/* Splits at commas, trimming; empty items are kept (validation reports them). */
static char **list_split(const char *value, size_t *n)
{
	char **items = NULL;
	*n = 0;
	const char *s = value;
	for (;;) {
		size_t len = strcspn(s, ",");
		char *item = xstrndup(s, len);
		char *trimmed = str_trim(item);
		items = xrealloc(items, (*n + 1) * sizeof *items);
		items[(*n)++] = xstrdup(trimmed);
		free(item);
		if (!s[len])
			break;
		s += len + 1;
	}
	/* an all-blank value is an empty list, not one empty item */
	if (*n == 1 && !*items[0]) {
		cfg_list_free(items, *n);
		*n = 0;
		return NULL;
	}
	return items;
}

char **cfg_get_list(const struct arca_config *sec, const char *key, size_t *n)
{
	const char *s = cfg_get(sec, key);
	*n = 0;
	return s ? list_split(s, n) : NULL;
}

void cfg_list_free(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

/* ---------------------------------------------------------------------- */
/* Secrets.                                                               */
/* ---------------------------------------------------------------------- */

static const struct cfg_entry *secret_entry(const struct arca_config *sec, const char *key,
					    const char *suffix)
{
	char *name = xasprintf("%s%s", key, suffix);
	const struct cfg_entry *e = cfg_entry(sec, name);
	free(name);
	return e;
}

static void warn_if_world_readable(const char *key, const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & S_IROTH))
		log_warn("%s_file %s is readable by every user: chmod o-r %s", key, path, path);
}

static int secret_from_file(const struct arca_config *sec, const char *key,
			    const struct cfg_entry *e, char **out)
{
	char label[256], *data;
	size_t len;
	section_label(sec, label, sizeof label);
	if (read_file(e->value, &data, &len) < 0)
		return err_set(ARCA_ERR_CONFIG, "cannot read %s_file %s (%s, %s:%d): %s",
			       key, e->value, label, sec->file, e->line, strerror(errno));
	size_t first = strcspn(data, "\n");
	if (first > 0 && data[first - 1] == '\r')
		first--;
	if (first > 0)
		*out = xstrndup(data, first);
	explicit_bzero(data, len);
	free(data);
	if (!*out)
		return err_set(ARCA_ERR_CONFIG, "%s_file %s (%s, %s:%d) has an empty first line: "
			       "write the secret on it", key, e->value, label, sec->file, e->line);
	warn_if_world_readable(key, e->value);
	return ARCA_OK;
}

static int secret_from_env(const struct arca_config *sec, const char *key,
			   const struct cfg_entry *e, char **out)
{
	char label[256];
	section_label(sec, label, sizeof label);
	const char *v = getenv(e->value);
	if (!v)
		return err_set(ARCA_ERR_CONFIG, "%s_env names the variable %s (%s, %s:%d), which "
			       "is not set in the environment", key, e->value, label, sec->file,
			       e->line);
	if (!*v)
		return err_set(ARCA_ERR_CONFIG, "%s_env names the variable %s (%s, %s:%d), which "
			       "is empty", key, e->value, label, sec->file, e->line);
	*out = xstrdup(v);
	return ARCA_OK;
}

int cfg_secret(const struct arca_config *sec, const char *key, char **out)
{
	*out = NULL;
	const struct cfg_entry *f = secret_entry(sec, key, "_file");
	if (f)
		return secret_from_file(sec, key, f, out);
	const struct cfg_entry *e = secret_entry(sec, key, "_env");
	if (e)
		return secret_from_env(sec, key, e, out);
	char label[256];
	section_label(sec, label, sizeof label);
	return err_set(ARCA_ERR_NOT_FOUND, "%s sets neither %s_file nor %s_env (%s:%d)",
		       label, key, key, sec->file, sec->line);
}

const char *cfg_passphrase_var(const struct arca_config *dest, int *fallback)
{
	const struct cfg_entry *file = secret_entry(dest, "passphrase", "_file");
	const struct cfg_entry *env = secret_entry(dest, "passphrase", "_env");
	if (fallback)
		*fallback = !file && !env;
	if (file)
		return NULL;
	return env ? env->value : CFG_PASSPHRASE_FALLBACK_ENV;
}

/* ---------------------------------------------------------------------- */
/* Validation.                                                            */
/* ---------------------------------------------------------------------- */

struct validator {
	struct cfg_file *cf;
	cfg_driver_lookup lookup;
	void *lookup_arg;
	const char *const *installed;
	size_t n_installed;
	struct cfg_errors *errs;
	int errors;
};

/* The section being checked, with its label for messages. */
struct vsec {
	struct arca_config *sec;
	char label[256];
	int driver_ok;      /* a usable driver was found (or none is needed) */
};

__attribute__((format(printf, 3, 4)))
static void verr(struct validator *v, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errors_vadd(v->errs, v->cf->path, line, fmt, ap);
	va_end(ap);
	v->errors++;
}

/* "a, b, c" from a NULL-free array; malloc'd. */
static char *join(const char *const *words, size_t n)
{
	struct buf b = {0};
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append(&b, ", ", 2);
		buf_append(&b, words[i], strlen(words[i]));
	}
	buf_append(&b, "", 1);
	return (char *)b.data;
}

/* ---- names of things, for suggestions ---- */

struct names {
	char **v;
	size_t n;
};

static void names_add(struct names *nm, const char *s)
{
	nm->v = xrealloc(nm->v, (nm->n + 1) * sizeof *nm->v);
	nm->v[nm->n++] = xstrdup(s);
}

static void names_free(struct names *nm)
{
	cfg_list_free(nm->v, nm->n);
	nm->v = NULL;
	nm->n = 0;
}

/* The keys a user may write for a table: secrets as NAME_file / NAME_env. */
static void names_add_keys(struct names *nm, const struct arca_option *table)
{
	for (; table && table->name; table++) {
		if (table->flags & ARCA_OPT_SECRET) {
			char *f = xasprintf("%s_file", table->name);
			char *e = xasprintf("%s_env", table->name);
			names_add(nm, f);
			names_add(nm, e);
			free(f);
			free(e);
		} else {
			names_add(nm, table->name);
		}
	}
}

static void names_of_sections(struct names *nm, struct cfg_file *cf, enum cfg_kind kind)
{
	for (size_t i = 0; i < cf->n_sections; i++)
		if (cf->sections[i].kind == kind)
			names_add(nm, cf->sections[i].name);
}

static const char *names_suggest(const struct names *nm, const char *word)
{
	return did_you_mean(word, (const char *const *)nm->v, nm->n);
}

/* ---- drivers ---- */

static char *installed_list(const struct validator *v)
{
	if (!v->n_installed)
		return xstrdup("none (check plugin_dir in [engine])");
	return join(v->installed, v->n_installed);
}

static void report_unknown_driver(struct validator *v, const struct cfg_entry *e)
{
	char *list = installed_list(v);
	const char *hint = did_you_mean(e->value, v->installed, v->n_installed);
	if (!*e->value)
		verr(v, e->line, "'driver' is empty; installed drivers: %s", list);
	else if (hint)
		verr(v, e->line, "unknown driver '%s' (did you mean '%s'?); installed drivers: %s",
		     e->value, hint, list);
	else
		verr(v, e->line, "unknown driver '%s'; installed drivers: %s", e->value, list);
	free(list);
}

/* Finds the section's driver and its option table; 0 if there is none. */
static int resolve_driver(struct validator *v, struct vsec *vs)
{
	struct arca_config *sec = vs->sec;
	const struct cfg_entry *e = cfg_entry(sec, "driver");
	if (!e)
		return 0; /* reported as a missing required key */
	const struct arca_driver *d = *e->value && v->lookup ? v->lookup(e->value, v->lookup_arg)
							   : NULL;
	if (!d) {
		report_unknown_driver(v, e);
		return 0;
	}
	if (sec->kind == CFG_TARGET && !d->target) {
		verr(v, e->line, "driver '%s' is a destination driver, it cannot back up %s: "
		     "use it in a [destination NAME] section", d->name, vs->label);
		return 0;
	}
	if (sec->kind == CFG_DESTINATION && !d->dest) {
		verr(v, e->line, "driver '%s' is a target driver, it cannot store %s: "
		     "use it in a [target NAME] section", d->name, vs->label);
		return 0;
	}
	sec->driver = d;
	sec->driver_options = sec->kind == CFG_TARGET ? d->target_options : d->dest_options;
	return 1;
}

/* ---- required keys ---- */

static int option_is_set(const struct arca_config *sec, const struct arca_option *opt)
{
	if (opt->flags & ARCA_OPT_SECRET)
		return secret_entry(sec, opt->name, "_file") ||
		       secret_entry(sec, opt->name, "_env");
	return cfg_entry(sec, opt->name) != NULL;
}

static void report_missing(struct validator *v, const struct vsec *vs,
			   const struct arca_option *opt, const struct arca_driver *drv)
{
	char *want = opt->flags & ARCA_OPT_SECRET
		     ? xasprintf("'%s_file' or '%s_env'", opt->name, opt->name)
		     : xasprintf("'%s'", opt->name);
	const char *help = opt->help ? opt->help : "no description";
	if (drv)
		verr(v, vs->sec->line, "%s needs %s (driver %s: %s)", vs->label, want, drv->name,
		     help);
	else
		verr(v, vs->sec->line, "%s needs %s (%s)", vs->label, want, help);
	free(want);
}

static void check_required_in(struct validator *v, const struct vsec *vs,
			      const struct arca_option *table, const struct arca_driver *drv)
{
	for (; table && table->name; table++)
		if ((table->flags & ARCA_OPT_REQUIRED) && !option_is_set(vs->sec, table))
			report_missing(v, vs, table, drv);
}

/* An encrypted repository cannot be opened without its passphrase. */
static void check_passphrase(struct validator *v, const struct vsec *vs)
{
	const char *enc = cfg_get(vs->sec, "encryption");
	int fallback;
	const char *var = cfg_passphrase_var(vs->sec, &fallback);
	/* a named source is checked when it is read; the fallback must be set now */
	const char *env = fallback ? getenv(var) : NULL;
	if (enc && strcmp(enc, "none") && fallback && !(env && *env))
		verr(v, vs->sec->line, "%s needs 'passphrase_file' or 'passphrase_env' "
		     "(encryption is %s), or " CFG_PASSPHRASE_FALLBACK_ENV " in the environment, "
		     "or set encryption = none", vs->label, enc);
}

static void check_required(struct validator *v, const struct vsec *vs)
{
	check_required_in(v, vs, engine_table(vs->sec->kind), NULL);
	if (vs->driver_ok)
		check_required_in(v, vs, vs->sec->driver_options, vs->sec->driver);
	if (vs->sec->kind == CFG_DESTINATION)
		check_passphrase(v, vs);
}

/* ---- key resolution ---- */

enum key_form { KEY_PLAIN, KEY_FILE, KEY_ENV };

struct key_ref {
	const struct arca_option *opt;
	enum key_form form;
};

/* NAME_file / NAME_env of a secret option in `table`. */
static int resolve_secret_form(const struct arca_option *table, const char *key,
			       struct key_ref *ref)
{
	static const struct {
		const char *suffix;
		enum key_form form;
	} forms[] = {{"_file", KEY_FILE}, {"_env", KEY_ENV}};
	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		if (!str_ends(key, forms[i].suffix))
			continue;
		char *base = xstrndup(key, strlen(key) - strlen(forms[i].suffix));
		const struct arca_option *opt = table_find(table, base);
		free(base);
		if (opt && (opt->flags & ARCA_OPT_SECRET)) {
			ref->opt = opt;
			ref->form = forms[i].form;
			return 1;
		}
	}
	return 0;
}

static int resolve_key(const struct arca_config *sec, const char *key, struct key_ref *ref)
{
	const struct arca_option *tables[] = {engine_table(sec->kind), sec->driver_options};
	for (size_t i = 0; i < ARRAY_LEN(tables); i++) {
		ref->opt = table_find(tables[i], key);
		ref->form = KEY_PLAIN;
		if (ref->opt)
			return 1;
	}
	for (size_t i = 0; i < ARRAY_LEN(tables); i++)
		if (resolve_secret_form(tables[i], key, ref))
			return 1;
	return 0;
}

static void report_unknown_key(struct validator *v, const struct vsec *vs,
			       const struct cfg_entry *e)
{
	struct names keys = {0};
	names_add_keys(&keys, engine_table(vs->sec->kind));
	names_add_keys(&keys, vs->sec->driver_options);
	const char *hint = names_suggest(&keys, e->key);
	if (hint) {
		verr(v, e->line, "unknown key '%s' in %s (did you mean '%s'?)", e->key, vs->label,
		     hint);
	} else {
		char *list = join((const char *const *)keys.v, keys.n);
		verr(v, e->line, "unknown key '%s' in %s; valid keys: %s", e->key, vs->label, list);
		free(list);
	}
	names_free(&keys);
}

/* ---- values ---- */

struct unit {
	char suffix;
	int64_t mult;
};

static const struct unit size_units[] = {{'T', 1024 * GIB}, {'G', GIB}, {'M', MIB}, {'K', KIB}};
static const struct unit duration_units[] = {
	{'w', 604800}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1},
};

/* "4M", "1G", "30d": a bound in the unit the user would write. */
static void format_bound(enum arca_opt_type type, int64_t v, char *out, size_t n)
{
	const struct unit *units = NULL;
	size_t count = 0;
	if (type == ARCA_OPT_SIZE) {
		units = size_units;
		count = ARRAY_LEN(size_units);
	} else if (type == ARCA_OPT_DURATION) {
		units = duration_units;
		count = ARRAY_LEN(duration_units);
	}
	for (size_t i = 0; i < count; i++) {
		if (v && v % units[i].mult == 0) {
			snprintf(out, n, "%lld%c", (long long)(v / units[i].mult), units[i].suffix);
			return;
		}
	}
	snprintf(out, n, "%lld", (long long)v);
}

static const char *type_phrase(enum arca_opt_type type)
{
	switch (type) {
	case ARCA_OPT_SIZE:
		return "a size like 512K, 32M or 1G";
	case ARCA_OPT_DURATION:
		return "a duration like 90s, 15m, 2h, 30d or 2w";
	default:
		return "a whole number";
	}
}

static int bad_number(const struct arca_option *opt, const char *value, char *why, size_t n)
{
	int64_t v;
	int parsed = parse_number(opt->type, value, &v) == 0;
	if (opt->min == opt->max) {
		if (!parsed)
			snprintf(why, n, "must be %s", type_phrase(opt->type));
		return !parsed;
	}
	if (parsed && v >= opt->min && v <= opt->max)
		return 0;
	char lo[32], hi[32];
	format_bound(opt->type, opt->min, lo, sizeof lo);
	format_bound(opt->type, opt->max, hi, sizeof hi);
	snprintf(why, n, "must be %s from %s to %s", type_phrase(opt->type), lo, hi);
	return 1;
}

static int bad_enum(const struct arca_option *opt, const char *value, char *why, size_t n)
{
	size_t count = 0;
	char *copy = xstrdup(opt->choices ? opt->choices : "");
	const char *choices[64];
	for (char *save, *c = strtok_r(copy, "|", &save); c && count < ARRAY_LEN(choices);
	     c = strtok_r(NULL, "|", &save))
		choices[count++] = c;
	int bad = 1;
	for (size_t i = 0; i < count; i++)
		if (!strcmp(value, choices[i]))
			bad = 0;
	if (bad) {
		char *list = join(choices, count);
		const char *hint = did_you_mean(value, choices, count);
		if (hint)
			snprintf(why, n, "must be one of: %s (did you mean '%s'?)", list, hint);
		else
			snprintf(why, n, "must be one of: %s", list);
		free(list);
	}
	free(copy);
	return bad;
}

static int bad_list(const char *value, char *why, size_t n)
{
	size_t count;
	char **items = list_split(value, &count);
	int bad = 0;
	for (size_t i = 0; i < count; i++)
		if (!*items[i])
			bad = 1;
	cfg_list_free(items, count);
	if (bad)
		snprintf(why, n, "must be a comma-separated list without empty items");
	return bad;
}

/* Nonzero, with a phrase in `why`, when `value` does not fit `opt`'s type. */
static int bad_value(const struct arca_option *opt, const char *value, char *why, size_t n)
{
	int b;
	switch (opt->type) {
	case ARCA_OPT_INT:
	case ARCA_OPT_SIZE:
	case ARCA_OPT_DURATION:
		return bad_number(opt, value, why, n);
	case ARCA_OPT_BOOL:
		snprintf(why, n, "must be yes or no (or true/false, on/off, 1/0)");
		return parse_bool(value, &b) < 0;
	case ARCA_OPT_PATH:
		snprintf(why, n, "must be an absolute path (starting with '/')");
		return value[0] != '/';
	case ARCA_OPT_ENUM:
		return bad_enum(opt, value, why, n);
	case ARCA_OPT_LIST:
		return bad_list(value, why, n);
	case ARCA_OPT_STRING:
		return 0;
	}
	snprintf(why, n, "has a type (%d) this engine does not know: update arca", opt->type);
	return 1;
}

static void check_value(struct validator *v, const struct vsec *vs, const struct cfg_entry *e,
			const struct arca_option *opt)
{
	char why[512];
	if (!*e->value && (opt->flags & ARCA_OPT_REQUIRED)) {
		verr(v, e->line, "'%s' in %s is empty, and it is required (%s)", e->key, vs->label,
		     opt->help ? opt->help : "no description");
		return;
	}
	if (bad_value(opt, e->value, why, sizeof why))
		verr(v, e->line, "'%s' in %s %s, got '%s'", e->key, vs->label, why, e->value);
}

/* ---- references between sections ---- */

static int named_before(char **items, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!strcmp(items[i], items[j]))
			return 1;
	return 0;
}

/* Each item of a LIST must name a section of `kind`, once. */
static void check_refs(struct validator *v, const struct vsec *vs, const struct cfg_entry *e,
		       enum cfg_kind kind)
{
	struct names known = {0};
	names_of_sections(&known, v->cf, kind);
	size_t n;
	char **items = list_split(e->value, &n);
	for (size_t i = 0; i < n; i++) {
		if (!*items[i])
			continue; /* reported by the LIST check */
		if (named_before(items, i)) {
			verr(v, e->line, "'%s' in %s names %s twice", e->key, vs->label, items[i]);
			continue;
		}
		if (cfg_section(v->cf, kind, items[i]))
			continue;
		const char *hint = names_suggest(&known, items[i]);
		if (hint)
			verr(v, e->line, "'%s' in %s names [%s %s], which is not defined (did you "
			     "mean '%s'?)", e->key, vs->label, cfg_kind_name(kind), items[i], hint);
		else
			verr(v, e->line, "'%s' in %s names [%s %s], which is not defined in this "
			     "file", e->key, vs->label, cfg_kind_name(kind), items[i]);
	}
	cfg_list_free(items, n);
	names_free(&known);
}

/* The policy is parsed by the same function `arca forget` uses. */
static void check_retention(struct validator *v, const struct vsec *vs, const struct cfg_entry *e)
{
	int64_t counts[7];
	if (retention_parse(e->value, counts) == ARCA_OK)
		return;
	verr(v, e->line, "'retention' in %s is not a valid policy: %s; write e.g. "
	     "retention = last=7, daily=30, within=30d", vs->label, err_msg());
	err_clear(); /* the message is in errs now */
}

/* Rules of particular engine keys beyond their type. */
static void check_engine_key(struct validator *v, const struct vsec *vs, const struct cfg_entry *e)
{
	enum cfg_kind kind = vs->sec->kind;
	if (kind == CFG_TARGET && !strcmp(e->key, "destinations"))
		check_refs(v, vs, e, CFG_DESTINATION);
	else if (kind == CFG_TARGET && !strcmp(e->key, "retention"))
		check_retention(v, vs, e);
	else if (kind == CFG_RECOVERY && !strcmp(e->key, "order"))
		check_refs(v, vs, e, CFG_TARGET);
}

/* ---- secrets ---- */

static int valid_env_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static void check_secret_form(struct validator *v, const struct vsec *vs,
			      const struct cfg_entry *e, const struct key_ref *ref)
{
	const char *name = ref->opt->name;
	const struct cfg_entry *f = secret_entry(vs->sec, name, "_file");
	const struct cfg_entry *env = secret_entry(vs->sec, name, "_env");
	if (ref->form == KEY_FILE && e->value[0] != '/')
		verr(v, e->line, "'%s' in %s must be an absolute path (starting with '/'), "
		     "got '%s'", e->key, vs->label, e->value);
	if (ref->form == KEY_ENV && !valid_env_name(e->value))
		verr(v, e->line, "'%s' in %s must name an environment variable (letters, digits, "
		     "'_'), got '%s'", e->key, vs->label, e->value);
	/* reported once, at whichever of the two comes second */
	if (f && env && e == (f->line > env->line ? f : env))
		verr(v, e->line, "both %s_file and %s_env are set in %s: keep one", name, name,
		     vs->label);
}

/* ---- one entry, one section, the file ---- */

static void check_entry(struct validator *v, const struct vsec *vs, const struct cfg_entry *e)
{
	const struct cfg_entry *first = cfg_entry(vs->sec, e->key);
	if (first != e) {
		verr(v, e->line, "duplicate key '%s' in %s (already set at line %d): keep one",
		     e->key, vs->label, first->line);
		return;
	}
	struct key_ref ref;
	if (!resolve_key(vs->sec, e->key, &ref)) {
		/* without a driver we cannot know its keys: only the driver is reported */
		if (vs->driver_ok)
			report_unknown_key(v, vs, e);
		return;
	}
	if (ref.form != KEY_PLAIN) {
		check_secret_form(v, vs, e, &ref);
		return;
	}
	if (kind_has_name(vs->sec->kind) && !strcmp(e->key, "driver"))
		return; /* resolve_driver checked it */
	if (ref.opt->flags & ARCA_OPT_SECRET) {
		verr(v, e->line, "'%s' in %s is a secret, and secrets are not written in the "
		     "config: use %s_file = /path or %s_env = VARIABLE", e->key, vs->label,
		     e->key, e->key);
		return;
	}
	check_value(v, vs, e, ref.opt);
	if (ref.opt == table_find(engine_table(vs->sec->kind), e->key))
		check_engine_key(v, vs, e);
}

static const struct arca_config *first_like(const struct cfg_file *cf,
					    const struct arca_config *sec)
{
	for (size_t i = 0; i < cf->n_sections; i++)
		if (same_section(&cf->sections[i], sec->kind, sec->name))
			return &cf->sections[i];
	return sec;
}

static void check_section(struct validator *v, struct arca_config *sec)
{
	struct vsec vs = {.sec = sec, .driver_ok = 1};
	section_label(sec, vs.label, sizeof vs.label);
	sec->driver = NULL;
	sec->driver_options = NULL;
	const struct arca_config *first = first_like(v->cf, sec);
	if (first != sec) {
		verr(v, sec->line, "duplicate section %s (first at line %d): merge the two",
		     vs.label, first->line);
		return;
	}
	if (kind_has_name(sec->kind))
		vs.driver_ok = resolve_driver(v, &vs);
	check_required(v, &vs);
	for (size_t i = 0; i < sec->n_entries; i++)
		check_entry(v, &vs, &sec->entries[i]);
}

int cfg_validate(struct cfg_file *cf, cfg_driver_lookup lookup, void *lookup_arg,
		 const char *const *installed_drivers, size_t n_installed,
		 struct cfg_errors *errs)
{
	struct validator v = {
		.cf = cf, .lookup = lookup, .lookup_arg = lookup_arg,
		.installed = installed_drivers, .n_installed = n_installed, .errs = errs,
	};
	for (size_t i = 0; i < cf->n_sections; i++)
		check_section(&v, &cf->sections[i]);
	errors_sort(errs);
	return v.errors;
}
