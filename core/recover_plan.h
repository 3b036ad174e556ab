/* recover_plan.h — what `arca recover` will do: the [recovery] hooks and the
 * targets of its `order`, each restored from the snapshot it has in one
 * recovery point (the snapshots one `arca snapshot` run took), or, lacking
 * one, rebuilt by its driver's fallback verb (ARCA_VERB_FALLBACK). */
#ifndef ARCA_RECOVER_PLAN_H
#define ARCA_RECOVER_PLAN_H

#include <stdint.h>
#include "engine.h"

/* RSTEP_HEALTH: the drivers' health op for every target of the plan (after
 * post_hook, which starts the services; [recovery] health = no: none). */
enum rstep_kind { RSTEP_HOOK, RSTEP_RESTORE, RSTEP_FALLBACK, RSTEP_HEALTH };

struct rstep {
	enum rstep_kind kind;
	const char *name;    /* "pre_hook", "post_hook", "health", "verify_hook" or a target's */
	const char *command; /* a hook's shell command (the config's) */
	struct engine_target *t; /* restore, fallback */
	struct engine_dest *d;   /* restore: where the snapshot is read from */
	char id[65];             /* restore: the snapshot, a full id */
	int64_t time;            /* restore: when the snapshot was taken */
	uint64_t skipped;        /* restore: items the snapshot lacks (partial) */
	const char *verb;        /* fallback: the driver's verb */
};

struct recover_plan {
	char rp[65];     /* the recovery point, "" when none was found */
	int64_t rp_time; /* its newest snapshot's time */
	struct rstep *steps;
	size_t n;
	char **left_out; /* --partial: targets neither restored nor rebuilt */
	size_t n_left_out;
};

/* Build the plan from the config's [recovery] section and what the
 * destinations hold. rp_arg: a recovery point id or unique prefix (NULL:
 * the newest that covers every target of the order). partial: a point that
 * lacks targets is used anyway (they are left out and named). Returns
 * ARCA_OK, or a status with the error recorded (what lacks what, and what
 * to do). */
int recover_plan_make(struct engine *e, const char *rp_arg, int partial, struct recover_plan *p);
void recover_plan_free(struct recover_plan *p);

#endif
