/*
 * stage.h: the one adaptor through which executors call a stage, built-in
 * or plugin: open per state, process per item, close.
 */
#ifndef PR_STAGE_H
#define PR_STAGE_H

#include <stdatomic.h>

#include "runner/diag.h"
#include "runner/item.h"
#include "runner/pipeline.h"

/* An opened stage: its descriptor, options and state. */
struct pr_stage_inst {
	const struct pr_stage_conf *conf;
	struct piperun_opts *opts;
	void *state;
	const atomic_int *cancel; /* set: the run is being interrupted; may be NULL */
};

/* The host table every stage receives. */
extern const struct piperun_host pr_host;

/*
 * Opens CONF's stage of pipeline P (whose directory resolves option paths).
 * CHECKING tells the stage it is only being validated.  Option errors,
 * unknown options and the stage's own refusal go to D with their place.
 * Returns the instance, or NULL when the stage refused to open.
 */
struct pr_stage_inst *pr_stage_open(const struct pr_pipeline *p, const struct pr_stage_conf *conf,
                                    int checking, struct pr_diag *d);

/*
 * Runs the stage once on IN.  On success returns 0 and appends the emitted
 * items to OUT (IN stays the caller's; an emitted copy of it takes its data,
 * leaving IN empty).  On failure returns -1, emits nothing and sets *ERR to
 * a message the caller frees.
 */
int pr_stage_process(struct pr_stage_inst *inst, struct pr_item *in, struct pr_item_list *out,
                     char **err);

/* The longest wait before a retry, in seconds. */
#define PR_BACKOFF_MAX 5.0

/* The attempt pr_stage_try() is at, for another thread or process to see
 * (a worker's status page): so that it can time each attempt. */
struct pr_attempt {
	_Atomic uint64_t tried;    /* its number, from 1, set before its backoff */
	_Atomic uint64_t since_us; /* when the stage began it, pr_now() in microseconds,
	                            * for a stage with a timeout; 0 while none runs
	                            * (in the backoff, or done), and without one */
};

/*
 * Runs the stage on IN as its on_error policy says: once, or with
 * `retry` up to 1 + retries times with exponential backoff from 100 ms
 * capped at PR_BACKOFF_MAX.  IN->tries of those attempts were made
 * already, by worker processes that died on it.  When AT is not NULL,
 * each attempt shows there: its number (from 1, counting those) before
 * its backoff and, for a stage with a timeout, its start while the stage
 * runs it.  Returns and fills OUT and *ERR as pr_stage_process().
 */
int pr_stage_try(struct pr_stage_inst *inst, struct pr_item *in, struct pr_attempt *at,
                 struct pr_item_list *out, char **err);

/* Closes the stage and frees INST; accepts NULL. */
void pr_stage_close(struct pr_stage_inst *inst);

#endif
