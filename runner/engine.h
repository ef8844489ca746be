/*
 * engine.h: runs a pipeline: source, stages and standard output, wired
 * together, with every item accounted for.
 */
#ifndef PR_ENGINE_H
#define PR_ENGINE_H

#include "runner/pipeline.h"
#include "runner/stats.h"

/* Where the engine sends messages for the user: whole lines, no newline. */
typedef void pr_message_fn(void *ud, const char *line);

struct pr_run_opts {
	int sync;               /* every stage sequentially, in this thread */
	unsigned jobs;          /* -j: workers of every cpu stage; 0 = none */
	int out_fd;             /* where the last stage's items go */
	pr_message_fn *message; /* failed items, warnings */
	void *ud;
};

enum pr_run_status {
	PR_RUN_OK = 0,      /* every item went through */
	PR_RUN_FAILED,      /* some items failed, or the run could not start */
	PR_RUN_BROKEN_PIPE, /* the reader of out_fd went away */
};

/*
 * Runs pipeline P.  Fills STATS (free with pr_run_stats_free()) whatever
 * the outcome, and returns how the run ended.
 */
enum pr_run_status pr_engine_run(const struct pr_pipeline *p, const struct pr_run_opts *o,
                                 struct pr_stats *stats);

void pr_run_stats_free(struct pr_stats *stats);

#endif
