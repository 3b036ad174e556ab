/* log.c — leveled logging and the per-thread last error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "log.h"

int log_level = ARCA_LOG_INFO;
int log_json;
int log_verbose;

static _Thread_local char scope_buf[128];
static _Thread_local int err_code;
static _Thread_local char err_buf[4096];
/* err_mark/err_since: each change of the error state counts in err_gen; the
 * first change after a mark saves the state as it was at the mark. */
static _Thread_local unsigned err_gen, err_marked;
static _Thread_local int saved_code;
static _Thread_local char saved_buf[sizeof err_buf];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_scope(const char *scope)
{
	snprintf(scope_buf, sizeof scope_buf, "%s", scope ? scope : "");
}

const char *log_scope(void)
{
	return scope_buf;
}

static const char *level_names[] = {"error", "warning", "info", "debug"};

/* Hook so the progress bar can clear its line before a log line. */
void (*log_before_line)(void);
void (*log_after_line)(void);

/* The last line of defence for the terminal: a message may quote a name a
 * driver or a snapshot gave (core escapes the names it prints; a driver's
 * message may not), so a control character other than newline and tab,
 * raw or as UTF-8 C1, is written as \xHH. */
static void defang(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < cap; p++) {
		int c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
		if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f || c1) {
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
			if (c1 && o + 5 < cap)
				o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *++p);
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = 0;
}

void log_vmsg(enum arca_log_level level, const char *fmt, va_list ap)
{
	if ((int)level > log_level)
		return;
	char raw[4096], msg[4096];
	vsnprintf(raw, sizeof raw, fmt, ap);
	defang(raw, msg, sizeof msg);
	pthread_mutex_lock(&log_lock);
	if (log_before_line)
		log_before_line();
	if (scope_buf[0])
		fprintf(stderr, "arca: %s: %s: %s\n", level_names[level], scope_buf, msg);
	else
		fprintf(stderr, "arca: %s: %s\n", level_names[level], msg);
	fflush(stderr);
	if (log_after_line)
		log_after_line();
	pthread_mutex_unlock(&log_lock);
}

void log_msg(enum arca_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static void err_changing(void)
{
	if (err_gen == err_marked) {
		saved_code = err_code;
		memcpy(saved_buf, err_buf, strlen(err_buf) + 1);
	}
	err_gen++;
}

unsigned err_mark(void)
{
	err_marked = err_gen;
	return err_gen;
}

int err_changed_since(unsigned mark)
{
	return err_gen != mark;
}

void err_since(unsigned mark)
{
	if (err_gen == mark)
		return;
	if (err_marked == mark) {
		err_code = saved_code;
		memcpy(err_buf, saved_buf, strlen(saved_buf) + 1);
	} else {
		err_code = 0;
		err_buf[0] = 0;
	}
	err_gen++;
}

int err_vset(int status, const char *fmt, va_list ap)
{
	/* formatted aside first: an argument may be err_msg() itself */
	char msg[sizeof err_buf];
	vsnprintf(msg, sizeof msg, fmt, ap);
	err_changing();
	err_code = status;
	memcpy(err_buf, msg, strlen(msg) + 1);
	return status;
}

int err_set(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(status, fmt, ap);
	va_end(ap);
	return status;
}

int err_wrap(int status, const char *fmt, ...)
{
	char prefix[1024], joined[sizeof prefix + sizeof err_buf + 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof joined, "%s: %s", prefix,
	         err_buf[0] ? err_buf : status_name(status));
	size_t n = strnlen(joined, sizeof err_buf - 1);
	err_changing();
	memcpy(err_buf, joined, n);
	err_buf[n] = 0;
	err_code = status;
	return status;
}

const char *err_msg(void)
{
	return err_buf;
}

int err_status(void)
{
	return err_code;
}

void err_clear(void)
{
	err_changing();
	err_code = 0;
	err_buf[0] = 0;
}

const char *status_name(int status)
{
	switch (status) {
	case ARCA_OK:
		return "ok";
	case ARCA_ERR_INTERNAL:
		return "internal error";
	case 2:
		return "usage error";
	case ARCA_ERR_CONFIG:
		return "configuration error";
	case ARCA_ERR_CONNECT:
		return "cannot connect";
	case ARCA_ERR_AUTH:
		return "authentication failed";
	case ARCA_ERR_IO:
		return "I/O error";
	case ARCA_ERR_CORRUPT:
		return "data is corrupt";
	case ARCA_ERR_NOT_FOUND:
		return "not found";
	case ARCA_ERR_UNSUPPORTED:
		return "not supported";
	case ARCA_ERR_CANCELLED:
		return "cancelled";
	case ARCA_ERR_EXISTS:
		return "already exists";
	case ARCA_ERR_NOSPACE:
		return "no space left";
	case ARCA_ERR_LOCKED:
		return "repository is locked";
	case ARCA_ERR_PLUGIN:
		return "driver module refused";
	case ARCA_PARTIAL:
		return "snapshot recorded without some items (partial)";
	default:
		return "unknown error";
	}
}

int err_print(int status)
{
	if (status == ARCA_OK)
		return 0;
	log_set_scope(NULL);
	if (err_buf[0])
		log_error("%s", err_buf);
	else
		log_error("%s", status_name(status));
	return status;
}
