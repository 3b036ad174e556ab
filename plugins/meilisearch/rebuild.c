/* rebuild.c — the reindex fallback: rebuild_command (e.g. the platform's
 * reindex from PostgreSQL) run by /bin/sh with a minimal environment: no
 * secret of arca's, nor of the calling shell, reaches it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "meili.h"

const char *meili_way_out(struct meili *m)
{
	static __thread char buf[600];
	if (!m || !m->rebuild_command)
		return "";
	snprintf(buf, sizeof buf,
	         "; or rebuild the indexes from their source: arca rebuild %s "
	         "(runs rebuild_command)",
	         m->name);
	return buf;
}

int meili_rebuild(struct meili *m)
{
	if (!m->rebuild_command || !m->rebuild_command[0])
		return MEILI_ERR(ARCA_ERR_CONFIG,
		                 "[target %s] has no rebuild_command: set it to the command that "
		                 "reindexes from the source of truth",
		                 m->name);
	char target[600], url[1100], home[1100];
	snprintf(target, sizeof target, "ARCA_TARGET=%s", m->name);
	snprintf(url, sizeof url, "MEILI_URL=%s", m->url);
	const char *h = getenv("HOME");
	snprintf(home, sizeof home, "HOME=%s", h ? h : "/");
	char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	                "LC_ALL=C.UTF-8",
	                home,
	                target,
	                url,
	                NULL};
	MEILI_LOG(ARCA_LOG_INFO, "running rebuild_command of [target %s]", m->name);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return MEILI_ERR(ARCA_ERR_IO, "fork: %s", strerror(errno));
	if (pid == 0) {
		char *argv[] = {"sh", "-c", (char *)m->rebuild_command, NULL};
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return MEILI_ERR(ARCA_ERR_IO, "waitpid: %s", strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		MEILI_LOG(ARCA_LOG_INFO, "rebuild_command finished");
		return ARCA_OK;
	}
	return MEILI_ERR(ARCA_ERR_IO, "rebuild_command of [target %s] %s %d", m->name,
	                 WIFEXITED(st) ? "exited with" : "was killed by signal",
	                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}
