/* cmd_snapshot.c — `arca snapshot [TARGET...]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/rand.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

/* A random id shared by every snapshot of this run: the recovery point. */
static void new_recovery_point(char out[33])
{
	unsigned char r[16];
	if (RAND_bytes(r, sizeof r) != 1)
		memset(r, 0, sizeof r);
	hex_encode(r, sizeof r, out);
}

int cmd_snapshot(struct cli *cli, int argc, char **argv)
{
	struct cli_targets ct;
	int rc = cli_targets_open(cli, "snapshot", "snapshot", NULL, 0, argc, argv, &ct);
	if (rc != ARCA_OK)
		return rc;
	struct engine_target **targets = ct.t;
	size_t n = ct.n;
	char rp[33];
	new_recovery_point(rp);
	json_t *out = json_array();
	int worst = ARCA_OK, failed = 0, partial = 0;
	for (size_t i = 0; i < n; i++) {
		struct snapshot_result res;
		rc = job_snapshot(&ct.e, targets[i], rp, ct.opts, &res);
		json_t *o = json_object();
		json_object_set_new(o, "target", json_string(targets[i]->cfg->name));
		if (rc != ARCA_OK) {
			err_print(rc);
			json_object_set_new(o, "error", json_string(err_msg()));
			json_object_set_new(o, "status", json_integer(rc));
			worst = rc;
			failed++;
		} else {
			char b[32], nb[32];
			format_bytes(res.bytes, b, sizeof b);
			format_bytes(res.new_bytes, nb, sizeof nb);
			if (!cli->json)
				printf("snapshot %s of %s: %llu items, %s, %s new, %.1f s%s\n",
				       res.id, targets[i]->cfg->name, (unsigned long long)res.items,
				       b, nb, res.seconds, res.skipped ? ", PARTIAL" : "");
			fflush(stdout);
			if (res.skipped) {
				/* recorded, but not all of it: said on stderr, and exit 15 */
				log_warn("target %s: snapshot %.12s was recorded partial: %llu "
				         "item%s left out (named above and by `arca list %s`); "
				         "fix what kept %s from being read, or exclude %s",
				         targets[i]->cfg->name, res.id,
				         (unsigned long long)res.skipped,
				         res.skipped == 1 ? "" : "s", targets[i]->cfg->name,
				         res.skipped == 1 ? "it" : "them",
				         res.skipped == 1 ? "it" : "them");
				json_object_set_new(
				    o, "partial",
				    json_pack("{s:I}", "skipped", (json_int_t)res.skipped));
				partial++;
			}
			json_object_set_new(o, "id", json_string(res.id));
			json_object_set_new(o, "items", json_integer((json_int_t)res.items));
			json_object_set_new(o, "bytes", json_integer((json_int_t)res.bytes));
			json_object_set_new(o, "new_bytes",
			                    json_integer((json_int_t)res.new_bytes));
			json_object_set_new(o, "seconds", json_real(res.seconds));
		}
		json_object_set_new(o, "recovery_point", json_string(rp));
		json_array_append_new(out, o);
	}
	if (cli->json)
		cli_print_json(out);
	else
		json_decref(out);
	if (failed && n > 1)
		log_error("%d of %zu targets failed; the others were recorded", failed, n);
	if (!failed && partial)
		worst = ARCA_PARTIAL;
	cli_targets_close(&ct);
	return worst;
}
