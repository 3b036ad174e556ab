/* main.c — the `arca` command: global options, then one verb. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <jansson.h>
#include "autoconf.h"
#include "cli.h"
#include "host.h"
#include "log.h"
#include "progress.h"
#include "util.h"

/* ARCA_JOBS_MAX as text, for the help */
#define TEXT_OF(x)    #x
#define TEXT(x)       TEXT_OF(x)
#define JOBS_MAX_TEXT TEXT(ARCA_JOBS_MAX)

/* where the example config keeps the repository key */
#define REPO_KEY ARCA_SYSCONFDIR "/arca/repo.key"

#define EXIT_CODES_HELP                                                                            \
	"Exit codes:\n"                                                                            \
	"  0 success            6 I/O error           11 refusing to overwrite\n"                  \
	"  1 internal error     7 data corrupt        12 no space left\n"                          \
	"  2 usage error        8 not found           13 repository locked\n"                      \
	"  3 config error       9 not supported       14 driver module refused\n"                  \
	"  4 cannot connect    10 cancelled (signal)  15 snapshot recorded partial\n"              \
	"  5 auth/privilege refused                      (items left out, see list)\n"

const struct verb cli_verbs[] = {
    {"init", cmd_init, 1, "arca init [DESTINATION...]",
     "create an empty repository in destinations",
     "Creates the repository in each named destination (all when none is named).\n"
     "Refuses to touch a destination that already holds one. Encryption is on by\n"
     "default: the passphrase comes from passphrase_file/passphrase_env in the\n"
     "[destination] section or from ARCA_PASSPHRASE, never from the command line.\n"
     "Keep a copy of the passphrase off this host: without it the backups are lost.\n"},
    {"snapshot", cmd_snapshot, 1, "arca snapshot [TARGET...]",
     "back up targets (all when none is named)",
     "Takes one snapshot of each named target (all targets when none is named) into\n"
     "every destination of that target. Snapshots taken by one run share a recovery\n"
     "point id (`recovery_point` in `arca list --json`): restore those to bring the\n"
     "stores back to the same moment.\n"
     "A target whose driver fails records nothing; the other targets still run.\n"
     "What a driver cannot read (a file arca may not open, an I/O error) is left\n"
     "out with a warning naming it: the snapshot is recorded, marked partial in\n"
     "`arca list`, and the run exits 15 unless something failed.\n\n"
     "Examples:\n  arca snapshot                 # everything, e.g. from a systemd timer\n"
     "  arca snapshot app-db media    # two targets\n"},
    {"list", cmd_list, 1,
     "arca list [TARGET...] [--json]\n"
     "       arca list TARGET --items [--meta] [--snapshot ID|latest] [--from DEST] [--json]",
     "list snapshots, or the items of one",
     "Lists the snapshots of the named targets (all when none) in every destination,\n"
     "oldest first. --json prints an array of objects for scripts. A partial snapshot\n"
     "(items left out) is marked PARTIAL, with a line naming what it lacks (--json:\n"
     "\"partial\": {\"skipped\": N, \"items\": [the first 100 names]}).\n"
     "With --items, the items of one snapshot of TARGET (the latest unless --snapshot;\n"
     "from the first destination that has it unless --from): type, size, mtime, name;\n"
     "--meta adds what the driver recorded about each item on the line below it (an\n"
     "RDB's replication offset and keys per database; --json always has it).\n"
     "Names are shown escaped, here and everywhere: a backslash as \\\\, a control\n"
     "character or a byte of invalid UTF-8 as \\xHH (an S3 key may hold any byte).\n"},
    {"restore", cmd_restore, 1,
     "arca restore TARGET [--snapshot ID|latest] [--into WHERE] [options]",
     "restore a target from a snapshot",
     "Restores TARGET from its latest snapshot (or --snapshot ID; a unique prefix of\n"
     "the id is enough) taken from the first destination that can serve it.\n\n"
     "Options:\n"
     "  --snapshot ID        which snapshot (default: latest)\n"
     "  --from DEST          read from this destination only\n"
     "Every other option is the target's driver's (below): one that TARGET does\n"
     "not take is refused before anything is touched (exit 2). --jobs N, where a\n"
     "driver takes it, is 1 to " JOBS_MAX_TEXT ".\n\n"
     "Examples:\n  arca restore media --into /srv/media.restored\n"
     "  arca restore app-db --into 'host=127.0.0.1 dbname=scratch' --jobs 4\n"},
    {"recover", cmd_recover, 1,
     "arca recover [--dry-run] [--recovery-point ID] [--from STEP] [--partial] [--overwrite]",
     "the whole disaster-recovery runbook: hooks and every restore, in order",
     "Runs the [recovery] section of the config as one runbook, stopping at the first\n"
     "step that fails:\n"
     "  1. pre_hook     (e.g. provision the servers, stop the application)\n"
     "  2. each target of `order` (default: every target, in config order), restored\n"
     "     as `arca restore TARGET --snapshot ID --from DEST` would, into its own\n"
     "     place; a target without a snapshot whose driver has a way back without\n"
     "     one (meilisearch: `arca rebuild`) runs that instead\n"
     "  3. post_hook    (e.g. `alembic upgrade head`, start the services)\n"
     "  4. health       `arca health` of every recovered target whose driver can\n"
     "                  tell whether its store serves ([recovery] health = no: skip)\n"
     "  5. verify_hook  (e.g. a health query)\n"
     "Every restore comes from one recovery point (the snapshots one `arca snapshot`\n"
     "run took, `recovery_point` in `arca list --json`), so the stores come back to\n"
     "the same moment: the newest point that holds a snapshot of every target, or\n"
     "--recovery-point ID (a unique prefix is enough). Hooks run with /bin/sh -c,\n"
     "stdin from /dev/null, and only PATH, HOME, LANG, ARCA_RECOVERY_POINT,\n"
     "ARCA_CONFIG and ARCA_HOOK in their environment (no secret); a hook that exits\n"
     "non-zero stops the run with its exit code. Each step is printed as\n"
     "\"step N/M: ...\" with its result and time; after a failure arca prints what\n"
     "was done, what was not, and the command that resumes from the failed step.\n\n"
     "Options:\n"
     "  --dry-run            print the plan (hooks, each target's snapshot and the\n"
     "                       destination it is read from) and run nothing\n"
     "  --recovery-point ID  restore this recovery point instead of the newest\n"
     "                       complete one\n"
     "  --partial            use a recovery point that lacks targets: restore what it\n"
     "                       holds, name what is left out\n"
     "  --from STEP          resume at STEP (a target, pre_hook, post_hook, health\n"
     "                       or verify_hook); the steps before it are not run\n"
     "  --overwrite          DANGER: hand --overwrite to every restore. Without it a\n"
     "                       restore refuses (exit 11) a place that holds data (a\n"
     "                       database with objects, a non-empty directory); with it\n"
     "                       that data is REPLACED by the snapshot's, for every target\n"
     "                       at once. Use it only on stores you mean to throw away.\n\n"
     "In the config (a ';' after a space starts a comment: join commands with &&):\n"
     "  [recovery]\n"
     "  pre_hook = /srv/vectis/bin/provision\n"
     "  order = app-db, temporal-db, media, search\n"
     "  post_hook = cd /srv/vectis && alembic upgrade head && systemctl start vectis-api\n"
     "  verify_hook = curl -fsS http://127.0.0.1:8000/health\n\n"
     "Examples:\n  arca recover --dry-run          # what would run, and from which snapshots\n"
     "  arca recover                    # the whole runbook\n"
     "  arca recover --recovery-point 3f2a --from media   # resume after a failure\n"},
    {"verify", cmd_verify, 1, "arca verify [TARGET...] [--read-data[=PERCENT]] [--snapshot ID]",
     "check repositories and snapshots",
     "Checks the structure of every repository the named targets use (every\n"
     "snapshot's data is indexed, every pack exists with its size). --read-data\n"
     "also downloads, authenticates, decrypts, decompresses and hashes the data\n"
     "(all of it, or PERCENT of the packs, chosen at random). Then each target's\n"
     "driver checks its latest snapshot (or --snapshot ID) in its own terms.\n"
     "Every damaged snapshot, item and object is named; exit 7 when any is found.\n"},
    {"health", cmd_health, 1, "arca health TARGET [options]",
     "is a target's store serving (e.g. after a restore)?",
     "Asks TARGET's driver whether its store serves as an application would use it,\n"
     "more than check's \"reachable\": a database accepts connections and answers a\n"
     "query, a tree exists and can be read, a bucket prefix lists and its first\n"
     "object reads, a search engine's indexes answer. The driver's options (below)\n"
     "say what to look at, e.g. --into the restored copy. Exit 0 when healthy;\n"
     "otherwise the status that says why (4 unreachable, 5 credentials refused,\n"
     "6 a wrong answer, 8 missing, 9 the driver cannot tell).\n\n"
     "Example:\n  arca restore media --into /srv/media.new && arca health media --into "
     "/srv/media.new\n"},
    {"check", cmd_check, 1, "arca check [TARGET...]",
     "validate the config and reach every target and destination",
     "Validates the whole configuration, opens every destination's repository\n"
     "(checking the passphrase) and reaches every target without writing anything.\n"
     "Use it after editing the config and before trusting a new host.\n"},
    {"plugins", cmd_plugins, 0, "arca plugins [--json] [--plugin-dir DIR]",
     "list installed drivers and their options",
     "Lists every driver module in plugin_dir (from [engine] in the config, else the\n"
     "built-in default) with its version, ABI, kinds and configuration keys, and\n"
     "every module that was refused with the reason.\n"},
    {"forget", cmd_forget, 1, "arca forget [TARGET...] [--dry-run] [--snapshot ID]",
     "remove snapshots outside each target's retention policy",
     "Applies each target's `retention =` policy and removes the snapshots it does\n"
     "not keep (their data stays until `arca prune`). --dry-run shows the decision\n"
     "for every snapshot and changes nothing.\n\n"
     "--snapshot ID removes that one snapshot (a unique prefix of its id is enough)\n"
     "from every destination that holds it, whether or not it can still be read:\n"
     "the way out when a damaged snapshot blocks prune.\n"},
    {"prune", cmd_prune, 1, "arca prune [DESTINATION...] [--dry-run] [--repack-threshold PCT]",
     "free space no snapshot needs",
     "Removes data no remaining snapshot references, repacking packs that are partly\n"
     "used (more than --repack-threshold percent unused, default 20). Takes an\n"
     "exclusive lock: it waits for no one and fails if a snapshot is running.\n"},
    {"unlock", cmd_unlock, 1, "arca unlock [DESTINATION...]", "remove stale locks",
     "Removes locks whose process is gone (same host) or that were not refreshed\n"
     "within the stale timeout, and objects in locks/ that no arca writes\n"
     "(unreadable, oversized or with absurd fields), which block locking until\n"
     "then. Each removed lock is listed. Valid live locks are never removed.\n"},
    {"key", cmd_key, 1, "arca key list|add|remove ID|passwd|generate [DESTINATION]",
     "manage the passphrases and keys of a repository",
     "list      show the keys (passphrases) that open the repository\n"
     "add       add a passphrase, read from ARCA_NEW_PASSPHRASE or the file named\n"
     "          by ARCA_NEW_PASSPHRASE_FILE\n"
     "remove    remove a key by id (not the one in use)\n"
     "passwd    add the new passphrase, then remove the current one\n"
     "generate  print a new random key (256 bits) to use instead of a passphrase:\n"
     "            arca key generate > " REPO_KEY "; chmod 600 " REPO_KEY "\n"
     "          then passphrase_file = " REPO_KEY ". A generated key opens the\n"
     "          repository without scrypt's deliberate ~0.2 s, which archive_command\n"
     "          pays per WAL segment. Keep a copy off this host, as for a passphrase.\n"},
    {"repair", cmd_repair, 1, "arca repair index|packs|snapshots [--forget] [DESTINATION...]",
     "heal a damaged repository: index, packs, snapshots",
     "index  reads every pack's own header and writes a fresh index/ from them,\n"
     "       replacing the old index objects. Run it when verify or prune report\n"
     "       unreadable index objects (prune refuses to run until then). Packs whose\n"
     "       header cannot be read are named and left out (exit 7): their chunks\n"
     "       are lost, and verify names the snapshots that needed them. With\n"
     "       --json: {\"ok\", \"destinations\": [{\"destination\", \"rebuilt\",\n"
     "       \"packs\", \"damaged_packs\": [...], \"error\"}]}.\n"
     "packs  reads every pack (like verify --read-data) and drops chunks that fail\n"
     "       authentication, or whose pack is gone, from the index, so the next\n"
     "       snapshot stores that data again; names every snapshot, item and byte\n"
     "       range that lost data.\n"
     "snapshots  puts back snapshot objects this host has an authentic copy of in\n"
     "       state_dir (damaged, or deleted without arca forget), then writes, for\n"
     "       each snapshot that needs lost chunks, a new snapshot without the items\n"
     "       that cannot be restored (its summary says repaired_from). --forget also\n"
     "       forgets the damaged originals. Exit 7 if a snapshot is beyond repair\n"
     "       (arca forget --snapshot ID removes it).\n\n"
     "After bit rot found by arca verify --read-data:\n"
     "  arca repair packs && arca repair snapshots --forget && arca snapshot\n"},
    {NULL, NULL, 0, NULL, NULL, NULL},
};

static void main_help(FILE *f)
{
	fprintf(f,
	        "arca %s — one backup engine for PostgreSQL and files: deduplicated,\n"
	        "compressed, encrypted, verified. `arca plugins` lists the installed drivers.\n\n"
	        "Usage: arca [GLOBAL OPTIONS] VERB [ARGS]\n\nVerbs:\n",
	        PACKAGE_VERSION);
	for (const struct verb *v = cli_verbs; v->name; v++)
		fprintf(f, "  %-10s %s\n", v->name, v->summary);
	fprintf(f,
	        "\n%s"
	        "  -V, --version      print the version\n"
	        "  -h, --help         this help; `arca VERB --help` for a verb\n\n"
	        "A first run, in this order:\n"
	        "  mkdir -p " ARCA_SYSCONFDIR "/arca\n"
	        "  cp " ARCA_DOCDIR "/arca.ini.example " ARCA_DEFAULT_CONFIG "   # then edit it\n"
	        "  arca key generate > " REPO_KEY " && chmod 600 " REPO_KEY "\n"
	        "  arca init && arca check && arca snapshot && arca list\n"
	        "init validates the whole config before it creates anything; check then reaches\n"
	        "every target and destination, through the repositories init "
	        "created.\n"
	        "Local state (caches, repository pins, this host's snapshot records): state_dir\n"
	        "in [engine], default " ARCA_DEFAULT_STATE_DIR ".\n\n" EXIT_CODES_HELP
	        "\nSee arca(1) and arca.ini(5).\n",
	        cli_global_help);
}

/* Started with stdin, stdout or stderr closed (cron and daemons do that),
 * the next file opened would take its number: a repository object could
 * receive a log line, or a descriptor meant for a child's fd 3 be replaced
 * by its stdin. They point at /dev/null instead. */
static void std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (n >= 0 && n != fd) /* lower ones are open: n is fd */
			close(n);
	}
}

/* Keys and passphrases must not land in a core dump, nor be readable by
 * another process of this user through ptrace or /proc/PID/mem: no core
 * (soft limit 0; the hard one stays, for children such as a started
 * PostgreSQL) and not dumpable (execve resets it for children). */
static void no_core_dumps(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_CORE, &rl) == 0) {
		rl.rlim_cur = 0;
		(void)setrlimit(RLIMIT_CORE, &rl);
	}
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* jansson holds copies of secrets (the key hex strings of a key object's
 * plaintext, the JSON a driver parses): every block it frees is wiped. */
static void json_free_wiped(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

#ifdef __SANITIZE_ADDRESS__
/* The sanitizer build (--enable-sanitizers) only. The __tls_get_addr
 * interceptor of GCC <= 13's sanitizer runtime takes a dynamic TLS block
 * (the thread-locals of a dlopen'ed module or its libraries: postgres.so,
 * gnutls, p11-kit, com_err) that happens to start 16 bytes into a page for
 * glibc 2.19-2.24's layout, and records the two words before it, whatever
 * the heap holds there, as the block's address and size. LeakSanitizer's
 * exit-time scan then reads that range and crashes ("Tracer caught signal
 * 11") at random: one block in 256 starts there. With glibc >= 2.25 the
 * interceptor records nothing else (every other block is "can't guess",
 * size 0), so turning it off loses no scanning (google/sanitizers#1322).
 * Visible: the runtime looks it up among the program's dynamic symbols,
 * and everything here is built -fvisibility=hidden. */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void)
{
	return "intercept_tls_get_addr=0";
}
#endif

int main(int argc, char **argv)
{
	no_core_dumps(); /* before any secret is read */
	/* glibc gives each thread that allocates its own arena (up to 8 per
	 * core): with 16 fetch threads and the pack workers, each arena keeps
	 * its own freed pages, measured at some 7 MB more peak RSS than 4 arenas
	 * for a snapshot of 20,000 s3 objects, no faster. MALLOC_ARENA_MAX in
	 * the environment still decides. */
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 4);
	json_set_alloc_funcs(malloc, json_free_wiped);
	std_fds_open();
	/* the global options, and two that only come before the verb */
	struct option opts[32];
	size_t k = 0;
	for (const struct option *o = cli_global_options; o->name && k < ARRAY_LEN(opts) - 3; o++)
		opts[k++] = *o;
	opts[k++] = (struct option){"version", no_argument, NULL, 'V'};
	opts[k++] = (struct option){"help", no_argument, NULL, 'h'};
	opts[k] = (struct option){NULL, 0, NULL, 0};
	struct cli cli = {.host = host_table(), .lock_wait = -1};
	int c;
	/* results on stdout and errors on stderr stay in order when both are piped */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* '+': stop at the verb; it parses its own options and the global ones */
	while ((c = getopt_long(argc, argv, "+c:vqVh", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			printf("arca %s (driver ABI %d.%d)\n", PACKAGE_VERSION, ARCA_ABI_MAJOR,
			       ARCA_ABI_MINOR);
			return 0;
		case 'h':
			main_help(stdout);
			driver_verbs_list(&cli, stdout);
			return 0;
		default:
			/* -c, -v, -q, --json, --no-progress: also after the verb */
			if (!cli_global_option(&cli, c, optarg))
				return cli_usage_error(NULL, "unknown global option");
		}
	}
	if (optind >= argc) {
		main_help(stderr);
		return 2;
	}
	const char *name = argv[optind];
	const struct verb *v;
	for (v = cli_verbs; v->name; v++)
		if (!strcmp(v->name, name))
			break;
	if (!v->name) {
		/* Not arca's own: a verb of the driver of the TARGET that follows
		 * (arca VERB TARGET ...), its --help from the installed drivers. */
		for (int i = optind + 1; i < argc && strcmp(argv[i], "--"); i++)
			if ((!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) &&
			    driver_verb_help(&cli, name, stdout) == 0)
				return 0;
		if (optind + 1 < argc && argv[optind + 1][0] != '-') {
			host_install_signal_handlers();
			int first = optind;
			optind = 0;
			return cmd_driver_verb(&cli, argc - first, argv + first);
		}
		const char *names[ARRAY_LEN(cli_verbs)];
		size_t n = 0;
		for (const struct verb *w = cli_verbs; w->name; w++)
			names[n++] = w->name;
		const char *hint = did_you_mean(name, names, n);
		fprintf(stderr, "arca: unknown verb '%s'%s%s%s\nTry 'arca --help'.\n", name,
		        hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
		return 2;
	}
	for (int i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			cli_verb_help(&cli, v, stdout);
			return 0;
		}
	}
	host_install_signal_handlers();
	int first = optind;
	optind = 0; /* reset getopt for the verb (0 also re-inits GNU getopt) */
	return v->run(&cli, argc - first, argv + first);
}
