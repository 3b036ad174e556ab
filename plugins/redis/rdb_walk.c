/* rdb_walk.c — the streaming RDB walker (see rdb.h).
 *
 * Bytes are consumed from a buffer the source refills; consumed ranges are
 * flushed to the CRC, to `tee` and (inside a value) to `on_value` before the
 * buffer is compacted, so no byte is seen twice or lost. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arca/plugin.h>
#include "rdb.h"

enum {
	OP_SLOT_INFO = 0xf4,
	OP_FUNCTION2 = 0xf5,
	OP_FUNCTION_PRE_GA = 0xf6,
	OP_MODULE_AUX = 0xf7,
	OP_IDLE = 0xf8,
	OP_FREQ = 0xf9,
	OP_AUX = 0xfa,
	OP_RESIZEDB = 0xfb,
	OP_EXPIRETIME_MS = 0xfc,
	OP_EXPIRETIME = 0xfd,
	OP_SELECTDB = 0xfe,
	OP_EOF = 0xff,
};

enum blob_kind { BLOB_NONE, BLOB_ZIPLIST, BLOB_LISTPACK, BLOB_INTSET, BLOB_ZIPMAP };

static int fail(struct rdb_walker *w, const char *fmt, ...) ARCA_PRINTF(2, 3);
static int fail(struct rdb_walker *w, const char *fmt, ...)
{
	char why[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (w->keyname[0])
		snprintf(w->err, sizeof w->err,
		         "at byte offset %" PRIu64 " (%s of key \"%s\", db %" PRIu64 "): %s",
		         w->offset, w->where, w->keyname, w->db, why);
	else
		snprintf(w->err, sizeof w->err, "at byte offset %" PRIu64 " (%s): %s", w->offset,
		         w->where, why);
	return ARCA_ERR_CORRUPT;
}

/* Hand the consumed, not yet flushed bytes to the CRC and the sinks. */
static int flush(struct rdb_walker *w)
{
	int rc;
	if (w->pos > w->mark) {
		if (w->crc_on)
			w->crc = rdb_crc64(w->crc, w->buf + w->mark, w->pos - w->mark);
		if (w->tee &&
		    (rc = w->tee(w->tee_arg, w->buf + w->mark, w->pos - w->mark)) != ARCA_OK)
			return rc;
		w->mark = w->pos;
	}
	if (w->capturing && w->pos > w->cmark) {
		if ((rc = w->on_value(w->key_arg, w->buf + w->cmark, w->pos - w->cmark)) != ARCA_OK)
			return rc;
		w->cmark = w->pos;
	}
	return ARCA_OK;
}

/* Make `need` (<= RDB_BUF_SIZE) bytes available at buf + pos. */
static int fill(struct rdb_walker *w, size_t need)
{
	int rc;
	while (w->len - w->pos < need) {
		if (w->src_done)
			return fail(w, "the data ends here: truncated (%zu more byte%s needed)",
			            need - (w->len - w->pos),
			            need - (w->len - w->pos) == 1 ? "" : "s");
		if ((rc = flush(w)) != ARCA_OK)
			return rc;
		if (w->pos > 0) {
			memmove(w->buf, w->buf + w->pos, w->len - w->pos);
			w->len -= w->pos;
			w->pos = w->mark = w->cmark = 0;
		}
		if (w->cancelled && w->cancelled(w->cancel_arg))
			return ARCA_ERR_CANCELLED;
		size_t got = 0;
		rc = w->read(w->read_arg, w->buf + w->len, RDB_BUF_SIZE - w->len, &got);
		if (rc != ARCA_OK)
			return rc;
		if (got == 0)
			w->src_done = 1;
		w->len += got;
	}
	return ARCA_OK;
}

static int take(struct rdb_walker *w, size_t n, const unsigned char **p)
{
	int rc = fill(w, n);
	if (rc != ARCA_OK)
		return rc;
	*p = w->buf + w->pos;
	w->pos += n;
	w->offset += n;
	return ARCA_OK;
}

/* Consume n bytes; copy them to out when out is not NULL. */
static int consume(struct rdb_walker *w, uint64_t n, unsigned char *out)
{
	while (n > 0) {
		int rc = fill(w, 1);
		if (rc != ARCA_OK)
			return rc;
		size_t k = w->len - w->pos;
		if (k > n)
			k = (size_t)n;
		if (out) {
			memcpy(out, w->buf + w->pos, k);
			out += k;
		}
		w->pos += k;
		w->offset += k;
		n -= k;
	}
	return ARCA_OK;
}

static int byte(struct rdb_walker *w, unsigned *b)
{
	const unsigned char *p;
	int rc = take(w, 1, &p);
	if (rc == ARCA_OK)
		*b = *p;
	return rc;
}

/* A length; *enc set when it is a special string encoding (0..3). */
static int read_len_enc(struct rdb_walker *w, uint64_t *len, int *enc)
{
	const unsigned char *p;
	unsigned b;
	int rc = byte(w, &b);
	if (rc != ARCA_OK)
		return rc;
	*enc = -1;
	switch (b >> 6) {
	case 0:
		*len = b & 0x3f;
		return ARCA_OK;
	case 1:
		if ((rc = take(w, 1, &p)) != ARCA_OK)
			return rc;
		*len = ((uint64_t)(b & 0x3f) << 8) | p[0];
		return ARCA_OK;
	case 3:
		*enc = (int)(b & 0x3f);
		*len = 0;
		return ARCA_OK;
	}
	if (b == 0x80) {
		if ((rc = take(w, 4, &p)) != ARCA_OK)
			return rc;
		*len = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
		return ARCA_OK;
	}
	if (b == 0x81) {
		if ((rc = take(w, 8, &p)) != ARCA_OK)
			return rc;
		*len = 0;
		for (int i = 0; i < 8; i++)
			*len = *len << 8 | p[i];
		return ARCA_OK;
	}
	return fail(w, "unknown length encoding 0x%02x", b);
}

static int read_len(struct rdb_walker *w, uint64_t *len)
{
	int enc, rc = read_len_enc(w, len, &enc);
	if (rc == ARCA_OK && enc >= 0)
		return fail(w, "a string encoding (0x%02x) where a length belongs", 0xc0 | enc);
	return rc;
}

/* Walk an LZF stream of clen bytes that must expand to exactly ulen; out
 * (ulen bytes) receives the expansion when not NULL. Without out only
 * positions are checked: nothing of the value is held. */
static int lzf_walk(struct rdb_walker *w, uint64_t clen, uint64_t ulen, unsigned char *out)
{
	uint64_t in = clen, op = 0;
	const unsigned char *p;
	int rc;
	while (in > 0) {
		unsigned ctrl;
		if ((rc = byte(w, &ctrl)) != ARCA_OK)
			return rc;
		in--;
		if (ctrl < 32) {
			uint64_t n = ctrl + 1;
			if (n > in)
				return fail(w,
				            "LZF literal of %" PRIu64
				            " bytes runs past the compressed data",
				            n);
			if (op + n > ulen)
				return fail(w,
				            "LZF data expands past the declared %" PRIu64 " bytes",
				            ulen);
			if ((rc = consume(w, n, out ? out + op : NULL)) != ARCA_OK)
				return rc;
			in -= n, op += n;
			continue;
		}
		uint64_t len = ctrl >> 5;
		if (in == 0)
			return fail(w, "LZF back-reference cut off");
		if (len == 7) {
			unsigned b;
			if ((rc = byte(w, &b)) != ARCA_OK)
				return rc;
			len += b;
			if (--in == 0)
				return fail(w, "LZF back-reference cut off");
		}
		if ((rc = take(w, 1, &p)) != ARCA_OK)
			return rc;
		in--;
		uint64_t back = ((uint64_t)(ctrl & 0x1f) << 8) + p[0] + 1;
		if (back > op)
			return fail(w, "LZF back-reference %" PRIu64 " bytes before the start",
			            back - op);
		if (op + len + 2 > ulen)
			return fail(w, "LZF data expands past the declared %" PRIu64 " bytes",
			            ulen);
		if (out)
			for (uint64_t i = 0; i < len + 2; i++)
				out[op + i] = out[op + i - back];
		op += len + 2;
	}
	if (op != ulen)
		return fail(w, "LZF data expands to %" PRIu64 " bytes, %" PRIu64 " declared", op,
		            ulen);
	return ARCA_OK;
}

/* A string. When it is at most `maxmat` bytes long and out is given, *out
 * is a malloc'd NUL-terminated copy (an integer encoding as its decimal
 * text); otherwise it is walked and dropped (*out NULL). */
static int read_string(struct rdb_walker *w, size_t maxmat, char **out, size_t *outlen)
{
	uint64_t len, clen;
	const unsigned char *p;
	int enc, rc;
	if (out)
		*out = NULL;
	if ((rc = read_len_enc(w, &len, &enc)) != ARCA_OK)
		return rc;
	if (enc >= 0 && enc <= 2) {
		size_t n = (size_t)1 << enc;
		if ((rc = take(w, n, &p)) != ARCA_OK)
			return rc;
		if (out) {
			int64_t v = enc == 0 ? (int8_t)p[0]
			            : enc == 1
			                ? (int16_t)(p[0] | p[1] << 8)
			                : (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			                            (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
			char num[24];
			int k = snprintf(num, sizeof num, "%" PRId64, v);
			if (!(*out = strdup(num)))
				return fail(w, "out of memory");
			*outlen = (size_t)k;
		}
		return ARCA_OK;
	}
	if (enc == 3) {
		if ((rc = read_len(w, &clen)) != ARCA_OK || (rc = read_len(w, &len)) != ARCA_OK)
			return rc;
		unsigned char *buf = NULL;
		if (out && len <= maxmat) {
			if (!(buf = malloc((size_t)len + 1)))
				return fail(w, "out of memory for a %" PRIu64 "-byte string", len);
		}
		if ((rc = lzf_walk(w, clen, len, buf)) != ARCA_OK) {
			free(buf);
			return rc;
		}
		if (buf) {
			buf[len] = '\0';
			*out = (char *)buf;
			*outlen = (size_t)len;
		}
		return ARCA_OK;
	}
	if (enc > 3)
		return fail(w, "unknown string encoding 0x%02x", 0xc0 | enc);
	if (out && len <= maxmat) {
		unsigned char *buf = malloc((size_t)len + 1);
		if (!buf)
			return fail(w, "out of memory for a %" PRIu64 "-byte string", len);
		if ((rc = consume(w, len, buf)) != ARCA_OK) {
			free(buf);
			return rc;
		}
		buf[len] = '\0';
		*out = (char *)buf;
		*outlen = (size_t)len;
		return ARCA_OK;
	}
	return consume(w, len, NULL);
}

static int skip_string(struct rdb_walker *w)
{
	return read_string(w, 0, NULL, NULL);
}

/* A container stored as a string: checked whole up to RDB_BLOB_CHECK_MAX
 * (larger ones are walked, their CRC covers them). */
static int read_blob(struct rdb_walker *w, enum blob_kind kind, int nonempty)
{
	char *s = NULL, why[200];
	size_t n = 0;
	int rc = read_string(w, RDB_BLOB_CHECK_MAX, &s, &n), bad = 0;
	if (rc != ARCA_OK || !s)
		return rc;
	const unsigned char *p = (const unsigned char *)s;
	switch (kind) {
	case BLOB_ZIPLIST:
		bad = rdb_check_ziplist(p, n, why, sizeof why);
		break;
	case BLOB_LISTPACK:
		bad = rdb_check_listpack(p, n, why, sizeof why);
		if (!bad && nonempty && n >= 6 && p[4] == 0 && p[5] == 0)
			bad = 1, snprintf(why, sizeof why, "empty listpack");
		break;
	case BLOB_INTSET:
		bad = rdb_check_intset(p, n, why, sizeof why);
		break;
	case BLOB_ZIPMAP:
		bad = rdb_check_zipmap(p, n, why, sizeof why);
		break;
	case BLOB_NONE:
		break;
	}
	free(s);
	return bad ? fail(w, "%s", why) : ARCA_OK;
}

/* A module value in the self-describing format (module type 2, module aux):
 * opcodes until EOF, each with its own length. */
static int module_value(struct rdb_walker *w)
{
	const unsigned char *p;
	uint64_t op, v;
	int rc;
	w->has_modules = 1;
	for (;;) {
		if ((rc = read_len(w, &op)) != ARCA_OK)
			return rc;
		switch (op) {
		case 0:
			return ARCA_OK;
		case 1:
		case 2:
			rc = read_len(w, &v);
			break;
		case 3:
			rc = take(w, 4, &p);
			break;
		case 4:
			rc = take(w, 8, &p);
			break;
		case 5:
			rc = skip_string(w);
			break;
		default:
			return fail(w, "unknown module opcode %" PRIu64, op);
		}
		if (rc != ARCA_OK)
			return rc;
	}
}

static int stream_id(struct rdb_walker *w)
{
	uint64_t v;
	int rc = read_len(w, &v);
	return rc == ARCA_OK ? read_len(w, &v) : rc;
}

static int stream_value(struct rdb_walker *w, int type)
{
	const unsigned char *p;
	uint64_t n, m, k, v;
	int rc;
	if ((rc = read_len(w, &n)) != ARCA_OK)
		return rc;
	for (uint64_t i = 0; i < n; i++) {
		char *nodekey = NULL;
		size_t nl = 0;
		w->where = "stream node";
		if ((rc = read_string(w, 16, &nodekey, &nl)) != ARCA_OK)
			return rc;
		free(nodekey);
		if (!nodekey || nl != 16)
			return fail(w, "stream node key is not a 16-byte ID");
		if ((rc = read_blob(w, BLOB_LISTPACK, 1)) != ARCA_OK)
			return rc;
	}
	w->where = "stream metadata";
	if ((rc = read_len(w, &v)) != ARCA_OK || (rc = stream_id(w)) != ARCA_OK)
		return rc;
	if (type >= 19 && ((rc = stream_id(w)) != ARCA_OK || (rc = stream_id(w)) != ARCA_OK ||
	                   (rc = read_len(w, &v)) != ARCA_OK))
		return rc;
	if ((rc = read_len(w, &n)) != ARCA_OK)
		return rc;
	for (uint64_t g = 0; g < n; g++) {
		w->where = "stream consumer group";
		if ((rc = skip_string(w)) != ARCA_OK || (rc = stream_id(w)) != ARCA_OK)
			return rc;
		if (type >= 19 && (rc = read_len(w, &v)) != ARCA_OK)
			return rc;
		if ((rc = read_len(w, &m)) != ARCA_OK)
			return rc;
		for (uint64_t e = 0; e < m; e++)
			if ((rc = take(w, 16, &p)) != ARCA_OK || (rc = take(w, 8, &p)) != ARCA_OK ||
			    (rc = read_len(w, &v)) != ARCA_OK)
				return rc;
		if ((rc = read_len(w, &m)) != ARCA_OK)
			return rc;
		for (uint64_t c = 0; c < m; c++) {
			w->where = "stream consumer";
			if ((rc = skip_string(w)) != ARCA_OK || (rc = take(w, 8, &p)) != ARCA_OK)
				return rc;
			if (type >= 21 && (rc = take(w, 8, &p)) != ARCA_OK)
				return rc;
			if ((rc = read_len(w, &k)) != ARCA_OK)
				return rc;
			for (uint64_t e = 0; e < k; e++)
				if ((rc = take(w, 16, &p)) != ARCA_OK)
					return rc;
		}
	}
	return ARCA_OK;
}

static int value(struct rdb_walker *w, int type)
{
	const unsigned char *p;
	uint64_t n, v;
	unsigned b;
	int rc = ARCA_OK;
	w->where = "value";
	switch (type) {
	case 0:
		return skip_string(w);
	case 1:
	case 2:
	case 3:
	case 4:
	case 5:
		if ((rc = read_len(w, &n)) != ARCA_OK)
			return rc;
		for (uint64_t i = 0; i < n && rc == ARCA_OK; i++) {
			rc = skip_string(w);
			if (rc != ARCA_OK || type == 1 || type == 2)
				continue;
			if (type == 4)
				rc = skip_string(w);
			else if (type == 5)
				rc = take(w, 8, &p);
			else if ((rc = byte(w, &b)) == ARCA_OK && b < 253)
				rc = consume(w, b, NULL);
		}
		return rc;
	case 6:
		return fail(w, "a module value in the pre-release format (type 6) cannot be walked "
		               "without its module; this RDB cannot be checked");
	case 7:
		if ((rc = read_len(w, &v)) != ARCA_OK)
			return rc;
		return module_value(w);
	case 9:
		return read_blob(w, BLOB_ZIPMAP, 0);
	case 10:
	case 12:
	case 13:
		return read_blob(w, BLOB_ZIPLIST, 0);
	case 11:
		return read_blob(w, BLOB_INTSET, 0);
	case 16:
	case 17:
	case 20:
		return read_blob(w, BLOB_LISTPACK, 0);
	case 14:
		if ((rc = read_len(w, &n)) != ARCA_OK)
			return rc;
		for (uint64_t i = 0; i < n && rc == ARCA_OK; i++)
			rc = read_blob(w, BLOB_ZIPLIST, 0);
		return rc;
	case 18:
		if ((rc = read_len(w, &n)) != ARCA_OK)
			return rc;
		for (uint64_t i = 0; i < n && rc == ARCA_OK; i++) {
			if ((rc = read_len(w, &v)) != ARCA_OK)
				return rc;
			if (v != 1 && v != 2)
				return fail(w, "quicklist node container %" PRIu64 " is not 1 or 2",
				            v);
			rc = v == 2 ? read_blob(w, BLOB_LISTPACK, 1) : skip_string(w);
		}
		return rc;
	case 15:
	case 19:
	case 21:
		return stream_value(w, type);
	case 24: /* hash with field TTLs: minimum expiry, then ttl/field/value */
		if ((rc = take(w, 8, &p)) != ARCA_OK || (rc = read_len(w, &n)) != ARCA_OK)
			return rc;
		for (uint64_t i = 0; i < n && rc == ARCA_OK; i++)
			if ((rc = read_len(w, &v)) == ARCA_OK && (rc = skip_string(w)) == ARCA_OK)
				rc = skip_string(w);
		return rc;
	case 25:
		if ((rc = take(w, 8, &p)) != ARCA_OK)
			return rc;
		return read_blob(w, BLOB_LISTPACK, 0);
	case 22:
	case 23:
		return fail(w,
		            "a hash with field TTLs in the pre-release format (type %d) is not "
		            "supported",
		            type);
	}
	return fail(w, "unknown value type %d", type);
}

static struct rdb_db_stats *db_stats(struct rdb_walker *w)
{
	for (size_t i = 0; i < w->n_dbs; i++)
		if (w->dbs[i].db == w->db)
			return &w->dbs[i];
	struct rdb_db_stats *d = realloc(w->dbs, (w->n_dbs + 1) * sizeof *d);
	if (!d)
		return NULL;
	w->dbs = d;
	d += w->n_dbs++;
	d->db = w->db, d->keys = d->expires = 0;
	return d;
}

static void set_keyname(struct rdb_walker *w, const char *k, size_t n)
{
	size_t j = 0;
	if (!k) {
		snprintf(w->keyname, sizeof w->keyname, "(a long key)");
		return;
	}
	for (size_t i = 0; i < n && j + 5 < sizeof w->keyname - 4; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			j += (size_t)snprintf(w->keyname + j, sizeof w->keyname - j, "\\x%02x", c);
		else
			w->keyname[j++] = (char)c;
	}
	if (j + 5 >= sizeof w->keyname - 4)
		memcpy(w->keyname + j, "...", 4);
	else
		w->keyname[j] = '\0';
}

static int key_value(struct rdb_walker *w, int type, int64_t expire)
{
	char *key = NULL;
	size_t kl = 0;
	int rc;
	w->where = "key";
	w->keyname[0] = '\0';
	rc = read_string(w, w->on_key ? RDB_KEY_MAX : 255, &key, &kl);
	if (rc != ARCA_OK)
		return rc;
	if (w->on_key && !key) {
		return fail(w, "key longer than %u bytes", RDB_KEY_MAX);
	}
	set_keyname(w, key, kl);
	struct rdb_db_stats *d = db_stats(w);
	if (!d) {
		free(key);
		return fail(w, "out of memory");
	}
	d->keys++, w->keys++;
	if (expire >= 0)
		d->expires++;
	if (w->on_key) {
		struct rdb_key k = {w->db, key, kl, type, expire};
		unsigned char t = (unsigned char)type;
		rc = w->on_key(w->key_arg, &k);
		if (rc == ARCA_OK && (rc = flush(w)) == ARCA_OK)
			rc = w->on_value(w->key_arg, &t, 1);
		w->capturing = rc == ARCA_OK;
		w->cmark = w->pos;
	}
	free(key);
	if (rc != ARCA_OK)
		return rc;
	rc = value(w, type);
	if (rc == ARCA_OK && w->capturing) {
		rc = flush(w);
		w->capturing = 0;
		if (rc == ARCA_OK)
			rc = w->on_value_end(w->key_arg);
	}
	w->capturing = 0;
	w->keyname[0] = '\0';
	return rc;
}

static int aux_field(struct rdb_walker *w)
{
	char *k = NULL, *v = NULL;
	size_t kl, vl;
	int rc;
	w->where = "aux field";
	if ((rc = read_string(w, 255, &k, &kl)) == ARCA_OK &&
	    (rc = read_string(w, 255, &v, &vl)) == ARCA_OK && k && v && strcmp(k, "redis-ver") == 0)
		snprintf(w->redis_ver, sizeof w->redis_ver, "%s", v);
	free(k);
	free(v);
	return rc;
}

static int walk_body(struct rdb_walker *w)
{
	const unsigned char *p;
	uint64_t v;
	int64_t expire = -1;
	unsigned t;
	int rc;
	for (;;) {
		w->where = "opcode";
		if ((rc = byte(w, &t)) != ARCA_OK)
			return rc;
		switch (t) {
		case OP_EOF:
			return ARCA_OK;
		case OP_SELECTDB:
			w->where = "SELECTDB";
			if ((rc = read_len(w, &v)) != ARCA_OK)
				return rc;
			if (v > 1000000)
				return fail(w, "database number %" PRIu64 " is out of range", v);
			w->db = v;
			break;
		case OP_EXPIRETIME:
			w->where = "EXPIRETIME";
			if ((rc = take(w, 4, &p)) != ARCA_OK)
				return rc;
			expire = (int64_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			                   (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) *
			         1000;
			continue;
		case OP_EXPIRETIME_MS:
			w->where = "EXPIRETIME_MS";
			if ((rc = take(w, 8, &p)) != ARCA_OK)
				return rc;
			v = 0;
			for (int i = 7; i >= 0; i--)
				v = v << 8 | p[i];
			expire = (int64_t)v;
			continue;
		case OP_IDLE:
			w->where = "IDLE";
			if ((rc = read_len(w, &v)) != ARCA_OK)
				return rc;
			continue;
		case OP_FREQ:
			w->where = "FREQ";
			if ((rc = take(w, 1, &p)) != ARCA_OK)
				return rc;
			continue;
		case OP_RESIZEDB:
			w->where = "RESIZEDB";
			if ((rc = read_len(w, &v)) != ARCA_OK || (rc = read_len(w, &v)) != ARCA_OK)
				return rc;
			break;
		case OP_AUX:
			if ((rc = aux_field(w)) != ARCA_OK)
				return rc;
			break;
		case OP_MODULE_AUX:
			w->where = "module aux";
			if ((rc = read_len(w, &v)) != ARCA_OK || (rc = read_len(w, &v)) != ARCA_OK)
				return rc;
			if (v != 2)
				return fail(w, "module aux 'when' opcode %" PRIu64 " is not 2", v);
			if ((rc = read_len(w, &v)) != ARCA_OK || (rc = module_value(w)) != ARCA_OK)
				return rc;
			break;
		case OP_FUNCTION2:
			w->where = "function library";
			w->has_functions = 1;
			if (w->on_function) {
				char *code = NULL;
				size_t cl = 0;
				rc = read_string(w, RDB_KEY_MAX, &code, &cl);
				if (rc == ARCA_OK && !code)
					rc = fail(w, "a function library over %u bytes",
					          RDB_KEY_MAX);
				if (rc == ARCA_OK)
					rc = w->on_function(w->key_arg, code, cl);
				free(code);
			} else {
				rc = skip_string(w);
			}
			if (rc != ARCA_OK)
				return rc;
			break;
		case OP_FUNCTION_PRE_GA:
			w->where = "function (pre-release format)";
			w->has_functions = 1;
			if ((rc = skip_string(w)) != ARCA_OK || (rc = skip_string(w)) != ARCA_OK ||
			    (rc = read_len(w, &v)) != ARCA_OK)
				return rc;
			if (v && (rc = skip_string(w)) != ARCA_OK)
				return rc;
			if ((rc = skip_string(w)) != ARCA_OK)
				return rc;
			break;
		case OP_SLOT_INFO:
			w->where = "slot info";
			for (int i = 0; i < 3; i++)
				if ((rc = read_len(w, &v)) != ARCA_OK)
					return rc;
			break;
		default:
			if (t > 25 || t == 8) {
				w->offset--; /* name the byte itself */
				return fail(w, "unknown opcode or value type 0x%02x", t);
			}
			if ((rc = key_value(w, (int)t, expire)) != ARCA_OK)
				return rc;
			expire = -1;
			continue;
		}
		if (expire >= 0)
			return fail(w, "an expire time not followed by a key");
	}
}

int rdb_walk(struct rdb_walker *w)
{
	const unsigned char *p;
	int rc;
	w->buf = malloc(RDB_BUF_SIZE);
	if (!w->buf)
		return fail(w, "out of memory");
	w->pos = w->len = w->mark = w->cmark = 0;
	w->offset = 0;
	w->crc = 0;
	w->crc_on = 1;
	w->where = "header";
	if ((rc = take(w, 9, &p)) != ARCA_OK)
		return rc;
	if (memcmp(p, "REDIS", 5) != 0)
		return fail(w, "no RDB magic \"REDIS\": this is not an RDB file");
	w->version = 0;
	for (int i = 5; i < 9; i++) {
		if (p[i] < '0' || p[i] > '9')
			return fail(w, "the version \"%.4s\" is not a number", (const char *)p + 5);
		w->version = w->version * 10 + (p[i] - '0');
	}
	if (w->version < 1 || w->version > RDB_VERSION_MAX)
		return fail(w, "RDB version %d is not one this driver reads (1 to %d)", w->version,
		            RDB_VERSION_MAX);
	if ((rc = walk_body(w)) != ARCA_OK)
		return rc;
	w->where = "end";
	w->crc_present = 0;
	if (w->version >= 5) {
		if ((rc = flush(w)) != ARCA_OK)
			return rc;
		uint64_t want = w->crc, got = 0;
		w->crc_on = 0;
		w->where = "checksum";
		if ((rc = take(w, 8, &p)) != ARCA_OK)
			return rc;
		for (int i = 7; i >= 0; i--)
			got = got << 8 | p[i];
		if (got != 0) {
			w->crc_present = 1;
			if (got != want) {
				w->offset -= 8;
				return fail(w,
				            "CRC-64 mismatch: the file says %016" PRIx64
				            ", its bytes give %016" PRIx64,
				            got, want);
			}
		}
	}
	return flush(w);
}

void rdb_walk_leftover(const struct rdb_walker *w, const unsigned char **p, size_t *n)
{
	*p = w->buf + w->pos;
	*n = w->len - w->pos;
}

void rdb_walker_free(struct rdb_walker *w)
{
	free(w->buf);
	free(w->dbs);
	w->buf = NULL;
	w->dbs = NULL;
	w->n_dbs = 0;
}
