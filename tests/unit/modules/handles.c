/* handles.c — a target driver that uses items by handle (ABI 1.1,
 * item_begin_h and the rest) from threads of its own, for
 * tests/integration/items_parallel.sh.
 *
 *   snapshot: THREADS threads each send ITEMS items "tK/iJ" of generated
 *             content (0 to 64 KiB; one item of 9 MiB, past a handle's
 *             buffer, so it streams while others buffer), fingerprinted
 *             with the option `version`; one thread skips an item after
 *             item_begin_h and one without a handle. Option `misuse`:
 *             "open" returns with a handle open, "mix" calls item_begin
 *             while handles are open, "fail" fails one thread's item,
 *             "size" states a wrong size for t1/i002 at item_end_info_h.
 *             Option `keep` (ABI 1.1 ARCA_ITEM_KEEP_ATTRS): items begun
 *             with meta "provisional", completed with item_end_info_h and
 *             meta "final NAME VERSION", unchanged ones ended at once; and
 *             the note run=VERSION (snapshot_note).
 *   restore:  item_next on the engine's thread, each item opened with
 *             item_open_h(NULL) and read on THREADS threads, its content
 *             compared with what the snapshot generated; the counts are
 *             written to the file --into names ("items N bytes B bad X").
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "arca/plugin.h"

#define THREADS 4
#define ITEMS   150
#define BIG     (9u * 1024 * 1024 + 1)

static const struct arca_host *host;

struct inst {
	char misuse[16];
	char version[32];
	int keep;
};

static int h_open(const struct arca_config *cfg, void **out)
{
	struct inst *in = calloc(1, sizeof *in);
	const char *m = host->config_get(cfg, "misuse");
	const char *v = host->config_get(cfg, "version");
	if (!in)
		return host->error(ARCA_ERR_INTERNAL, "out of memory");
	snprintf(in->misuse, sizeof in->misuse, "%s", m ? m : "none");
	snprintf(in->version, sizeof in->version, "%s", v ? v : "1");
	in->keep = host->config_bool(cfg, "keep", 0);
	*out = in;
	return ARCA_OK;
}

static void h_close(void *p)
{
	free(p);
}

static int h_check(void *p, struct arca_ctx *ctx)
{
	(void)p;
	(void)ctx;
	return ARCA_OK;
}

/* The content of item (k, j): its size and its byte at offset o. Every
 * fifth item is 64 KiB or more, so the engine's spare buffers (kept from
 * ended items for the next ones) are handed round between threads. */
static size_t item_size(int k, int j)
{
	size_t n = (size_t)((k * 7919 + j * 104729) % 65537);
	if (k == 1 && j == 7)
		return BIG;
	return j % 5 ? n : 65536 + n * 3;
}

static unsigned char item_byte(int k, int j, size_t o)
{
	return (unsigned char)(o * 31 + (size_t)k * 17 + (size_t)j * 13 + o / 4096);
}

struct snap_thread {
	struct arca_ctx *ctx;
	const struct inst *in;
	int k, rc;
	char msg[512];
	pthread_t t;
};

static int send_item(struct snap_thread *st, int j)
{
	char name[32], fp[64];
	unsigned char buf[8192];
	struct arca_item_info info = {.struct_size = sizeof info, .name = name};
	struct arca_item *h;
	size_t size = item_size(st->k, j), o = 0;
	int rc;

	snprintf(name, sizeof name, "t%d/i%03d", st->k, j);
	snprintf(fp, sizeof fp, "%s:%s", st->in->version, name);
	info.type = ARCA_ITEM_STREAM;
	info.size = size;
	info.fingerprint = fp;
	if (st->in->keep) {
		info.flags = ARCA_ITEM_KEEP_ATTRS;
		info.meta = "provisional";
	}
	if (st->k == 2 && j == 3)
		return host->item_skipped_h(st->ctx, NULL, name, "test: never begun");
	rc = host->item_begin_h(st->ctx, &info, &h);
	if ((rc == ARCA_OK || rc == ARCA_ITEM_UNCHANGED) && st->k == 0 && j == ITEMS - 1 &&
	    !strcmp(st->in->misuse, "open"))
		return ARCA_OK; /* never ended: the engine must refuse the snapshot */
	if (rc == ARCA_ITEM_UNCHANGED)
		return host->item_end_h(h);
	if (rc != ARCA_OK)
		return rc;
	if (st->k == 3 && j == 5)
		return host->item_skipped_h(st->ctx, h, NULL, "test: dropped after begin");
	if (st->k == 0 && j == 9 && !strcmp(st->in->misuse, "fail")) {
		host->item_end_h(h);
		return host->error(ARCA_ERR_IO, "handles: test failure of t0/i009");
	}
	while (o < size) {
		size_t n = size - o < sizeof buf ? size - o : sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = item_byte(st->k, j, o + i);
		rc = host->item_write_h(h, buf, n);
		if (rc != ARCA_OK) {
			host->item_end_h(h); /* released; returns the same failure */
			return rc;
		}
		o += n;
	}
	if (st->in->keep) {
		char meta[96];
		struct arca_item_info final = info;
		snprintf(meta, sizeof meta, "final %s %s", name, st->in->version);
		final.meta = meta;
		final.checksum = "test:sum";
		if (st->k == 1 && j == 2 && !strcmp(st->in->misuse, "size"))
			final.size = size + 1;
		rc = host->item_end_info_h(h, &final);
		if (rc == ARCA_ERR_CORRUPT) /* released; the others go on */
			return host->item_skipped_h(st->ctx, NULL, name, host->error_message());
		return rc;
	}
	return host->item_end_h(h);
}

static void *snap_main(void *arg)
{
	struct snap_thread *st = arg;
	for (int j = 0; j < ITEMS && st->rc == ARCA_OK; j++) {
		st->rc = send_item(st, j);
		if (st->rc != ARCA_OK)
			snprintf(st->msg, sizeof st->msg, "%s", host->error_message());
	}
	return NULL;
}

static int h_snapshot(void *p, struct arca_ctx *ctx)
{
	struct inst *in = p;
	struct snap_thread st[THREADS];
	int rc = ARCA_OK, started = 0;

	if (!ARCA_HOST_HAS(host, error_message) ||
	    (in->keep && !ARCA_HOST_HAS(host, item_end_info_h)))
		return host->error(ARCA_ERR_UNSUPPORTED,
		                   "handles: the engine has no items by handle");
	for (int k = 0; k < THREADS; k++) {
		st[k] = (struct snap_thread){.ctx = ctx, .in = in, .k = k};
		if (pthread_create(&st[k].t, NULL, snap_main, &st[k]) == 0)
			started++;
	}
	if (!strcmp(in->misuse, "mix")) {
		struct arca_item_info info = {
		    .struct_size = sizeof info, .name = "mixed", .type = ARCA_ITEM_STREAM};
		struct arca_item *h;
		rc = host->item_begin_h(ctx, &info, &h);
		if (rc == ARCA_OK) {
			rc = host->item_begin(ctx, &info); /* refused: a handle is open */
			host->item_end_h(h);
		}
	}
	for (int k = 0; k < started; k++)
		pthread_join(st[k].t, NULL);
	for (int k = 0; k < started && rc == ARCA_OK; k++)
		if (st[k].rc != ARCA_OK)
			rc = host->error(st[k].rc, "%s", st[k].msg);
	if (rc == ARCA_OK && started < THREADS)
		rc = host->error(ARCA_ERR_INTERNAL, "handles: cannot start threads");
	if (rc == ARCA_OK && in->keep)
		rc = host->snapshot_note(ctx, "run", in->version);
	return rc;
}

/* ---- restore: read every item on worker threads ---------------------- */

struct work {
	struct arca_item *h;
	int k, j;
	struct work *next;
};

struct rest {
	struct arca_ctx *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct work *head;
	int done;
	unsigned long items, bad;
	unsigned long long bytes;
	int rc;
	char msg[512];
};

static void check_item(struct rest *r, struct work *w)
{
	unsigned char buf[7777]; /* odd: reads cross chunk ends */
	size_t got, o = 0;
	int rc, bad = 0;

	while ((rc = host->item_read_h(w->h, buf, sizeof buf, &got)) == ARCA_OK && got) {
		for (size_t i = 0; i < got; i++)
			bad |= buf[i] != item_byte(w->k, w->j, o + i);
		o += got;
	}
	host->item_close_h(w->h);
	pthread_mutex_lock(&r->mu);
	if (rc != ARCA_OK && !r->rc) {
		r->rc = rc;
		snprintf(r->msg, sizeof r->msg, "%s", host->error_message());
	}
	r->items++;
	r->bytes += o;
	r->bad += bad || o != item_size(w->k, w->j);
	pthread_mutex_unlock(&r->mu);
	free(w);
}

static void *rest_main(void *arg)
{
	struct rest *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->head && !r->done)
			pthread_cond_wait(&r->cv, &r->mu);
		struct work *w = r->head;
		if (!w)
			break;
		r->head = w->next;
		pthread_mutex_unlock(&r->mu);
		check_item(r, w);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static int h_restore(void *p, struct arca_ctx *ctx)
{
	struct rest r = {.ctx = ctx};
	pthread_t t[THREADS];
	struct arca_item_info info;
	const char *into = host->option(ctx, "into");
	int rc, n = 0;
	(void)p;

	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	for (; n < THREADS; n++)
		if (pthread_create(&t[n], NULL, rest_main, &r))
			break;
	for (;;) {
		memset(&info, 0, sizeof info);
		info.struct_size = sizeof info;
		rc = host->item_next(ctx, &info);
		if (rc == ARCA_ERR_NOT_FOUND) {
			rc = ARCA_OK;
			break;
		}
		struct work *w = calloc(1, sizeof *w);
		if (rc == ARCA_OK && (!w || sscanf(info.name, "t%d/i%d", &w->k, &w->j) != 2))
			rc =
			    host->error(ARCA_ERR_CORRUPT, "handles: unexpected item %s", info.name);
		if (rc == ARCA_OK)
			rc = host->item_open_h(ctx, NULL, NULL, &w->h);
		if (rc != ARCA_OK) {
			free(w);
			break;
		}
		pthread_mutex_lock(&r.mu);
		w->next = r.head; /* any order */
		r.head = w;
		pthread_cond_signal(&r.cv);
		pthread_mutex_unlock(&r.mu);
	}
	pthread_mutex_lock(&r.mu);
	r.done = 1;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);
	for (int k = 0; k < n; k++)
		pthread_join(t[k], NULL);
	if (rc == ARCA_OK && r.rc)
		rc = host->error(r.rc, "%s", r.msg);
	if (rc == ARCA_OK && into) {
		FILE *f = fopen(into, "w");
		if (!f ||
		    fprintf(f, "items %lu bytes %llu bad %lu\n", r.items, r.bytes, r.bad) < 0 ||
		    fclose(f) != 0)
			rc = host->error(ARCA_ERR_IO, "handles: cannot write %s", into);
	}
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv);
	return rc;
}

static const struct arca_target_ops target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .open = h_open,
    .check = h_check,
    .snapshot = h_snapshot,
    .restore = h_restore,
    .close = h_close,
};

static const struct arca_option target_options[] = {
    {"misuse", ARCA_OPT_ENUM, 0, "none", "test: how to misuse the API", "none|open|mix|fail|size",
     0, 0},
    {"keep", ARCA_OPT_BOOL, 0, "no", "test: ARCA_ITEM_KEEP_ATTRS and item_end_info_h", NULL, 0, 0},
    {"version", ARCA_OPT_STRING, 0, "1", "test: part of every fingerprint", NULL, 0, 0},
    {NULL, 0, 0, NULL, NULL, NULL, 0, 0},
};

static const struct arca_driver driver = {
    .abi_major = ARCA_ABI_MAJOR,
    .struct_size = sizeof(struct arca_driver),
    .name = "handles",
    .version = "1.0.0",
    .description = "items by handle from threads of its own (test)",
    .target_options = target_options,
    .target = &target_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *h);

const struct arca_driver *arca_driver_entry(const struct arca_host *h)
{
	host = h;
	return &driver;
}
