/* SPDX-License-Identifier: MIT */
/*
 * The progress bar: bytes, percent, MB/s and ETA on one stderr line, redrawn at most ten
 * times a second, only when stderr is a terminal and -q was not given.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(cli_progress *p, const char *label)
{
	p->label = label;
	p->enabled = !cli.quiet && isatty(STDERR_FILENO);
	p->start = now();
	p->last = 0;
}

void cli_progress_cb(uint64_t done, uint64_t total, void *payload)
{
	cli_progress *p = payload;
	double t = now(), el, rate;
	char a[32], b[32];
	int width = 30, filled;
	char bar[31];

	if (!p || !p->enabled || (t - p->last < 0.1 && done < total))
		return;
	p->last = t;
	el = t - p->start;
	rate = el > 0 ? (double)done / el : 0;
	filled = total ? (int)((double)done / (double)total * width) : width;
	if (filled > width)
		filled = width;
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[width] = '\0';
	fprintf(stderr, "\r%-5s [%s] %s / %s  %6.1f MB/s  ETA %4.0fs ", p->label, bar,
		cli_human(a, sizeof(a), done), cli_human(b, sizeof(b), total), rate / 1e6,
		rate > 0 && total > done ? (double)(total - done) / rate : 0.0);
	fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
	if (p->enabled && p->last > 0) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
}
