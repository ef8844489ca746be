/*
 * executor.h: the one interface through which a stage's items are run,
 * and what the engine offers executors in return.
 *
 * An executor receives a stage's items through submit(), runs the stage on
 * them (with pr_stage_run_call()) wherever it runs work (this thread, a
 * thread pool, worker processes, an OpenMP team), and hands each input's
 * results back with pr_stage_run_deliver().  It knows nothing of YAML,
 * other stages or the terminal.
 */
#ifndef PR_EXECUTOR_H
#define PR_EXECUTOR_H

#include <stdint.h>

#include "runner/item.h"
#include "runner/pipeline.h"
#include "runner/reorder.h"
#include "runner/stage.h"
#include "runner/stats.h"

struct pr_engine;

/* A stage while a pipeline runs. */
struct pr_stage_run {
	struct pr_engine *engine;
	const struct pr_stage_conf *conf;
	const struct pr_executor *ex;
	void *ex_data;                /* the executor's own */
	unsigned workers;
	struct pr_stage_stats *stats;
	struct pr_reorder reorder;
	uint64_t seq_in;              /* the number the next input gets */
	struct pr_stage_run *next;    /* NULL for the last stage */
};

struct pr_executor {
	const char *name; /* as --plan and --stats name it */
	/* Opens the stage's states and starts the workers.  Returns 0, or -1
	 * with *ERR set (freed by the caller). */
	int (*start)(struct pr_stage_run *sr, char **err);
	/* Takes ITEM (and its ownership) into the stage; may wait while the
	 * stage is full. */
	void (*submit)(struct pr_stage_run *sr, struct pr_item *item);
	/* No more items will come: returns once every submitted item's results
	 * have been delivered. */
	void (*drain)(struct pr_stage_run *sr);
	/* Stops the workers and closes the states. */
	void (*stop)(struct pr_stage_run *sr);
};

extern const struct pr_executor pr_exec_sync;

/* The executor for stage C: every stage runs on the sequential executor
 * for now.  NAME_FOR is the word for the executor the stage's tag maps
 * to (threads, processes, openmp, sequential), as --plan prints it. */
const struct pr_executor *pr_executor_for(const struct pr_stage_conf *c, int sync);
const char *pr_executor_name_for(const struct pr_stage_conf *c, int sync);

/* How many workers stage C gets: JOBS (from -j, 0 for none) for cpu
 * stages, else its `workers`, else the auto default; 1 under SYNC. */
unsigned pr_workers_for(const struct pr_stage_conf *c, unsigned jobs, int sync);

/*
 * Runs the stage once per attempt on ITEM through INST, following its
 * on_error policy (retries with backoff), and counts the outcome.  Returns
 * 0 with the results appended to OUT, or -1 when the item failed (it is
 * then reported).  ITEM stays the caller's.
 */
int pr_stage_run_call(struct pr_stage_run *sr, struct pr_stage_inst *inst, struct pr_item *item,
                      struct pr_item_list *out);

/* Hands the results of input SEQ (possibly none) to the engine, which
 * passes them on in order. */
void pr_stage_run_deliver(struct pr_stage_run *sr, uint64_t seq, struct pr_item_list *results);

/* Opens one state of SR's stage; reports to the engine on failure. */
struct pr_stage_inst *pr_stage_run_open(struct pr_stage_run *sr, char **err);

#endif
