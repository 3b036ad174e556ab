/* log.h — leveled logging to stderr, and the per-thread "last error".
 *
 * Every failing call in the engine and in drivers records a status and a
 * message with err_set(); the caller that decides to give up prints it with
 * err_print(). Messages say what failed, where, why and what to do. */
#ifndef ARCA_LOG_H
#define ARCA_LOG_H

#include <stdarg.h>
#include "arca/plugin.h"

extern int log_level;   /* ARCA_LOG_*; default ARCA_LOG_INFO */
extern int log_json;    /* nonzero: machine output, human logs stay on stderr */
extern int log_verbose; /* -v: name every item as it is stored, restored or verified */

/* Prefix shown before log lines from this thread (e.g. "target app-db"). */
void log_set_scope(const char *scope);
const char *log_scope(void);

void log_msg(enum arca_log_level level, const char *fmt, ...) ARCA_PRINTF(2, 3);
void log_vmsg(enum arca_log_level level, const char *fmt, va_list ap);
#define log_error(...) log_msg(ARCA_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(ARCA_LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(ARCA_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(ARCA_LOG_DEBUG, __VA_ARGS__)

/* Record the error of this thread; returns status. */
int err_set(int status, const char *fmt, ...) ARCA_PRINTF(2, 3);
int err_vset(int status, const char *fmt, va_list ap);
/* Prefix the recorded message with context ("snapshot of app-db: ...").  */
int err_wrap(int status, const char *fmt, ...) ARCA_PRINTF(2, 3);
const char *err_msg(void); /* "" when none */
int err_status(void);
void err_clear(void);
/* Undoing what a call that succeeded did to the error state (the host
 * calls: a failure the engine met and handled on the way must not outlive
 * the call): m = err_mark() before, err_since(m) after restores the state
 * as it was at the mark. err_changed_since(m): was anything recorded since.
 * Per thread; marks do not nest. */
unsigned err_mark(void);
void err_since(unsigned mark);
int err_changed_since(unsigned mark);
/* Print "arca: error: MSG" (the recorded message, or a generic one for
 * status) and return status. */
int err_print(int status);
const char *status_name(int status);

#endif
