/*
 * stats.h: what each stage did, counted while it runs.
 */
#ifndef PR_STATS_H
#define PR_STATS_H

#include <stdint.h>
#include <stdio.h>

/*
 * Per stage: every item received (in) ends as ok, failed or interrupted;
 * out counts items emitted, filtered the received items that emitted
 * nothing.
 */
struct pr_stage_stats {
	const char *name;
	const char *kind;
	const char *executor;
	unsigned workers;
	uint64_t in, out, ok, filtered, failed, interrupted;
	uint64_t bytes_in, bytes_out;
	double busy_s, wait_s;
	unsigned queued, bound; /* items in the stage now, and at most (progress) */
};

struct pr_stats {
	const char *pipeline;
	const char *status;  /* "ok", "failed", "interrupted" */
	double elapsed_s;
	uint64_t items_in;   /* items the source produced */
	uint64_t items_out;  /* items written to standard output */
	uint64_t items_total; /* items the source will produce, 0 when unknown */
	struct pr_stage_stats *stages;
	size_t nstages;
};

/* Writes S to F as one JSON object (the keys of piperun(1) --stats).
 * Returns 0, or -1 when the write failed. */
int pr_stats_write_json(const struct pr_stats *s, FILE *f);

/* Writes the end-of-run summary, a line per stage, to F. */
void pr_stats_write_summary(const struct pr_stats *s, FILE *f);

/* Returns 0 when every stage's counts add up (in = ok + failed +
 * interrupted), else -1 with the first stage that does not in *BAD. */
int pr_stats_check(const struct pr_stats *s, size_t *bad);

#endif
