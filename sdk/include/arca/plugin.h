/*
 * arca/plugin.h — the arca driver ABI, version 1.
 *
 * This is the only header a driver includes. A driver is a shared module
 * (libtool -module) that exports exactly one symbol:
 *
 *     ARCA_DRIVER_EXPORT const struct arca_driver *
 *     arca_driver_entry(const struct arca_host *host);
 *
 * The engine calls it once, right after loading, from the main thread. The
 * driver keeps `host` (it stays valid until the module is unloaded) and
 * returns a pointer to a static descriptor. The engine refuses the module
 * when descriptor->abi_major != ARCA_ABI_MAJOR.
 *
 * Compatibility rules (as SQLite's sqlite3_api_routines, OpenSSL's dispatch
 * tables):
 *  - every struct here starts with `struct_size` (or is only ever read up to
 *    its documented size) and only ever grows at the end;
 *  - a reader checks struct_size before touching a member added later;
 *  - enums only gain values; unknown values are treated as errors, never
 *    silently ignored;
 *  - ARCA_ABI_MAJOR changes only when something is removed or changes
 *    meaning, and then every driver must be rebuilt.
 *
 * Threads: the engine calls target ops of one instance from one thread at a
 * time (never concurrently). Destination ops of one instance may be called
 * concurrently from several engine threads (uploads run in parallel): a
 * destination driver must be thread-safe per instance. Host calls may be
 * made from any thread that the engine called into; a driver must not call
 * host functions from threads of its own unless the function says so (the
 * item calls by handle of ABI 1.1, item_begin_h and the rest, say which).
 *
 * Memory: strings passed to a driver are owned by the engine and valid for
 * the duration of the call unless stated otherwise. Strings a driver passes
 * to the engine are copied by the engine before the call returns.
 *
 * No global state: two instances of one driver (two targets using the same
 * driver) run side by side in one process. Keep everything in the instance.
 *
 * Conformance: `arca-driver-check MODULE.so SECTION-FILE` (installed with
 * this header; README.md, "Writing a driver") loads a module and runs this
 * contract against it with the engine's own code: the option table, a
 * snapshot -> restore -> verify round trip, a cancelled and a failing
 * snapshot recording nothing, a message with every failing return, and for
 * destinations put/get/list/remove/stat semantics, ranged reads, exclusive
 * create, not-found and concurrent calls from 8 threads.
 *
 * Compatibility is tested against the 1.0 header as it shipped
 * (tests/unit/modules/plugin_v1_0.h): a driver built against it loads and
 * round-trips, and the engine reads nothing past the struct_size it declares.
 */
#ifndef ARCA_PLUGIN_H
#define ARCA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ARCA_ABI_MAJOR 1
#define ARCA_ABI_MINOR 1

#define ARCA_DRIVER_ENTRY_SYMBOL "arca_driver_entry"

#if defined(__GNUC__)
#define ARCA_DRIVER_EXPORT __attribute__((visibility("default")))
#define ARCA_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define ARCA_DRIVER_EXPORT
#define ARCA_PRINTF(f, a)
#endif

/*
 * Status codes. Stable: the numeric value of each is also the exit code of
 * the `arca` command when an operation fails with it (see arca(1)).
 * 0 is success; 2 is reserved for command-line usage errors.
 */
enum arca_status {
	ARCA_OK = 0,
	ARCA_ERR_INTERNAL = 1, /* a bug or an unexpected condition */
	/* 2 is the CLI's usage error; drivers never return it */
	ARCA_ERR_CONFIG = 3,      /* bad configuration value or combination */
	ARCA_ERR_CONNECT = 4,     /* cannot reach a server or a path */
	ARCA_ERR_AUTH = 5,        /* credentials refused, or missing privilege */
	ARCA_ERR_IO = 6,          /* read/write failed (disk, network, child) */
	ARCA_ERR_CORRUPT = 7,     /* data failed a check: hash, CRC, format */
	ARCA_ERR_NOT_FOUND = 8,   /* object, item, snapshot or segment absent */
	ARCA_ERR_UNSUPPORTED = 9, /* operation not offered by this driver */
	ARCA_ERR_CANCELLED = 10,  /* the user interrupted (SIGINT/SIGTERM) */
	ARCA_ERR_EXISTS = 11,     /* refusing to overwrite something */
	ARCA_ERR_NOSPACE = 12,    /* disk or quota full */
	ARCA_ERR_LOCKED = 13,     /* the repository is locked by someone else */
	ARCA_ERR_PLUGIN = 14,     /* a driver module could not be loaded */
	/*
	 * Not an error (added in ABI 1.1): the exit code of `arca snapshot`
	 * when every snapshot was recorded but at least one is partial, its
	 * driver having skipped items with host->item_skipped. Drivers never
	 * return it.
	 */
	ARCA_PARTIAL = 15,
};

/* Log levels for host->log. */
enum arca_log_level {
	ARCA_LOG_ERROR = 0,
	ARCA_LOG_WARN = 1,
	ARCA_LOG_INFO = 2,
	ARCA_LOG_DEBUG = 3,
};

/* ---------------------------------------------------------------------- */
/* Configuration options a driver declares.                               */
/* ---------------------------------------------------------------------- */

enum arca_opt_type {
	ARCA_OPT_STRING = 0,   /* any text */
	ARCA_OPT_INT = 1,      /* decimal integer, checked against min/max */
	ARCA_OPT_BOOL = 2,     /* yes/no, true/false, on/off, 1/0 */
	ARCA_OPT_PATH = 3,     /* filesystem path; must be absolute */
	ARCA_OPT_SIZE = 4,     /* bytes with optional K/M/G/T suffix (1024-based) */
	ARCA_OPT_DURATION = 5, /* seconds with optional s/m/h/d/w suffix */
	ARCA_OPT_ENUM = 6,     /* one of `choices`, a '|'-separated list */
	ARCA_OPT_LIST = 7,     /* comma-separated list of strings */
};

/* Option flags. */
#define ARCA_OPT_REQUIRED 0x1u
/*
 * A secret is never written inline in the INI file. For a secret option
 * named NAME the user writes `NAME_file = /path` (the first line of the
 * file, without its newline, is the value) or `NAME_env = VARIABLE`. The
 * engine rejects `NAME = value`. Drivers read it with host->secret() and
 * must never log it.
 */
#define ARCA_OPT_SECRET 0x2u

struct arca_option {
	const char *name; /* lower-case key, e.g. "conninfo" */
	enum arca_opt_type type;
	unsigned flags;            /* ARCA_OPT_* flags */
	const char *default_value; /* NULL: no default */
	const char *help;          /* one line, shown by `arca plugins` */
	const char *choices;       /* ENUM only: "a|b|c" */
	int64_t min, max;          /* INT/SIZE/DURATION bounds; min==max==0: none */
};

/* Opaque handles owned by the engine. */
struct arca_config; /* the options of one [target] or [destination] section */
struct arca_ctx;    /* one running operation (snapshot/restore/verify/check) */
struct arca_item;   /* an item open by handle (added in ABI 1.1: item_begin_h) */

/* ---------------------------------------------------------------------- */
/* Items: the named byte streams a target driver stores and reads back.   */
/* ---------------------------------------------------------------------- */

enum arca_item_type {
	ARCA_ITEM_STREAM = 0,  /* opaque bytes (a dump, a segment, an object) */
	ARCA_ITEM_FILE = 1,    /* a regular file */
	ARCA_ITEM_DIR = 2,     /* a directory (no content) */
	ARCA_ITEM_SYMLINK = 3, /* a symbolic link (no content; see link_target) */
	/* Added in ABI 1.1 (an older engine must not be given them: check
	 * host->abi_minor >= 1). No content. A device's number is the driver's
	 * to keep in `meta` (the files driver: "rdev=MAJOR:MINOR"). */
	ARCA_ITEM_FIFO = 4,     /* a named pipe */
	ARCA_ITEM_CHARDEV = 5,  /* a character device node */
	ARCA_ITEM_BLOCKDEV = 6, /* a block device node */
	/* Added in ABI 1.1 (same rule). No content, size 0: something that
	 * was deleted at this name (an S3 delete marker, a deleted version in
	 * a versioned listing); `meta` says which, as the driver wants. Given
	 * back on restore like any item. */
	ARCA_ITEM_TOMBSTONE = 7,
};

struct arca_item_info {
	size_t struct_size; /* sizeof(struct arca_item_info) of the writer;
	                       since 1.1 also set by a reader (item_next) */
	const char *name;   /* unique within a snapshot, '/'-separated,
	                       no leading '/', no "." or ".." parts;
	                       exactly "." (type DIR) is the root of a
	                       tree, so its own mode/owner/mtime survive;
	                       or any bytes with ARCA_ITEM_KEY_NAME (1.1:
	                       a key may repeat, once per version) */
	enum arca_item_type type;
	uint32_t mode; /* permission bits (07777); 0 when unknown */
	uint32_t uid, gid;
	int64_t mtime_sec; /* seconds since the epoch */
	int32_t mtime_nsec;
	uint64_t size;           /* content length if known, else UINT64_MAX */
	const char *link_target; /* SYMLINK only */
	/*
	 * Optional driver metadata stored with the item and given back on
	 * restore (e.g. an S3 object's content type, a dump's format). Text,
	 * NUL-terminated; NULL for none. At most 64 KiB.
	 */
	const char *meta;
	/*
	 * Optional change fingerprint (e.g. "dev:ino:size:mtime:ctime" for a
	 * file, the ETag for an S3 object). When the engine's metadata cache
	 * says the item with this name and fingerprint was stored before,
	 * item_begin returns ARCA_ITEM_UNCHANGED and the driver must not send
	 * the content: it calls item_end at once and the engine reuses the
	 * stored content. NULL disables the shortcut for this item.
	 */
	const char *fingerprint;

	/* --- added in ABI 1.1: the engine reads and fills these only within
	 * struct_size (see item_next for how it knows a reader's size) --- */

	uint32_t flags; /* ARCA_ITEM_KEY_NAME, ARCA_ITEM_KEEP_ATTRS, or 0 */
	/*
	 * Optional checksum of the content as the source states it, text
	 * ("md5:HEX", "sha256:HEX", "etag:\"...\"", as the driver wants;
	 * NUL-terminated, at most 1024 bytes), stored and given back like
	 * meta. The engine does not check it: its own chunk hashes and
	 * authentication already guard what it stores; this is the source's
	 * word, for the driver's verify and restore.
	 */
	const char *checksum;
};

/*
 * Added in ABI 1.1: `name` is a key, not a path — any bytes but NUL, 1 to
 * ARCA_KEY_NAME_MAX of them: every S3 key ("/a", "a//b", "..", ".", "a/",
 * spaces, newlines, non-UTF-8). Only for STREAM and TOMBSTONE items. The
 * engine stores it exactly (FORMAT.md, "item") and never uses it as a
 * path; it shows it escaped (a backslash as "\\", a control character or
 * a byte of invalid UTF-8 as "\xHH"). Unlike a path, a key may repeat in
 * a snapshot: the versions of one object and its delete markers (a
 * versioned listing), each with its own fingerprint (the version id), in
 * the order the driver gives them. item_next gives every one; item_open
 * finds the first item with those bytes; the metadata cache matches an
 * item by name and fingerprint, so each version is reused on its own.
 *
 * A driver that writes items to a file system on restore must map keys to
 * safe paths itself; given an item with this flag it must never use the
 * name as a path as it is. A reader whose struct ends before `flags` (a
 * 1.0 driver) is given key names too, without the flag: every driver
 * checks a name before it makes a path of it, since the storage is hostile
 * (the files driver refuses absolute names and ".." parts). An S3 key
 * containing NUL (possible only with encoding-type=url) cannot be stored:
 * report it with item_skipped.
 *
 * For STREAM (and TOMBSTONE) items the other attributes are the driver's
 * to fill, all optional and given back exactly: mode the permission bits
 * the data had if it had any (0: none), uid/gid its owner if it had one,
 * mtime its last modification (an S3 object's Last-Modified); the engine
 * interprets none of them, and a driver that restores to files applies
 * them only if it documents so.
 */
#define ARCA_ITEM_KEY_NAME 0x1u
#define ARCA_KEY_NAME_MAX  4096

/*
 * Added in ABI 1.1 (later: check ARCA_HOST_HAS(host, item_end_info_h),
 * which an engine that knows this flag has; an older one refuses it).
 * For item_begin and item_begin_h only: never stored, never given back by
 * item_next. The attributes given with the item (mode, uid, gid, mtime,
 * meta, checksum, link_target) are provisional: what the driver knows
 * before it reads the item (an S3 listing gives size, ETag and
 * Last-Modified, not an object's headers or tags). When the engine
 * answers ARCA_ITEM_UNCHANGED, it records the item with the attributes
 * stored for it in the previous snapshot, not these, so the driver need
 * read nothing of an unchanged item: it calls item_end (item_end_h) at
 * once. Otherwise the driver sends the content and gives the real
 * attributes with item_end_info (item_end_info_h for a handle); a plain
 * item_end records the provisional ones. The engine keeps the attributes
 * of items stored with meta: an item stored without meta is never
 * answered unchanged under this flag. item_end_info may give the flags
 * with or without it.
 */
#define ARCA_ITEM_KEEP_ATTRS 0x2u

/* Returned by host->item_begin (not an error). */
#define ARCA_ITEM_UNCHANGED 100

/* The bound of a restore's "jobs" option (host->option(ctx, "jobs"), from
 * `arca restore --jobs N`): the engine refuses N outside 1..ARCA_JOBS_MAX
 * before a driver runs. A driver that checks the value uses this bound. */
#define ARCA_JOBS_MAX 256

/* ---------------------------------------------------------------------- */
/* Host services: the engine's side, passed to arca_driver_entry.         */
/* ---------------------------------------------------------------------- */

struct arca_host {
	size_t struct_size;
	int abi_major;
	int abi_minor;
	const char *engine_version;

	/* Logging. Any thread. Lines are prefixed with the running target or
	 * destination name by the engine. Never pass secrets. */
	void (*log)(enum arca_log_level level, const char *fmt, ...) ARCA_PRINTF(2, 3);

	/*
	 * Report why the call that is about to return `status` failed. The
	 * message says what failed, where and, when known, what to do. Any
	 * thread; the message is kept per thread until the engine reads it
	 * after the failing call returns. Returns `status` so a driver can
	 * write `return host->error(ARCA_ERR_IO, "...")`.
	 */
	int (*error)(int status, const char *fmt, ...) ARCA_PRINTF(2, 3);
	/*
	 * Which host calls set the message (the rule since ABI 1.1; a 1.0
	 * engine could leave the message of a failure the driver went past):
	 *  - error sets it, always;
	 *  - the calls that return a status (secret, item_begin, item_write,
	 *    item_end, item_skipped, item_end_info, item_next, item_open,
	 *    item_read, item_rewind, blob_put, blob_get, blob_remove, and the
	 *    *_h calls) set it when, and only when,
	 *    they return a failure, and then it is about that failure: a
	 *    driver that returns the status unchanged needs no message of
	 *    its own. When one of them succeeds (ARCA_OK, ARCA_ITEM_UNCHANGED)
	 *    the message is as the driver left it, even if the engine met and
	 *    handled failures on the way (a destination that failed before the
	 *    next one served a blob);
	 *  - blob_list sets it for its own failures, not for a nonzero value
	 *    of the driver's callback, which it returns as it is;
	 *  - log, config_get, config_int, config_bool, config_section, option,
	 *    progress_total, cancelled, scratch_dir, item_close_h and
	 *    error_message never touch it.
	 * The engine reports the message after a failing op only when its
	 * status is the status the op returned: an expected failure the driver
	 * went past (an optional secret's NOT_FOUND, item_next's end) is never
	 * the reason shown for a later one. An op that fails with a status no
	 * message was set for is reported as a driver bug, except
	 * ARCA_ERR_CANCELLED, reported as "interrupted". So: return a host
	 * call's failure as it came, or call error() for the status returned.
	 */

	/* Typed configuration lookup for the section the instance was opened
	 * with. Values are already validated against the driver's declared
	 * options, and defaults are applied. Missing optional keys without a
	 * default: config_get returns NULL, the others return `dflt`. */
	const char *(*config_get)(const struct arca_config *cfg, const char *key);
	int64_t (*config_int)(const struct arca_config *cfg, const char *key, int64_t dflt);
	int (*config_bool)(const struct arca_config *cfg, const char *key, int dflt);
	/* Name of the section ("app-db" in [target app-db]). */
	const char *(*config_section)(const struct arca_config *cfg);

	/*
	 * Secret lookup for an option declared ARCA_OPT_SECRET: reads NAME_file
	 * or NAME_env. On success *out is a malloc'd NUL-terminated string the
	 * driver must wipe and free(); ARCA_ERR_NOT_FOUND when neither is set.
	 */
	int (*secret)(const struct arca_config *cfg, const char *key, char **out);

	/* --- snapshot (target ops ->snapshot only) ------------------------ */

	/* Start an item. Returns ARCA_OK (send content with item_write, then
	 * item_end), ARCA_ITEM_UNCHANGED (see fingerprint), or an error. */
	int (*item_begin)(struct arca_ctx *ctx, const struct arca_item_info *info);
	/* Append content to the current item. Blocks while the engine's
	 * bounded pipeline is full. */
	int (*item_write)(struct arca_ctx *ctx, const void *data, size_t len);
	/* Finish the current item. */
	int (*item_end)(struct arca_ctx *ctx);

	/* --- restore / verify (reading a stored snapshot) ------------------ */

	/*
	 * Iterate the snapshot's items in stored order. Returns ARCA_OK and
	 * fills *info (strings valid until the next item_next/item_open), or
	 * ARCA_ERR_NOT_FOUND after the last item.
	 *
	 * Since ABI 1.1 the driver sets info->struct_size = sizeof *info
	 * before calling item_next and item_open; the engine fills members
	 * up to that size (never beyond its own) and sets struct_size to
	 * what it filled. A driver whose target ops are of the 1.0 size is
	 * given exactly the 1.0 members, whatever its struct_size says.
	 */
	int (*item_next)(struct arca_ctx *ctx, struct arca_item_info *info);
	/* Position on the item called `name`; ARCA_ERR_NOT_FOUND if absent.
	 * Afterwards item_next continues with the item stored after it (to
	 * start again from the first item: item_rewind, ABI 1.1). `name`
	 * is matched by its bytes, a key (ARCA_ITEM_KEY_NAME) or a path. */
	int (*item_open)(struct arca_ctx *ctx, const char *name, struct arca_item_info *info);
	/* Read content of the current item; *got == 0 at its end. The engine
	 * checks hashes and authentication as it reads: ARCA_ERR_CORRUPT. */
	int (*item_read)(struct arca_ctx *ctx, void *buf, size_t cap, size_t *got);

	/* Operation options given on the command line, by long name: those
	 * the driver declares for the operation (restore_options,
	 * snapshot_options, ...: a flag's value is "yes") and the engine's
	 * own: restore's "snapshot" and "from"; verify's "snapshot" (as the
	 * user gave it) and "read-data" (the percentage, "1" to "100", only
	 * when `--read-data` asks to read the data back: a driver's verify
	 * can stay cheap without it). NULL when not given. "snapshot-id" is
	 * the full id of the snapshot open for reading (restore, verify, and
	 * the ops the engine runs with a snapshot open); "config" the path of
	 * the config file. */
	const char *(*option)(struct arca_ctx *ctx, const char *name);

	/* --- progress and cancellation ------------------------------------ */

	/* Announce the expected totals (0 = unknown). The engine counts bytes
	 * and items itself as they pass through item_write/item_read. */
	void (*progress_total)(struct arca_ctx *ctx, uint64_t bytes, uint64_t items);
	/* Nonzero once the user asked to stop; return ARCA_ERR_CANCELLED. */
	int (*cancelled)(struct arca_ctx *ctx);

	/* A private scratch directory for this operation (created on first
	 * call, removed with its contents when the operation ends). */
	const char *(*scratch_dir)(struct arca_ctx *ctx);

	/* --- blobs: whole objects outside snapshots (e.g. WAL segments) ---- */
	/*
	 * Stored under the target's own namespace in every destination of the
	 * target, compressed and encrypted like chunks, not deduplicated.
	 * blob_put returns only when the blob is durable in every destination.
	 * With `exclusive`, an existing blob with different content fails
	 * with ARCA_ERR_EXISTS and an identical one succeeds.
	 */
	int (*blob_put)(struct arca_ctx *ctx, const char *name, const void *data, size_t len,
	                int exclusive);
	/* Reads a blob into a malloc'd buffer the driver frees. */
	int (*blob_get)(struct arca_ctx *ctx, const char *name, void **data, size_t *len);
	/* Calls cb for each blob name under `prefix`; stop early by returning
	 * nonzero from cb. */
	int (*blob_list)(struct arca_ctx *ctx, const char *prefix,
	                 int (*cb)(void *arg, const char *name), void *arg);
	int (*blob_remove)(struct arca_ctx *ctx, const char *name);

	/* --- added in ABI 1.1: check ARCA_HOST_HAS(host, item_skipped) ----- */

	/*
	 * Snapshot only. Record that the item `name` is left out of this
	 * snapshot and why (`reason`: short text such as "cannot open:
	 * Permission denied"). The engine logs it as a warning, and the
	 * snapshot is still recorded when ->snapshot returns ARCA_OK, marked
	 * partial: its summary counts the skipped items and names the first of
	 * them (`arca list` shows them), and `arca snapshot` exits ARCA_PARTIAL.
	 * Called while an item is open (after item_begin, before item_end),
	 * that item is dropped: nothing of it is recorded, and the driver does
	 * not call item_end for it. Returns ARCA_OK or an error (called
	 * outside a snapshot).
	 *
	 * Use it for what cannot be read (permissions, I/O errors), not for
	 * what the user excluded. With an older engine, fail the snapshot as
	 * before.
	 */
	int (*item_skipped)(struct arca_ctx *ctx, const char *name, const char *reason);

	/* --- added in ABI 1.1: check ARCA_HOST_HAS(host, item_end_info) ---- */

	/*
	 * Snapshot only: item_end with the item's final attributes, for a
	 * driver that learns them while streaming (an S3 GET of an object
	 * whose size, ETag, Last-Modified or version is known from the
	 * response, not the listing). `final` replaces every attribute
	 * item_begin gave (mode, uid, gid, mtime, meta, fingerprint,
	 * checksum) except name, type and flags, which must be equal (name
	 * NULL: the open item's). final->size is checked against the bytes
	 * the engine counted through item_write (UINT64_MAX: not checked):
	 * on a mismatch nothing of the item is recorded and the call fails
	 * with ARCA_ERR_CORRUPT, which the driver returns (the snapshot is
	 * not recorded), or it reports the item with item_skipped and goes on.
	 * After ARCA_ITEM_UNCHANGED the counted size is the stored one.
	 * Same thread as item_begin; `final` and its strings are copied
	 * before it returns. Errors as item_end, and ARCA_ERR_INTERNAL for a
	 * call outside an open item or a name/type/flags change. Items by
	 * handle (item_begin_h below) are completed so with item_end_info_h
	 * (check ARCA_HOST_HAS(host, item_end_info_h)).
	 */
	int (*item_end_info)(struct arca_ctx *ctx, const struct arca_item_info *final);

	/* --- added in ABI 1.1: check ARCA_HOST_HAS(host, item_rewind) ------ */

	/*
	 * Restore, verify and the ops run with a snapshot open (after_forget,
	 * verify_oldest): start reading the snapshot again, so that the next
	 * item_next returns its first item (a driver that looks at the items
	 * before it reads them: which kind of backup, where the manifest is).
	 * Engine thread, as item_next. No current item afterwards: item_read
	 * needs an item_next or item_open first. ARCA_OK, or an error (called
	 * without a snapshot open: ARCA_ERR_INTERNAL; the snapshot cannot be
	 * read again: its status), which sets the message.
	 */
	int (*item_rewind)(struct arca_ctx *ctx);

	/* --- added in ABI 1.1: items by handle, check ARCA_HOST_HAS(host,
	 * item_begin_h) ----------------------------------------------------- */
	/*
	 * Several items open at once, written or read from the driver's own
	 * threads (a bucket target fetching 16 objects in parallel, the files
	 * driver reading many small files). Unlike the calls above, these may
	 * be made from any thread, including threads the driver started, while
	 * the op that opened `ctx` (->snapshot, ->restore, ->verify) runs; the
	 * op joins its threads before it returns. Each handle is used by one
	 * thread at a time (it may pass from thread to thread). From driver
	 * threads a driver may also call log, error, cancelled, option,
	 * progress_total and config_get/int/bool; the other host calls only
	 * from the thread the engine called into.
	 *
	 * Snapshot. item_begin_h opens an item like item_begin and gives a
	 * handle (*h, owned by the engine) to send its content with
	 * item_write_h; item_end_h records it. Every handle item_begin_h gives
	 * (with ARCA_OK or ARCA_ITEM_UNCHANGED) is released by exactly one
	 * item_end_h or item_skipped_h, also after a failure of item_write_h
	 * (item_end_h then returns that failure and records nothing). `info`
	 * and its strings are copied. The fingerprint works per handle:
	 * ARCA_ITEM_UNCHANGED means send no content, call item_end_h.
	 * Order: items by handle are recorded in the order of their
	 * item_end_h calls (the snapshot lists them so, not in item_begin_h
	 * order); a driver wanting a stable order ends them in that order (the
	 * files driver sends each directory before what it holds). Whatever
	 * item_end_h returns, the item is no longer the driver's; a failure to
	 * record it fails the snapshot (the next calls return it).
	 * Memory: the engine buffers the content of up to 256 open handles, at
	 * most 8 MiB each and 64 MiB together with the ended items it has yet
	 * to record; past that a handle writes straight into the snapshot and
	 * holds it until its item_end_h (items that large are written one at a
	 * time). item_begin_h blocks while 256 handles are open, item_write_h
	 * past the buffers and item_end_h over the 64 MiB while another thread
	 * writes a large item: a thread must not wait in one of these while it
	 * keeps a large item open itself (where the engine can tell, it
	 * gets ARCA_ERR_INTERNAL, "driver bug"). While a handle is open the
	 * calls item_begin and item_skipped are refused (ARCA_ERR_INTERNAL);
	 * use item_skipped_h. A snapshot that fails, is cancelled, or returns
	 * with a handle open records nothing. Statuses: ARCA_OK,
	 * ARCA_ITEM_UNCHANGED (item_begin_h), ARCA_ERR_CANCELLED, the
	 * repository's errors (ARCA_ERR_IO, ARCA_ERR_NOSPACE, ...: the snapshot
	 * fails), ARCA_ERR_INTERNAL for misuse. Each sets the message (above).
	 */
	int (*item_begin_h)(struct arca_ctx *ctx, const struct arca_item_info *info,
	                    struct arca_item **h);
	int (*item_write_h)(struct arca_item *h, const void *data, size_t len);
	int (*item_end_h)(struct arca_item *h);
	/* Like item_skipped, from any thread: with a handle (its item is
	 * dropped, the handle released; `name` NULL means the handle's item)
	 * or without (h NULL: an item never begun, `name` required). */
	int (*item_skipped_h)(struct arca_ctx *ctx, struct arca_item *h, const char *name,
	                      const char *reason);
	/*
	 * Restore and verify. item_open_h opens an item for reading by handle:
	 * the item `name` (positioning item_next like item_open), or with name
	 * NULL the item the last item_next/item_open returned (no search: the
	 * way to hand each item to a worker). *info (may be NULL) is filled
	 * like item_next; its strings stay valid until item_close_h. Called
	 * from the thread the engine called into; it blocks while 64 read
	 * handles are open. item_read_h reads the handle's content like
	 * item_read (*got == 0 at its end; ARCA_ERR_CORRUPT when a check
	 * fails; ARCA_ERR_CANCELLED), from any thread. item_close_h releases
	 * the handle (always; any thread). Each open handle holds at most one
	 * chunk of content in memory. Statuses of item_open_h: ARCA_OK,
	 * ARCA_ERR_NOT_FOUND (no such item), ARCA_ERR_INTERNAL (misuse).
	 */
	int (*item_open_h)(struct arca_ctx *ctx, const char *name, struct arca_item_info *info,
	                   struct arca_item **h);
	int (*item_read_h)(struct arca_item *h, void *buf, size_t cap, size_t *got);
	void (*item_close_h)(struct arca_item *h);
	/*
	 * The message the last failing host call (or error()) left on the
	 * calling thread, "" when none; valid until the next host call on this
	 * thread. Any thread. It carries a failure in a driver's own thread to
	 * the thread the engine called into, where the op returns it:
	 * host->error(status, "%s", copy_of_error_message) there. Never fails,
	 * never touches the message.
	 */
	const char *(*error_message)(void);

	/* --- added in ABI 1.1 (later): check ARCA_HOST_HAS(host,
	 * item_end_info_h), and the same for snapshot_note --------------- */

	/*
	 * item_end_h with the item's final attributes: item_end_info for an
	 * item by handle, from any thread (the handle's). `final` replaces
	 * every attribute item_begin_h gave except name, type and flags, which
	 * must be equal (name NULL: the handle's); final->size is checked
	 * against the bytes sent through item_write_h (UINT64_MAX: not
	 * checked). Whatever it returns, the handle is released, as by
	 * item_end_h: on a size mismatch nothing of the item is recorded and
	 * it returns ARCA_ERR_CORRUPT, which the driver returns (the snapshot
	 * is not recorded) or goes past after reporting the item with
	 * item_skipped_h(ctx, NULL, name, reason). After ARCA_ITEM_UNCHANGED
	 * the size counted is the stored one. `final` and its strings are
	 * copied before it returns. Other statuses as item_end_h, and
	 * ARCA_ERR_INTERNAL for a name/type/flags change or meta over 64 KiB.
	 */
	int (*item_end_info_h)(struct arca_item *h, const struct arca_item_info *final);
	/*
	 * Snapshot only: a fact about the snapshot as a whole, stored in its
	 * summary and shown by `arca list` (the text under the snapshot's row,
	 * "notes" in --json): e.g. when a bucket listing, which is not atomic,
	 * started and ended. `key`: 1 to 32 of [a-z0-9_-]; `value`: UTF-8
	 * text without control characters, at most 256 bytes. At most 8 keys
	 * a snapshot; a key given again replaces its value. Kept only if the
	 * snapshot is recorded. The op's thread (the one the engine called
	 * ->snapshot on). ARCA_OK, or ARCA_ERR_INTERNAL (outside a snapshot, a
	 * bad key or value, too many keys), which sets the message.
	 */
	int (*snapshot_note)(struct arca_ctx *ctx, const char *key, const char *value);

	/* --- added in ABI 1.1 (later): check ARCA_HOST_HAS(host,
	 * config_named) ---------------------------------------------------- */

	/*
	 * Another section of the config file, by name: for a driver that
	 * works on a place the user names on the command line (`arca restore
	 * media --into NAME` writes into the bucket of [destination NAME]).
	 * [destination NAME] if the file has one, else [target NAME]; NULL
	 * when it has neither. *kind (may be NULL) gets "destination" or
	 * "target". The section was read and validated with the rest of the
	 * file (its values checked against its own driver's options, whose
	 * defaults apply): read it with config_get ("driver" names its
	 * driver), config_int, config_bool, config_section and secret, as the
	 * driver's own section. Valid while the op runs. The op's thread;
	 * never touches the message. (Better than reading the file named by
	 * option "config": the engine's syntax, checks and file:line.)
	 */
	const struct arca_config *(*config_named)(struct arca_ctx *ctx, const char *name,
	                                          const char **kind);
	/*
	 * The environment variables the config file's `*_env` keys name, in
	 * every section (other targets' passwords, destinations' keys), and
	 * ARCA_PASSPHRASE: what a driver that runs programs keeps out of their
	 * environment, whichever section named it. NULL-terminated, owned by
	 * the engine, valid while the op runs; never NULL. The op's thread;
	 * never touches the message. (Check ARCA_HOST_HAS(host,
	 * config_env_names) and the pointer.)
	 */
	const char *const *(*config_env_names)(struct arca_ctx *ctx);
};

/* Does the engine's host table have `member` (added after ABI 1.0)? */
#define ARCA_HOST_HAS(host, member)                                                                \
	((host)->struct_size >= offsetof(struct arca_host, member) + sizeof((host)->member) &&     \
	 (host)->member != NULL)

/* ---------------------------------------------------------------------- */
/* Target ops: a data store to protect.                                   */
/* ---------------------------------------------------------------------- */

/* An option of an operation that a target driver accepts (added in ABI
 * 1.1), e.g. {"to-time", 1, "recover to this time", "mode=physical",
 * "to-lsn,to-xid"}. The engine refuses, before any work, an option the
 * target's driver does not declare (exit 2, naming those it does) and
 * options given together that exclude each other. */
struct arca_op_option {
	const char *name;     /* the long option without "--" */
	int takes_value;      /* 1: --name VALUE; 0: a flag (its value is "yes") */
	const char *help;     /* one line */
	const char *when;     /* NULL, or "KEY=VALUE": only for targets whose config says so */
	const char *excludes; /* NULL, or a comma-separated list of option names */
};

/* A verb a target driver adds to the CLI (added in ABI 1.1):
 * `arca NAME TARGET ARGS...` runs the driver's `command` op with ARGS. */
struct arca_verb {
	const char *name;       /* "wal-push": [a-z0-9-]+, no core verb's name */
	const char *synopsis;   /* after "arca NAME TARGET": "PATH" */
	const char *summary;    /* one line for `arca --help` */
	const char *help;       /* the body of `arca NAME --help` */
	int min_args, max_args; /* ARGS after TARGET; max_args -1: no limit */
	unsigned flags;         /* ARCA_VERB_* */
};
/* ARCA_ERR_NOT_FOUND is an answer, not a failure: exit 8 with the message
 * at info level (restore_command asking for a segment that does not exist). */
#define ARCA_VERB_QUIET_NOT_FOUND 0x1u
/* The way back when there is no snapshot to restore (meilisearch's
 * `rebuild`, a reindex from the source): a restore that finds no snapshot
 * names `arca NAME TARGET` and the verb's summary. Added in ABI 1.1. */
#define ARCA_VERB_FALLBACK 0x2u

struct arca_target_ops {
	size_t struct_size;
	/* Create an instance for one [target] section. Must not connect yet:
	 * the engine opens every target while it validates the config, before
	 * any work. A value the driver rejects is ARCA_ERR_CONFIG with a
	 * message that names the key ("conninfo contains a password; ..."):
	 * the engine reports it as FILE:LINE of that key, with the other
	 * config errors. */
	int (*open)(const struct arca_config *cfg, void **instance);
	/* Reach the store without writing anything; report what is wrong. */
	int (*check)(void *instance, struct arca_ctx *ctx);
	/* Stream the store's current state as items. The snapshot is recorded
	 * only if this returns ARCA_OK (partial when items were reported with
	 * host->item_skipped). */
	int (*snapshot)(void *instance, struct arca_ctx *ctx);
	/* Read items back and rebuild the store (options via host->option). */
	int (*restore)(void *instance, struct arca_ctx *ctx);
	/* Semantic check of a stored snapshot (read via item_next/item_read).
	 * NULL when the driver has nothing beyond the engine's own checks. */
	int (*verify)(void *instance, struct arca_ctx *ctx);
	void (*close)(void *instance);
	/*
	 * Driver-specific verbs (e.g. "wal-push", "wal-get"), NULL if none.
	 * argv holds the verb's arguments after the target name.
	 * ARCA_ERR_UNSUPPORTED for verbs the driver does not know. Since ABI
	 * 1.1 the verbs are declared in `verbs` below; the engine calls only
	 * those.
	 *
	 * What the engine itself asks of a driver is an op, never a verb
	 * (after_forget, verify_oldest below).
	 */
	int (*command)(void *instance, struct arca_ctx *ctx, const char *verb, int argc,
	               char **argv);

	/* --- added in ABI 1.1: read only when struct_size reaches it ----- */

	/* The options `arca restore` may hand this driver (host->option), a
	 * {NULL}-terminated array; NULL: any (the 1.0 behaviour). The engine's
	 * own --snapshot and --from are not listed. */
	const struct arca_op_option *restore_options;
	/* The verbs `command` implements, {NULL}-terminated; NULL: none. */
	const struct arca_verb *verbs;
	/*
	 * After `arca forget` removed snapshots of the target, called with the
	 * oldest kept snapshot open for reading (item_next/item_open/
	 * item_read), so a driver that keeps blobs outside snapshots (archived
	 * WAL) removes those no kept snapshot needs. NULL: nothing to do.
	 */
	int (*after_forget)(void *instance, struct arca_ctx *ctx);
	/*
	 * After `arca verify` (without --snapshot) passed for the latest
	 * snapshot, when an older one is kept: called with the oldest kept
	 * snapshot open, so a driver that keeps blobs outside snapshots checks
	 * they still serve it (the archived WAL its base backup needs). A
	 * failure fails the verify. NULL: nothing to check.
	 */
	int (*verify_oldest)(void *instance, struct arca_ctx *ctx);

	/* --- added in ABI 1.1 (later): operation options, health --------- */

	/* The options `arca snapshot`, `arca verify`, `arca check` and `arca
	 * health` may hand this driver (host->option), declared as
	 * restore_options are, each {NULL}-terminated; NULL: none. The engine
	 * parses them with its own options (`--name VALUE`, `--name=VALUE`
	 * or a flag), shows them in `arca VERB --help`, and refuses before any
	 * work an option that one of the targets named does not declare (exit
	 * 2, naming the targets that take it), one whose `when` the target's
	 * config does not meet, and options that exclude each other. The
	 * arrays are the driver's and must stay valid while it is loaded. The
	 * engine's own names win (verify's --snapshot and --read-data, which
	 * every driver sees through option; the global --config, --verbose,
	 * --quiet, --json, ...): do not declare them. */
	const struct arca_op_option *snapshot_options;
	const struct arca_op_option *verify_options;
	const struct arca_op_option *check_options;
	const struct arca_op_option *health_options;
	/*
	 * `arca health TARGET`: is the store serving, as an application would
	 * use it (more than check's "reachable"): e.g. for a database, accept
	 * connections and answer a query in the database the target names,
	 * and not be in recovery unless the options say so; for a tree, exist
	 * and be readable. What to look at comes from the options (`--into`:
	 * a restored copy instead of the configured store). No repository is
	 * open: blob and item calls fail. Engine thread. ARCA_OK when healthy
	 * (the driver logs at info level what it saw); otherwise the status
	 * that says why (ARCA_ERR_CONNECT: not reachable; ARCA_ERR_AUTH: the
	 * credentials are refused; ARCA_ERR_NOT_FOUND: what should be served
	 * is absent; ARCA_ERR_IO: it answers wrongly), with a message. NULL:
	 * `arca health` says the driver cannot tell (exit 9). For the recovery
	 * orchestrator: run after a restore.
	 */
	int (*health)(void *instance, struct arca_ctx *ctx);
};

/* ---------------------------------------------------------------------- */
/* Destination ops: a place that holds objects of a repository.           */
/* ---------------------------------------------------------------------- */

/* Capability flags. */
#define ARCA_CAP_ATOMIC_PUT  0x1u  /* put is all-or-nothing, never partial */
#define ARCA_CAP_EXCLUSIVE   0x2u  /* put with ARCA_PUT_EXCLUSIVE is atomic */
#define ARCA_CAP_SERVER_COPY 0x4u  /* copy without download (the copy op, ABI 1.1) */
#define ARCA_CAP_MULTIPART   0x8u  /* large puts are split by the driver */
#define ARCA_CAP_RANGE_GET   0x10u /* get honours offset/length cheaply */

/* Added in ABI 1.1: what `probe` may report for one instance. */
#define ARCA_CAP_COND_CREATE  0x20u /* put_call ARCA_PUT_EXCLUSIVE is atomic */
#define ARCA_CAP_COND_REPLACE 0x40u /* put_call with if_version is atomic */
#define ARCA_CAP_STREAM_PUT   0x80u /* put_stream takes objects of any size */

/* put flags */
#define ARCA_PUT_EXCLUSIVE 0x1u /* fail with ARCA_ERR_EXISTS if present */

/* Sink for get: called with consecutive pieces of the object; a nonzero
 * return aborts the get and is returned by it. */
typedef int (*arca_sink_fn)(void *arg, const void *data, size_t len);

/*
 * Added in ABI 1.1. The context of one call of a destination op (the `_call`
 * ops, probe, put_stream, copy below), made by the engine for that call and
 * valid until it returns. A call the engine retries gets a new context.
 * Every function here may be called from any thread, the driver's own
 * included, while the op runs.
 */
struct arca_dest_call {
	size_t struct_size;
	unsigned attempt; /* 1 for the first try of this operation, then 2, 3.. */
	/* Nonzero once the user asked to stop: return ARCA_ERR_CANCELLED. */
	int (*cancelled)(struct arca_dest_call *call);
	/* `bytes` more were moved (sent or received) by this call. */
	void (*progress)(struct arca_dest_call *call, uint64_t bytes);
	/*
	 * The failure the op is about to return is transient (a 5xx, 429,
	 * timeout, reset, truncated body): the engine may call the op again,
	 * with the same arguments, after waiting at least retry_after_ms
	 * (0: the engine's own backoff). Without it a failure is final. The
	 * engine owns the one retry policy (exponential backoff with jitter, a
	 * bounded number of tries and time, each retry logged); a driver never
	 * loops on a failure itself.
	 */
	void (*transient)(struct arca_dest_call *call, int64_t retry_after_ms);
	/*
	 * Like host->error, from any thread (a driver's upload threads): the
	 * first message set for a call is kept, so the root cause wins over
	 * its consequences. Returns `status`.
	 */
	int (*error)(struct arca_dest_call *call, int status, const char *fmt, ...)
	    ARCA_PRINTF(3, 4);
	void *engine; /* the engine's; a driver does not touch it */
};

/* Added in ABI 1.1: what stat_call reports of an object. */
#define ARCA_VERSION_TAG_MAX 160
struct arca_dest_stat {
	size_t struct_size; /* set by the engine: the driver fills what fits */
	uint64_t size;
	int64_t mtime_sec; /* last modification, seconds since the epoch; 0 unknown */
	/* An opaque tag that changes whenever the content changes (an S3
	 * ETag, "ino:mtime_ns:size" of a file); "" when the driver has none.
	 * NUL-terminated, at most ARCA_VERSION_TAG_MAX - 1 bytes. */
	char version[ARCA_VERSION_TAG_MAX];
};

/* Added in ABI 1.1: the source of put_stream, the engine's. Copy `len`
 * bytes of the object at `offset` into buf; ARCA_OK, or a status that
 * fails the put (the driver returns it; called on the op's thread the
 * source has set the message, called from a driver thread the driver
 * says which part failed). Offsets may be read in any order and again (a
 * retried part), and from the driver's own threads at once. */
typedef int (*arca_source_fn)(void *arg, uint64_t offset, void *buf, size_t len);

struct arca_dest_ops {
	size_t struct_size;
	unsigned caps;
	int (*open)(const struct arca_config *cfg, void **instance);
	/* Reach the destination without writing; report what is wrong. */
	int (*check)(void *instance);
	/* Store `name` (e.g. "packs/ab/ab12..."; '/'-separated, [a-z0-9._-/])
	 * with `len` bytes. Returns only when the object is durable. */
	int (*put)(void *instance, const char *name, const void *data, size_t len, unsigned flags);
	/* Read `length` bytes at `offset` (length UINT64_MAX: to the end).
	 * ARCA_ERR_NOT_FOUND if the object does not exist. */
	int (*get)(void *instance, const char *name, uint64_t offset, uint64_t length,
	           arca_sink_fn sink, void *arg);
	/* Call cb for every object whose name starts with `prefix`, in no
	 * particular order. A nonzero return from cb stops and is returned. */
	int (*list)(void *instance, const char *prefix,
	            int (*cb)(void *arg, const char *name, uint64_t size), void *arg);
	/* Remove; removing an absent object is ARCA_OK. */
	int (*remove)(void *instance, const char *name);
	/* Size of an object; ARCA_ERR_NOT_FOUND if absent. */
	int (*stat)(void *instance, const char *name, uint64_t *size);
	void (*close)(void *instance);

	/* --- added in ABI 1.1: read only when struct_size reaches it ----- */

	/*
	 * Remove what interrupted puts left behind (a driver that stages a put
	 * in a temporary object): those written on this host (`hostname`) by a
	 * process that is gone, and any older than max_age_sec seconds, never
	 * one a live writer may still finish. *removed counts them. Called by
	 * `arca prune` and `arca unlock` from the engine thread. NULL when the
	 * driver leaves nothing behind.
	 */
	int (*sweep)(void *instance, const char *hostname, int64_t max_age_sec, unsigned *removed);

	/*
	 * Added in ABI 1.1: the ops below take a per-call context (struct
	 * arca_dest_call) and are what an engine of ABI >= 1.1 calls when they
	 * are set; the 1.0 ops above must stay set too (an engine of ABI 1.0
	 * calls those). Threads, names and statuses as for the 1.0 op of the
	 * same name. A failure marked with call->transient is retried by the
	 * engine; an unmarked one is final. Each may be NULL (the engine then
	 * uses the 1.0 op, without retries).
	 */

	/* Probe what this instance's store honours (a server may or may not
	 * support conditional writes): *caps gets `caps` plus ARCA_CAP_*
	 * found. Called once by the engine when it opens the repository,
	 * before any write; may reach the store (write and remove a probe
	 * object under "probe/"). */
	int (*probe)(void *instance, struct arca_dest_call *call, unsigned *caps);
	/* put. With if_version non-NULL (only when probe reported
	 * ARCA_CAP_COND_REPLACE): replace the object only if its current
	 * version tag is if_version, else ARCA_ERR_EXISTS. With
	 * ARCA_PUT_EXCLUSIVE but without ARCA_CAP_COND_CREATE the driver
	 * checks and then writes (not atomic). A retried put may meet what
	 * its earlier try wrote: the engine handles ARCA_ERR_EXISTS then. */
	int (*put_call)(void *instance, struct arca_dest_call *call, const char *name,
	                const void *data, size_t len, unsigned flags, const char *if_version);
	/* put of `size` bytes read from `source` (which the driver may read in
	 * parallel parts), for objects too large to hold in memory. Durable
	 * and all-or-nothing as put; flags as put. */
	int (*put_stream)(void *instance, struct arca_dest_call *call, const char *name,
	                  uint64_t size, arca_source_fn source, void *arg, unsigned flags);
	/* get; when retried, the engine has dropped what the sink got. */
	int (*get_call)(void *instance, struct arca_dest_call *call, const char *name,
	                uint64_t offset, uint64_t length, arca_sink_fn sink, void *arg);
	/* list; a retried listing starts again from the beginning (the engine
	 * hands the callback only the names of a complete listing). */
	int (*list_call)(void *instance, struct arca_dest_call *call, const char *prefix,
	                 int (*cb)(void *arg, const char *name, uint64_t size), void *arg);
	/* Remove `n` (>= 1) objects (a batch delete where the store has one);
	 * absent ones are ARCA_OK. On failure some may be removed. */
	int (*remove_call)(void *instance, struct arca_dest_call *call, const char *const *names,
	                   size_t n);
	/* stat with modification time and version tag; st->struct_size is the
	 * engine's: fill only members that fit in it. */
	int (*stat_call)(void *instance, struct arca_dest_call *call, const char *name,
	                 struct arca_dest_stat *st);
	/* Server-side copy of `from` to `to` (flags as put), only when probe
	 * reported ARCA_CAP_SERVER_COPY; else NULL or ARCA_ERR_UNSUPPORTED. */
	int (*copy)(void *instance, struct arca_dest_call *call, const char *from, const char *to,
	            unsigned flags);
};

/* ---------------------------------------------------------------------- */
/* The driver descriptor returned by arca_driver_entry.                   */
/* ---------------------------------------------------------------------- */

struct arca_driver {
	int abi_major;                            /* ARCA_ABI_MAJOR the driver was built for */
	size_t struct_size;                       /* sizeof(struct arca_driver) at build time */
	const char *name;                         /* the `driver =` value, [a-z0-9_-]+ */
	const char *version;                      /* the driver's own version */
	const char *description;                  /* one line */
	const struct arca_option *target_options; /* {NULL}-terminated; or NULL */
	const struct arca_option *dest_options;   /* {NULL}-terminated; or NULL */
	const struct arca_target_ops *target;     /* NULL: not a target driver */
	const struct arca_dest_ops *dest;         /* NULL: not a destination */
};

typedef const struct arca_driver *(*arca_driver_entry_fn)(const struct arca_host *host);

#ifdef __cplusplus
}
#endif

#endif /* ARCA_PLUGIN_H */
