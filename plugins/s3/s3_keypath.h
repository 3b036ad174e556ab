/* s3_keypath.h — S3 keys as relative paths under a local directory, and
 * back (`arca restore TARGET --into DIR`; README.md here, "Restoring into
 * a local directory"). Pure functions: no I/O, no host. */
#ifndef ARCA_S3_KEYPATH_H
#define ARCA_S3_KEYPATH_H

/* Reserved names: no key's path contains them as a component, since an
 * encoded name has '%' only as "%XX" (or alone: the empty segment). */
#define S3K_SELF     "%self"           /* a directory's own object */
#define S3K_MANIFEST "%manifest.jsonl" /* DIR's manifest */
#define S3K_TMP      "%tmp."           /* temporary files (prefix) */
#define S3K_NAME_MAX 200               /* bytes of one encoded component */

/* The relative path ('/'-separated components, none empty, ".", ".." or
 * longer than S3K_NAME_MAX + 2) of `key` (1 byte or more, no NUL). `self`:
 * other keys begin with key + "/", so the key's own object goes inside the
 * directory they need, as S3K_SELF. Malloc'd; NULL when out of memory. */
char *s3k_path(const char *key, int self);
/* The key of a path s3k_path made; malloc'd; NULL when `path` is not one
 * (or out of memory). */
char *s3k_key(const char *path);

#endif
