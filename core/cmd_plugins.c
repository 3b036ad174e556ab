/* cmd_plugins.c — `arca plugins [--json] [--plugin-dir DIR]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "cli.h"
#include "config.h"
#include "loader.h"
#include "log.h"
#include "util.h"

static const char *type_name(enum arca_opt_type t)
{
	static const char *names[] = {"string", "int",      "bool", "path",
	                              "size",   "duration", "enum", "list"};
	return (unsigned)t < ARRAY_LEN(names) ? names[t] : "?";
}

static json_t *options_json(const struct arca_option *o)
{
	json_t *a = json_array();
	for (; o && o->name; o++) {
		json_t *j =
		    json_pack("{s:s,s:s,s:b,s:b,s:s}", "name", o->name, "type", type_name(o->type),
		              "required", !!(o->flags & ARCA_OPT_REQUIRED), "secret",
		              !!(o->flags & ARCA_OPT_SECRET), "help", o->help ? o->help : "");
		if (o->default_value)
			json_object_set_new(j, "default", json_string(o->default_value));
		if (o->choices)
			json_object_set_new(j, "choices", json_string(o->choices));
		json_array_append_new(a, j);
	}
	return a;
}

static void print_options(const char *title, const struct arca_option *o)
{
	if (!o || !o->name)
		return;
	printf("    %s keys:\n", title);
	for (; o->name; o++) {
		char key[64];
		snprintf(key, sizeof key, "%s%s", o->name,
		         o->flags & ARCA_OPT_SECRET ? "_file" : "");
		printf("      %-18s %-8s %s%s%s%s%s\n", key, type_name(o->type),
		       o->flags & ARCA_OPT_REQUIRED ? "(required) " : "", o->help ? o->help : "",
		       o->choices ? " [" : "", o->choices ? o->choices : "", o->choices ? "]" : "");
		if (o->default_value)
			printf("      %-18s %-8s default: %s\n", "", "", o->default_value);
	}
}

const char *plugin_dir_from_config(struct cli *cli, struct cfg_file **cf)
{
	const char *path = engine_config_path(cli->config_arg);
	struct cfg_errors errs = {0};
	if (access(path, R_OK) == 0 && cfg_load(path, cf, &errs) == 0) {
		cfg_errors_free(&errs);
		struct arca_config *e = cfg_section(*cf, CFG_ENGINE, NULL);
		if (e && cfg_get(e, "plugin_dir"))
			return cfg_get(e, "plugin_dir");
	}
	cfg_errors_free(&errs);
	return ARCA_PLUGIN_DIR;
}

int cmd_plugins(struct cli *cli, int argc, char **argv)
{
	/* --json is a global option */
	static const struct option opts[] = {{"plugin-dir", required_argument, NULL, 'd'},
	                                     {NULL, 0, NULL, 0}};
	const char *dir = NULL;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			dir = optarg;
		else
			return cli_usage_error("plugins", "unknown option");
	}
	if (optind != argc)
		return cli_usage_error("plugins", "takes no arguments");
	struct cfg_file *cf = NULL;
	if (!dir)
		dir = plugin_dir_from_config(cli, &cf);
	struct loader ld = {0};
	int rc = loader_open(&ld, dir, cli->host);
	if (rc != ARCA_OK) {
		if (cf)
			cfg_free(cf);
		return err_print(rc);
	}
	if (cli->json) {
		json_t *drivers = json_array(), *refused = json_array();
		for (size_t i = 0; i < ld.n_drivers; i++) {
			const struct arca_driver *d = ld.drivers[i].drv;
			json_t *kinds = json_array();
			if (d->target)
				json_array_append_new(kinds, json_string("target"));
			if (d->dest)
				json_array_append_new(kinds, json_string("destination"));
			json_array_append_new(
			    drivers,
			    json_pack("{s:s,s:s,s:i,s:s,s:s,s:o,s:o,s:o}", "name", d->name,
			              "version", d->version ? d->version : "", "abi", d->abi_major,
			              "description", d->description ? d->description : "", "path",
			              ld.drivers[i].path, "kinds", kinds, "target_options",
			              options_json(d->target_options), "destination_options",
			              options_json(d->dest_options)));
		}
		for (size_t i = 0; i < ld.n_refused; i++)
			json_array_append_new(refused,
			                      json_pack("{s:s,s:s}", "path", ld.refused[i].path,
			                                "reason", ld.refused[i].reason));
		cli_print_json(json_pack("{s:s,s:i,s:o,s:o}", "plugin_dir", dir, "abi",
		                         ARCA_ABI_MAJOR, "drivers", drivers, "refused", refused));
	} else {
		printf("drivers in %s (engine ABI %d):\n", dir, ARCA_ABI_MAJOR);
		for (size_t i = 0; i < ld.n_drivers; i++) {
			const struct arca_driver *d = ld.drivers[i].drv;
			printf("  %s %s (ABI %d; %s%s%s) — %s\n", d->name,
			       d->version ? d->version : "", d->abi_major,
			       d->target ? "target" : "", d->target && d->dest ? ", " : "",
			       d->dest ? "destination" : "", d->description ? d->description : "");
			print_options("target", d->target_options);
			print_options("destination", d->dest_options);
		}
		if (!ld.n_drivers)
			printf("  (none)\n");
		for (size_t i = 0; i < ld.n_refused; i++)
			printf("refused %s: %s\n", ld.refused[i].path, ld.refused[i].reason);
	}
	loader_close(&ld);
	if (cf)
		cfg_free(cf);
	return ARCA_OK;
}
