/*
 * progress.h: the live progress display, drawn in place on a terminal.
 */
#ifndef PR_PROGRESS_H
#define PR_PROGRESS_H

#include <stdio.h>

#include "runner/stats.h"

struct pr_progress {
	FILE *f;
	int lines;        /* lines drawn last time, to redraw over */
	double last;      /* elapsed_s of the last drawing */
	uint64_t *done;   /* per stage, items finished at the last drawing */
	uint64_t *bytes;  /* per stage, bytes out at the last drawing */
	size_t nstages;
};

void pr_progress_init(struct pr_progress *pg, FILE *f, size_t nstages);
void pr_progress_free(struct pr_progress *pg);

/* Draws S over the previous drawing: a line per stage (name, tag and
 * workers, items done of the total when known, items/s and bytes/s since
 * the last drawing, queue fill, busy share) and a line with the elapsed
 * time and, when the total is known, an estimate of the time left. */
void pr_progress_draw(struct pr_progress *pg, const struct pr_stats *s);

/* Erases the last drawing. */
void pr_progress_erase(struct pr_progress *pg);

#endif
