/* config_read.c — reading the INI file with inih, keeping the line of
 * every section header and key, and reporting every syntax error.
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
#include <ini.h>
#include "config.h"
#include "config_internal.h"
#include "util.h"

/* ---------------------------------------------------------------------- */
/* Reading: a line reader for inih that counts lines and checks shapes.   */
/* ---------------------------------------------------------------------- */

struct parser {
	struct cfg_file *cf;
	struct cfg_errors *errs;
	int lineno;
	long section;  /* index of the open section in cf->sections; -1: none */
	int skip_keys; /* the open section is unusable: drop its keys quietly */
	/* the source: a FILE, or a string */
	FILE *fp;
	const char *text;
	int read_errno; /* set when reading the FILE failed */
	char *line;     /* the current raw line */
	size_t cap;
	/* Values too long for inih's line buffer (INI_MAX_LINE, compiled into
	 * Debian's library): the reader hands inih a placeholder instead and
	 * the handler puts the value back, so lines of any sensible length
	 * (long paths, exclude lists) can be written. */
	char **long_values;
	size_t n_long;
};

#define LONG_VALUE_MARK "\001arca-long-value-"
#define LINE_MAX_LEN    65536 /* longer lines are refused: not a sensible config */

__attribute__((format(printf, 2, 3))) static void parse_error(struct parser *p, const char *fmt,
                                                              ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_errors_vadd(p->errs, p->cf->path, p->lineno, fmt, ap);
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
	for (size_t i = 0; i < CFG_KIND_COUNT; i++)
		if (!strcmp(word, cfg_kind_names[i]))
			return (int)i;
	return -1;
}

static void report_unknown_section(struct parser *p, const char *type, const char *name)
{
	const char *hint = did_you_mean(type, cfg_kind_names, CFG_KIND_COUNT);
	const char *sp = *name ? " " : "";
	if (hint)
		parse_error(p, "unknown section [%s%s%s] (did you mean [%s%s%s]?)", type, sp, name,
		            hint, sp, name);
	else
		parse_error(p,
		            "unknown section [%s%s%s]: the sections are [engine], "
		            "[destination NAME], [target NAME] and [recovery]",
		            type, sp, name);
}

static void append_section(struct parser *p, enum cfg_kind kind, const char *name)
{
	struct cfg_file *cf = p->cf;
	cf->sections = xrealloc(cf->sections, (cf->n_sections + 1) * sizeof *cf->sections);
	struct arca_config *sec = &cf->sections[cf->n_sections];
	memset(sec, 0, sizeof *sec);
	sec->kind = kind;
	sec->name = cfg_kind_has_name(kind) ? xstrdup(name) : NULL;
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
	else if (cfg_kind_has_name(kind) && !*name)
		parse_error(p, "[%s] needs a name: write [%s NAME]", header, header);
	else if (!cfg_kind_has_name(kind) && *name)
		parse_error(p, "[%s] takes no name: write [%s] (there is only one)", header,
		            header);
	else if (cfg_kind_has_name(kind) && !valid_section_name(name))
		parse_error(p,
		            "bad name '%s' in [%s %s]: use only letters, digits, '_', '.' "
		            "and '-'",
		            name, header, name);
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
		parse_error(p,
		            "line is %zu characters long; at most %d fit here: shorten it "
		            "(e.g. move a long command into a script)",
		            raw_len, max - 3);
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

/* A key = value line too long for inih: "key = <mark>N" goes to inih and
 * the value (trimmed, inline comment dropped, as inih would) is kept. */
static const char *shorten_value(struct parser *p, const char *s, char *out, int max)
{
	const char *eq = find_before_comment(s, "=:");
	const char *v = eq + 1, *end = v;
	/* an inline comment starts at a ';' after whitespace, as for inih */
	for (int was_space = 1; *end && !(was_space && *end == ';'); end++)
		was_space = isspace((unsigned char)*end);
	while (isspace((unsigned char)*v))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	size_t klen = (size_t)(eq - s);
	if (klen + sizeof LONG_VALUE_MARK + 24 > (size_t)max) {
		check_line(p, s, strlen(s), max); /* the key itself is too long */
		out[0] = 0;
		return out;
	}
	p->long_values = xrealloc(p->long_values, (p->n_long + 1) * sizeof *p->long_values);
	p->long_values[p->n_long] = xstrndup(v, (size_t)(end - v));
	snprintf(out, (size_t)max, "%.*s= %s%zu", (int)klen, s, LONG_VALUE_MARK, p->n_long);
	p->n_long++;
	return out;
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
	if ((size_t)len > LINE_MAX_LEN) {
		parse_error(p, "line is %zd characters long; at most %d are read", len,
		            LINE_MAX_LEN);
		s = "";
	} else if (strlen(s) + 3 > (size_t)max && *s != '[' && *s != ';' && *s != '#' &&
	           *find_before_comment(s, "=:")) {
		s = shorten_value(p, s, out, max);
		return out;
	}
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
		parse_error(p,
		            "'%s' is set before any section: put it under [engine], "
		            "[destination NAME], [target NAME] or [recovery]",
		            name);
		p->skip_keys = 1;
		return 1;
	}
	if (!*name) {
		parse_error(p, "the key name is missing before '='");
		return 1;
	}
	if (value && !strncmp(value, LONG_VALUE_MARK, strlen(LONG_VALUE_MARK))) {
		size_t k = (size_t)strtoul(value + strlen(LONG_VALUE_MARK), NULL, 10);
		if (k < p->n_long)
			value = p->long_values[k];
	}
	append_entry(&p->cf->sections[p->section], name, value ? value : "", p->lineno);
	return 1;
}

/* Whether errs already holds a message about `line`. */
static int errors_have_line(const struct cfg_errors *e, int line)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->lines && e->lines[i] == line)
			return 1;
	return 0;
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
	for (size_t i = 0; i < p.n_long; i++)
		free(p.long_values[i]);
	free(p.long_values);
	*out = p.cf;
	return 0;
}

int cfg_load(const char *path, struct cfg_file **out, struct cfg_errors *errs)
{
	*out = NULL;
	FILE *fp = fopen(path, "re");
	if (!fp) {
		cfg_errors_add(errs, path, 0,
		               "cannot open the config file: %s (give another "
		               "with -c FILE or the ARCA_CONFIG variable)",
		               strerror(errno));
		return -1;
	}
	struct parser p = {.errs = errs, .section = -1, .fp = fp};
	p.cf = new_file(path);
	parse(&p);
	free(p.line);
	for (size_t i = 0; i < p.n_long; i++)
		free(p.long_values[i]);
	free(p.long_values);
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
