/* s3_creds.c — where the S3 credentials come from, in this order (README.md):
 *  1. the section: access_key_id with secret_access_key_file/_env
 *     (session_token_file/_env optional);
 *  2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *     AWS_SESSION_TOKEN;
 *  3. the shared credentials file (credentials_file, else
 *     AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials), profile
 *     `profile`, else AWS_PROFILE, else "default".
 * The secret is never logged; messages name only where it came from. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "s3_target.h"

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void s3_creds_free(struct s3_creds *c)
{
	free(c->access_key);
	wipe_free(c->secret_key);
	wipe_free(c->token);
	memset(c, 0, sizeof *c);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* The profile's keys from an INI-like credentials file (s3_target.h). */
int s3_creds_from_file(const char *path, const char *profile, struct s3_creds *c)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return ARCA_ERR_NOT_FOUND;
	char line[4096];
	int in = 0;
	while (fgets(line, sizeof line, f)) {
		char *l = trim(line);
		if (*l == '[') {
			char *e = strchr(l, ']');
			if (e)
				*e = '\0';
			in = !strcmp(trim(l + 1), profile);
			continue;
		}
		char *eq = strchr(l, '=');
		if (!in || !eq || *l == '#' || *l == ';')
			continue;
		*eq = '\0';
		char *k = trim(l), *v = trim(eq + 1);
		char **dst = !strcmp(k, "aws_access_key_id")       ? &c->access_key
		             : !strcmp(k, "aws_secret_access_key") ? &c->secret_key
		             : !strcmp(k, "aws_session_token")     ? &c->token
		                                                   : NULL;
		if (dst && !*dst)
			*dst = strdup(v);
	}
	OPENSSL_cleanse(line, sizeof line);
	fclose(f);
	return c->access_key && c->secret_key ? ARCA_OK : ARCA_ERR_NOT_FOUND;
}

int s3_creds_from_env(struct s3_creds *c)
{
	const char *eid = getenv("AWS_ACCESS_KEY_ID"), *esec = getenv("AWS_SECRET_ACCESS_KEY");
	if (!eid || !*eid || !esec || !*esec)
		return ARCA_ERR_NOT_FOUND;
	c->access_key = strdup(eid);
	c->secret_key = strdup(esec);
	const char *tok = getenv("AWS_SESSION_TOKEN");
	c->token = tok && *tok ? strdup(tok) : NULL;
	snprintf(c->source, sizeof c->source, "AWS_SECRET_ACCESS_KEY");
	if (c->access_key && c->secret_key)
		return ARCA_OK;
	s3_creds_free(c);
	return s3_host->error(ARCA_ERR_INTERNAL, "out of memory");
}

int s3_creds_from_profile(const char *file, const char *profile, struct s3_creds *c,
                          char *file_used, size_t n, const char **profile_used)
{
	if (!file)
		file = getenv("AWS_SHARED_CREDENTIALS_FILE");
	if (file && *file)
		snprintf(file_used, n, "%s", file);
	else if (getenv("HOME"))
		snprintf(file_used, n, "%s/.aws/credentials", getenv("HOME"));
	else
		file_used[0] = '\0';
	if (!profile)
		profile = getenv("AWS_PROFILE");
	if (!profile || !*profile)
		profile = "default";
	*profile_used = profile;
	if (file_used[0] && s3_creds_from_file(file_used, profile, c) == ARCA_OK) {
		snprintf(c->source, sizeof c->source, "profile %.40s of %.100s", profile,
		         file_used);
		return ARCA_OK;
	}
	s3_creds_free(c);
	return ARCA_ERR_NOT_FOUND;
}

int s3_creds_load(const struct arca_config *cfg, struct s3_creds *c)
{
	memset(c, 0, sizeof *c);
	const char *sec = s3_host->config_section(cfg);
	const char *id = s3_host->config_get(cfg, "access_key_id");
	char *secret = NULL;
	int rc = s3_host->secret(cfg, "secret_access_key", &secret);
	if (rc != ARCA_OK && rc != ARCA_ERR_NOT_FOUND)
		return rc;
	if (id || secret) {
		if (!id || !secret) {
			wipe_free(secret);
			return s3_host->error(
			    ARCA_ERR_CONFIG,
			    "section [%s]: access_key_id and secret_access_key_file (or _env) "
			    "go "
			    "together: set both, or neither to use AWS_ACCESS_KEY_ID/"
			    "AWS_SECRET_ACCESS_KEY or the shared credentials file",
			    sec);
		}
		c->access_key = strdup(id);
		c->secret_key = secret;
		rc = s3_host->secret(cfg, "session_token", &c->token);
		if (rc != ARCA_OK && rc != ARCA_ERR_NOT_FOUND) {
			s3_creds_free(c);
			return rc;
		}
		snprintf(c->source, sizeof c->source, "section [%s]", sec);
		return c->access_key ? ARCA_OK : s3_host->error(ARCA_ERR_INTERNAL, "out of memory");
	}
	if ((rc = s3_creds_from_env(c)) != ARCA_ERR_NOT_FOUND)
		return rc;
	char file[4096];
	const char *profile;
	if (s3_creds_from_profile(s3_host->config_get(cfg, "credentials_file"),
	                          s3_host->config_get(cfg, "profile"), c, file, sizeof file,
	                          &profile) == ARCA_OK)
		return ARCA_OK;
	return s3_host->error(ARCA_ERR_CONFIG,
	                      "section [%s]: no S3 credentials: set access_key_id and "
	                      "secret_access_key_file (or _env), or AWS_ACCESS_KEY_ID and "
	                      "AWS_SECRET_ACCESS_KEY, or a profile \"%s\" in %s",
	                      sec, profile, file[0] ? file : "~/.aws/credentials");
}
