/* progress.c — a one-line progress bar on stderr when it is a TTY.
 *
 * Updated at most 8 times a second from whichever thread reports progress;
 * log lines clear the bar first (see log_before_line in log.c) so the two
 * never interleave. Without a TTY nothing is drawn: the job prints one
 * summary line when it ends. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "progress.h"
#include "util.h"

int progress_enabled = -1; /* -1: decide from isatty(2) */

extern void (*log_before_line)(void);
extern void (*log_after_line)(void);

struct progress {
	char label[96];
	char item[256];
	uint64_t bytes, items, total_bytes, total_items;
	double start, last_draw;
	int drawn;
	pthread_mutex_t lock;
};

static struct progress *active; /* the bar currently on screen */

static int enabled(void)
{
	if (progress_enabled < 0)
		progress_enabled = isatty(2) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
	return progress_enabled;
}

static void clear_line(void)
{
	if (active && active->drawn) {
		fputs("\r\033[K", stderr);
		active->drawn = 0;
	}
}

static void draw(struct progress *p)
{
	char done[32], total[32], rate[32];
	double el = now_monotonic() - p->start;
	format_bytes(p->bytes, done, sizeof done);
	format_bytes(el > 0 ? (uint64_t)(p->bytes / el) : 0, rate, sizeof rate);
	const int width = 24;
	char bar[width + 3];
	if (p->total_bytes) {
		double f = (double)p->bytes / (double)p->total_bytes;
		if (f > 1)
			f = 1;
		int fill = (int)(f * width);
		bar[0] = '[';
		for (int i = 0; i < width; i++)
			bar[1 + i] = i < fill ? '=' : (i == fill ? '>' : ' ');
		bar[width + 1] = ']';
		bar[width + 2] = 0;
		format_bytes(p->total_bytes, total, sizeof total);
		fprintf(stderr, "\r\033[K%s %s %3d%% %s/%s %s/s %llu items  %.30s", p->label, bar,
		        (int)(f * 100), done, total, rate, (unsigned long long)p->items, p->item);
	} else {
		fprintf(stderr, "\r\033[K%s %s %s/s %llu items  %.40s", p->label, done, rate,
		        (unsigned long long)p->items, p->item);
	}
	fflush(stderr);
	p->drawn = 1;
	p->last_draw = now_monotonic();
}

static void redraw_after_log(void)
{
	if (active)
		draw(active);
}

struct progress *progress_start(const char *label)
{
	struct progress *p = xcalloc(1, sizeof *p);
	snprintf(p->label, sizeof p->label, "%s", label);
	p->start = now_monotonic();
	pthread_mutex_init(&p->lock, NULL);
	if (enabled()) {
		active = p;
		log_before_line = clear_line;
		log_after_line = redraw_after_log;
	}
	return p;
}

void progress_set_total(struct progress *p, uint64_t bytes, uint64_t items)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->total_bytes = bytes;
	p->total_items = items;
	pthread_mutex_unlock(&p->lock);
}

void progress_add(struct progress *p, uint64_t bytes, uint64_t items)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->bytes += bytes;
	p->items += items;
	if (p == active && now_monotonic() - p->last_draw > 0.125)
		draw(p);
	pthread_mutex_unlock(&p->lock);
}

void progress_item(struct progress *p, const char *name)
{
	if (!p || p != active)
		return;
	pthread_mutex_lock(&p->lock);
	name_escape_to(name, p->item, sizeof p->item); /* a name is not for the terminal as is */
	pthread_mutex_unlock(&p->lock);
}

double progress_finish(struct progress *p, uint64_t *bytes, uint64_t *items)
{
	if (!p)
		return 0;
	double el = now_monotonic() - p->start;
	if (p == active) {
		clear_line();
		fflush(stderr);
		active = NULL;
		log_before_line = NULL;
		log_after_line = NULL;
	}
	if (bytes)
		*bytes = p->bytes;
	if (items)
		*items = p->items;
	pthread_mutex_destroy(&p->lock);
	free(p);
	return el;
}
