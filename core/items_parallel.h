/* items_parallel.h — items by handle (ABI 1.1 item_begin_h and the rest,
 * plugin.h): several items written or read at once from driver threads. */
#ifndef ARCA_ITEMS_PARALLEL_H
#define ARCA_ITEMS_PARALLEL_H

#include "arca/plugin.h"

/* The host table's entries. */
int host_item_begin_h(struct arca_ctx *ctx, const struct arca_item_info *info,
                      struct arca_item **h);
int host_item_write_h(struct arca_item *h, const void *data, size_t len);
int host_item_end_h(struct arca_item *h);
int host_item_end_info_h(struct arca_item *h, const struct arca_item_info *final);
int host_item_skipped_h(struct arca_ctx *ctx, struct arca_item *h, const char *name,
                        const char *reason);
int host_item_open_h(struct arca_ctx *ctx, const char *name, struct arca_item_info *info,
                     struct arca_item **h);
int host_item_read_h(struct arca_item *h, void *buf, size_t cap, size_t *got);
void host_item_close_h(struct arca_item *h);
const char *host_error_message(void);

/* How many handles of ctx are open: the 1.0 item calls are refused then. */
int items_par_open(struct arca_ctx *ctx);
/* After ->snapshot returned OK: a handle still open, or a failure that left
 * the writers unusable, fails the snapshot (nothing is recorded). */
int items_par_finish(struct arca_ctx *ctx);
/* With the ctx (ctx_cleanup). */
void items_par_free(struct arca_ctx *ctx);

#endif
