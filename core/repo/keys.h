/* keys.h — wrapping the master keys in keys/ objects (keys.c). */
#ifndef ARCA_REPO_KEYS_H
#define ARCA_REPO_KEYS_H

struct repo;

/* Write a new key object wrapping r->keys under `pass`; its id in id_out. */
int keys_write(struct repo *r, const char *pass, char id_out[65]);
/* Find the key `pass` opens; fills r->keys and r->key_id. ARCA_ERR_AUTH
 * when none does. */
int keys_unlock(struct repo *r, const char *pass);

#endif
