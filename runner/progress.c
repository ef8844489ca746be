/*
 * progress.c: the live progress display, drawn in place on a terminal.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>

#include "runner/progress.h"
#include "runner/util.h"

void
pr_progress_init(struct pr_progress *pg, FILE *f, size_t nstages)
{
	pg->f = f;
	pg->lines = 0;
	pg->last = 0;
	pg->nstages = nstages;
	pg->done = pr_calloc(nstages, sizeof(*pg->done));
	pg->bytes = pr_calloc(nstages, sizeof(*pg->bytes));
}

void
pr_progress_free(struct pr_progress *pg)
{
	free(pg->done);
	free(pg->bytes);
}

/* A byte count with a binary unit. */
static const char *
human(double v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

void
pr_progress_erase(struct pr_progress *pg)
{
	/* Up to the first line drawn, then clear to the end of the screen. */
	if (pg->lines > 0)
		fprintf(pg->f, "\r\033[%dA\033[J", pg->lines);
	pg->lines = 0;
	fflush(pg->f);
}

void
pr_progress_draw(struct pr_progress *pg, const struct pr_stats *s)
{
	double dt = s->elapsed_s - pg->last;
	char b1[32], b2[32];

	pr_progress_erase(pg);
	for (size_t i = 0; i < s->nstages && i < pg->nstages; i++) {
		const struct pr_stage_stats *t = &s->stages[i];
		uint64_t done = t->ok + t->failed + t->interrupted;
		double rate = dt > 0 ? (double)(done - pg->done[i]) / dt : 0;
		double brate = dt > 0 ? (double)(t->bytes_out - pg->bytes[i]) / dt : 0;
		double busy = s->elapsed_s > 0 ? t->busy_s / (s->elapsed_s * t->workers) : 0;

		fprintf(pg->f, "%-12.12s %-4s x%-3u %8" PRIu64, t->name, t->kind, t->workers, done);
		if (i == 0 && s->items_total > 0)
			fprintf(pg->f, "/%-8" PRIu64, s->items_total);
		else
			fprintf(pg->f, " %-8s", "");
		fprintf(pg->f, " %9.1f/s %12s/s  queue %3u/%-3u busy %3.0f%%%s\n", rate,
		        human(brate, b1, sizeof(b1)), t->queued, t->bound, busy > 1 ? 100 : busy * 100,
		        t->failed ? "  failed" : "");
		pg->done[i] = done;
		pg->bytes[i] = t->bytes_out;
		pg->lines++;
	}
	fprintf(pg->f, "%s: %.1fs elapsed, %" PRIu64 " items in, %s out", s->pipeline, s->elapsed_s,
	        s->items_in, human(s->nstages ? (double)s->stages[s->nstages - 1].bytes_out : 0, b2,
	                           sizeof(b2)));
	if (s->items_total > 0 && s->nstages > 0) {
		const struct pr_stage_stats *last = &s->stages[s->nstages - 1];
		uint64_t done = last->ok + last->failed + last->interrupted;
		/* The last stage's progress, when every item reaches it. */
		if (done > 0 && done <= s->items_total && s->stages[0].out == last->in)
			fprintf(pg->f, ", about %.0fs left",
			        s->elapsed_s * (double)(s->items_total - done) / (double)done);
	}
	fputc('\n', pg->f);
	pg->lines++;
	pg->last = s->elapsed_s;
	fflush(pg->f);
}
