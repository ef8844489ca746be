/*
 * engine.h: runs a pipeline: source, stages and standard output, wired
 * together, with every item accounted for.
 */
#ifndef PR_ENGINE_H
#define PR_ENGINE_H

#include <stdatomic.h>

#include "runner/pipeline.h"
#include "runner/stats.h"
#include "runner/trace.h"

/*
 * How the user's signals reach a run.  The signal handler calls
 * pr_run_control_signal(): the first SIGINT or SIGTERM stops the source,
 * and items in the pipeline get the grace period to finish; a second one,
 * or the end of the grace period, interrupts the work in flight.
 */
struct pr_run_control {
	atomic_int signal; /* the first signal, 0 for none */
	atomic_int cancel; /* a second signal came */
	int wake[2];       /* a pipe the handler writes to */
};

/* Returns 0, or a negative errno when the pipe cannot be made. */
int pr_run_control_init(struct pr_run_control *c);

/* Records SIG; async-signal-safe. */
void pr_run_control_signal(struct pr_run_control *c, int sig);

/* Where the engine sends messages for the user: whole lines, no newline. */
typedef void pr_message_fn(void *ud, const char *line);

struct pr_run_opts {
	int sync;               /* every stage sequentially, in this thread */
	unsigned jobs;          /* -j: workers of every cpu stage; 0 = none */
	int out_fd;             /* where the last stage's items go */
	int in_fd;              /* what an input of "-" reads; -1: standard input is closed */
	pr_message_fn *message; /* failed items, warnings */
	void *ud;
	struct pr_run_control *control; /* may be NULL */
	double grace;                   /* seconds in-flight items get after a signal */
	struct pr_trace *trace;         /* filled when not NULL */
	/* Called every progress_interval seconds from another thread with the
	 * counts so far; may be NULL. */
	void (*progress)(void *ud, const struct pr_stats *live);
	double progress_interval;
	/* Called from another thread when the work in flight has not ended
	 * two seconds after it was interrupted (a second signal, or the grace
	 * period over): stages running in this process may not look at the
	 * cancel flag.  May end the process; may be NULL. */
	void (*stuck)(void *ud);
};

enum pr_run_status {
	PR_RUN_OK = 0,      /* every item went through */
	PR_RUN_FAILED,      /* some items failed, or the run could not start */
	PR_RUN_BROKEN_PIPE, /* the reader of out_fd went away */
	PR_RUN_INTERRUPTED, /* a signal stopped it (control->signal says which) */
};

/*
 * Runs pipeline P.  Fills STATS (free with pr_run_stats_free()) whatever
 * the outcome, and returns how the run ended.
 */
enum pr_run_status pr_engine_run(const struct pr_pipeline *p, const struct pr_run_opts *o,
                                 struct pr_stats *stats);

void pr_run_stats_free(struct pr_stats *stats);

#endif
