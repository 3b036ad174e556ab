/* progress.h — a progress bar on a TTY, plain log lines otherwise. */
#ifndef ARCA_PROGRESS_H
#define ARCA_PROGRESS_H

#include <stdint.h>

struct progress;

/* label: e.g. "snapshot app-db". Bar only when stderr is a TTY and not quiet. */
struct progress *progress_start(const char *label);
void progress_set_total(struct progress *p, uint64_t bytes, uint64_t items);
void progress_add(struct progress *p, uint64_t bytes, uint64_t items);
void progress_item(struct progress *p, const char *name);
/* Clears the bar and returns elapsed seconds; frees p. */
double progress_finish(struct progress *p, uint64_t *bytes, uint64_t *items);
extern int progress_enabled; /* 0 with --quiet/--json or when not a TTY */

#endif
