/* recover_hook.h — running a [recovery] hook. */
#ifndef ARCA_RECOVER_HOOK_H
#define ARCA_RECOVER_HOOK_H

/* What a hook learns of the run, as environment variables. */
struct recover_hook_env {
	const char *recovery_point; /* ARCA_RECOVERY_POINT */
	const char *config;         /* ARCA_CONFIG: the config file, absolute */
};

/* Run `command` with /bin/sh -c, stdin from /dev/null, stdout on stdout_fd,
 * stderr as ours, and only PATH, HOME, LANG, ARCA_RECOVERY_POINT,
 * ARCA_CONFIG and ARCA_HOOK (= name) in its environment, in a process
 * group of its own (SIGTERM to it all on ^C or SIGTERM); wait for it.
 * ARCA_OK when it exits 0; otherwise its exit code (128 + the signal that
 * killed it; ARCA_ERR_CANCELLED after ^C), with the error recorded. */
int recover_hook_run(const char *name, const char *command, const struct recover_hook_env *env,
                     int stdout_fd);

#endif
