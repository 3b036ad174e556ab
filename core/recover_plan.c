/* recover_plan.c — choose what `arca recover` restores: the targets of
 * [recovery] order, one recovery point that holds a snapshot of each (the
 * stores come back to the same moment), and where each snapshot is read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "recover_plan.h"
#include "util.h"

/* One recovery point seen in the destinations, and which targets of the
 * order have a snapshot in it (the first destination, in the target's
 * order, that holds one). */
struct point {
	char *rp;
	int64_t time;
	int32_t nsec;
	struct rstep *snap; /* per target of the order; kind RSTEP_RESTORE when present */
};

struct gather {
	struct engine_target **order;
	size_t n_order;
	struct point *pts;
	size_t n_pts;
};

/* The target's fallback verb (a way back without a snapshot), or NULL. */
static const char *fallback_verb(const struct engine_target *t)
{
	const struct arca_target_ops *ops = t->drv ? t->drv->target : NULL;
	if (!ops || !ARCA_OPS_HAS(ops, verbs) || !ops->verbs || !ops->command)
		return NULL;
	for (const struct arca_verb *v = ops->verbs; v->name; v++)
		if ((v->flags & ARCA_VERB_FALLBACK) && v->min_args == 0)
			return v->name;
	return NULL;
}

/* The targets of `order` (FILE:LINE errors for unknown or repeated names),
 * else every target in config order. */
static int order_targets(struct engine *e, const struct arca_config *sec, struct gather *g)
{
	size_t n = 0;
	char **names = sec ? cfg_get_list(sec, "order", &n) : NULL;
	if (!names) {
		g->order = xcalloc(e->n_targets + 1, sizeof *g->order);
		for (size_t i = 0; i < e->n_targets; i++)
			g->order[g->n_order++] = &e->targets[i];
		if (!g->n_order)
			return err_set(ARCA_ERR_CONFIG, "%s: no [target] to recover",
			               e->config_path);
		return ARCA_OK;
	}
	const struct cfg_entry *en = cfg_entry(sec, "order");
	int line = en ? en->line : sec->line;
	g->order = xcalloc(n + 1, sizeof *g->order);
	int rc = ARCA_OK;
	for (size_t i = 0; i < n && rc == ARCA_OK; i++) {
		struct engine_target *t = engine_find_target(e, names[i]);
		if (!t) {
			const char **all = xcalloc(e->n_targets + 1, sizeof *all);
			for (size_t k = 0; k < e->n_targets; k++)
				all[k] = e->targets[k].cfg->name;
			const char *hint = did_you_mean(names[i], all, e->n_targets);
			rc = err_set(
			    ARCA_ERR_CONFIG,
			    "%s:%d: [recovery] order names '%s', which is no [target]%s%s%s",
			    sec->file, line, names[i], hint ? " (did you mean '" : "",
			    hint ? hint : "", hint ? "'?)" : "");
			free(all);
			break;
		}
		for (size_t k = 0; k < g->n_order; k++)
			if (g->order[k] == t)
				rc = err_set(ARCA_ERR_CONFIG,
				             "%s:%d: [recovery] order names target '%s' twice",
				             sec->file, line, names[i]);
		g->order[g->n_order++] = t;
	}
	cfg_list_free(names, n);
	return rc;
}

static struct point *point_get(struct gather *g, const char *rp)
{
	for (size_t i = 0; i < g->n_pts; i++)
		if (!strcmp(g->pts[i].rp, rp))
			return &g->pts[i];
	g->pts = xrealloc(g->pts, (g->n_pts + 1) * sizeof *g->pts);
	struct point *p = &g->pts[g->n_pts++];
	memset(p, 0, sizeof *p);
	p->rp = xstrdup(rp);
	p->snap = xcalloc(g->n_order, sizeof *p->snap);
	p->time = INT64_MIN;
	return p;
}

/* Every snapshot of the order's targets, by recovery point. A destination
 * that cannot be read is skipped with a warning while another of the same
 * target can; the target's snapshots are then those of the others. */
static int gather(struct engine *e, struct gather *g)
{
	for (size_t ti = 0; ti < g->n_order; ti++) {
		struct engine_target *t = g->order[ti];
		int rc = engine_open_target(e, t), readable = 0;
		if (rc != ARCA_OK)
			return err_wrap(rc, "target %s", t->cfg->name);
		for (size_t di = 0; di < t->n_dests; di++) {
			struct engine_dest *d = t->dests[di];
			struct repo_snapshot *list;
			size_t n;
			rc = engine_open_repo(e, d);
			if (rc == ARCA_OK)
				rc = repo_snapshots(d->repo, t->cfg->name, &list, &n);
			if (rc != ARCA_OK) {
				if (readable || di + 1 < t->n_dests) {
					log_warn("destination %s cannot be read (%s); the "
					         "snapshots of %s "
					         "in the others are used",
					         d->cfg->name, err_msg(), t->cfg->name);
					continue;
				}
				return err_wrap(rc, "snapshots of target %s in destination %s",
				                t->cfg->name, d->cfg->name);
			}
			readable = 1;
			for (size_t k = 0; k < n; k++) {
				const struct repo_snapshot *s = &list[k];
				if (!s->recovery_point || !s->recovery_point[0])
					continue; /* written before recovery points */
				struct point *p = point_get(g, s->recovery_point);
				if (s->time > p->time ||
				    (s->time == p->time && s->time_nsec > p->nsec))
					p->time = s->time, p->nsec = s->time_nsec;
				struct rstep *st = &p->snap[ti];
				if (st->kind == RSTEP_RESTORE && st->d)
					continue; /* an earlier destination of the target has it */
				st->kind = RSTEP_RESTORE;
				st->name = t->cfg->name;
				st->t = t;
				st->d = d;
				memcpy(st->id, s->id, sizeof st->id);
				st->time = s->time;
				st->skipped = s->skipped;
			}
			repo_snapshots_free(list, n);
		}
	}
	return ARCA_OK;
}

static int point_newer(const struct point *a, const struct point *b)
{
	return a->time > b->time || (a->time == b->time && a->nsec > b->nsec);
}

/* Whether target ti of the order has a snapshot in any point. */
static int has_any(const struct gather *g, size_t ti)
{
	for (size_t k = 0; k < g->n_pts; k++)
		if (g->pts[k].snap[ti].d)
			return 1;
	return 0;
}

/* Targets of the order p lacks: all of them, or (need_only) those without
 * a fallback verb. As "a, b (no snapshot at all)", or NULL when none. */
static char *lacking(const struct gather *g, const struct point *p, int need_only)
{
	char *out = NULL;
	for (size_t i = 0; i < g->n_order; i++) {
		if (p->snap[i].d || (need_only && fallback_verb(g->order[i])))
			continue;
		const char *none = has_any(g, i) ? "" : " (no snapshot at all)";
		char *more = out ? xasprintf("%s, %s%s", out, g->order[i]->cfg->name, none)
		                 : xasprintf("%s%s", g->order[i]->cfg->name, none);
		free(out);
		out = more;
	}
	return out;
}

static void add_step(struct recover_plan *p, const struct rstep *s)
{
	p->steps = xrealloc(p->steps, (p->n + 1) * sizeof *p->steps);
	p->steps[p->n++] = *s;
}

static void add_hook(struct recover_plan *p, const struct arca_config *sec, const char *key)
{
	const char *cmd = sec ? cfg_get(sec, key) : NULL;
	if (cmd && cmd[0])
		add_step(p, &(struct rstep){.kind = RSTEP_HOOK, .name = key, .command = cmd});
}

/* The point to use: the one named (prefix), or the newest that lacks no
 * target without a fallback (any newest with `partial`). */
static int choose_point(const struct gather *g, const char *rp_arg, int partial,
                        const struct point **out)
{
	const struct point *best = NULL, *newest = NULL;
	int matches = 0;
	for (size_t i = 0; i < g->n_pts; i++) {
		const struct point *p = &g->pts[i];
		if (rp_arg) {
			if (str_starts(p->rp, rp_arg))
				best = p, matches++;
			continue;
		}
		if (!newest || point_newer(p, newest))
			newest = p;
		char *lack = lacking(g, p, 1);
		if (!lack && (!best || point_newer(p, best)))
			best = p;
		free(lack);
	}
	if (rp_arg && matches > 1)
		return err_set(2, "recovery point prefix '%s' is ambiguous: give more characters",
		               rp_arg);
	if (rp_arg && !best)
		return err_set(ARCA_ERR_NOT_FOUND,
		               "no snapshot of the targets to recover belongs to recovery point "
		               "'%s' (`arca list --json` shows each snapshot's recovery_point)",
		               rp_arg);
	if (!rp_arg && !newest)
		return err_set(ARCA_ERR_NOT_FOUND,
		               "no snapshot of the targets to recover was found in their "
		               "destinations: there is nothing to recover from (`arca list`)");
	if (!best && partial)
		best = newest;
	if (!best) {
		char *lack = lacking(g, newest, 1);
		char tm[32];
		format_time_utc(newest->time, tm, sizeof tm);
		err_set(
		    ARCA_ERR_NOT_FOUND,
		    "no recovery point holds a snapshot of every target to recover: the newest, "
		    "%.12s (%s), lacks %s, and no older one has them all. Snapshot the missing "
		    "targets together with the others (`arca snapshot`), or recover from a point "
		    "of your choice with --recovery-point ID (`arca list --json` shows each "
		    "snapshot's recovery_point), or restore what the newest holds with --partial",
		    newest->rp, tm, lack);
		free(lack);
		return ARCA_ERR_NOT_FOUND;
	}
	*out = best;
	return ARCA_OK;
}

int recover_plan_make(struct engine *e, const char *rp_arg, int partial, struct recover_plan *p)
{
	memset(p, 0, sizeof *p);
	const struct arca_config *sec = cfg_section(e->cf, CFG_RECOVERY, NULL);
	struct gather g = {0};
	const struct point *pt = NULL;
	int rc = order_targets(e, sec, &g);
	if (rc == ARCA_OK)
		rc = gather(e, &g);
	if (rc == ARCA_OK)
		rc = choose_point(&g, rp_arg, partial, &pt);
	if (rc == ARCA_OK && rp_arg && !partial) {
		char *lack = lacking(&g, pt, 1);
		if (lack)
			rc = err_set(
			    ARCA_ERR_NOT_FOUND,
			    "recovery point %.12s lacks a snapshot of %s: choose another "
			    "(`arca list --json`), or give --partial to restore what it holds",
			    pt->rp, lack);
		free(lack);
	}
	if (rc == ARCA_OK) {
		snprintf(p->rp, sizeof p->rp, "%s", pt->rp);
		p->rp_time = pt->time;
		add_hook(p, sec, "pre_hook");
		for (size_t i = 0; i < g.n_order; i++) {
			const char *verb = fallback_verb(g.order[i]);
			if (pt->snap[i].d)
				add_step(p, &pt->snap[i]);
			else if (verb)
				add_step(p, &(struct rstep){.kind = RSTEP_FALLBACK,
				                            .name = g.order[i]->cfg->name,
				                            .t = g.order[i],
				                            .verb = verb});
			else {
				p->left_out = xrealloc(p->left_out,
				                       (p->n_left_out + 1) * sizeof *p->left_out);
				p->left_out[p->n_left_out++] = xstrdup(g.order[i]->cfg->name);
			}
		}
		add_hook(p, sec, "post_hook");
		size_t targets = 0;
		for (size_t i = 0; i < p->n; i++)
			targets += p->steps[i].kind != RSTEP_HOOK;
		if ((!sec || cfg_get_bool(sec, "health", 1)) && targets)
			add_step(p, &(struct rstep){.kind = RSTEP_HEALTH, .name = "health"});
		add_hook(p, sec, "verify_hook");
	}
	for (size_t i = 0; i < g.n_pts; i++) {
		free(g.pts[i].rp);
		free(g.pts[i].snap);
	}
	free(g.pts);
	free(g.order);
	return rc;
}

void recover_plan_free(struct recover_plan *p)
{
	for (size_t i = 0; i < p->n_left_out; i++)
		free(p->left_out[i]);
	free(p->left_out);
	free(p->steps);
	memset(p, 0, sizeof *p);
}
