/* cmd_key.c — `arca key list|add|remove ID|passwd|generate
 * [DESTINATION]`: the keys that open the repositories. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "log.h"
#include "util.h"

static void print_key(void *arg, const char *id, const char *host, int64_t created, int current)
{
	(void)arg;
	char t[32];
	format_time_utc(created, t, sizeof t);
	printf("%s %-12.12s  %s  %s\n", current ? "*" : " ", id, t, host ? host : "");
}

static void remember_current(void *arg, const char *id, const char *host, int64_t created,
                             int current)
{
	(void)host, (void)created;
	if (current)
		snprintf(arg, 65, "%s", id);
}

/* The new passphrase for `key add|passwd`: ARCA_NEW_PASSPHRASE, or the file
 * named by ARCA_NEW_PASSPHRASE_FILE (never argv). The variable is removed
 * once read, so no child inherits it. */
static char *new_passphrase(void)
{
	const char *v = getenv("ARCA_NEW_PASSPHRASE");
	if (v && *v) {
		char *np = xstrdup(v);
		unsetenv("ARCA_NEW_PASSPHRASE");
		return np;
	}
	const char *f = getenv("ARCA_NEW_PASSPHRASE_FILE");
	char *data;
	if (f && read_file(f, &data, NULL) == 0) {
		data[strcspn(data, "\r\n")] = 0;
		return data;
	}
	return NULL;
}

int cmd_key(struct cli *cli, int argc, char **argv)
{
	if (cli_no_options(cli, "key", argc, argv))
		return 2;
	/* the arguments follow argv[0] again, as if there had been no options */
	argc -= optind - 1, argv += optind - 1;
	if (argc < 2)
		return cli_usage_error("key", "say list, add, remove ID, passwd or generate");
	const char *sub = argv[1];
	if (!strcmp(sub, "generate")) {
		/* Needs no config: prints a fresh key for passphrase_file. */
		if (argc > 2)
			return cli_usage_error("key", "generate takes no arguments");
		char key[96];
		int rc = repo_key_generate(key, sizeof key);
		if (rc != ARCA_OK) {
			err_print(rc);
			return rc;
		}
		printf("%s\n", key);
		explicit_bzero(key, sizeof key);
		return fflush(stdout) == 0 ? ARCA_OK : ARCA_ERR_IO;
	}
	int want_id = !strcmp(sub, "remove");
	if (strcmp(sub, "list") && strcmp(sub, "add") && strcmp(sub, "remove") &&
	    strcmp(sub, "passwd"))
		return cli_usage_error("key", "unknown subcommand '%s'", sub);
	if (want_id && argc < 3)
		return cli_usage_error("key", "remove needs the key ID (see arca key list)");
	int first_dest = want_id ? 3 : 2;
	/* taken before the drivers are loaded, which could start children */
	char *np = NULL;
	if (!strcmp(sub, "add") || !strcmp(sub, "passwd")) {
		np = new_passphrase();
		if (!np) {
			err_set(2, "set ARCA_NEW_PASSPHRASE or ARCA_NEW_PASSPHRASE_FILE to the new "
			           "passphrase (it is never read from the command line)");
			return err_print(2);
		}
	}
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "key", argc - first_dest, argv + first_dest, &dests, &n);
	if (rc != ARCA_OK) {
		if (np) {
			explicit_bzero(np, strlen(np));
			free(np);
		}
		return rc;
	}
	for (size_t i = 0; rc == ARCA_OK && i < n; i++) {
		struct engine_dest *d = dests[i];
		rc = engine_open_repo(&e, d);
		if (rc != ARCA_OK)
			break;
		printf("destination %s:\n", d->cfg->name);
		if (!strcmp(sub, "list")) {
			rc = repo_key_list(d->repo, print_key, NULL);
		} else if (!strcmp(sub, "remove")) {
			rc = repo_key_remove(d->repo, argv[2]);
		} else {
			char id[65];
			rc = repo_key_add(d->repo, np, id);
			if (rc == ARCA_OK)
				printf("  added key %.12s\n", id);
			if (rc == ARCA_OK && !strcmp(sub, "passwd")) {
				/* then remove the key that opened the repository */
				char cur[65] = "";
				rc = repo_key_list(d->repo, remember_current, cur);
				if (rc == ARCA_OK && cur[0] && strcmp(cur, id))
					rc = repo_key_remove(d->repo, cur);
				if (rc == ARCA_OK)
					printf("  removed key %.12s: use the new passphrase from "
					       "now on\n",
					       cur);
			}
		}
	}
	if (np) {
		explicit_bzero(np, strlen(np));
		free(np);
	}
	if (rc != ARCA_OK)
		err_print(rc);
	free(dests);
	engine_close(&e);
	return rc;
}
