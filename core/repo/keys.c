/* keys.c — keys/ objects: the random master keys wrapped under a key derived
 * from a passphrase with scrypt, or from a generated key with HKDF
 * (FORMAT.md, "Keys"). Several secrets may wrap the same master keys. */
#include "repo/internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "repo/blob.h"
#include "repo/keys.h"

#define SCRYPT_N_DEFAULT (1u << 15)
#define SCRYPT_R         8
#define SCRYPT_P         1
#define SALT_LEN         32
/* What a key object may ask for (FORMAT.md, "Bounds"): at least the
 * default's work (N*r), at most 256 MiB of memory and 8 times its time. */
#ifdef ARCA_TEST_KDF
/* Built with --enable-test-kdf only (the test suite): ARCA_TEST_FAST_KDF=1
 * writes N = 2^10, and such keys are accepted. Never in an installed build. */
#define SCRYPT_N_TEST     (1u << 10)
#define SCRYPT_WORK_FLOOR ((uint64_t)SCRYPT_N_TEST * SCRYPT_R)
#else
#define SCRYPT_WORK_FLOOR ((uint64_t)SCRYPT_N_DEFAULT * SCRYPT_R)
#endif
#define SCRYPT_MEM_MAX  (256ull * 1024 * 1024)
#define SCRYPT_WORK_MAX ((uint64_t)SCRYPT_N_DEFAULT * SCRYPT_R * 8)
#define KEY_PAYLOAD_MAX 4096

/*
 * A generated key (`arca key generate`): "arca-key1-" and 64 hex digits, 256
 * random bits. Stretching adds nothing to that much entropy, so its key
 * object uses HKDF-SHA-256 instead of scrypt: opening the repository then
 * costs microseconds instead of ~0.2 s and 32 MiB, which archive_command pays
 * once per WAL segment. Anything else is a passphrase and gets scrypt.
 */
#define GEN_KEY_PREFIX "arca-key1-"
#define HKDF_INFO      "arca key object v1"

enum secret_kind { SECRET_PASSPHRASE, SECRET_KEY };

/* The kind of secret, with the key's 32 bytes for SECRET_KEY; -1 (error set)
 * when it starts like a generated key but is not one. */
static int secret_kind(const char *pass, unsigned char key[KEY_LEN])
{
	size_t plen = strlen(GEN_KEY_PREFIX);
	if (strncmp(pass, GEN_KEY_PREFIX, plen))
		return SECRET_PASSPHRASE;
	if (strlen(pass + plen) != 2 * KEY_LEN || hex_decode(pass + plen, key, KEY_LEN))
		return err_set(ARCA_ERR_CONFIG,
		               "the secret starts with \"%s\" but is not a key "
		               "made by arca key generate (that prefix and 64 hex digits); "
		               "generate a new one, or use a passphrase without that prefix",
		               GEN_KEY_PREFIX),
		       -1;
	return SECRET_KEY;
}

/* Whether stored scrypt parameters are within what arca writes and will
 * spend (FORMAT.md, "Bounds"). */
static int scrypt_params_ok(json_int_t n, json_int_t r, json_int_t p)
{
	if (n < 2 || n > (1 << 24) || (n & (n - 1)) || r < 1 || r > 32 || p < 1 || p > 16)
		return 0;
	uint64_t work = (uint64_t)n * (uint64_t)r;
	return work >= SCRYPT_WORK_FLOOR && 128 * work <= SCRYPT_MEM_MAX &&
	       work * (uint64_t)p <= SCRYPT_WORK_MAX;
}

static int hkdf_kek(const unsigned char key[KEY_LEN], const unsigned char *salt,
                    unsigned char kek[KEY_LEN])
{
	return hkdf_sha256_32(key, KEY_LEN, salt, SALT_LEN, HKDF_INFO, strlen(HKDF_INFO), kek);
}

int repo_key_generate(char *out, size_t outlen)
{
	unsigned char key[KEY_LEN];
	if (outlen < sizeof GEN_KEY_PREFIX + 2 * KEY_LEN)
		return err_set(ARCA_ERR_INTERNAL, "key buffer too small");
	if (random_bytes(key, sizeof key))
		return err_set(ARCA_ERR_INTERNAL, "no random bytes from libcrypto");
	memcpy(out, GEN_KEY_PREFIX, strlen(GEN_KEY_PREFIX));
	hex_encode(key, sizeof key, out + strlen(GEN_KEY_PREFIX));
	out[strlen(GEN_KEY_PREFIX) + 2 * KEY_LEN] = 0;
	secure_wipe(key, sizeof key);
	return ARCA_OK;
}

static char *hex_string(const unsigned char *p, size_t n)
{
	char *s = xmalloc(2 * n + 1);
	hex_encode(p, n, s);
	return s;
}

static int json_hex(json_t *o, const char *key, unsigned char *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && strlen(s) == 2 * n && !hex_decode(s, out, n) ? 0 : -1;
}

int keys_write(struct repo *r, const char *pass, char id_out[65])
{
	uint64_t n = SCRYPT_N_DEFAULT;
#ifdef ARCA_TEST_KDF
	const char *fast = getenv("ARCA_TEST_FAST_KDF");
	if (fast && !strcmp(fast, "1"))
		n = SCRYPT_N_TEST;
#endif
	unsigned char salt[SALT_LEN], gen[KEY_LEN];
	struct repo_keys kek = {.encrypted = 1};
	int kind = secret_kind(pass, gen);
	if (kind < 0)
		return ARCA_ERR_CONFIG;
	if (random_bytes(salt, sizeof salt))
		return err_set(ARCA_ERR_INTERNAL, "no random bytes from libcrypto");
	if (kind == SECRET_KEY) {
		int bad = hkdf_kek(gen, salt, kek.enc);
		secure_wipe(gen, sizeof gen);
		if (bad)
			return err_set(ARCA_ERR_INTERNAL, "HKDF failed in libcrypto");
	} else if (scrypt_derive(pass, salt, sizeof salt, n, SCRYPT_R, SCRYPT_P, kek.enc)) {
		return err_set(ARCA_ERR_INTERNAL, "scrypt key derivation failed in libcrypto "
		                                  "(out of memory?)");
	}
	char *enc = hex_string(r->keys->enc, KEY_LEN), *mac = hex_string(r->keys->mac, KEY_LEN);
	char *chk = hex_string(r->keys->chunker, KEY_LEN);
	char cfg_hex[65];
	id_hex(r->config_sha, cfg_hex);
	json_t *master = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s}", "version", 2, "repository", r->id,
	                           "config", cfg_hex, "encrypt", enc, "mac", mac, "chunker", chk);
	char *mtext = json_dumps(master, JSON_COMPACT);
	json_decref(master);
	secure_wipe(enc, strlen(enc));
	secure_wipe(mac, strlen(mac));
	secure_wipe(chk, strlen(chk));
	free(enc);
	free(mac);
	free(chk);
	struct buf sealed = {0};
	struct aad aad;
	repo_aad(r, BK_KEY, NULL, 0, &aad);
	int rc = blob_seal(&kek, &aad, NULL, 0, mtext, strlen(mtext), &sealed);
	secure_wipe(mtext, strlen(mtext));
	free(mtext);
	secure_wipe(&kek, sizeof kek);
	if (rc != ARCA_OK) {
		buf_free(&sealed);
		return rc;
	}
	char *salt_hex = hex_string(salt, sizeof salt),
	     *data_hex = hex_string(sealed.data, sealed.len);
	buf_free(&sealed);
	json_t *kdf =
	    kind == SECRET_KEY
	        ? json_pack("{s:s,s:s}", "algorithm", "hkdf-sha256", "salt", salt_hex)
	        : json_pack("{s:s,s:I,s:i,s:i,s:s}", "algorithm", "scrypt", "n", (json_int_t)n, "r",
	                    SCRYPT_R, "p", SCRYPT_P, "salt", salt_hex);
	json_t *doc =
	    json_pack("{s:i,s:I,s:s,s:o,s:s}", "version", 2, "created", (json_int_t)now_epoch(),
	              "host", r->hostname, "kdf", kdf, "data", data_hex);
	free(salt_hex);
	free(data_hex);
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(doc);
	unsigned char id[ID_LEN];
	char name[128];
	sha256(text, strlen(text), id);
	id_hex(id, id_out);
	snprintf(name, sizeof name, "keys/%s", id_out);
	rc = dest_put(r, name, text, strlen(text), ARCA_PUT_EXCLUSIVE);
	free(text);
	return rc;
}

/* Try one key object whose algorithm is `want` ("scrypt" or "hkdf-sha256";
 * others are skipped). ARCA_OK (keys filled), ARCA_ERR_AUTH (skipped, does
 * not open with this secret or belongs to another repository), or an error.
 * gen: the generated key's bytes, or NULL when the secret is a passphrase. */
static int key_try(struct repo *r, const char *name, const char *pass, const unsigned char *gen,
                   const char *want, struct repo_keys *out, json_t **doc_out)
{
	struct buf raw = {0};
	int rc = dest_get_bounded(r, name, KEY_OBJECT_MAX_BYTES, &raw);
	if (rc == ARCA_ERR_CORRUPT) {
		log_warn("%s (skipped)", err_msg());
		buf_free(&raw);
		return ARCA_ERR_AUTH;
	}
	if (rc != ARCA_OK) {
		buf_free(&raw);
		return rc;
	}
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)raw.data, raw.len, 0, &jerr);
	buf_free(&raw);
	json_t *kdf = json_object_get(doc, "kdf");
	const char *alg = json_string_value(json_object_get(kdf, "algorithm"));
	const char *data = json_string_value(json_object_get(doc, "data"));
	unsigned char salt[SALT_LEN];
	if (!doc || json_integer_value(json_object_get(doc, "version")) != 2 || !alg ||
	    (strcmp(alg, "scrypt") && strcmp(alg, "hkdf-sha256")) || !data || strlen(data) % 2 ||
	    json_hex(kdf, "salt", salt, sizeof salt)) {
		json_decref(doc);
		log_warn("destination %s: key %s is not a valid key object (skipped)", r->dest_name,
		         name);
		return ARCA_ERR_AUTH;
	}
	if (strcmp(alg, want) || (!strcmp(alg, "hkdf-sha256") && !gen)) {
		json_decref(doc); /* another pass's, or a key object no passphrase opens */
		return ARCA_ERR_AUTH;
	}
	struct repo_keys kek = {.encrypted = 1};
	json_int_t n = json_integer_value(json_object_get(kdf, "n"));
	json_int_t kr = json_integer_value(json_object_get(kdf, "r"));
	json_int_t kp = json_integer_value(json_object_get(kdf, "p"));
	if (!strcmp(alg, "hkdf-sha256")) {
		if (hkdf_kek(gen, salt, kek.enc)) {
			json_decref(doc);
			return err_set(ARCA_ERR_INTERNAL, "HKDF failed in libcrypto");
		}
	} else if (!scrypt_params_ok(n, kr, kp)) {
		json_decref(doc);
		log_warn("destination %s: key %s asks for scrypt parameters outside arca's bounds "
		         "(N=%lld r=%lld p=%lld; skipped: too weak, or too costly to try)",
		         r->dest_name, name, (long long)n, (long long)kr, (long long)kp);
		return ARCA_ERR_AUTH;
	} else if (scrypt_derive(pass, salt, sizeof salt, (uint64_t)n, (uint64_t)kr, (uint64_t)kp,
	                         kek.enc)) {
		json_decref(doc);
		return err_set(ARCA_ERR_INTERNAL, "scrypt key derivation failed in libcrypto "
		                                  "(out of memory?)");
	}
	size_t slen = strlen(data) / 2;
	if (slen > KEY_PAYLOAD_MAX + blob_overhead(&kek)) {
		json_decref(doc);
		secure_wipe(&kek, sizeof kek);
		log_warn("destination %s: key %s is not a valid key object (skipped)", r->dest_name,
		         name);
		return ARCA_ERR_AUTH;
	}
	unsigned char *sealed = xmalloc(slen + 1);
	struct buf plain = {0};
	struct aad aad;
	repo_aad(r, BK_KEY, NULL, 0, &aad);
	rc = hex_decode(data, sealed, slen)
	         ? ARCA_ERR_CORRUPT
	         : blob_open(&kek, &aad, sealed, slen, KEY_PAYLOAD_MAX, &plain, name);
	secure_wipe(&kek, sizeof kek);
	free(sealed);
	json_t *m =
	    rc == ARCA_OK ? json_loadb((const char *)plain.data, plain.len, 0, &jerr) : NULL;
	if (plain.data)
		secure_wipe(plain.data, plain.len);
	buf_free(&plain);
	const char *repo_id = json_string_value(json_object_get(m, "repository"));
	unsigned char cfg[ID_LEN];
	out->encrypted = 1;
	rc = m && repo_id && !strcmp(repo_id, r->id) &&
	             json_integer_value(json_object_get(m, "version")) == 2 &&
	             !json_hex(m, "encrypt", out->enc, KEY_LEN) &&
	             !json_hex(m, "mac", out->mac, KEY_LEN) &&
	             !json_hex(m, "chunker", out->chunker, KEY_LEN) &&
	             !json_hex(m, "config", cfg, ID_LEN)
	         ? ARCA_OK
	         : ARCA_ERR_AUTH;
	if (rc == ARCA_OK && memcmp(cfg, r->config_sha, ID_LEN)) {
		secure_wipe(out, sizeof *out);
		rc = err_set(ARCA_ERR_CORRUPT,
		             "destination %s: object config is not the one key "
		             "%s was made with: its encryption, chunker or id was altered "
		             "(tampered with or damaged); refusing to use the repository",
		             r->dest_name, name);
	}
	json_decref(m);
	if (rc == ARCA_OK && doc_out)
		*doc_out = doc;
	else
		json_decref(doc);
	return rc;
}

/* The key this host's secret opened last time, tried before keys/ is
 * listed (a request less per command on S3). ARCA_OK: opened; anything
 * else but a hard error: go on with the listing. */
static int keys_unlock_hinted(struct repo *r, const char *pass, int kind, const unsigned char *gen)
{
	static const char *const passes[] = {"hkdf-sha256", "scrypt"};
	char *hint = key_hint_load(r);
	if (!hint)
		return ARCA_ERR_NOT_FOUND;
	int rc = ARCA_ERR_AUTH;
	for (int p = kind == SECRET_KEY ? 0 : 1; p < 2 && rc == ARCA_ERR_AUTH; p++)
		rc = key_try(r, hint, pass, kind == SECRET_KEY ? gen : NULL, passes[p], r->keys,
		             NULL);
	if (rc == ARCA_OK)
		snprintf(r->key_id, sizeof r->key_id, "%s", hint + 5);
	else if (rc == ARCA_ERR_AUTH || rc == ARCA_ERR_NOT_FOUND)
		err_clear(); /* removed, or its secret changed: the listing decides */
	free(hint);
	return rc;
}

int keys_unlock(struct repo *r, const char *pass)
{
	unsigned char gen[KEY_LEN];
	int kind = secret_kind(pass, gen);
	if (kind < 0)
		return ARCA_ERR_CONFIG;
	int rc = keys_unlock_hinted(r, pass, kind, gen);
	if (rc != ARCA_ERR_AUTH && rc != ARCA_ERR_NOT_FOUND) {
		secure_wipe(gen, sizeof gen);
		return rc; /* opened, or a key that opens but disagrees with config */
	}
	struct obj_list l;
	rc = dest_list_all(r, "keys/", &l);
	if (rc != ARCA_OK) {
		secure_wipe(gen, sizeof gen);
		return rc;
	}
	if (!l.n) {
		secure_wipe(gen, sizeof gen);
		obj_list_free(&l);
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: the repository is encrypted but "
		               "holds no key in keys/ (damaged repository)",
		               r->dest_name);
	}
	/* A generated key tries the cheap HKDF objects first; it may also have
	 * been added as a plain passphrase (scrypt) before keys existed. */
	static const char *const passes[] = {"hkdf-sha256", "scrypt"};
	for (int p = kind == SECRET_KEY ? 0 : 1; p < 2; p++) {
		for (size_t i = 0; i < l.n; i++) {
			rc = key_try(r, l.v[i].name, pass, kind == SECRET_KEY ? gen : NULL,
			             passes[p], r->keys, NULL);
			if (rc == ARCA_OK) {
				snprintf(r->key_id, sizeof r->key_id, "%s", l.v[i].name + 5);
				key_hint_save(r, l.v[i].name);
				secure_wipe(gen, sizeof gen);
				obj_list_free(&l);
				return ARCA_OK;
			}
			if (rc != ARCA_ERR_AUTH) {
				/* ARCA_ERR_CORRUPT included: a key that opens but
				 * disagrees with config is tampering, not a wrong key. */
				secure_wipe(gen, sizeof gen);
				obj_list_free(&l);
				return rc;
			}
		}
	}
	secure_wipe(gen, sizeof gen);
	/* A damaged key object cannot be told from a wrong secret (both fail
	 * authentication): name the objects tried, as verify names damage. */
	char tried[512];
	size_t off = 0;
	tried[0] = 0;
	for (size_t i = 0; i < l.n && i < 4 && off < sizeof tried; i++)
		off += (size_t)snprintf(tried + off, sizeof tried - off, "%s%s", i ? ", " : "",
		                        l.v[i].name);
	if (l.n > 4 && off < sizeof tried)
		snprintf(tried + off, sizeof tried - off, " and %zu more", l.n - 4);
	rc = err_set(ARCA_ERR_AUTH,
	             "wrong %s for repository in destination %s (no "
	             "key in keys/ opens with it; tried %s: if the %s is right, those key "
	             "objects are damaged); check passphrase_file or ARCA_PASSPHRASE",
	             kind == SECRET_KEY ? "key" : "passphrase", r->dest_name, tried,
	             kind == SECRET_KEY ? "key" : "passphrase");
	obj_list_free(&l);
	return rc;
}

int repo_key_add(struct repo *r, const char *new_passphrase, char *key_id_out)
{
	if (!r->keys->encrypted)
		return err_set(ARCA_ERR_UNSUPPORTED,
		               "destination %s: the repository is not "
		               "encrypted (encryption = none): it has no keys",
		               r->dest_name);
	if (!new_passphrase || !*new_passphrase)
		return err_set(ARCA_ERR_CONFIG, "the new passphrase is empty");
	int bad = repo_check_new_passphrase(new_passphrase);
	if (bad != ARCA_OK)
		return bad;
	char id[65];
	int rc = keys_write(r, new_passphrase, id);
	if (rc == ARCA_OK && key_id_out)
		memcpy(key_id_out, id, 65);
	return rc;
}

int repo_key_remove(struct repo *r, const char *key_id)
{
	if (!r->keys->encrypted)
		return err_set(ARCA_ERR_UNSUPPORTED,
		               "destination %s: the repository is not "
		               "encrypted: it has no keys",
		               r->dest_name);
	struct obj_list l;
	int rc = dest_list_all(r, "keys/", &l);
	if (rc != ARCA_OK)
		return rc;
	const char *match = NULL;
	size_t matches = 0;
	for (size_t i = 0; i < l.n; i++)
		if (key_id && *key_id && str_starts(l.v[i].name + 5, key_id)) {
			match = l.v[i].name;
			matches++;
		}
	if (matches != 1) {
		obj_list_free(&l);
		return err_set(matches ? ARCA_ERR_CONFIG : ARCA_ERR_NOT_FOUND,
		               "destination %s: key id '%s' %s; see arca key list", r->dest_name,
		               key_id ? key_id : "", matches ? "is ambiguous" : "does not exist");
	}
	if (l.n == 1) {
		obj_list_free(&l);
		return err_set(ARCA_ERR_EXISTS,
		               "destination %s: refusing to remove key %s: it is the only key, and "
		               "without it nothing can read the repository; add another first",
		               r->dest_name, key_id);
	}
	/* Removing the key this run opened with is allowed (key passwd does it):
	 * the master keys stay in memory and another key still wraps them. */
	if (!strcmp(match + 5, r->key_id))
		r->key_id[0] = 0;
	char *name = xstrdup(match);
	obj_list_free(&l);
	rc = dest_remove(r, name);
	free(name);
	return rc;
}

int repo_key_list(struct repo *r,
                  void (*cb)(void *arg, const char *id, const char *host, int64_t created,
                             int current),
                  void *arg)
{
	if (!r->keys->encrypted)
		return ARCA_OK;
	struct obj_list l;
	int rc = dest_list_all(r, "keys/", &l);
	if (rc != ARCA_OK)
		return rc;
	struct buf raw = {0};
	for (size_t i = 0; i < l.n && rc == ARCA_OK; i++) {
		raw.len = 0;
		rc = dest_get_bounded(r, l.v[i].name, KEY_OBJECT_MAX_BYTES, &raw);
		if (rc == ARCA_ERR_CORRUPT) {
			cb(arg, l.v[i].name + 5, "(unreadable key object)", 0, 0);
			rc = ARCA_OK;
			continue;
		}
		if (rc != ARCA_OK)
			break;
		json_t *doc = json_loadb((const char *)raw.data, raw.len, 0, NULL);
		const char *host = json_string_value(json_object_get(doc, "host"));
		json_int_t created = json_integer_value(json_object_get(doc, "created"));
		const char *id = l.v[i].name + 5;
		cb(arg, id, host ? host : "?", (int64_t)created, !strcmp(id, r->key_id));
		json_decref(doc);
	}
	buf_free(&raw);
	obj_list_free(&l);
	return rc;
}
