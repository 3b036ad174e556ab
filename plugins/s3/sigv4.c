/* sigv4.c — AWS Signature Version 4 (sigv4.h). */
#include "sigv4.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string; on allocation failure it stays broken (s NULL). */
struct str {
	char *s;
	size_t len, cap;
	int bad;
};

static void put(struct str *b, const char *p, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s) {
			free(b->s);
			*b = (struct str){.bad = 1};
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void puts_(struct str *b, const char *s)
{
	put(b, s, strlen(s));
}

static char *done(struct str *b)
{
	if (b->bad)
		return NULL;
	if (!b->s)
		puts_(b, "");
	return b->s;
}

char *sigv4_uri_encode(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	struct str b = {0};
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
		    (keep_slash && *p == '/')) {
			put(&b, (const char *)p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			put(&b, e, 3);
		}
	}
	return done(&b);
}

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(data, len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int n = 32;
	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n);
}

struct kv {
	char *k, *v;
};

static int cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

/* Header value: trimmed, inner runs of spaces made one. */
static void trimmed(struct str *b, const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++) {
		if ((v[i] == ' ' || v[i] == '\t') && i && (v[i - 1] == ' ' || v[i - 1] == '\t'))
			continue;
		put(b, v[i] == '\t' ? " " : v + i, 1);
	}
}

static void free_kv(struct kv *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].k);
		free(v[i].v);
	}
	free(v);
}

/* "k=v&k=v" of the query, each encoded, sorted by key then value. */
static void canonical_query(struct str *b, const struct sigv4_req *rq)
{
	struct kv *q = calloc(rq->n_query + 1, sizeof *q);
	if (!q) {
		b->bad = 1;
		return;
	}
	for (size_t i = 0; i < rq->n_query; i++) {
		q[i].k = sigv4_uri_encode(rq->query[2 * i], 0);
		q[i].v = sigv4_uri_encode(rq->query[2 * i + 1] ? rq->query[2 * i + 1] : "", 0);
		if (!q[i].k || !q[i].v)
			b->bad = 1;
	}
	if (!b->bad) {
		qsort(q, rq->n_query, sizeof *q, cmp_kv);
		for (size_t i = 0; i < rq->n_query; i++) {
			if (i)
				puts_(b, "&");
			puts_(b, q[i].k);
			puts_(b, "=");
			puts_(b, q[i].v);
		}
	}
	free_kv(q, rq->n_query);
}

/* Canonical headers and the signed-headers list: names lower-cased and
 * sorted, values of a repeated name joined by ',' in their order. */
static void canonical_headers(struct str *b, struct str *names, const struct sigv4_req *rq)
{
	struct kv *h = calloc(rq->n_headers + 1, sizeof *h);
	if (!h) {
		b->bad = 1;
		return;
	}
	for (size_t i = 0; i < rq->n_headers; i++) {
		struct str v = {0};
		h[i].k = strdup(rq->headers[i].name);
		trimmed(&v, rq->headers[i].value);
		h[i].v = done(&v);
		/* keep the given order of equal names: the index breaks ties */
		if (!h[i].k || !h[i].v)
			b->bad = 1;
		for (char *p = h[i].k; p && *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	size_t n = rq->n_headers;
	/* stable insertion sort by name only */
	for (size_t i = 1; !b->bad && i < n; i++)
		for (size_t j = i; j > 0 && strcmp(h[j - 1].k, h[j].k) > 0; j--) {
			struct kv t = h[j];
			h[j] = h[j - 1];
			h[j - 1] = t;
		}
	for (size_t i = 0; !b->bad && i < n; i++) {
		if (i && !strcmp(h[i].k, h[i - 1].k)) {
			b->len--; /* the '\n' */
			puts_(b, ",");
		} else {
			if (i)
				puts_(names, ";");
			puts_(names, h[i].k);
			puts_(b, h[i].k);
			puts_(b, ":");
		}
		puts_(b, h[i].v);
		puts_(b, "\n");
	}
	free_kv(h, n);
}

char *sigv4_authorization(const struct sigv4_req *rq, char **creq_out, char **sts_out)
{
	struct str creq = {0}, names = {0}, sts = {0}, auth = {0};
	char date[9], hash[65], scope[256];
	char *path = sigv4_uri_encode(rq->path, 1);
	if (!path)
		return NULL;
	puts_(&creq, rq->method);
	puts_(&creq, "\n");
	puts_(&creq, path);
	puts_(&creq, "\n");
	free(path);
	canonical_query(&creq, rq);
	puts_(&creq, "\n");
	canonical_headers(&creq, &names, rq);
	puts_(&creq, "\n");
	puts_(&creq, done(&names) ? names.s : "");
	puts_(&creq, "\n");
	puts_(&creq, rq->payload_sha256);
	if (!done(&creq) || !done(&names)) {
		free(creq.s);
		free(names.s);
		return NULL;
	}
	snprintf(date, sizeof date, "%.8s", rq->amz_date);
	snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, rq->region, rq->service);
	sigv4_sha256_hex(creq.s, creq.len, hash);
	puts_(&sts, "AWS4-HMAC-SHA256\n");
	puts_(&sts, rq->amz_date);
	puts_(&sts, "\n");
	puts_(&sts, scope);
	puts_(&sts, "\n");
	puts_(&sts, hash);

	unsigned char k[32];
	size_t slen = strlen(rq->secret_key);
	char *ks = malloc(slen + 5);
	if (!ks || !done(&sts)) {
		free(ks);
		free(creq.s);
		free(names.s);
		free(sts.s);
		return NULL;
	}
	memcpy(ks, "AWS4", 4);
	memcpy(ks + 4, rq->secret_key, slen + 1);
	hmac(ks, slen + 4, date, k);
	OPENSSL_cleanse(ks, slen + 4);
	free(ks);
	hmac(k, 32, rq->region, k);
	hmac(k, 32, rq->service, k);
	hmac(k, 32, "aws4_request", k);
	hmac(k, 32, sts.s, k);
	char sig[65];
	for (int i = 0; i < 32; i++)
		snprintf(sig + 2 * i, 3, "%02x", k[i]);
	OPENSSL_cleanse(k, sizeof k);

	puts_(&auth, "AWS4-HMAC-SHA256 Credential=");
	puts_(&auth, rq->access_key);
	puts_(&auth, "/");
	puts_(&auth, scope);
	puts_(&auth, ", SignedHeaders=");
	puts_(&auth, names.s);
	puts_(&auth, ", Signature=");
	puts_(&auth, sig);
	if (creq_out)
		*creq_out = creq.s;
	else
		free(creq.s);
	if (sts_out)
		*sts_out = sts.s;
	else
		free(sts.s);
	free(names.s);
	return done(&auth);
}
