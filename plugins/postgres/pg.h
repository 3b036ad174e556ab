/* pg.h — internals shared by the files of the postgres driver.
 *
 * The driver has two modes. Logical streams `pg_dump -Fc -Z0` into one
 * item and restores with pg_restore. Physical takes a base backup over the
 * replication protocol, one item per file, and restores it for
 * point-in-time recovery with the WAL archived by `arca wal-push`.
 *
 * The files, each calling only files below it (README.md has the graph):
 *
 *   postgres.c           descriptor, options, verbs, open/close, dispatch
 *   logical_snapshot.c   logical: snapshot (pg_dump streamed) and check
 *   logical_restore.c    logical: restore (pg_restore, piped or parallel)
 *   logical_verify.c     logical: verify (pg_restore reads the dump)
 *   physical_snapshot.c  physical: snapshot (BASE_BACKUP) and check
 *   physical_verify.c    physical: verify (files vs manifest, WAL chain)
 *   physical_restore.c   physical: restore for point-in-time recovery
 *   health.c             `arca health`: is the (restored) server serving?
 *   wal.c                the wal-push/wal-get verbs, pruning, WAL chains
 *   items.c              the readers of a stored snapshot
 *   dbprops.c            a database's own properties (logical restore)
 *   child.c              running the PostgreSQL programs
 *   conn.c               libpq connections and conninfo strings
 *   target.c             a target's password, programs and --options
 *   env.c, trust.c       a child's environment; trusting a program
 *   dumpfix.c, dumpframe.c, dumpfmt.c   custom-format dump parsers
 *   tar.c, manifest.c    BASE_BACKUP's tar stream and backup_manifest
 *   io.c                 whole writes
 *
 * Nothing here is global except the host table, which is the same for
 * every instance: two targets with this driver run side by side. */
#ifndef PG_DRIVER_H
#define PG_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <libpq-fe.h>
#include "arca/plugin.h"

extern const struct arca_host *pg_host;

#define PG_LOG(level, ...)  pg_host->log(level, __VA_ARGS__)
#define PG_ERR(status, ...) pg_host->error(status, __VA_ARGS__)

/* One [target] section. */
struct pg_target {
	const struct arca_config *cfg;
	const char *name; /* the section name */
	int physical;     /* mode = physical */
	const char *conninfo;
	const char *bin_dir; /* where pg_dump & co. live; NULL: PATH */
	int globals;
	int64_t restore_jobs;
	const char *restore_globals; /* auto|yes|no */
	const char *restore_copy;    /* auto|memory|disk: logical_restore.c */
	int64_t archive_timeout;     /* seconds `check` waits for a switched segment */
	int64_t recovery_timeout;    /* seconds `restore --start` waits for promotion */
	char **secret_vars;          /* variables *_env keys name (env.c); NULL until loaded */
};

/* ---- target.c ------------------------------------------------------------ */

/* The password secret (malloc'd, wipe with pg_secret_free), or NULL when
 * none is configured (libpq may still find one in PGPASSFILE). A broken
 * secret reference is an error: returns non-zero with the error set. */
int pg_password(struct pg_target *t, char **out);
void pg_secret_free(char *s);
/* The password to use with `conninfo` (a --into value, or NULL for the
 * configured one): its own password if it has one, else the configured
 * secret when it names the configured role, else none. */
int pg_password_for(struct pg_target *t, const char *conninfo, char **out);

/* The path of a PostgreSQL program: bin_dir/NAME when it exists there,
 * else the first NAME in an absolute directory on PATH. NULL (error set,
 * ARCA_ERR_CONFIG) when neither exists or the one found fails the checks
 * of trust.c. */
char *pg_program(struct pg_target *t, const char *name);

/* Integer command-line option (e.g. "jobs"), or dflt when not given;
 * 1..ARCA_JOBS_MAX, the bound the engine already applied to --jobs. */
int pg_option_int(struct arca_ctx *ctx, const char *name, int64_t dflt, int64_t *out);

/* ---- env.c: what a child's environment holds ------------------------------ */

/* Learn which variables the config's *_env keys name (once per target;
 * every op that runs children calls it first). */
int pg_env_load(struct pg_target *t, struct arca_ctx *ctx);
/* The variable names of the `KEY_env = NAME` lines of an INI file, as a
 * malloc'd NULL-terminated array (pg_env_free). 0, or -1 out of memory. */
int pg_env_scan(FILE *f, char ***names);
void pg_env_free(char **names);
/* A child's environment: of `from`, PATH, HOME, TZ, TMPDIR, LANG,
 * LANGUAGE and LC_*, plus libpq's variables when it `connects`; never
 * ARCA_* nor a name in `secret_vars`; then PGPASSWORD=password (malloc'd
 * in *pwvar, wipe it) when a password is given. The array (free it)
 * points into `from`. NULL when out of memory. */
char **pg_env_build(char *const *from, char *const *secret_vars, int connects, const char *password,
                    char **pwvar);

/* ---- trust.c ------------------------------------------------------------- */

/* 0 when the program at `path` (absolute), its symlink target and the
 * directories leading to them are owned by root or us and not writable by
 * others; else 1 and the reason and the fix in `why`. */
int pg_program_unsafe(const char *path, char *why, size_t n);

/* ---- io.c ---------------------------------------------------------------- */

/* Write all n bytes (retrying short writes and EINTR): 0, or -1 with errno
 * set. The caller words the error (and picks ARCA_ERR_NOSPACE for ENOSPC). */
int pg_write_all(int fd, const void *p, size_t n);
/* The same at an offset (pwrite). */
int pg_pwrite_all(int fd, const void *p, size_t n, off_t off);

/* ---- conn.c -------------------------------------------------------------- */

/*
 * Connect with the target's conninfo, overridden by `conninfo_override`
 * when not NULL (restore --into), with `dbname` replacing the database
 * when not NULL, and in physical replication mode when `replication`.
 * On failure returns ARCA_ERR_AUTH (wrong password, missing privilege,
 * refused by pg_hba.conf), ARCA_ERR_NOT_FOUND (no such database) or
 * ARCA_ERR_CONNECT, with a message naming the server and the reason.
 */
int pg_connect(struct pg_target *t, const char *conninfo_override, const char *dbname,
               int replication, PGconn **out);
/* Classify a libpq or client-program error text into a status. */
int pg_classify_error(const char *msg);
/* "host 127.0.0.1 port 5432" for messages. */
void pg_describe(PGconn *c, char *out, size_t n);
/* Run a query returning one value; *out is malloc'd (NULL for SQL NULL). */
int pg_query_value(PGconn *c, const char *sql, char **out);
/* The database name of a conninfo string (NULL if it names none). */
char *pg_conninfo_dbname(const char *conninfo);
/* A conninfo string (key='value' pairs) equal to `conninfo` with the
 * database replaced by `dbname` when not NULL. A password found in it is
 * moved to *password_out (malloc'd) so it never reaches a child's argv. */
char *pg_conninfo_build(const char *conninfo, const char *dbname, char **password_out);
/* PQerrorMessage without the trailing newline, for messages. */
const char *pg_conn_error(PGconn *c, char *buf, size_t n);

/* ---- dbprops.c: a database's own properties on a logical restore -------- */

/* What the dump says about the database itself, renamed to the restore's
 * database: CREATE DATABASE (encoding, locale), owner, and the statements
 * for its settings, comment, privileges and security labels. */
struct db_props {
	char *create;
	char *owner;
	char **stmts;
	size_t n;
};
/* Which user objects database `db` (connection c) holds: *any, and a list
 * such as "12 tables, views or sequences, 1 schema" in what. */
int dbprops_user_objects(struct pg_target *t, PGconn *c, const char *db, char *what,
                         size_t what_len, int *any);
/* Read the properties from the dump item's table of contents. */
int dbprops_read(struct pg_target *t, struct arca_ctx *ctx, const char *item, PGconn *admin,
                 const char *db, struct db_props *out);
/* After the database was created from p->create: owner, then the rest.
 * Failures (a role that does not exist) are warnings; returns their count. */
int dbprops_apply(struct pg_target *t, PGconn *admin, const struct db_props *p, const char *db);
void dbprops_free(struct db_props *p);

/* ---- child.c ------------------------------------------------------------- */

#define CHILD_STDIN  0x1u /* give the child a pipe for stdin */
#define CHILD_STDOUT 0x2u /* read the child's stdout through a pipe */

struct pg_child {
	pid_t pid;
	const char *what;          /* program name for messages */
	int in_fd, out_fd, err_fd; /* -1 when not piped */
	char err[16384];           /* the last bytes of the child's stderr */
	size_t err_len;
	int err_trunc; /* earlier stderr was dropped */
	int status;    /* waitpid status, valid after child_wait */
};

struct child_spec {
	char *const *argv;         /* argv[0] is the program path (pg_program) */
	const struct pg_target *t; /* whose child: its secret_vars stay out */
	int connects;              /* it connects: gets libpq's variables */
	const char *password;      /* PGPASSWORD for the child only; NULL: none */
	unsigned pipes;            /* CHILD_* */
	const char *stdout_path;   /* redirect stdout to this file (no pipe) */
	const char *cwd;           /* NULL: inherit */
	uid_t uid;                 /* run as this user when running as root */
	gid_t gid;
	int as_user; /* use uid/gid */
	int pass_fd; /* >= 0: open in the child as fd 3 (CHILD_PASSED_FD) */
};
#define CHILD_PASSED_FD 3
#define CHILD_SPEC_INIT                                                                            \
	{                                                                                          \
		.pass_fd = -1                                                                      \
	}

int child_start(struct pg_child *c, const struct child_spec *spec);
/* Read stdout (CHILD_STDOUT) while collecting stderr; *got == 0 at EOF. */
int child_read(struct pg_child *c, void *buf, size_t cap, size_t *got);
/* A growable byte buffer. */
struct fbuf {
	unsigned char *data;
	size_t len, cap;
};

/* A transformation applied on the pump's thread (no host calls there):
 * append what `in` becomes to `out`; in == NULL marks the end. 0 or -1. */
typedef int (*pump_filter_fn)(void *arg, const void *in, size_t n, struct fbuf *out);

/* A reader thread that keeps draining stdout into buffers of `size` bytes
 * while the caller hands them to the engine. pump_next blocks for the next
 * buffer (*len == 0 at EOF); pump_release returns it; pump_stop joins the
 * thread (kill the child first if it may still be writing). */
struct child_pump;
int pump_start(struct child_pump **p, struct pg_child *c, size_t size, pump_filter_fn filter,
               void *filter_arg);
int pump_next(struct child_pump *p, const void **data, size_t *len);
void pump_release(struct child_pump *p);
void pump_stop(struct child_pump *p);
/* Write all of data to stdin (CHILD_STDIN) while collecting stderr (and
 * discarding stdout when piped). ARCA_ERR_IO when the child has closed
 * its stdin (it exited or stopped reading). */
int child_write(struct pg_child *c, const void *data, size_t len);
/* Close stdin (EOF for the child). */
void child_close_stdin(struct pg_child *c);
/* Drain the rest of stdout/stderr, wait, and return 0 when the child
 * exited with status 0, -1 otherwise (see child_describe). */
int child_wait(struct pg_child *c);
/* Kill (SIGTERM, then SIGKILL after a grace time) and reap. */
void child_kill(struct pg_child *c);
/* "exited with status 1" / "was killed by signal 9 (Killed)". */
void child_describe(const struct pg_child *c, char *out, size_t n);
/* The collected stderr, trimmed, from a line start when truncated. */
const char *child_stderr(struct pg_child *c);
/* The status for a failed child's error: its stderr classified as a
 * libpq message would be, a "connection" failure that is not about the
 * server (a broken pipe) being ARCA_ERR_IO. */
int child_error_status(const struct pg_child *c);
/* Run to completion; *out is its stdout (malloc'd, NUL-terminated). A
 * non-zero exit is an error carrying its stderr. */
int child_run(const struct child_spec *spec, char **out);

/* ---- items.c: reading a stored snapshot back ------------------------------ */

/* item_next with a fresh info (the item becomes current for item_read);
 * ARCA_ERR_NOT_FOUND after the last one. host->item_rewind starts over. */
int pg_item_next(struct arca_ctx *ctx, struct arca_item_info *info);
/* Open an item by name (it becomes current for item_read). */
int pg_item_open(struct arca_ctx *ctx, const char *name);
/* Read the rest of the current item into memory (malloc'd, NUL-terminated;
 * len may be NULL); ARCA_ERR_CORRUPT when it outgrows `limit` bytes. */
int pg_read_current(struct arca_ctx *ctx, char **out, size_t *len, size_t limit);
/* Pipe the rest of the current item into a child's stdin (CHILD_STDIN),
 * then close it; *child_closed when the child stopped reading (its exit
 * status says why). */
int pg_pipe_current(struct arca_ctx *ctx, struct pg_child *c, int *child_closed);
/* The value of "key=value" in item metadata (malloc'd), or NULL. */
char *pg_meta_value(const char *meta, const char *key);

/* A logical snapshot's items. */
#define DUMP_PREFIX  "dump/"
#define DUMP_SUFFIX  ".pgdump"
#define GLOBALS_ITEM "globals.sql"
struct logical_items {
	char *dump;    /* item name */
	char *dump_db; /* database the dump was taken from */
	int has_globals;
};
/* Walk to the end: the first dump item (ARCA_ERR_CORRUPT when none) and
 * whether globals.sql is there. Free with logical_items_free even on error. */
int logical_items_find(struct pg_target *t, struct arca_ctx *ctx, struct logical_items *li);
void logical_items_free(struct logical_items *li);

/* Read the physical snapshot's backup_manifest (and its item metadata, malloc'd). */
struct manifest;
int pg_read_manifest(struct arca_ctx *ctx, struct manifest *m, char **meta);

/* dumpfix.c: fill in the data offsets of a custom-format dump written to a
 * pipe, so parallel pg_restore can seek. Feed the bytes as they are copied
 * (-1: the walker gave up; feeding on is harmless), then apply to the copy:
 * 0 on success (why: what was done), -1 when the file cannot be fixed (why:
 * the reason; the file is untouched and still restores, only slower).
 * dump_fix_offsets does both for a file. */
struct dump_offsets;
struct dump_offsets *dump_offsets_new(void);
int dump_offsets_feed(struct dump_offsets *o, const void *data, size_t n);
/* Plan the copy's layout (before the first feed): each data block is
 * followed by a hole that makes pg_restore --jobs load the tables with the
 * most work first (see dumpfix.c). The copy then writes the bytes fed
 * where dump_offsets_place says: input position `in`, n bytes -> *out; it
 * returns how many of them are contiguous there. */
void dump_offsets_plan(struct dump_offsets *o);
size_t dump_offsets_place(struct dump_offsets *o, uint64_t in, size_t n, uint64_t *out);
int dump_offsets_apply(struct dump_offsets *o, int fd, char *why, size_t why_len);
void dump_offsets_free(struct dump_offsets *o);
int dump_fix_offsets(const char *path, char *why, size_t why_len);

/* dumpframe.c: regroup the per-row chunks of a -Z0 custom-format stream
 * into larger frames (see there). Feed and finish append to `out`; they
 * make no host calls. The note says why a stream was passed on unchanged. */
struct dump_frame;
struct dump_frame *dump_frame_new(void);
int dump_frame_feed(struct dump_frame *f, const void *data, size_t n, struct fbuf *out);
int dump_frame_finish(struct dump_frame *f, struct fbuf *out);
const char *dump_frame_note(const struct dump_frame *f);
void dump_frame_free(struct dump_frame *f);

/* ---- tar.c / manifest.c --------------------------------------------------- */

/* Streaming ustar parser: feeds entries to callbacks as bytes arrive. */
struct tar_entry {
	char name[260]; /* ustar prefix (155) + "/" + name (100) + NUL */
	char link[101];
	char type; /* '0' file, '5' dir, '2' symlink */
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t mtime;
};
struct tar_sink {
	void *arg;
	int (*begin)(void *arg, const struct tar_entry *e);
	int (*data)(void *arg, const void *p, size_t n);
	int (*end)(void *arg);
};
struct tar_reader {
	const struct tar_sink *sink;
	unsigned char hdr[512];
	size_t hdr_len;
	uint64_t left; /* content bytes of the current entry */
	size_t pad;    /* padding bytes still to skip */
	int in_entry;
	int ended;      /* saw the zero blocks */
	char where[64]; /* archive name for messages */
};
/* A relative path without empty, "." or ".." parts. */
int pg_path_safe(const char *path);
void tar_init(struct tar_reader *r, const struct tar_sink *sink, const char *where);
int tar_feed(struct tar_reader *r, const void *p, size_t n);
/* The archive ended: fails if it stopped inside an entry. */
int tar_finish(struct tar_reader *r);

/* backup_manifest */
struct manifest_file {
	char *path; /* relative to the data directory */
	uint64_t size;
	char *algorithm; /* NULL when the manifest has no checksum */
	unsigned char checksum[64];
	size_t checksum_len;
};
struct manifest {
	struct manifest_file *files;
	size_t n_files;
	uint32_t timeline; /* of the first WAL range */
	uint64_t start_lsn, end_lsn;
};
/* Parse and check the manifest's own SHA-256. ARCA_ERR_CORRUPT on a bad one. */
int manifest_parse(const char *text, size_t len, struct manifest *m);
void manifest_free(struct manifest *m);
/* Incremental checksum of one file against its manifest entry. */
struct file_check;
struct file_check *file_check_new(const struct manifest_file *f);
void file_check_update(struct file_check *fc, const void *p, size_t n);
/* 0 when size and checksum match; else -1 and a reason in `why`. */
int file_check_done(struct file_check *fc, char *why, size_t n);

uint32_t crc32c_update(uint32_t crc, const void *p, size_t n);

/* ---- wal.c --------------------------------------------------------------- */

int wal_push(struct pg_target *t, struct arca_ctx *ctx, int argc, char **argv);
int wal_get(struct pg_target *t, struct arca_ctx *ctx, int argc, char **argv);
int wal_prune(struct pg_target *t, struct arca_ctx *ctx, int argc, char **argv);

/* WAL file names. */
#define WAL_NAME_LEN 24
int wal_is_segment(const char *name);    /* 24 hex digits */
int wal_is_archivable(const char *name); /* segment, .partial, .history, .backup */
/* "wal/" + lower-case name: blob names are lower case. */
void wal_blob_name(const char *walname, char *out, size_t n);
/* Segment name for timeline + LSN (16 MiB segments unless seg_size). */
void wal_segment_name(uint32_t tli, uint64_t lsn, uint64_t seg_size, char *out);
/* Parse "16/B374D848" into an LSN. */
int wal_parse_lsn(const char *s, uint64_t *out);
/* The archived segments of `from`'s timeline from `from` on: `last` is the
 * last of the contiguous run starting at `from` ("" if `from` is absent),
 * `hole` the first missing one after which a later one exists ("" when
 * none), `newest` the highest segment at or after `from` (""). */
int wal_chain(struct arca_ctx *ctx, const char *from, uint64_t seg_size, char *last, char *hole,
              char *newest);
/* The archived cluster's WAL segment size (16 MiB when nothing is archived). */
uint64_t wal_segment_size(struct arca_ctx *ctx);

/* The chain a base backup needs, as recovery reads it: from its first
 * segment on, following timeline switches to the latest timeline (history
 * files probed as PostgreSQL does), each segment from the newest timeline
 * begun by then, up to the newest segment archived on that path. One
 * listing of the archive (plus the latest timeline's history file); with
 * read_pct, that share of the segments is read back and their first page
 * header checked. A timeline that cannot be followed (history file
 * missing or malformed, the latest timeline not descending from the
 * backup) is ARCA_ERR_CORRUPT with the reason. */
struct wal_walk {
	/* in */
	const char *start;  /* the backup's first segment */
	const char *end;    /* its last one (NULL: none) */
	uint64_t start_lsn; /* where the backup starts (0: at `start`) */
	uint64_t seg_size;
	int read_pct; /* 0: presence only */
	/* out */
	uint32_t latest_tli;
	size_t n_timelines;          /* on the path */
	char brk[WAL_NAME_LEN + 1];  /* first missing or unreadable segment ("") */
	char why[200];               /* what is wrong with it */
	char last[WAL_NAME_LEN + 1]; /* the segment before brk, or newest ("") */
	char newest[WAL_NAME_LEN + 1];
	char next[WAL_NAME_LEN + 1]; /* the one after last: brk, or the first not yet archived */
	uint64_t last_segno;
	int has_last;   /* last is set: a run of segments from start is there */
	int consistent; /* that run reaches `end` */
	uint64_t n_archived, n_missing, n_after, n_read; /* n_after: archived after brk */
};
int wal_walk(struct arca_ctx *ctx, struct wal_walk *w);

/* ---- the operations, dispatched by postgres.c ------------------------------ */

/* logical_snapshot.c */
int logical_snapshot(struct pg_target *t, struct arca_ctx *ctx);
int logical_check(struct pg_target *t, struct arca_ctx *ctx);
/* logical_restore.c */
int logical_restore(struct pg_target *t, struct arca_ctx *ctx);
/* logical_verify.c */
int logical_verify(struct pg_target *t, struct arca_ctx *ctx);

/* physical_snapshot.c */
int physical_snapshot(struct pg_target *t, struct arca_ctx *ctx);
int physical_check(struct pg_target *t, struct arca_ctx *ctx);
/* physical_verify.c */
int physical_verify(struct pg_target *t, struct arca_ctx *ctx);
/* The hook arca verify runs with the oldest snapshot open. */
int physical_verify_oldest(struct pg_target *t, struct arca_ctx *ctx, int argc, char **argv);
/* health.c: the health op (options "into", "standby"), either mode. */
int pg_health(struct pg_target *t, struct arca_ctx *ctx);
/* physical_restore.c */
int physical_restore(struct pg_target *t, struct arca_ctx *ctx);

#endif
