/* cmd_recover.c — `arca recover`: the disaster-recovery runbook in one
 * command. pre_hook, then every target of [recovery] order restored from
 * one recovery point (through job_restore, as `arca restore TARGET
 * --snapshot ID --from DEST` does) or rebuilt by its driver's fallback verb,
 * then post_hook and verify_hook. Stops at the first failure and says how
 * to resume from it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "cli.h"
#include "host.h"
#include "jobs.h"
#include "log.h"
#include "recover_hook.h"
#include "recover_plan.h"
#include "util.h"

struct recover_run {
	struct cli *cli;
	struct engine *e;
	struct recover_plan *p;
	FILE *out;        /* the step lines: stdout, or stderr under --json */
	int overwrite;    /* --overwrite: handed to every restore that takes it */
	int partial;      /* --partial */
	const char *from; /* --from */
	char config[PATH_MAX];
};

static const char *kind_name(enum rstep_kind k)
{
	return k == RSTEP_HOOK      ? "hook"
	       : k == RSTEP_RESTORE ? "restore"
	       : k == RSTEP_HEALTH  ? "health"
	                            : "fallback";
}

static int has_health(const struct engine_target *t)
{
	return ARCA_OPS_HAS(t->drv->target, health) && t->drv->target->health;
}

/* "app-db, cache; its driver cannot tell: search" for the health step */
static char *health_text(const struct recover_plan *p)
{
	struct buf yes = {0}, no = {0};
	for (size_t i = 0; i < p->n; i++) {
		const struct rstep *s = &p->steps[i];
		if (s->kind != RSTEP_RESTORE && s->kind != RSTEP_FALLBACK)
			continue;
		struct buf *b = has_health(s->t) ? &yes : &no;
		if (b->len)
			buf_append(b, ", ", 2);
		buf_append(b, s->name, strlen(s->name));
	}
	buf_append(&yes, "", 1);
	buf_append(&no, "", 1);
	char *out = xasprintf("health: is each recovered store serving? (`arca health` of %s%s%s)",
	                      yes.len > 1 ? (char *)yes.data : "none",
	                      no.len > 1 ? "; its driver cannot tell, check by hand: " : "",
	                      no.len > 1 ? (char *)no.data : "");
	buf_free(&yes);
	buf_free(&no);
	return out;
}

/* The health step: every target of the plan whose driver can tell. */
static int run_health(const struct recover_run *r)
{
	static const struct ctx_option none[1] = {{NULL, NULL}};
	for (size_t i = 0; i < r->p->n; i++) {
		const struct rstep *s = &r->p->steps[i];
		if ((s->kind != RSTEP_RESTORE && s->kind != RSTEP_FALLBACK) || !has_health(s->t))
			continue;
		int rc = arca_cancel_requested ? err_set(ARCA_ERR_CANCELLED, "interrupted")
		                               : job_health(r->e, s->t, none);
		if (rc != ARCA_OK)
			return err_wrap(
			    rc, "target %s is not serving after the recovery (`arca health %s`)",
			    s->name, s->name);
		fprintf(r->out, "  %s: serving\n", s->name);
	}
	return ARCA_OK;
}

/* "restore app-db from snapshot 1a2b.. (TIME) in destination local" */
static char *step_text(const struct recover_plan *p, const struct rstep *s)
{
	char tm[32];
	switch (s->kind) {
	case RSTEP_HEALTH:
		return health_text(p);
	case RSTEP_HOOK:
		return xasprintf("%s: %s", s->name, s->command);
	case RSTEP_RESTORE:
		format_time_utc(s->time, tm, sizeof tm);
		return xasprintf(
		    "restore %s from snapshot %.12s (%s) in destination %s%s", s->name, s->id, tm,
		    s->d->cfg->name,
		    s->skipped ? ", a PARTIAL snapshot (`arca list` names what it lacks)" : "");
	case RSTEP_FALLBACK:
		return xasprintf("%s %s: no snapshot in this recovery point; the driver's way back "
		                 "(`arca %s %s`)",
		                 s->verb, s->name, s->verb, s->name);
	}
	return xstrdup("?");
}

static json_t *step_json(const struct rstep *s, size_t i)
{
	json_t *o = json_pack("{s:I,s:s,s:s}", "step", (json_int_t)i + 1, "name", s->name, "kind",
	                      kind_name(s->kind));
	if (s->kind == RSTEP_HOOK)
		json_object_set_new(o, "command", json_string(s->command));
	if (s->kind == RSTEP_RESTORE) {
		char tm[32];
		format_time_utc(s->time, tm, sizeof tm);
		json_object_set_new(o, "snapshot", json_string(s->id));
		json_object_set_new(o, "destination", json_string(s->d->cfg->name));
		json_object_set_new(o, "time", json_string(tm));
		json_object_set_new(o, "partial", json_boolean(s->skipped != 0));
	}
	if (s->kind == RSTEP_FALLBACK)
		json_object_set_new(o, "verb", json_string(s->verb));
	json_object_set_new(o, "status", json_string("planned"));
	return o;
}

/* The restore options: --overwrite to a driver that takes it. */
static const struct ctx_option *restore_options(const struct recover_run *r,
                                                const struct engine_target *t,
                                                struct ctx_option opts[2])
{
	memset(opts, 0, 2 * sizeof *opts);
	if (!r->overwrite)
		return opts;
	int any;
	const struct arca_op_option *list = loader_op_options(t->drv->target, "restore", &any);
	if (any || loader_op_option(list, "overwrite"))
		opts[0] = (struct ctx_option){.name = "overwrite", .value = "yes"};
	else
		log_warn("target %s: driver %s has no --overwrite; restoring without it",
		         t->cfg->name, t->drv->name);
	return opts;
}

static int run_step(struct recover_run *r, const struct rstep *s)
{
	struct ctx_option opts[2];
	struct recover_hook_env env = {.recovery_point = r->p->rp, .config = r->config};
	switch (s->kind) {
	case RSTEP_HOOK:
		/* under --json the hook's output must not mix into the document */
		return recover_hook_run(s->name, s->command, &env, r->cli->json ? 2 : 1);
	case RSTEP_RESTORE:
		return job_restore(r->e, s->t, s->id, s->d->cfg->name,
		                   restore_options(r, s->t, opts));
	case RSTEP_FALLBACK:
		return job_command(r->e, s->t, s->verb, 0, NULL, NULL);
	case RSTEP_HEALTH:
		return run_health(r);
	}
	return ARCA_ERR_INTERNAL;
}

/* A shell word: the string in single quotes when it needs quoting. */
static char *sh_quote(const char *s)
{
	if (s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	                      "-_./:=@%+,") == strlen(s))
		return xstrdup(s);
	struct buf b = {0};
	buf_append(&b, "'", 1);
	for (; *s; s++)
		if (*s == '\'')
			buf_append(&b, "'\\''", 4);
		else
			buf_append(&b, s, 1);
	buf_append(&b, "'", 2); /* and the NUL */
	return (char *)b.data;
}

/* The command that runs the rest of the plan from step `at`. */
static char *resume_command(const struct recover_run *r, const struct rstep *at)
{
	char *cfg = sh_quote(r->config), *name = sh_quote(at->name);
	char *cmd =
	    xasprintf("arca -c %s recover --recovery-point %s --from %s%s%s", cfg, r->p->rp, name,
	              r->overwrite ? " --overwrite" : "", r->partial ? " --partial" : "");
	free(cfg);
	free(name);
	return cmd;
}

/* After a failed step: what was done, what was not, how to go on. */
static void failure_report(const struct recover_run *r, size_t from, size_t failed, int rc,
                           json_t *doc)
{
	char *resume = resume_command(r, &r->p->steps[failed]);
	FILE *f = stderr;
	fprintf(f, "arca recover: stopped at step %zu/%zu (%s), exit %d.\n", failed + 1, r->p->n,
	        r->p->steps[failed].name, rc);
	fprintf(f, "  done:");
	if (failed == from)
		fprintf(f, " nothing");
	for (size_t i = from; i < failed; i++)
		fprintf(f, "%s %s", i > from ? "," : "", r->p->steps[i].name);
	fprintf(f, "\n  not done: %s (failed)", r->p->steps[failed].name);
	for (size_t i = failed + 1; i < r->p->n; i++)
		fprintf(f, ", %s", r->p->steps[i].name);
	fprintf(f, "\n");
	if (rc == ARCA_ERR_EXISTS && !r->overwrite)
		fprintf(f,
		        "  %s's place is not empty and was left as it was: look at it; "
		        "--overwrite replaces what the snapshot holds\n",
		        r->p->steps[failed].name);
	fprintf(f, "  fix the cause, then resume with:\n    %s\n", resume);
	json_object_set_new(doc, "resume", json_string(resume));
	free(resume);
}

static void print_plan(const struct recover_run *r, size_t from)
{
	char tm[32];
	format_time_utc(r->p->rp_time, tm, sizeof tm);
	fprintf(r->out, "recovery point %s (%s)\n", r->p->rp, tm);
	for (size_t i = 0; i < r->p->n_left_out; i++)
		fprintf(r->out, "left out (--partial): %s has no snapshot in this recovery point\n",
		        r->p->left_out[i]);
	for (size_t i = 0; i < r->p->n; i++) {
		char *text = step_text(r->p, &r->p->steps[i]);
		fprintf(r->out, "step %zu/%zu: %s%s\n", i + 1, r->p->n, text,
		        i < from ? " [skipped: --from]" : "");
		free(text);
	}
}

/* The index of the step --from names, or r->p->n with a usage error. */
static size_t from_step(const struct recover_run *r)
{
	if (!r->from)
		return 0;
	for (size_t i = 0; i < r->p->n; i++)
		if (!strcmp(r->p->steps[i].name, r->from))
			return i;
	struct buf b = {0};
	for (size_t i = 0; i < r->p->n; i++) {
		const char *n = r->p->steps[i].name;
		if (i)
			buf_append(&b, ", ", 2);
		buf_append(&b, n, strlen(n));
	}
	buf_append(&b, "", 1);
	cli_usage_error("recover", "--from %s names no step of this recovery (its steps: %s)",
	                r->from, b.data ? (char *)b.data : "none");
	buf_free(&b);
	return r->p->n;
}

static int execute(struct recover_run *r, size_t from, json_t *steps, json_t *doc)
{
	double all = now_monotonic();
	for (size_t i = from; i < r->p->n; i++) {
		const struct rstep *s = &r->p->steps[i];
		json_t *js = json_array_get(steps, i);
		char *text = step_text(r->p, s);
		fprintf(r->out, "step %zu/%zu: %s\n", i + 1, r->p->n, text);
		fflush(r->out);
		free(text);
		double t0 = now_monotonic();
		err_clear();
		int rc = arca_cancel_requested ? err_set(ARCA_ERR_CANCELLED, "interrupted")
		                               : run_step(r, s);
		double secs = now_monotonic() - t0;
		json_object_set_new(js, "seconds", json_real(secs));
		if (rc != ARCA_OK) {
			err_print(rc);
			fprintf(r->out, "step %zu/%zu: %s FAILED, exit %d, after %.1f s\n", i + 1,
			        r->p->n, s->name, rc, secs);
			fflush(r->out);
			json_object_set_new(js, "status", json_string("failed"));
			json_object_set_new(js, "exit", json_integer(rc));
			json_object_set_new(js, "error", json_string(err_msg()));
			for (size_t k = i + 1; k < r->p->n; k++)
				json_object_set_new(json_array_get(steps, k), "status",
				                    json_string("not run"));
			failure_report(r, from, i, rc, doc);
			return rc;
		}
		json_object_set_new(js, "status", json_string("ok"));
		fprintf(r->out, "step %zu/%zu: %s done in %.1f s\n", i + 1, r->p->n, s->name, secs);
		fflush(r->out);
	}
	fprintf(r->out, "recovered from recovery point %.12s: %zu step%s in %.1f s%s\n", r->p->rp,
	        r->p->n - from, r->p->n - from == 1 ? "" : "s", now_monotonic() - all,
	        r->p->n_left_out ? " (targets left out: see above)" : "");
	return ARCA_OK;
}

int cmd_recover(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {{"recovery-point", required_argument, NULL, 0},
	                                    {"from", required_argument, NULL, 0},
	                                    {"partial", no_argument, NULL, 0},
	                                    {"overwrite", no_argument, NULL, 0},
	                                    {"dry-run", no_argument, NULL, 0},
	                                    {NULL, 0, NULL, 0}};
	struct cli_targets ct;
	int rc = cli_targets_open(cli, "recover", NULL, own, 0, argc, argv, &ct);
	if (rc != ARCA_OK)
		return rc;
	if (optind < argc) {
		cli_targets_close(&ct);
		return cli_usage_error(
		    "recover", "recover takes no TARGET: [recovery] order names the targets "
		               "(default: all), --from where to resume");
	}
	struct recover_plan plan;
	struct recover_run r = {.cli = cli,
	                        .e = &ct.e,
	                        .p = &plan,
	                        .out = cli->json ? stderr : stdout,
	                        .overwrite = cli_option(&ct, "overwrite") != NULL,
	                        .partial = cli_option(&ct, "partial") != NULL,
	                        .from = cli_option(&ct, "from")};
	if (!realpath(ct.e.config_path, r.config))
		snprintf(r.config, sizeof r.config, "%s", ct.e.config_path);
	int dry_run = cli_option(&ct, "dry-run") != NULL;
	rc = recover_plan_make(&ct.e, cli_option(&ct, "recovery-point"), r.partial, &plan);
	if (rc != ARCA_OK) {
		err_print(rc);
		cli_targets_close(&ct);
		return rc;
	}
	size_t from = from_step(&r);
	if (from == plan.n && plan.n) {
		recover_plan_free(&plan);
		cli_targets_close(&ct);
		return 2;
	}
	for (size_t i = 0; i < plan.n_left_out; i++)
		log_warn("target %s has no snapshot in recovery point %.12s: it is left out "
		         "(--partial)",
		         plan.left_out[i], plan.rp);
	char tm[32];
	format_time_utc(plan.rp_time, tm, sizeof tm);
	json_t *steps = json_array(), *left = json_array();
	for (size_t i = 0; i < plan.n; i++) {
		json_t *js = step_json(&plan.steps[i], i);
		if (i < from)
			json_object_set_new(js, "status", json_string("skipped"));
		json_array_append_new(steps, js);
	}
	for (size_t i = 0; i < plan.n_left_out; i++)
		json_array_append_new(left, json_string(plan.left_out[i]));
	json_t *doc = json_pack("{s:s,s:s,s:b,s:o,s:o}", "recovery_point", plan.rp, "time", tm,
	                        "dry_run", dry_run, "left_out", left, "steps", steps);
	if (dry_run) {
		print_plan(&r, from);
		fprintf(r.out, "dry run: nothing was run or changed\n");
	} else {
		char t2[32];
		format_time_utc(plan.rp_time, t2, sizeof t2);
		fprintf(r.out, "recovering from recovery point %s (%s): %zu step%s\n", plan.rp, t2,
		        plan.n - from, plan.n - from == 1 ? "" : "s");
		rc = execute(&r, from, steps, doc);
	}
	json_object_set_new(doc, "ok", json_boolean(rc == ARCA_OK));
	if (cli->json)
		cli_print_json(doc);
	else
		json_decref(doc);
	recover_plan_free(&plan);
	cli_targets_close(&ct);
	return rc;
}
