/* s3_into.c — where `arca restore TARGET --into X` writes, when X is a
 * bucket (README.md here, "Restoring elsewhere"):
 *   s3://BUCKET[/PREFIX][?KEY=VALUE&...]  a bucket on the target's endpoint,
 *       or on another one (endpoint=), with the section keys endpoint,
 *       region, addressing, ca_file, access_key_id,
 *       secret_access_key_file/_env, session_token_file/_env,
 *       credentials_file, profile, and credentials=env|target;
 *   NAME  the bucket and prefix of a [destination NAME] (or [target NAME])
 *       of driver s3 in the config file, as the engine read and checked it
 *       (host->config_named): that section's endpoint, credentials and
 *       timeouts, as when it is used on its own.
 * Secrets never come from the command line (files and environment only),
 * and the target's own credentials go to another endpoint only with
 * credentials=target. A URL's instance is the target's (timeouts, part
 * size) aimed elsewhere. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "s3_target.h"

#define INTO_KEYS 24
struct kv {
	char *k[INTO_KEYS], *v[INTO_KEYS];
	size_t n;
};

static const char *kv_get(const struct kv *kv, const char *k)
{
	for (size_t i = 0; i < kv->n; i++)
		if (!strcmp(kv->k[i], k))
			return kv->v[i];
	return NULL;
}

static void kv_free(struct kv *kv)
{
	for (size_t i = 0; i < kv->n; i++)
		free(kv->k[i]), free(kv->v[i]);
	kv->n = 0;
}

static int kv_add(struct kv *kv, const char *k, size_t kl, const char *v, size_t vl)
{
	if (kv->n == INTO_KEYS)
		return ARCA_ERR_CONFIG;
	kv->k[kv->n] = strndup(k, kl);
	kv->v[kv->n] = strndup(v, vl);
	if (!kv->k[kv->n] || !kv->v[kv->n])
		return ARCA_ERR_INTERNAL;
	kv->n++;
	return ARCA_OK;
}

/* The first line of a secret file, or a variable's value; malloc'd. */
static int read_secret(const char *what, const char *file, const char *env, char **out)
{
	*out = NULL;
	if (env) {
		const char *v = getenv(env);
		if (!v || !*v)
			return s3_host->error(ARCA_ERR_CONFIG,
			                      "--into: %s_env names %s, which is not set", what,
			                      env);
		return (*out = strdup(v)) ? ARCA_OK : ARCA_ERR_INTERNAL;
	}
	FILE *f = fopen(file, "r");
	char line[4096];
	if (!f)
		return s3_host->error(ARCA_ERR_CONFIG, "--into: cannot read %s_file %s: %m", what,
		                      file);
	int ok = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	line[ok ? strcspn(line, "\r\n") : 0] = '\0';
	if (!line[0])
		return s3_host->error(ARCA_ERR_CONFIG, "--into: %s_file %s has an empty first line",
		                      what, file);
	*out = strdup(line);
	OPENSSL_cleanse(line, sizeof line);
	return *out ? ARCA_OK : ARCA_ERR_INTERNAL;
}

/* Credentials an --into URL names: access_key_id + secret_access_key_file
 * /_env, credentials=env (AWS_*), or credentials_file/profile.
 * ARCA_ERR_NOT_FOUND (no message) when it names none. */
static int creds_from(const struct kv *kv, const char *where, struct s3_creds *c)
{
	memset(c, 0, sizeof *c);
	const char *id = kv_get(kv, "access_key_id"), *sf = kv_get(kv, "secret_access_key_file"),
	           *se = kv_get(kv, "secret_access_key_env");
	if (kv_get(kv, "secret_access_key") || kv_get(kv, "session_token"))
		return s3_host->error(
		    ARCA_ERR_CONFIG,
		    "%s: a secret is never given inline: use secret_access_key_file "
		    "(or _env)",
		    where);
	if (id || sf || se) {
		if (!id || (!sf && !se))
			return s3_host->error(
			    ARCA_ERR_CONFIG,
			    "%s: access_key_id and secret_access_key_file (or _env) go "
			    "together",
			    where);
		int rc = read_secret("secret_access_key", sf, se, &c->secret_key);
		const char *tf = kv_get(kv, "session_token_file"),
		           *te = kv_get(kv, "session_token_env");
		if (rc == ARCA_OK && (tf || te))
			rc = read_secret("session_token", tf, te, &c->token);
		c->access_key = strdup(id);
		snprintf(c->source, sizeof c->source, "%.150s", where);
		if (rc != ARCA_OK || !c->access_key)
			s3_creds_free(c);
		return rc != ARCA_OK ? rc : c->access_key ? ARCA_OK : ARCA_ERR_INTERNAL;
	}
	const char *mode = kv_get(kv, "credentials");
	if (mode && !strcmp(mode, "env")) {
		int rc = s3_creds_from_env(c);
		if (rc != ARCA_ERR_NOT_FOUND)
			return rc;
	}
	if (mode && !strcmp(mode, "env"))
		return s3_host->error(ARCA_ERR_CONFIG,
		                      "%s: credentials=env but AWS_ACCESS_KEY_ID and "
		                      "AWS_SECRET_ACCESS_KEY are not both set",
		                      where);
	const char *file = kv_get(kv, "credentials_file"), *profile = kv_get(kv, "profile");
	if (!file && !profile)
		return ARCA_ERR_NOT_FOUND;
	char used[4096];
	if (s3_creds_from_profile(file, profile, c, used, sizeof used, &profile) == ARCA_OK)
		return ARCA_OK;
	return s3_host->error(ARCA_ERR_CONFIG, "%s: no profile \"%s\" with both keys in %s", where,
	                      profile, used[0] ? used : "~/.aws/credentials");
}

/* The endpoint the target's requests go to, "scheme://host[:port]". */
static void own_endpoint(const struct s3_inst *s, char *out, size_t n)
{
	const char *h = s->host;
	if (!s->path_style && !strncmp(h, s->bucket, strlen(s->bucket)) &&
	    h[strlen(s->bucket)] == '.')
		h += strlen(s->bucket) + 1;
	snprintf(out, n, "%s://%s", s->https ? "https" : "http", h);
}

/* Aim a copy of the target's instance at `ep` (NULL: the target's own),
 * BUCKET and PREFIX, with kv's region, addressing and ca_file. */
static int retarget(struct s3_inst *d, const char *ep, const char *bucket, const char *pf,
                    const struct kv *kv, const char *where)
{
	const char *region = kv_get(kv, "region"), *mode = kv_get(kv, "addressing"),
	           *ca = kv_get(kv, "ca_file");
	if (!bucket[0] || strlen(bucket) > 63 || strchr(bucket, '/'))
		return s3_host->error(ARCA_ERR_CONFIG, "%s: \"%s\" is not a bucket name", where,
		                      bucket);
	if (ep) {
		int https = !strncmp(ep, "https://", 8);
		if (!https && strncmp(ep, "http://", 7))
			return s3_host->error(
			    ARCA_ERR_CONFIG,
			    "%s: endpoint \"%s\" must start with https:// (or http://)", where, ep);
		const char *hp = ep + (https ? 8 : 7);
		size_t hl = strcspn(hp, "/");
		if (!hl || (hp[hl] && strcmp(hp + hl, "/")) || hl > 400)
			return s3_host->error(ARCA_ERR_CONFIG,
			                      "%s: endpoint \"%s\" must be scheme://HOST[:PORT]",
			                      where, ep);
		char host[512];
		snprintf(host, sizeof host, "%.*s", (int)hl, hp);
		free(d->host);
		d->host = strdup(host);
		d->https = https;
		d->path_style = !strstr(host, "amazonaws.com");
		if (!https)
			s3_host->log(
			    ARCA_LOG_WARN,
			    "s3: --into endpoint %s is plain http: objects and requests can be "
			    "seen on the network; use https",
			    ep);
		free(d->ca_file);
		d->ca_file = NULL;
		if (!region) {
			free(d->region);
			d->region = strdup("us-east-1");
		}
	} else if (!d->path_style) { /* "oldbucket.endpoint" -> "endpoint" */
		char *h = strdup(d->host + strlen(d->bucket) + 1);
		free(d->host);
		d->host = h;
	}
	if (mode && strcmp(mode, "auto"))
		d->path_style = !strcmp(mode, "path");
	else if (mode)
		d->path_style = !(d->host && strstr(d->host, "amazonaws.com"));
	if (region) {
		free(d->region);
		d->region = strdup(region);
	}
	if (ca) {
		free(d->ca_file);
		d->ca_file = strdup(ca);
	}
	char host[600];
	if (!d->host)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	if (d->path_style)
		snprintf(host, sizeof host, "%s", d->host);
	else
		snprintf(host, sizeof host, "%s.%s", bucket, d->host);
	size_t pl = strlen(pf), n = strlen(host) + 9, bl = strlen(bucket);
	if (pf[0] == '/')
		return s3_host->error(ARCA_ERR_CONFIG, "%s: the prefix must not start with '/'",
		                      where);
	free(d->bucket), free(d->prefix), free(d->host), free(d->scheme_host), free(d->base_path);
	d->bucket = strdup(bucket);
	d->prefix = malloc(pl + 2);
	if (d->prefix)
		snprintf(d->prefix, pl + 2, "%s%s", pf, pl && pf[pl - 1] != '/' ? "/" : "");
	d->host = strdup(host);
	d->scheme_host = malloc(n);
	if (d->scheme_host)
		snprintf(d->scheme_host, n, "%s://%s", d->https ? "https" : "http", host);
	d->base_path = malloc(bl + 2);
	if (d->base_path)
		snprintf(d->base_path, bl + 2, "%s%s", d->path_style ? "/" : "",
		         d->path_style ? bucket : "");
	if (!d->bucket || !d->prefix || !d->host || !d->scheme_host || !d->base_path ||
	    !d->region || (ca && !d->ca_file))
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	return ARCA_OK;
}

static const char *const url_keys[] = {"endpoint",
                                       "region",
                                       "addressing",
                                       "ca_file",
                                       "access_key_id",
                                       "secret_access_key_file",
                                       "secret_access_key_env",
                                       "session_token_file",
                                       "session_token_env",
                                       "credentials_file",
                                       "profile",
                                       "credentials",
                                       NULL};

/* s3://BUCKET[/PREFIX][?KEY=VALUE&...] */
static int parse_url(const char *into, char *bucket, size_t bn, char **prefix, struct kv *kv)
{
	const char *b = into + 5, *q = strchr(b, '?');
	size_t len = q ? (size_t)(q - b) : strlen(b), bl = strcspn(b, "/?");
	if (bl >= bn || !bl)
		return s3_host->error(ARCA_ERR_CONFIG,
		                      "--into %s: no bucket name (s3://BUCKET/PREFIX)", into);
	snprintf(bucket, bn, "%.*s", (int)bl, b);
	*prefix = bl < len ? strndup(b + bl + 1, len - bl - 1) : strdup("");
	if (!*prefix)
		return ARCA_ERR_INTERNAL;
	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		size_t n = strcspn(p, "&"), kl = strcspn(p, "=&");
		int known = 0;
		for (const char *const *k = url_keys; *k; k++)
			known |= kl == strlen(*k) && !strncmp(p, *k, kl);
		if (!known || kl == n) {
			if (!strncmp(p, "secret_access_key=", 18) ||
			    !strncmp(p, "session_token=", 14))
				return s3_host->error(
				    ARCA_ERR_CONFIG,
				    "--into: a secret never goes on the command line: "
				    "give secret_access_key_file=PATH (or _env=VAR)");
			return s3_host->error(
			    ARCA_ERR_CONFIG,
			    "--into %s: unknown parameter \"%.*s\"; known: endpoint, "
			    "region, addressing, ca_file, access_key_id, "
			    "secret_access_key_file/_env, session_token_file/_env, "
			    "credentials_file, profile, credentials=env|target",
			    into, (int)n, p);
		}
		int rc = kv_add(kv, p, kl, p + kl + 1, n - kl - 1);
		if (rc != ARCA_OK)
			return rc == ARCA_ERR_INTERNAL
			           ? rc
			           : s3_host->error(rc, "--into: too many parameters");
		p += n + (p[n] == '&');
	}
	const char *m = kv_get(kv, "credentials"), *a = kv_get(kv, "addressing");
	if (m && strcmp(m, "env") && strcmp(m, "target"))
		return s3_host->error(ARCA_ERR_CONFIG, "--into: credentials=%s: give env or target",
		                      m);
	if (a && strcmp(a, "auto") && strcmp(a, "path") && strcmp(a, "virtual"))
		return s3_host->error(ARCA_ERR_CONFIG,
		                      "--into: addressing=%s: give auto, path or virtual", a);
	return ARCA_OK;
}

/* --into NAME: the bucket, prefix, endpoint and credentials of [destination
 * NAME] (else [target NAME]) as the engine read and checked them, exactly as
 * that section works on its own (its credentials, its timeouts). */
static int open_section(struct arca_ctx *ctx, const char *into, const char *doing,
                        struct s3_inst **out, int *is_repo_dest)
{
	const char *kind = NULL, *cfgpath = s3_host->option(ctx, "config");
	if (!ARCA_HOST_HAS(s3_host, config_named))
		return s3_host->error(ARCA_ERR_CONFIG,
		                      "--into %s: this engine cannot hand a driver another section "
		                      "(arca %s); give --into s3://BUCKET/PREFIX?endpoint=...",
		                      into, s3_host->engine_version);
	const struct arca_config *oc = s3_host->config_named(ctx, into, &kind);
	if (!oc)
		return s3_host->error(
		    ARCA_ERR_CONFIG,
		    "--into %s: %s has no [destination %s] or [target %s] (a local "
		    "directory is given as a path with a '/': ./%s)",
		    into, cfgpath ? cfgpath : "the config file", into, into, into);
	const char *drv = s3_host->config_get(oc, "driver");
	if (!drv || strcmp(drv, "s3"))
		return s3_host->error(
		    ARCA_ERR_CONFIG, "--into %s: [%s %s] of %s is of driver %s, not s3", into, kind,
		    into, cfgpath ? cfgpath : "the config file", drv ? drv : "(none)");
	void *v = NULL;
	int rc = s3_inst_open(oc, &v);
	struct s3_inst *d = v;
	if (rc != ARCA_OK) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", s3_host->error_message());
		s3_inst_close(d);
		return s3_host->error(rc, "--into %s: [%s %s]: %s", into, kind, into, msg);
	}
	char sec[300];
	snprintf(sec, sizeof sec, "%s %s", kind, into);
	free(d->section);
	if (!(d->section = strdup(sec))) {
		s3_inst_close(d);
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	}
	*is_repo_dest = !strcmp(kind, "destination");
	s3_host->log(ARCA_LOG_INFO, "s3: %s bucket %s, prefix \"%s\" at %s ([%s])", doing,
	             d->bucket, d->prefix, d->scheme_host, sec);
	*out = d;
	return ARCA_OK;
}

int s3_into_open(struct s3_inst *s, struct arca_ctx *ctx, const char *into, const char *doing,
                 struct s3_inst **out, int *is_repo_dest)
{
	struct kv kv = {0};
	char bucket[64] = "", where[300], own[600], ep_norm[600];
	char *prefix = NULL;
	*out = NULL;
	*is_repo_dest = 0;
	if (strncmp(into, "s3://", 5))
		return open_section(ctx, into, doing, out, is_repo_dest);
	int rc = parse_url(into, bucket, sizeof bucket, &prefix, &kv);
	snprintf(where, sizeof where, "--into s3://%s", bucket);
	/* another endpoint? */
	const char *ep = kv_get(&kv, "endpoint");
	own_endpoint(s, own, sizeof own);
	snprintf(ep_norm, sizeof ep_norm, "%s", ep ? ep : own);
	if (strlen(ep_norm) > 1 && ep_norm[strlen(ep_norm) - 1] == '/')
		ep_norm[strlen(ep_norm) - 1] = '\0';
	int other = strcmp(ep_norm, own) != 0;
	void *v = NULL;
	if (rc == ARCA_OK)
		rc = s3_inst_open(s->cfg, &v);
	struct s3_inst *d = v;
	if (rc == ARCA_OK)
		rc = retarget(d, other ? ep_norm : NULL, bucket, prefix, &kv, where);
	if (rc == ARCA_OK) { /* messages name where the bucket came from */
		char sec[300];
		snprintf(sec, sizeof sec, "--into s3://%s", bucket);
		free(d->section);
		d->section = strdup(sec);
		rc = d->section ? ARCA_OK : s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	}
	if (rc == ARCA_OK) {
		/* credentials: named ones; else the target's on its own endpoint
		 * (or with credentials=target); else refused */
		const char *mode = kv_get(&kv, "credentials");
		int target_creds = mode && !strcmp(mode, "target");
		struct s3_creds c;
		rc = target_creds ? ARCA_ERR_NOT_FOUND : creds_from(&kv, where, &c);
		if (rc == ARCA_OK) {
			d->creds = c;
			d->creds_loaded = 1;
		} else if (rc == ARCA_ERR_NOT_FOUND && (target_creds || !other)) {
			rc = ARCA_OK; /* d->cfg: the target's, loaded at first use */
		} else if (rc == ARCA_ERR_NOT_FOUND) {
			rc = s3_host->error(
			    ARCA_ERR_CONFIG,
			    "%s: endpoint %s is not the target's (%s): give its credentials "
			    "(credentials_file=PATH[&profile=P], or access_key_id=ID&"
			    "secret_access_key_file=PATH or _env=VAR, or credentials=env), or name "
			    "a [destination] section; credentials=target sends the target's own "
			    "there",
			    where, ep_norm, own);
		}
	}
	if (rc == ARCA_OK)
		s3_host->log(ARCA_LOG_INFO, "s3: %s bucket %s, prefix \"%s\" at %s%s", doing,
		             d->bucket, d->prefix, ep_norm,
		             d->creds_loaded ? "" : " (the target's credentials)");
	kv_free(&kv);
	free(prefix);
	if (rc != ARCA_OK) {
		s3_inst_close(d);
		return rc;
	}
	*out = d;
	return ARCA_OK;
}
