/*
 * command.c — an example arca driver, built out of tree against the SDK.
 *
 * A target driver that backs up the standard output of a command (any tool
 * that can dump to stdout) and restores by piping the stored bytes into
 * another command:
 *
 *   [target ldap]
 *   driver = command
 *   dump_command = slapcat -n 1
 *   restore_command = slapadd -n 1
 *   destinations = local
 *
 * Build and install:  make && sudo make install   (see Makefile)
 * It shows the whole ABI a target driver needs: the descriptor with its
 * option table, instance state (no globals), streaming items in and out,
 * errors with a status and a message, and cancellation.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arca/plugin.h>

static const struct arca_host *host;

struct instance {
	const struct arca_config *cfg;
};

static const struct arca_option options[] = {
    {"dump_command", ARCA_OPT_STRING, ARCA_OPT_REQUIRED, NULL,
     "shell command whose standard output is backed up", NULL, 0, 0},
    {"restore_command", ARCA_OPT_STRING, 0, NULL,
     "shell command that receives the stored bytes on standard input", NULL, 0, 0},
    {NULL, 0, 0, NULL, NULL, NULL, 0, 0},
};

static int cmd_open(const struct arca_config *cfg, void **out)
{
	struct instance *in = calloc(1, sizeof *in);
	if (!in)
		return host->error(ARCA_ERR_INTERNAL, "out of memory");
	in->cfg = cfg;
	*out = in;
	return ARCA_OK;
}

static void cmd_close(void *inst)
{
	free(inst);
}

/* Start `sh -c command` with one end of a pipe on its stdin or stdout. */
static pid_t spawn(const char *command, int child_fd, int *parent_fd)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(child_fd == 0 ? p[0] : p[1], child_fd);
		close(p[0]);
		close(p[1]);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	close(child_fd == 0 ? p[0] : p[1]);
	*parent_fd = child_fd == 0 ? p[1] : p[0];
	return pid;
}

static int reap(pid_t pid, const char *command)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return host->error(ARCA_ERR_IO, "waiting for '%s': %s", command,
			                   strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return ARCA_OK;
	return host->error(ARCA_ERR_IO, "'%s' %s %d", command,
	                   WIFEXITED(st) ? "exited with status" : "was killed by signal",
	                   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static int cmd_snapshot(void *inst, struct arca_ctx *ctx)
{
	struct instance *in = inst;
	const char *command = host->config_get(in->cfg, "dump_command");
	int fd;
	pid_t pid = spawn(command, 1, &fd);
	if (pid < 0)
		return host->error(ARCA_ERR_IO, "cannot start '%s': %s", command, strerror(errno));
	struct arca_item_info info = {.struct_size = sizeof info,
	                              .name = "stdout",
	                              .type = ARCA_ITEM_STREAM,
	                              .size = UINT64_MAX,
	                              .meta = command};
	int rc = host->item_begin(ctx, &info);
	char buf[1 << 16];
	while (rc == ARCA_OK) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = host->error(ARCA_ERR_IO, "reading from '%s': %s", command,
			                 strerror(errno));
		if (n <= 0)
			break;
		rc = host->item_write(ctx, buf, (size_t)n);
	}
	close(fd);
	if (rc != ARCA_OK) {
		/* return the failure that stopped us with its own message: the
		 * child killed here is no news (arca/plugin.h, host->error) */
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return rc;
	}
	/* a dump that failed half way must not be recorded as a backup */
	rc = reap(pid, command);
	return rc != ARCA_OK ? rc : host->item_end(ctx);
}

static int cmd_restore(void *inst, struct arca_ctx *ctx)
{
	struct instance *in = inst;
	const char *command = host->config_get(in->cfg, "restore_command");
	if (!command)
		return host->error(ARCA_ERR_CONFIG, "target %s has no restore_command",
		                   host->config_section(in->cfg));
	struct arca_item_info info = {.struct_size = sizeof info}; /* what it can take (1.1) */
	int rc = host->item_open(ctx, "stdout", &info);
	if (rc != ARCA_OK)
		return rc;
	int fd;
	pid_t pid = spawn(command, 0, &fd);
	if (pid < 0)
		return host->error(ARCA_ERR_IO, "cannot start '%s': %s", command, strerror(errno));
	char buf[1 << 16];
	size_t got;
	while ((rc = host->item_read(ctx, buf, sizeof buf, &got)) == ARCA_OK && got) {
		for (size_t off = 0; off < got;) {
			ssize_t w = write(fd, buf + off, got - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = host->error(ARCA_ERR_IO, "writing to '%s': %s", command,
				                 strerror(errno));
				break;
			}
			off += (size_t)w;
		}
		if (rc != ARCA_OK)
			break;
	}
	close(fd);
	if (rc != ARCA_OK) {
		waitpid(pid, NULL, 0); /* its own failure would not be the news */
		return rc;
	}
	return reap(pid, command);
}

static int cmd_check(void *inst, struct arca_ctx *ctx)
{
	(void)inst, (void)ctx;
	return access("/bin/sh", X_OK) == 0 ? ARCA_OK
	                                    : host->error(ARCA_ERR_CONNECT, "/bin/sh is missing");
}

/* ABI 1.1: the operation options this driver takes. None: restore_command
 * decides where the data goes, so `arca restore --into X` is refused before
 * anything runs instead of being ignored (NULL would mean "any", as in 1.0). */
static const struct arca_op_option no_options[] = {{NULL, 0, NULL, NULL, NULL}};

static const struct arca_target_ops target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .open = cmd_open,
    .check = cmd_check,
    .snapshot = cmd_snapshot,
    .restore = cmd_restore,
    .verify = NULL, /* nothing to add to the engine's own hash checks */
    .close = cmd_close,
    .restore_options = no_options,
    .snapshot_options = no_options,
};

static const struct arca_driver driver = {
    .abi_major = ARCA_ABI_MAJOR,
    .struct_size = sizeof(struct arca_driver),
    .name = "command",
    .version = "1.0.0",
    .description = "backs up the standard output of a command (example driver)",
    .target_options = options,
    .target = &target_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *h)
{
	host = h; /* the host table is the one global a driver may keep */
	return &driver;
}
