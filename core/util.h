/* util.h — small helpers shared by the engine: memory, strings, parsing of
 * sizes/durations/booleans, "did you mean", hex, files. */
#ifndef ARCA_UTIL_H
#define ARCA_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Append node to a singly linked list kept as head and tail pointers. */
#define LIST_APPEND(head, tail, node)                                                              \
	do {                                                                                       \
		(node)->next = NULL;                                                               \
		if (tail)                                                                          \
			(tail)->next = (node);                                                     \
		else                                                                               \
			(head) = (node);                                                           \
		(tail) = (node);                                                                   \
	} while (0)

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer. */
struct buf {
	unsigned char *data;
	size_t len, cap;
};
/* Ask for transparent huge pages on a large buffer about to be filled. */
void advise_huge(void *p, size_t n);
void *xmalloc_big(size_t n);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_free(struct buf *b);

/* Parsers: return 0 on success, -1 on a malformed value. */
int parse_bool(const char *s, int *out);
int parse_int64(const char *s, int64_t *out);
int parse_size(const char *s, uint64_t *out);    /* 10, 4K, 16M, 1G, 2T */
int parse_duration(const char *s, int64_t *out); /* 30, 90s, 15m, 2h, 30d, 2w */

/* Levenshtein distance, for "did you mean". */
size_t edit_distance(const char *a, const char *b);
/* Closest candidate within a sensible distance, or NULL. */
const char *did_you_mean(const char *word, const char *const *candidates, size_t n);

/* String trimming in place; returns s. */
char *str_trim(char *s);
int str_starts(const char *s, const char *prefix);
int str_ends(const char *s, const char *suffix);
/* Whether `word` is one of the items of `list` separated by `sep`
 * ("a,b", "logical|physical"); a NULL list has none. */
int str_in_list(const char *list, char sep, const char *word);

/* A name (an item's bytes, from a driver or a snapshot) as text that is
 * safe on a terminal and reversible (FORMAT.md, "Names shown to people"):
 * valid UTF-8 stays as it is, except that a backslash becomes "\\" and each
 * byte of a control character (C0, DEL, C1), of a bidirectional mark or
 * override, or of invalid UTF-8 becomes "\xHH". name_escape_to writes at
 * most cap - 1 bytes and a NUL (cut between characters), and returns the
 * whole length; name_escape returns a malloc'd string. */
size_t name_escape_to(const char *name, char *out, size_t cap);
char *name_escape(const char *name);

void hex_encode(const unsigned char *in, size_t n, char *out /* 2n+1 */);
int hex_decode(const char *in, unsigned char *out, size_t n);

/* Whole-file helpers. read_file returns malloc'd data NUL-terminated. */
int read_file(const char *path, char **data, size_t *len);
/* Files where someone else may have planted something (the local cache).
 * read_file_at opens `name` (relative to dfd, or AT_FDCWD) without
 * following a final symlink or blocking on a FIFO, needs a regular file and
 * reads at most `max` bytes (-1 with EFBIG for more, EINVAL for no regular
 * file); data is malloc'd and NUL-terminated. write_file_at writes a new
 * file of a random name beside `name` (O_CREAT|O_EXCL|O_NOFOLLOW, 0600)
 * and renames it over `name`: whatever was there, a symlink included, is
 * replaced, never followed. Both 0 or -1 (errno set). */
int read_file_at(int dfd, const char *name, size_t max, char **data, size_t *len);
int write_file_at(int dfd, const char *name, const void *data, size_t len);
/* write_file_at of the concatenation of n parts: a large file is written
 * without a copy of it in memory. */
int write_file_parts_at(int dfd, const char *name, const void *const *parts, const size_t *lens,
                        int n);
/* write_file_at of what gen writes to fd (with write_fd_all; 0 or -1). */
int write_file_gen_at(int dfd, const char *name, int (*gen)(void *ctx, int fd), void *ctx);
int write_fd_all(int fd, const void *data, size_t len);
/* Open the directory `path` (absolute) whose last `depth` components are
 * arca's own: what is above them is opened as usual (a state_dir the
 * engine checked may be a symlink), each of them O_NOFOLLOW from the one
 * above, so a symlink planted there leads nowhere; "", "." and ".." are
 * refused. With `create`, missing directories are made 0700. A directory
 * fd, or -1 with errno. */
int open_dir_nofollow(const char *path, int depth, int create);
/* mkdir -p with mode; 0 or -1 (errno set). */
int mkdir_p(const char *path, unsigned mode);
/* rm -rf; 0 or -1. */
int remove_tree(const char *path);

/* Monotonic seconds and wall-clock time. */
double now_monotonic(void);
int64_t now_epoch(void);
/* "2026-11-24T09:08:11Z" */
void format_time_utc(int64_t epoch, char *out, size_t n);
/* "1.5 GiB" */
void format_bytes(uint64_t n, char *out, size_t len);

#endif
