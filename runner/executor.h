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

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "runner/item.h"
#include "runner/pipeline.h"
#include "runner/reorder.h"
#include "runner/stage.h"
#include "runner/stats.h"

struct pr_engine;
struct pr_queue;

/*
 * A stage while a pipeline runs.  The engine admits at most `bound` items
 * into the stage that have not left it yet (admitted - released), so the
 * executor's queue and the reorder buffer together stay bounded; a full
 * stage makes the one submitting wait (backpressure).
 */
/* Batches of results in order, each one input item's. */
struct pr_batches {
	struct pr_item_list *lists;
	size_t n, cap;
};

struct pr_stage_run {
	struct pr_engine *engine;
	const struct pr_pipeline *engine_pipeline;
	const struct pr_stage_conf *conf;
	const struct pr_executor *ex;
	void *ex_data;                /* the executor's own */
	unsigned workers;
	unsigned bound;               /* items in the stage at most */
	unsigned always;              /* items it admits whatever their bytes */
	uint64_t bound_bytes;         /* their bytes at most (one item may pass it) */
	struct pr_stage_stats *stats; /* under lock */
	struct pr_reorder reorder;    /* under lock */
	uint64_t seq_in;              /* under lock: the number the next input gets */
	/* The input whose failure stopped the run: later inputs' results are
	 * dropped, and those not started yet are not run.  Set under lock. */
	atomic_uint_fast64_t cut;
	uint64_t admitted, released;  /* under lock */
	uint64_t inputs;              /* under lock: inputs admitted whose results
	                                 have not come yet (queued or running) */
	uint64_t held_bytes;          /* under lock: of the inputs not run yet and the
	                                 results not passed on yet */
	pthread_mutex_t lock;
	pthread_cond_t room;          /* signalled when the stage has half emptied,
	                                 or its workers are about to run dry */
	unsigned waiting;             /* under lock: submitters waiting for room */
	uint64_t result_bytes;        /* under lock: of the results not passed on yet */
	atomic_int over;              /* result_bytes > bound_bytes, for a glance */
	/* Signalled when the stage's results move on far enough for one of
	 * those waiting on it to go on: workers that may not start an item
	 * yet, and threads that bring results while the passer is held up. */
	pthread_cond_t ran;
	unsigned run_waiting;         /* under lock: workers waiting to start an item */
	unsigned bring_waiting;       /* under lock: threads waiting to bring results */
	uint64_t woken_base;          /* under lock: reorder.base at the last wake-up */
	int start_over;               /* under lock: a worker began to wait, since
	                                 then, for results passed on to make room */
	/* Results leave in order through one thread at a time, the passer,
	 * which hands them to the next stage (or writes them out) without the
	 * lock, so that the stage's workers go on meanwhile. */
	struct pr_batches outbox;     /* under lock: released, not passed on yet */
	uint64_t out_bytes;           /* under lock: of those and the ones passing */
	struct pr_batches passing;    /* the passer's: being passed on */
	int passer;                   /* under lock: a thread is the passer */
	/* The last stage's large results are written out by a thread of its
	 * own, the writer, so that the threads that bring them (a worker
	 * process's feeder, say) go back to their work at once; small ones
	 * are written by whoever brings them, as it costs less than a
	 * wake-up. */
	int writer;                   /* the stage has a writer */
	int writer_idle;              /* under lock: it waits for results */
	int writer_stop;              /* under lock: it ends once all are out */
	pthread_cond_t write;         /* wakes it */
	struct pr_stage_run *next;    /* NULL for the last stage */
	struct pr_stage_run *prev;    /* NULL for the first stage */
	/* Workers of this stage that run items of the one before (see `help`
	 * in struct pr_executor): the stage then always admits two items per
	 * worker and one more, whatever their size, so that each worker has
	 * the next at hand while it runs one; and it wakes the sleepers of
	 * helpers_wake, where they sleep, whenever it has room again. */
	atomic_uint helping;
	struct pr_queue *helpers_wake;
};

/*
 * A worker thread of one stage that also runs the items of the stage
 * before it (see `help` below): a worker process's feeder, say, reads
 * the next file itself when its worker is about to run dry, and sends it
 * on at once, rather than wait for a thread of the read stage to hand it
 * over.
 */
struct pr_helper {
	struct pr_stage_run *sr;     /* the stage before, whose items it runs */
	struct pr_stage_inst *inst;  /* the state of that stage it runs them with */
	int own_inst;                /* opened for this helper */
	unsigned slot;               /* the executor's */
	int asleep;                  /* the executor's */
};

struct pr_executor {
	const char *name; /* as --plan and --stats name it */
	/* Items each worker takes ahead, besides the one it runs, when they
	 * fit the stage's bounds (a stage always admits one item per worker,
	 * and one more waiting, whatever their size). */
	unsigned ahead;
	/* Items a worker takes at once, at most, when they are small (0: a
	 * few); with ahead, this sizes the stage's bound. */
	unsigned batch;
	/* Opens the stage's states and starts the workers.  Returns 0, or -1
	 * with *ERR set (freed by the caller). */
	int (*start)(struct pr_stage_run *sr, char **err);
	/* Takes ITEMS (and their ownership, leaving the list empty) into the
	 * stage, in order; they have been admitted, so it does not wait. */
	void (*submit)(struct pr_stage_run *sr, struct pr_item_list *items);
	/* No more items will come: returns once every submitted item's results
	 * have been delivered. */
	void (*drain)(struct pr_stage_run *sr);
	/* Stops the workers and closes the states. */
	void (*stop)(struct pr_stage_run *sr);
	/* The run is being interrupted: stop work in flight now (kill worker
	 * processes); called from another thread; may be NULL. */
	void (*cancel)(struct pr_stage_run *sr);
	/* May be NULL.  The workers of the next stage run some of SR's items
	 * themselves while SR's items compute rather than wait: attach makes
	 * H, in the calling thread, one of them, and from then on a push to
	 * SR's queue also wakes the sleepers of WAKE, where H sleeps; it
	 * returns 0, or -1 when SR's items never run so.  help runs SR's next
	 * queued item in the calling thread, when SR's items are seen to
	 * compute and may start and SR's own workers run none, and its
	 * results go on at once, with
	 * pr_stage_run_finish_nowait(); it returns 1 when it ran one, 0 when
	 * none may run now, -1 once none ever will.  While helpers may run
	 * SR's items, SR's own workers leave them to them.  detach ends H's
	 * help, from the thread that attached it. */
	int (*help_attach)(struct pr_stage_run *sr, struct pr_helper *h, struct pr_queue *wake);
	int (*help)(struct pr_stage_run *sr, struct pr_helper *h);
	void (*help_detach)(struct pr_stage_run *sr, struct pr_helper *h);
	/* H goes to sleep (ASLEEP 1) until its own stage has items or room,
	 * or a push to SR's queue wakes it; or it woke.  While every helper
	 * sleeps, SR's own workers run its items again. */
	void (*help_sleep)(struct pr_stage_run *sr, struct pr_helper *h, int asleep);
};

extern const struct pr_executor pr_exec_sync;    /* inline, under --sync */
extern const struct pr_executor pr_exec_serial;  /* one thread, in order: sync stages */
extern const struct pr_executor pr_exec_threads; /* a pool of threads: io stages */
extern const struct pr_executor pr_exec_procs;   /* worker processes: cpu stages */
extern const struct pr_executor pr_exec_omp;     /* OpenMP batches: cpu, thread-safe */

/* The executor that runs stage C: its tag's, or pr_exec_sync under SYNC. */
const struct pr_executor *pr_executor_for(const struct pr_stage_conf *c, int sync);

/* The bounds of a stage run by EX with WORKERS workers: at most this many
 * items, and
 * (but for one) at most pr_bound_bytes_for() bytes of them: many small
 * items, so that workers can take them in batches, or a few large ones. */
unsigned pr_bound_for(const struct pr_executor *ex, unsigned workers);
uint64_t pr_bound_bytes_for(const struct pr_executor *ex, unsigned workers);

/* How many workers stage C gets: JOBS (from -j, 0 for none) for cpu
 * stages, else its `workers`, else the auto default; 1 under SYNC. */
unsigned pr_workers_for(const struct pr_stage_conf *c, unsigned jobs, int sync);

/* The CPUs online, at least 1. */
unsigned pr_online_cpus(void);

/*
 * Runs the stage on ITEM through INST, following its on_error policy
 * (pr_stage_try()), and counts the outcome with pr_stage_run_account().
 * Returns 0 with the results appended to OUT, or -1 when the item failed.
 * ITEM stays the caller's.  Safe to call from several threads.
 */
int pr_stage_run_call(struct pr_stage_run *sr, struct pr_stage_inst *inst, struct pr_item *item,
                      struct pr_item_list *out);

/*
 * Counts one finished item of SR: ok (emitting NOUT items) when ERR is
 * NULL, else failed, which is reported with ERR and stops the run unless
 * the stage skips failures; but an item that fails while the run is being
 * interrupted counts as interrupted, without a message.  SLICE says when
 * and where it ran (NULL: it did not run).
 */
struct pr_slice {
	double start, end; /* pr_now() seconds */
	long pid, tid;     /* the worker's process and thread */
};
void pr_stage_run_account(struct pr_stage_run *sr, const char *name, size_t nout,
                          const char *err, const struct pr_slice *slice);

/* The executor runs at most N items at once for now, fewer than its
 * workers or again as many: the bytes of the results the stage may hold,
 * pr_bound_bytes_for() N workers, and the items it admits whatever their
 * size, N + 1, follow. */
void pr_stage_run_running(struct pr_stage_run *sr, unsigned n);

/* 1 once the run is being interrupted: work in flight should stop. */
int pr_stage_run_cancelled(const struct pr_stage_run *sr);

/* Whether input SEQ comes after the one whose failure stopped the run
 * (order: input): its results would be dropped, so it is not worth
 * starting.  Such an input is handed back as an outcome that did not run,
 * with no error and no results; it counts as interrupted. */
int pr_stage_run_past_cut(const struct pr_stage_run *sr, uint64_t seq);

/* Reports a message about SR (a whole line) to the user. */
void pr_stage_run_message(struct pr_stage_run *sr, const char *line);

/* Adds WAIT seconds of a worker waiting for items to SR's statistics. */
void pr_stage_run_waited(struct pr_stage_run *sr, double wait);

/*
 * Whether input SEQ may be run now: not while the stage holds more than its
 * bytes in results that wait for an earlier input (order: input), unless
 * SEQ is that earliest input.  An executor whose workers take several items
 * at a time calls it, so that a worker far ahead does not pile up large
 * results that cannot leave yet (reading files ahead of a slow one, say).
 * With WAIT it waits until SEQ may run, and returns 1; without, it returns
 * 0 when SEQ would have to wait.  A worker must deliver every result it
 * holds before it waits.
 */
int pr_stage_run_may_start(struct pr_stage_run *sr, uint64_t seq, int wait);

/* What running one input gave, for pr_stage_run_finish(). */
struct pr_outcome {
	struct pr_item *item;         /* the input, still the caller's */
	size_t in_len;                /* its bytes when it came (a stage that takes
	                                 its input leaves the item none) */
	struct pr_item_list results;
	char *err;                    /* NULL when it succeeded */
	struct pr_slice slice;        /* when and where it ran, if it did */
	int ran;
};

/* Runs the stage on ITEM as pr_stage_run_call() does, but leaves counting
 * and delivering the outcome, recorded in *O, to pr_stage_run_finish().
 * *CLOCK is when the item starts, when the caller knows it (the end of the
 * item before, run right before it), else 0; it is set to when it ended. */
void pr_stage_run_exec(struct pr_stage_run *sr, struct pr_stage_inst *inst, struct pr_item *item,
                       struct pr_outcome *o, double *clock);

/* Counts and delivers the N outcomes at O, taking the stage's lock once:
 * pr_stage_run_account() and pr_stage_run_deliver() for each.  Their
 * errors and inputs are freed and their results handed on. */
void pr_stage_run_finish(struct pr_stage_run *sr, struct pr_outcome *o, size_t n);

/* As pr_stage_run_finish(), for a worker of the next stage that ran the
 * items (see `help` in struct pr_executor): it never waits, neither for
 * the thread passing SR's results on nor for room in the next stage, its
 * own, which the results enter past its bounds if need be: waiting for
 * room there, it could wait for itself.  What SR holds bounds them. */
void pr_stage_run_finish_nowait(struct pr_stage_run *sr, struct pr_outcome *o, size_t n);

/* Whether SR, a stage whose workers run the items of the stage before
 * (see `help` in struct pr_executor), has room for one more input. */
int pr_stage_run_roomy(struct pr_stage_run *sr);

/* Outcomes a worker thread holds before it delivers them with
 * pr_stage_run_finish(): a few small items' worth, so that it takes the
 * stage's lock once for several, but no later than PR_HOLD_TIME after the
 * first was done, so that results do not wait behind slow items. */
#define PR_HOLD_ITEMS 64
#define PR_HOLD_BYTES (64 * 1024)
#define PR_HOLD_TIME  0.001

/* Whether the N outcomes held at HELD, whose results hold BYTES, are to
 * be delivered now: they are many, or large, or slow to come, or the last
 * one did not run. */
int pr_held_due(const struct pr_outcome *held, size_t n, size_t bytes);

/* Hands the results of input SEQ, which held IN_LEN bytes, to the engine
 * (possibly none), which passes them on in order; FAILED when the input
 * failed (and was counted so with pr_stage_run_account()).  Unlike a
 * failure the stage reports (pr_stage_run_finish()), one delivered here,
 * the loss of a worker process, does not end the stage's output: the
 * other items in flight still come out. */
void pr_stage_run_deliver(struct pr_stage_run *sr, uint64_t seq, size_t in_len,
                          struct pr_item_list *results, int failed);

/* The calling thread has time to spare while it hands results on
 * (SPARE 1), or no longer (0): a worker process's feeder, say, whose
 * worker runs its next batch meanwhile.  An executor may then run items
 * handed to it in that thread, rather than wake one of its own. */
void pr_thread_spare(int spare);
int pr_thread_is_spare(void);

/* Opens one state of SR's stage; reports to the engine on failure. */
struct pr_stage_inst *pr_stage_run_open(struct pr_stage_run *sr, char **err);

#endif
