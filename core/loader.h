/* loader.h — finding and loading driver modules with libltdl.
 *
 * Only absolute plugin directories are used. A directory or module that is
 * group- or world-writable, or owned by someone other than root or the
 * current user, is refused (OpenPAM does the same): otherwise anyone who can
 * write there runs code as the backup user. */
#ifndef ARCA_LOADER_H
#define ARCA_LOADER_H

#include <stddef.h>
#include "arca/plugin.h"

/* Does the driver's table `ops` (any struct starting with struct_size)
 * reach `member` by the size the driver declared, and is it set? Every read
 * of a member added after ABI 1.0 goes through this: a table built against
 * an older header ends before it, and the bytes after its end are not the
 * driver's (tests/unit/test_abi.c). */
#define ARCA_OPS_HAS(ops, member)                                                                  \
	((ops)->struct_size >= offsetof(__typeof__(*(ops)), member) + sizeof((ops)->member) &&     \
	 (ops)->member != NULL)

struct loaded_driver {
	char *path;   /* absolute path of the module */
	void *handle; /* lt_dlhandle */
	const struct arca_driver *drv;
};

struct refused_module {
	char *path;
	char *reason; /* human sentence: why it was refused */
};

struct loader {
	char *plugin_dir;
	struct loaded_driver *drivers;
	size_t n_drivers;
	struct refused_module *refused;
	size_t n_refused;
	int all;   /* every module of plugin_dir was tried */
	int quiet; /* refusals are kept, not logged (a help, an error's hint) */
};

/* A run loads only the modules it uses: each one maps its libraries
 * (libpq, libcurl, hiredis, Kerberos, LDAP...) into the process, which
 * costs start-up time and widens what a run exposes. So a command opens
 * the directory (loader_open_dir), then asks for the drivers its config
 * names (loader_need); the whole directory is loaded only where every
 * driver matters: `arca plugins`, the helps, and to name the installed
 * drivers when one is not found.
 *
 * Check plugin_dir and keep it in ld; nothing is loaded yet. Fails
 * (ARCA_ERR_PLUGIN, error recorded) when the directory is unusable. */
int loader_open_dir(struct loader *ld, const char *plugin_dir);
/* The driver called `name`, loaded from plugin_dir/NAME.so (a driver's
 * module is named after it) unless it was loaded before; NULL when that
 * file is missing, refused (kept in ld->refused and logged, as by
 * loader_load_all) or holds another driver: then only loader_load_all can
 * tell whether some other module provides it. */
const struct arca_driver *loader_need(struct loader *ld, const char *name,
                                      const struct arca_host *host);
/* Load every "*.so" of plugin_dir not tried yet (after loader_open_dir).
 * Fails (ARCA_ERR_PLUGIN, error recorded) only when the directory cannot
 * be read; refused modules are kept in ld->refused and logged as warnings. */
int loader_load_all(struct loader *ld, const struct arca_host *host);
/* loader_open_dir, then loader_load_all. */
int loader_open(struct loader *ld, const char *plugin_dir, const struct arca_host *host);
/* Load one module file; on refusal returns ARCA_ERR_PLUGIN with the reason
 * recorded (err_msg) and the path in it. */
int loader_load_file(const char *path, const struct arca_host *host, struct loaded_driver *out);
/* Unload a module loaded by loader_load_file and free its path. */
void loader_unload(struct loaded_driver *d);
const struct arca_driver *loader_find(const struct loader *ld, const char *name);
void loader_close(struct loader *ld);

/* The options a target driver declares for operation `op` ("snapshot",
 * "restore", "verify", "check", "health"; ABI 1.1), {NULL}-terminated, or
 * NULL for none. *any is set when the driver takes any option there (a
 * restore of a driver that declares no restore_options: the 1.0 rule). */
extern const char *const loader_ops[];
const struct arca_op_option *loader_op_options(const struct arca_target_ops *ops, const char *op,
                                               int *any);
/* The option called `name` in a declared list, or NULL. */
const struct arca_op_option *loader_op_option(const struct arca_op_option *list, const char *name);

/* The rule modules live by, for other directories arca trusts (state_dir):
 * why `dir` or a directory above it could be changed by anyone but root or
 * the user arca runs as, ending in what they could then do (`risk`) and the
 * fix ("chown CHOWN_TO DIR" or "chmod go-w DIR"); NULL when it is safe.
 * Parents may be writable if sticky (/tmp). The reason is malloc'd. */
char *loader_unsafe_dir(const char *dir, const char *risk, const char *chown_to);

#endif
