/* repo.c — creating and opening a repository: the `config` object
 * (FORMAT.md, "Config"), keys, and the struct repo lifecycle. */
#include "repo/internal.h"

#include <jansson.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "repo/keys.h"

static char *default_hostname(const struct repo_params *p)
{
	if (p && p->hostname && *p->hostname)
		return xstrdup(p->hostname);
	char h[256];
	if (gethostname(h, sizeof h))
		return xstrdup("localhost");
	h[sizeof h - 1] = 0;
	return xstrdup(h);
}

static struct repo *repo_new(const struct repo_dest *d, const struct repo_params *p)
{
	struct repo *r = xcalloc(1, sizeof *r);
	r->dest_name = xstrdup(d->name ? d->name : "?");
	r->d = *d;
	r->d.name = r->dest_name;
	r->hostname = default_hostname(p);
	r->zstd_level = p && p->zstd_level ? p->zstd_level : REPO_ZSTD_LEVEL_DEFAULT;
	r->pack_size = p && p->pack_size ? p->pack_size : PACK_SIZE_DEFAULT;
	r->workers = p && p->workers > 0 ? p->workers : cpu_count();
	r->cdc = (struct cdc_params){CDC_MIN_DEFAULT, CDC_AVG_DEFAULT, CDC_MAX_DEFAULT};
	r->lock_refresh_sec = LOCK_REFRESH_SEC;
	r->no_lock = p ? p->no_lock : 0;
	r->lock_wait = p ? p->lock_wait : 0;
	r->keys = secure_alloc(sizeof *r->keys);
	pthread_mutex_init(&r->idx_mu, NULL);
	retry_policy_default(&r->retry);
	r->caps = d->ops->caps;
	return r;
}

/* A passphrase shorter than this is refused when it is set (init, key
 * add/passwd); existing repositories still open with a shorter one. A key
 * from arca key generate is always long enough. */
#define PASSPHRASE_MIN 10

int repo_check_new_passphrase(const char *pass)
{
	if (!pass || strlen(pass) < PASSPHRASE_MIN)
		return err_set(ARCA_ERR_CONFIG,
		               "the passphrase is %zu characters; use at least %d "
		               "(a sentence of several words), or a key from arca key generate",
		               pass ? strlen(pass) : (size_t)0, PASSPHRASE_MIN);
	return ARCA_OK;
}

static int check_params(const struct repo_params *p)
{
	if (p->zstd_level &&
	    (p->zstd_level < REPO_ZSTD_LEVEL_MIN || p->zstd_level > REPO_ZSTD_LEVEL_MAX))
		return err_set(ARCA_ERR_CONFIG, "zstd level %d is out of range (%d..%d)",
		               p->zstd_level, REPO_ZSTD_LEVEL_MIN, REPO_ZSTD_LEVEL_MAX);
	if (p->pack_size && (p->pack_size < 1024 * 1024 || p->pack_size > PACK_SIZE_MAX))
		return err_set(ARCA_ERR_CONFIG, "pack size %llu is out of range (1 MiB..1 GiB)",
		               (unsigned long long)p->pack_size);
	return ARCA_OK;
}

static char *config_text(const struct repo *r)
{
	json_t *c = json_pack(
	    "{s:i,s:s,s:s,s:s,s:{s:s,s:i,s:i,s:i},s:s,s:i,s:I,s:I}", "version", REPO_FORMAT_VERSION,
	    "id", r->id, "encryption", r->keys->encrypted ? "aes-256-gcm" : "none", "chunk_id",
	    r->keys->encrypted ? "hmac-sha256" : "sha256", "chunker", "algorithm", "fastcdc", "min",
	    (int)r->cdc.min, "avg", (int)r->cdc.avg, "max", (int)r->cdc.max, "compression", "zstd",
	    "zstd_level", r->zstd_level, "pack_size", (json_int_t)r->pack_size, "created",
	    (json_int_t)now_epoch());
	char *s = json_dumps(c, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(c);
	return s;
}

/* Without an atomic exclusive create, two inits at once may both write
 * `config`, the last one winning: read it back, and the loser (whose
 * config is not what is stored) backs off with ARCA_ERR_EXISTS. */
static int config_still_ours(struct repo *r, const char *text)
{
	struct buf got = {0};
	int rc = dest_get_bounded(r, "config", CONFIG_MAX_BYTES, &got);
	if (rc == ARCA_OK && (got.len != strlen(text) || memcmp(got.data, text, got.len)))
		rc = ARCA_ERR_EXISTS;
	buf_free(&got);
	return rc;
}

int repo_init(const struct repo_dest *d, const struct repo_params *p)
{
	int rc = check_params(p);
	if (rc != ARCA_OK)
		return rc;
	uint64_t size;
	struct repo *r = repo_new(d, p);
	rc = dest_probe(r);
	if (rc != ARCA_OK)
		goto out;
	rc = dest_stat(r, "config", &size);
	if (rc == ARCA_OK) {
		rc = err_set(ARCA_ERR_EXISTS,
		             "destination %s already holds a repository (object "
		             "'config' exists); refusing to touch it",
		             r->dest_name);
		goto out;
	}
	if (rc != ARCA_ERR_NOT_FOUND)
		goto out;
	if (p->encrypt && (!p->passphrase || !*p->passphrase)) {
		rc = err_set(ARCA_ERR_CONFIG,
		             "destination %s: an encrypted repository needs a "
		             "passphrase: set passphrase_file (or ARCA_PASSPHRASE), or write "
		             "encryption = none to opt out",
		             r->dest_name);
		goto out;
	}
	if (p->encrypt && (rc = repo_check_new_passphrase(p->passphrase)) != ARCA_OK) {
		rc = err_wrap(rc, "destination %s", r->dest_name);
		goto out;
	}
	unsigned char rid[ID_LEN];
	if (random_bytes(rid, sizeof rid) ||
	    (p->encrypt &&
	     (random_bytes(r->keys->enc, KEY_LEN) || random_bytes(r->keys->mac, KEY_LEN) ||
	      random_bytes(r->keys->chunker, KEY_LEN)))) {
		rc = err_set(ARCA_ERR_INTERNAL, "no random bytes from libcrypto");
		goto out;
	}
	id_hex(rid, r->id);
	memcpy(r->id_raw, rid, ID_LEN);
	r->keys->encrypted = p->encrypt ? 1 : 0;
	/* Keys first, config last: `config` is what makes it a repository, so
	 * an interrupted init leaves nothing that opens. Each key binds the
	 * config's hash, so the config is authenticated once a key opens. */
	char *text = config_text(r);
	sha256(text, strlen(text), r->config_sha);
	char kid[65] = "";
	if (p->encrypt) {
		rc = keys_write(r, p->passphrase, kid);
		if (rc != ARCA_OK) {
			free(text);
			goto out;
		}
	}
	rc = dest_put(r, "config", text, strlen(text), ARCA_PUT_EXCLUSIVE);
	if (rc == ARCA_OK && !(r->caps & (ARCA_CAP_COND_CREATE | ARCA_CAP_EXCLUSIVE)))
		rc = config_still_ours(r, text);
	free(text);
	if (rc == ARCA_ERR_EXISTS)
		rc = err_set(ARCA_ERR_EXISTS,
		             "destination %s: another arca initialised a repository"
		             " here at the same time; refusing to touch it",
		             r->dest_name);
	if (rc == ARCA_OK && p->state_dir && *p->state_dir) {
		pin_write(r, p->state_dir);
		if (kid[0]) { /* the next command opens without listing keys/ */
			char name[80];
			snprintf(name, sizeof name, "keys/%s", kid);
			r->cache_dir = xasprintf("%s/%s", p->state_dir, r->id);
			key_hint_save(r, name);
		}
	}
out:
	repo_close(r);
	return rc;
}

/* Security parameters come from the config, which a key authenticates
 * (encrypted repositories) and which must respect these floors either way:
 * a config asking for tiny chunks would leak chunk sizes. */
#define CDC_MIN_FLOOR (64u * 1024)
#define CDC_AVG_FLOOR (256u * 1024)

static int parse_config(struct repo *r, const struct repo_params *p, const unsigned char *data,
                        size_t len)
{
	json_error_t jerr;
	json_t *c = json_loadb((const char *)data, len, 0, &jerr);
	if (!c)
		/* Not jerr.text: it quotes the file, which may not be ours. */
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: object config is not valid JSON "
		               "(line %d, column %d)",
		               r->dest_name, jerr.line, jerr.column);
	int rc = ARCA_OK;
	json_t *jv = json_object_get(c, "version");
	json_int_t version = json_integer_value(jv);
	const char *id = json_string_value(json_object_get(c, "id"));
	const char *enc = json_string_value(json_object_get(c, "encryption"));
	const char *cid = json_string_value(json_object_get(c, "chunk_id"));
	json_t *ch = json_object_get(c, "chunker");
	if (!json_is_integer(jv) || version != REPO_FORMAT_VERSION) {
		rc = err_set(ARCA_ERR_UNSUPPORTED,
		             "destination %s: the repository has format version %lld; this arca "
		             "reads only version %d%s",
		             r->dest_name, (long long)version, REPO_FORMAT_VERSION,
		             version > REPO_FORMAT_VERSION ? ": upgrade arca"
		             : version == 1
		                 ? " (version 1 is not read any more: restore from it "
		                   "with the arca that wrote it, and start a new repository "
		                   "with arca init)"
		                 : "");
		goto out;
	}
	if (!id || id_parse(id, r->id_raw) || !enc ||
	    (strcmp(enc, "none") && strcmp(enc, "aes-256-gcm")) || !cid ||
	    strcmp(cid, strcmp(enc, "none") ? "hmac-sha256" : "sha256")) {
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s: object config lacks a valid id, "
		             "or its encryption and chunk_id disagree (damaged or tampered with)",
		             r->dest_name);
		goto out;
	}
	snprintf(r->id, sizeof r->id, "%s", id);
	r->keys->encrypted = strcmp(enc, "none") != 0;
	json_int_t mn = json_integer_value(json_object_get(ch, "min"));
	json_int_t av = json_integer_value(json_object_get(ch, "avg"));
	json_int_t mx = json_integer_value(json_object_get(ch, "max"));
	const char *alg = json_string_value(json_object_get(ch, "algorithm"));
	r->cdc.min = (uint32_t)mn;
	r->cdc.avg = (uint32_t)av;
	r->cdc.max = (uint32_t)mx;
	if (!alg || strcmp(alg, "fastcdc") || mn < CDC_MIN_FLOOR || av < CDC_AVG_FLOOR ||
	    mx < 2 * av || mx > UINT32_MAX || cdc_params_valid(&r->cdc)) {
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s: object config has invalid chunker "
		             "parameters (min %lld, avg %lld, max %lld; arca needs fastcdc with "
		             "min >= %u, avg >= %u a power of two, max >= 2 * avg)",
		             r->dest_name, (long long)mn, (long long)av, (long long)mx,
		             CDC_MIN_FLOOR, CDC_AVG_FLOOR);
		goto out;
	}
	/* The repository's defaults apply unless this run overrides them. */
	json_int_t level = json_integer_value(json_object_get(c, "zstd_level"));
	json_int_t psize = json_integer_value(json_object_get(c, "pack_size"));
	if (!p->zstd_level && level >= REPO_ZSTD_LEVEL_MIN && level <= REPO_ZSTD_LEVEL_MAX)
		r->zstd_level = (int)level;
	if (!p->pack_size && psize >= 1024 * 1024 && (uint64_t)psize <= PACK_SIZE_MAX)
		r->pack_size = (uint64_t)psize;
out:
	json_decref(c);
	return rc;
}

static int no_keys_cb(void *arg, const char *name, uint64_t size)
{
	(void)name;
	(void)size;
	*(int *)arg = 1;
	return 1;
}

int repo_open(const struct repo_dest *d, const struct repo_params *p, struct repo **out)
{
	*out = NULL;
	int rc = check_params(p);
	if (rc != ARCA_OK)
		return rc;
	struct repo *r = repo_new(d, p);
	struct buf cfg = {0};
	rc = dest_probe(r);
	if (rc == ARCA_OK)
		rc = dest_get_bounded(r, "config", CONFIG_MAX_BYTES, &cfg);
	if (rc == ARCA_ERR_NOT_FOUND) {
		rc = err_set(ARCA_ERR_NOT_FOUND,
		             "destination %s holds no repository (no object "
		             "'config'); create one with arca init",
		             r->dest_name);
		goto fail;
	}
	if (rc != ARCA_OK)
		goto fail;
	sha256(cfg.data, cfg.len, r->config_sha);
	rc = parse_config(r, p, cfg.data, cfg.len);
	if (rc != ARCA_OK)
		goto fail;
	if (p->state_dir && *p->state_dir && (rc = pin_check(r, p->state_dir)) != ARCA_OK)
		goto fail;
	if (p->state_dir && *p->state_dir)
		r->cache_dir = xasprintf("%s/%s", p->state_dir, r->id);
	if (!r->keys->encrypted && p->encrypt) {
		/* This host holds a secret for it: a repository that says it is
		 * not encrypted was tampered with (or is not the one meant). */
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s: the repository's config says it is not encrypted, "
		             "but this host is configured to encrypt it (a passphrase is set and "
		             "encryption is not 'none'): config looks tampered with; refusing to "
		             "read or write unencrypted data. If the repository really is "
		             "unencrypted, write encryption = none in the [destination %s] section",
		             r->dest_name, r->dest_name);
		goto fail;
	}
	if (r->keys->encrypted) {
		if (!p->passphrase || !*p->passphrase) {
			rc = err_set(
			    ARCA_ERR_AUTH,
			    "destination %s: the repository is encrypted and "
			    "no passphrase was given: set passphrase_file or ARCA_PASSPHRASE",
			    r->dest_name);
			goto fail;
		}
		rc = keys_unlock(r, p->passphrase);
		if (rc != ARCA_OK)
			goto fail;
	} else {
		/* A config claiming "none" next to keys is a downgrade attempt or damage. */
		int has_keys = 0;
		rc = dest_list(r, "keys/", no_keys_cb, &has_keys);
		if (rc != ARCA_OK && rc != 1)
			goto fail;
		rc = ARCA_OK;
		if (has_keys) {
			rc = err_set(ARCA_ERR_CORRUPT,
			             "destination %s: config says the repository is "
			             "not encrypted but keys/ holds keys: config was altered or "
			             "damaged; refusing to write unencrypted data",
			             r->dest_name);
			goto fail;
		}
	}
	if (p->state_dir && *p->state_dir)
		pin_write(r, p->state_dir);
	buf_free(&cfg);
	*out = r;
	return ARCA_OK;
fail:
	buf_free(&cfg);
	repo_close(r);
	return rc;
}

void repo_close(struct repo *r)
{
	if (!r)
		return;
	lock_release(r);
	secure_free(r->keys, sizeof *r->keys);
	idx_free(&r->idx);
	pack_info_free(r->unsaved, r->n_unsaved);
	pthread_mutex_destroy(&r->idx_mu);
	free(r->cache_dir);
	free(r->hostname);
	free(r->dest_name);
	free(r);
}

void repo_snapshot_clear(struct repo_snapshot *s)
{
	free(s->target);
	free(s->driver);
	free(s->host);
	free(s->recovery_point);
	for (size_t i = 0; i < s->n_skipped_items; i++)
		free(s->skipped_items[i]);
	free(s->skipped_items);
	for (size_t i = 0; i < s->n_notes; i++) {
		free(s->note_keys[i]);
		free(s->note_values[i]);
	}
	free(s->note_keys);
	free(s->note_values);
	memset(s, 0, sizeof *s);
}
