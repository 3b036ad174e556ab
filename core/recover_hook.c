/* recover_hook.c — a [recovery] hook (pre_hook, post_hook, verify_hook):
 * the operator's command, run by /bin/sh -c with a minimal environment,
 * so no secret of arca's or of the calling shell (a passphrase variable,
 * cloud credentials) reaches it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "host.h"
#include "log.h"
#include "recover_hook.h"
#include "util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int recover_hook_run(const char *name, const char *command, const struct recover_hook_env *env,
                     int stdout_fd)
{
	/* the caller's PATH (a virtualenv's alembic) and locale; nothing else */
	const char *path = getenv("PATH"), *home = getenv("HOME"), *lang = getenv("LANG");
	char *vars[] = {
	    xasprintf("PATH=%s", path && path[0] ? path : DEFAULT_PATH),
	    xasprintf("HOME=%s", home && home[0] ? home : "/"),
	    xasprintf("LANG=%s", lang && lang[0] ? lang : "C.UTF-8"),
	    xasprintf("ARCA_RECOVERY_POINT=%s", env->recovery_point),
	    xasprintf("ARCA_CONFIG=%s", env->config),
	    xasprintf("ARCA_HOOK=%s", name),
	    NULL,
	};
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		/* what arca changed for itself is not the hook's */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* its own process group: on ^C or SIGTERM arca stops all of it */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		int in = open("/dev/null", O_RDONLY);
		if (in > 0) {
			dup2(in, 0);
			close(in);
		}
		if (stdout_fd != 1)
			dup2(stdout_fd, 1);
		char *argv[] = {"sh", "-c", (char *)command, NULL};
		execve("/bin/sh", argv, vars);
		/* only async-signal-safe calls in the child of a threaded process */
		static const char msg[] = "arca: cannot run /bin/sh for a [recovery] hook\n";
		ssize_t w = write(2, msg, sizeof msg - 1);
		(void)w;
		_exit(127);
	}
	int saved = errno;
	for (size_t i = 0; vars[i]; i++)
		free(vars[i]);
	if (pid < 0)
		return err_set(ARCA_ERR_IO, "%s: cannot start /bin/sh: %s", name, strerror(saved));
	setpgid(pid, pid); /* also here: no signal may come before the child's own */
	int st, stopped = 0;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return err_set(ARCA_ERR_IO, "%s: waitpid: %s", name, strerror(errno));
		if (arca_cancel_requested && !stopped) {
			kill(-pid, SIGTERM); /* the hook and whatever it started */
			stopped = 1;
		}
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return arca_cancel_requested ? err_set(ARCA_ERR_CANCELLED, "interrupted") : ARCA_OK;
	if (arca_cancel_requested)
		return err_set(ARCA_ERR_CANCELLED, "%s interrupted", name);
	if (WIFEXITED(st))
		return err_set(WEXITSTATUS(st), "%s `%s` exited with %d", name, command,
		               WEXITSTATUS(st));
	/* killed: the shell's convention, 128 + the signal */
	return err_set(128 + WTERMSIG(st), "%s `%s` was killed by signal %d (%s)", name, command,
	               WTERMSIG(st), strsignal(WTERMSIG(st)));
}
