/* loader.c — finding, checking and loading driver modules with libltdl.
 *
 * A module is code that runs as the backup user, usually root, with the
 * database passwords and the repository key in reach. So before anything is
 * loaded, the module file and every directory leading to it must be
 * writable only by root or by the user arca runs as (OpenPAM's rule for PAM
 * modules, OpenSSH's StrictModes). Then the descriptor it returns is checked
 * against ABI 1 before the engine touches any of it. Every refusal says
 * which file, why, and what to do.
 *
 * libltdl is not thread-safe: load and unload from the main thread only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ltdl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "loader.h"
#include "log.h"
#include "util.h"

/* Sizes of the ABI 1.0 structs: a driver's struct_size must reach at least
 * the last member ABI 1.0 defined. Later minor versions only add members
 * after these, so these numbers never change within ABI 1. */
#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define DRIVER_V1_SIZE       END_OF(struct arca_driver, dest)
#define TARGET_OPS_V1_SIZE   END_OF(struct arca_target_ops, command)
#define DEST_OPS_V1_SIZE     END_OF(struct arca_dest_ops, close)

/* An option table longer than this is taken to be missing its {NULL} end. */
#define MAX_OPTIONS 512

/* ---------------------------------------------------------------------- */
/* Ownership and permission checks.                                        */
/* ---------------------------------------------------------------------- */

static int trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* "uid 65534 (nobody)" into out. */
static void describe_uid(uid_t uid, char *out, size_t n)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
		snprintf(out, n, "uid %u (%s)", (unsigned)uid, res->pw_name);
	else
		snprintf(out, n, "uid %u", (unsigned)uid);
}

/* What someone else could do with a path they can change, and to whom
 * the fix gives it (the loader: code, to root; state_dir: arca's own
 * files, to the user arca runs as). */
struct trust {
	const char *risk;
	const char *chown_to;
};
static const struct trust code_trust = {"replace the code arca runs", "root"};

/* Why `st` (of `path`, shown as `what`) could be changed by someone other
 * than root or us; NULL when it is safe. `sticky_ok` accepts a writable
 * directory with the sticky bit (like /tmp): there others may add entries
 * but cannot rename or replace ours. */
static char *unsafe_owner_or_mode(const char *what, const char *path, const struct stat *st,
                                  int sticky_ok, const struct trust *t)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);
	char owner[160];
	describe_uid(st->st_uid, owner, sizeof owner);
	if (!trusted_owner(st->st_uid)) {
		char me[200] = "";
		if (geteuid() != 0) {
			char uid[160];
			describe_uid(geteuid(), uid, sizeof uid);
			snprintf(me, sizeof me, " or by %s that arca runs as", uid);
		}
		return xasprintf("%s (mode %04o) is owned by %s, not by root%s, so that user "
		                 "could %s: chown %s %s",
		                 what, mode, owner, me, t->risk, t->chown_to, path);
	}
	mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);
	if (!w || (sticky_ok && (st->st_mode & S_ISVTX)))
		return NULL;
	const char *who = w == (S_IWGRP | S_IWOTH) ? "group- and world-writable"
	                  : w == S_IWOTH           ? "world-writable"
	                                           : "group-writable";
	return xasprintf("%s (owned by %s) is %s (mode %04o), so others could %s: "
	                 "chmod go-w %s",
	                 what, owner, who, mode, t->risk, path);
}

/* Check one directory on the way to `dir`. */
static char *unsafe_dir_step(const char *prefix, const char *dir, int last, const struct trust *t)
{
	struct stat st;
	if (stat(prefix, &st) < 0)
		return xasprintf("cannot inspect %s: %s", prefix, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return xasprintf("%s is not a directory", prefix);
	char *what = last ? xasprintf("the directory %s", prefix)
	                  : xasprintf("%s (a parent of %s)", prefix, dir);
	char *reason = unsafe_owner_or_mode(what, prefix, &st, !last, t);
	free(what);
	return reason;
}

/* Check `dir` and every directory above it, "/" first. Each prefix is
 * stat'ed, so a symlinked component is judged by the directory it leads to
 * (and the symlink itself by the directory holding it, checked just
 * before). Returns the reason it is unsafe, or NULL. */
static char *unsafe_dir_chain(const char *dir, const struct trust *t)
{
	char *p = xstrdup(dir);
	size_t len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = 0;
	char *reason = unsafe_dir_step("/", dir, len == 1, t);
	for (size_t i = 1; i <= len && len > 1 && !reason; i++) {
		if (i < len && p[i] != '/')
			continue;
		char saved = p[i];
		p[i] = 0;
		reason = unsafe_dir_step(p, dir, i == len, t);
		p[i] = saved;
	}
	free(p);
	return reason;
}

/* The directory part of an absolute path ("/a/b.so" -> "/a", "/b.so" -> "/"). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* Check a directory given by the user, both as written and as resolved, so
 * that a symlink on the way is judged by where it leads and by who could
 * repoint it. */
static char *unsafe_dir_for(const char *dir, const struct trust *t)
{
	char *reason = unsafe_dir_chain(dir, t);
	if (reason)
		return reason;
	char *real = realpath(dir, NULL);
	if (!real)
		return xasprintf("cannot resolve %s: %s", dir, strerror(errno));
	if (strcmp(real, dir) != 0)
		reason = unsafe_dir_chain(real, t);
	free(real);
	return reason;
}

static char *unsafe_dir(const char *dir)
{
	return unsafe_dir_for(dir, &code_trust);
}

char *loader_unsafe_dir(const char *dir, const char *risk, const char *chown_to)
{
	const struct trust t = {risk, chown_to};
	return unsafe_dir_for(dir, &t);
}

/* ---------------------------------------------------------------------- */
/* Descriptor checks.                                                      */
/* ---------------------------------------------------------------------- */

static int valid_name(const char *s, int allow_dash)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      (allow_dash && *s == '-')))
			return 0;
	}
	return 1;
}

/* A driver-supplied string made safe to print: at most 64 characters, no
 * control or non-ASCII bytes. */
static void printable(const char *s, char *out, size_t n)
{
	size_t j = 0;
	if (!s) {
		snprintf(out, n, "(null)");
		return;
	}
	for (size_t i = 0; s[i] && j + 4 < n && i < 64; i++)
		out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (strlen(s) > 64 && j + 4 < n) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = 0;
}

/* Check one {NULL}-terminated option table ("target options" etc.). */
static char *bad_options(const struct arca_option *opts, const char *which)
{
	if (!opts)
		return NULL;
	size_t n;
	for (n = 0; n < MAX_OPTIONS && opts[n].name; n++) {
		const struct arca_option *o = &opts[n];
		char name[80];
		printable(o->name, name, sizeof name);
		if (!valid_name(o->name, 1))
			return xasprintf("its %s declare an invalid key \"%s\" "
			                 "(keys are made of a-z, 0-9, '_' and '-')",
			                 which, name);
		if ((unsigned)o->type > ARCA_OPT_LIST)
			return xasprintf("its %s give key \"%s\" the unknown type %d "
			                 "(ABI 1 knows types 0 to %d)",
			                 which, name, (int)o->type, ARCA_OPT_LIST);
		if (o->type == ARCA_OPT_ENUM && (!o->choices || !*o->choices))
			return xasprintf("its %s declare enum key \"%s\" without choices", which,
			                 name);
		if (o->min > o->max)
			return xasprintf("its %s give key \"%s\" a minimum above its maximum",
			                 which, name);
		for (size_t k = 0; k < n; k++) {
			if (strcmp(opts[k].name, o->name) == 0)
				return xasprintf("its %s declare key \"%s\" twice", which, name);
		}
	}
	if (n == MAX_OPTIONS)
		return xasprintf("its %s have %d or more entries: the table is probably "
		                 "missing its {NULL} terminator",
		                 which, MAX_OPTIONS);
	return NULL;
}

/* A function pointer every driver of a kind must set, by its offset in the
 * ops table (one check for target and destination tables alike). */
struct required_op {
	const char *name;
	size_t offset;
};
#define REQUIRED(type, member)                                                                     \
	{                                                                                          \
#member, offsetof(type, member)                                                    \
	}

static const struct required_op target_required[] = {
    REQUIRED(struct arca_target_ops, open),     REQUIRED(struct arca_target_ops, check),
    REQUIRED(struct arca_target_ops, snapshot), REQUIRED(struct arca_target_ops, restore),
    REQUIRED(struct arca_target_ops, close),    {NULL, 0}};
static const struct required_op dest_required[] = {REQUIRED(struct arca_dest_ops, open),
                                                   REQUIRED(struct arca_dest_ops, check),
                                                   REQUIRED(struct arca_dest_ops, put),
                                                   REQUIRED(struct arca_dest_ops, get),
                                                   REQUIRED(struct arca_dest_ops, list),
                                                   REQUIRED(struct arca_dest_ops, remove),
                                                   REQUIRED(struct arca_dest_ops, stat),
                                                   REQUIRED(struct arca_dest_ops, close),
                                                   {NULL, 0}};

/* An ops table (`kind` "target" or "destination") of at least the ABI 1.0
 * size (v1_size) with every required op set; else why not. */
static char *bad_ops(const void *ops, size_t struct_size, size_t v1_size, const char *kind,
                     const struct required_op *required)
{
	if (struct_size < v1_size)
		return xasprintf("its %s ops table declares struct_size %zu, smaller than the %zu "
		                 "bytes of ABI %d: rebuild the driver against arca/plugin.h",
		                 kind, struct_size, v1_size, ARCA_ABI_MAJOR);
	for (const struct required_op *r = required; r->name; r++) {
		void (*fn)(void);
		memcpy(&fn, (const char *)ops + r->offset, sizeof fn);
		if (!fn)
			return xasprintf("its %s ops lack `%s`, which every %s driver must provide",
			                 kind, r->name, kind);
	}
	return NULL;
}

static char *bad_descriptor(const struct arca_driver *drv, const struct arca_host *host)
{
	if (!drv)
		return xasprintf("%s returned NULL: the driver declined to start "
		                 "(its own messages above say why)",
		                 ARCA_DRIVER_ENTRY_SYMBOL);
	if (drv->abi_major != ARCA_ABI_MAJOR) {
		char sdk[96] = "the arca-plugin SDK of this arca";
		if (host && host->engine_version)
			snprintf(sdk, sizeof sdk, "arca-plugin >= %s", host->engine_version);
		return xasprintf("it was built for ABI %d, this arca speaks ABI %d: rebuild the "
		                 "driver against %s (ABI %d)%s",
		                 drv->abi_major, ARCA_ABI_MAJOR, sdk, ARCA_ABI_MAJOR,
		                 drv->abi_major > ARCA_ABI_MAJOR ? ", or upgrade arca" : "");
	}
	if (drv->struct_size < DRIVER_V1_SIZE)
		return xasprintf("its descriptor declares struct_size %zu, smaller than the %zu "
		                 "bytes of an ABI %d descriptor: rebuild the driver against "
		                 "arca/plugin.h",
		                 drv->struct_size, (size_t)DRIVER_V1_SIZE, ARCA_ABI_MAJOR);
	if (!valid_name(drv->name, 1)) {
		char name[80];
		printable(drv->name, name, sizeof name);
		return xasprintf("its name \"%s\" is not valid: a driver name is made of a-z, 0-9, "
		                 "'_' and '-' (it is what `driver =` says in arca.ini)",
		                 name);
	}
	/* `arca plugins` prints these; NULL would crash it later, not here. */
	if (!drv->version || !drv->description)
		return xasprintf("driver \"%s\" has no %s string", drv->name,
		                 drv->version ? "description" : "version");
	if (!drv->target && !drv->dest)
		return xasprintf("driver \"%s\" has neither target ops nor destination ops, so "
		                 "arca has no use for it",
		                 drv->name);
	char *why;
	if (drv->target && (why = bad_ops(drv->target, drv->target->struct_size, TARGET_OPS_V1_SIZE,
	                                  "target", target_required)))
		return why;
	if (drv->dest && (why = bad_ops(drv->dest, drv->dest->struct_size, DEST_OPS_V1_SIZE,
	                                "destination", dest_required)))
		return why;
	if ((why = bad_options(drv->target_options, "target options")))
		return why;
	return bad_options(drv->dest_options, "destination options");
}

/* ---------------------------------------------------------------------- */
/* Loading one module.                                                     */
/* ---------------------------------------------------------------------- */

/* The file's own checks, on the opened descriptor (fstat), so what is
 * judged is the inode that is about to be loaded. */
static char *unsafe_file(int fd, const char *what, const char *path, struct stat *st)
{
	if (fstat(fd, st) < 0)
		return xasprintf("cannot inspect %s: %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return xasprintf("%s is not a regular file", what);
	return unsafe_owner_or_mode(what, path, st, 0, &code_trust);
}

/* Why lt_dlopen failed. libltdl reports "file not found" for any failure of
 * a file it did find (a missing dependency, a truncated or foreign file),
 * so ask its dlopen loader directly, which keeps dlerror()'s text. */
static char *load_error(const char *real)
{
	const char *ltdl_says = lt_dlerror();
	char *why = xstrdup(ltdl_says ? ltdl_says : "unknown libltdl error");
	const lt_dlvtable *dl = lt_dlloader_find("lt_dlopen");
	if (!dl || !dl->module_open)
		return why;
	lt_module m = dl->module_open(dl->dlloader_data, real, NULL);
	if (m) {
		/* loads directly yet not through lt_dlopen: keep libltdl's word */
		dl->module_close(dl->dlloader_data, m);
		return why;
	}
	const char *e = lt_dlerror();
	if (e && *e) {
		free(why);
		why = xstrdup(e);
	}
	return why;
}

/* lt_dlopen the checked file. libltdl opens by name, not by descriptor, so
 * the file is checked through `fd` before and compared by inode after: the
 * directories leading to it were checked too, so only root or we could swap
 * it in between, and they can change the code anyway. */
static char *open_module(const char *real, const struct stat *checked, lt_dlhandle *out)
{
	lt_dladvise advise;
	lt_dlhandle h = NULL;
	if (lt_dladvise_init(&advise) == 0) {
		/* RTLD_LOCAL: two drivers may carry helpers with the same names. */
		lt_dladvise_local(&advise);
		/* Resident: a driver's libraries (libpq, OpenSSL) register
		 * thread-local state and exit handlers; unmapping them before
		 * exit is unsafe, and LeakSanitizer crashed scanning the TLS of
		 * an unloaded module. lt_dlclose then only drops the handle. */
		lt_dladvise_resident(&advise);
		h = lt_dlopenadvise(real, advise);
		lt_dladvise_destroy(&advise);
	}
	if (!h) {
		char *why = load_error(real);
		char *reason = xasprintf("it could not be loaded: %s", why);
		free(why);
		return reason;
	}
	struct stat now;
	if (stat(real, &now) < 0 || now.st_dev != checked->st_dev ||
	    now.st_ino != checked->st_ino) {
		lt_dlclose(h);
		return xasprintf("%s was replaced while it was being loaded: try again, and find "
		                 "out who is changing it",
		                 real);
	}
	*out = h;
	return NULL;
}

/* Load and check `path`; NULL on success (out filled) or why it was refused. */
static char *load_module(const char *path, const struct arca_host *host, struct loaded_driver *out)
{
	memset(out, 0, sizeof *out);
	if (!path || path[0] != '/')
		return xasprintf("driver modules are only loaded by absolute path, never searched "
		                 "for");

	/* A symlink is followed (a libtool install without -avoid-version makes
	 * foo.so -> foo.so.0.0.0), and the file it leads to must pass the same
	 * checks as a plain file, as must every directory on the way to it. */
	struct stat lst;
	if (lstat(path, &lst) < 0)
		return xasprintf("cannot inspect it: %s", strerror(errno));
	char *real = realpath(path, NULL);
	if (!real)
		return xasprintf("cannot resolve it: %s", strerror(errno));
	int is_link = S_ISLNK(lst.st_mode);
	char *what =
	    is_link ? xasprintf("it is a symbolic link and its target %s", real) : xstrdup("it");

	/* Never open() a device or FIFO that happens to be called *.so. */
	struct stat target;
	char *reason = NULL;
	if (stat(real, &target) < 0)
		reason = xasprintf("cannot inspect %s: %s", real, strerror(errno));
	else if (!S_ISREG(target.st_mode))
		reason = xasprintf("%s is not a regular file", what);
	if (reason) {
		free(what);
		free(real);
		return reason;
	}
	char *dir = dir_of(path);
	reason = unsafe_dir(dir);
	free(dir);
	if (!reason && is_link) {
		dir = dir_of(real);
		reason = unsafe_dir(dir);
		free(dir);
	}

	int fd = -1;
	struct stat st;
	if (!reason) {
		fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			reason = xasprintf("cannot open %s: %s", real, strerror(errno));
		else
			reason = unsafe_file(fd, what, real, &st);
	}
	free(what);
	if (reason) {
		if (fd >= 0)
			close(fd);
		free(real);
		return reason;
	}

	/* Each loaded module holds one reference on libltdl (lt_dlinit counts). */
	if (lt_dlinit() != 0) {
		const char *e = lt_dlerror();
		close(fd);
		free(real);
		return xasprintf("libltdl failed to initialise: %s", e ? e : "unknown error");
	}
	lt_dlhandle h = NULL;
	reason = open_module(real, &st, &h);
	close(fd);
	free(real);
	if (reason) {
		lt_dlexit();
		return reason;
	}

	void *sym = lt_dlsym(h, ARCA_DRIVER_ENTRY_SYMBOL);
	if (!sym) {
		reason =
		    xasprintf("it does not export %s: it is not an arca driver, or was built "
		              "without ARCA_DRIVER_EXPORT on that function (see arca/plugin.h)",
		              ARCA_DRIVER_ENTRY_SYMBOL);
	} else {
		arca_driver_entry_fn entry = (arca_driver_entry_fn)sym;
		const struct arca_driver *drv = entry(host);
		reason = bad_descriptor(drv, host);
		out->drv = drv;
	}
	if (reason) {
		lt_dlclose(h);
		lt_dlexit();
		memset(out, 0, sizeof *out);
		return reason;
	}
	out->path = xstrdup(path);
	out->handle = h;
	return NULL;
}

int loader_load_file(const char *path, const struct arca_host *host, struct loaded_driver *out)
{
	char *reason = load_module(path, host, out);
	if (!reason)
		return ARCA_OK;
	err_set(ARCA_ERR_PLUGIN, "driver module %s refused: %s", path ? path : "(null)", reason);
	free(reason);
	return ARCA_ERR_PLUGIN;
}

void loader_unload(struct loaded_driver *d)
{
	if (d->handle) {
		lt_dlclose((lt_dlhandle)d->handle);
		lt_dlexit();
	}
	free(d->path);
	memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------------- */
/* The plugin directory.                                                   */
/* ---------------------------------------------------------------------- */

static void refuse(struct loader *ld, const char *path, char *reason)
{
	ld->refused = xrealloc(ld->refused, (ld->n_refused + 1) * sizeof *ld->refused);
	ld->refused[ld->n_refused].path = xstrdup(path);
	ld->refused[ld->n_refused].reason = reason;
	ld->n_refused++;
	if (!ld->quiet)
		log_warn("driver module %s refused: %s", path, reason);
}

static int module_name(const struct dirent *de)
{
	/* *.so only: libtool's *.la files and versioned names are not modules
	 * to load; hidden files are editor and installer leftovers. */
	return de->d_name[0] != '.' && str_ends(de->d_name, ".so");
}

/* Byte order, not the locale's, so every host loads in the same order and
 * the same module wins a duplicate name. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void load_one(struct loader *ld, const char *path, const struct arca_host *host)
{
	struct loaded_driver d;
	char *reason = load_module(path, host, &d);
	if (reason) {
		refuse(ld, path, reason);
		return;
	}
	for (size_t i = 0; i < ld->n_drivers; i++) {
		if (strcmp(ld->drivers[i].drv->name, d.drv->name) == 0) {
			reason = xasprintf("driver name \"%s\" is already taken by %s (loaded "
			                   "first): remove or rename one of the two modules",
			                   d.drv->name, ld->drivers[i].path);
			loader_unload(&d);
			refuse(ld, path, reason);
			return;
		}
	}
	ld->drivers = xrealloc(ld->drivers, (ld->n_drivers + 1) * sizeof *ld->drivers);
	ld->drivers[ld->n_drivers++] = d;
	log_debug("loaded driver %s %s from %s", d.drv->name, d.drv->version, path);
}

int loader_open_dir(struct loader *ld, const char *plugin_dir)
{
	memset(ld, 0, sizeof *ld);
	if (!plugin_dir || plugin_dir[0] != '/')
		return err_set(ARCA_ERR_PLUGIN,
		               "plugin directory \"%s\" is not an absolute path: "
		               "set plugin_dir in [engine] to an absolute directory (drivers are "
		               "never searched for relative to the working directory)",
		               plugin_dir ? plugin_dir : "");
	struct stat st;
	if (stat(plugin_dir, &st) < 0)
		return err_set(ARCA_ERR_PLUGIN,
		               "plugin directory %s: %s: install the drivers "
		               "there, or set plugin_dir in [engine] to where they are",
		               plugin_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(ARCA_ERR_PLUGIN,
		               "plugin directory %s is not a directory: set "
		               "plugin_dir in [engine] to the directory holding the drivers",
		               plugin_dir);
	char *reason = unsafe_dir(plugin_dir);
	if (reason) {
		err_set(ARCA_ERR_PLUGIN, "plugin directory %s refused: %s", plugin_dir, reason);
		free(reason);
		return ARCA_ERR_PLUGIN;
	}
	ld->plugin_dir = xstrdup(plugin_dir);
	return ARCA_OK;
}

/* plugin_dir/file, as every module path is spelled (no doubled slash). */
static char *module_path(const struct loader *ld, const char *file)
{
	const char *sep = str_ends(ld->plugin_dir, "/") ? "" : "/";
	return xasprintf("%s%s%s", ld->plugin_dir, sep, file);
}

/* Whether the module at path was tried already (loaded or refused). */
static int tried(const struct loader *ld, const char *path)
{
	for (size_t i = 0; i < ld->n_drivers; i++)
		if (!strcmp(ld->drivers[i].path, path))
			return 1;
	for (size_t i = 0; i < ld->n_refused; i++)
		if (!strcmp(ld->refused[i].path, path))
			return 1;
	return 0;
}

int loader_load_all(struct loader *ld, const struct arca_host *host)
{
	if (ld->all)
		return ARCA_OK;
	struct dirent **list;
	int n = scandir(ld->plugin_dir, &list, module_name, by_name);
	if (n < 0)
		return err_set(ARCA_ERR_PLUGIN, "cannot read plugin directory %s: %s",
		               ld->plugin_dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		char *path = module_path(ld, list[i]->d_name);
		if (!tried(ld, path))
			load_one(ld, path, host);
		free(path);
		free(list[i]);
	}
	free(list);
	ld->all = 1;
	return ARCA_OK;
}

int loader_open(struct loader *ld, const char *plugin_dir, const struct arca_host *host)
{
	int rc = loader_open_dir(ld, plugin_dir);
	return rc != ARCA_OK ? rc : loader_load_all(ld, host);
}

const struct arca_driver *loader_need(struct loader *ld, const char *name,
                                      const struct arca_host *host)
{
	const struct arca_driver *drv = loader_find(ld, name);
	/* a name is never a path: "driver = ../x" loads nothing */
	if (drv || ld->all || !valid_name(name, 1))
		return drv;
	char *file = xasprintf("%s.so", name);
	char *path = module_path(ld, file);
	free(file);
	struct stat st;
	/* a missing file is no refusal: the driver may live in another one */
	if (!tried(ld, path) && (lstat(path, &st) == 0 || errno != ENOENT))
		load_one(ld, path, host);
	free(path);
	return loader_find(ld, name);
}

const struct arca_driver *loader_find(const struct loader *ld, const char *name)
{
	for (size_t i = 0; i < ld->n_drivers; i++) {
		if (strcmp(ld->drivers[i].drv->name, name) == 0)
			return ld->drivers[i].drv;
	}
	return NULL;
}

void loader_close(struct loader *ld)
{
	/* Unload in reverse order of loading, as shared libraries expect. */
	for (size_t i = ld->n_drivers; i-- > 0;)
		loader_unload(&ld->drivers[i]);
	for (size_t i = 0; i < ld->n_refused; i++) {
		free(ld->refused[i].path);
		free(ld->refused[i].reason);
	}
	free(ld->drivers);
	free(ld->refused);
	free(ld->plugin_dir);
	memset(ld, 0, sizeof *ld);
}

const char *const loader_ops[] = {"snapshot", "restore", "verify", "check", "health", NULL};

const struct arca_op_option *loader_op_options(const struct arca_target_ops *ops, const char *op,
                                               int *any)
{
	*any = 0;
	if (!ops || !op)
		return NULL;
	if (!strcmp(op, "restore")) {
		*any = !ARCA_OPS_HAS(ops, restore_options);
		return *any ? NULL : ops->restore_options;
	}
	if (!strcmp(op, "snapshot"))
		return ARCA_OPS_HAS(ops, snapshot_options) ? ops->snapshot_options : NULL;
	if (!strcmp(op, "verify"))
		return ARCA_OPS_HAS(ops, verify_options) ? ops->verify_options : NULL;
	if (!strcmp(op, "check"))
		return ARCA_OPS_HAS(ops, check_options) ? ops->check_options : NULL;
	if (!strcmp(op, "health"))
		return ARCA_OPS_HAS(ops, health_options) ? ops->health_options : NULL;
	return NULL;
}

const struct arca_op_option *loader_op_option(const struct arca_op_option *list, const char *name)
{
	while (list && list->name && strcmp(list->name, name))
		list++;
	return list && list->name ? list : NULL;
}
