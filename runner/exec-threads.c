/*
 * exec-threads.c: the thread pool executor for io stages, and its
 * one-thread form for sync stages in a parallel run.
 *
 * Workers take items from one queue.  A stage that declares itself
 * thread-safe is opened once and shared; any other is opened once per
 * worker.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runner/executor.h"
#include "runner/queue.h"
#include "runner/util.h"

struct pool {
	struct pr_stage_run *sr;
	struct pr_queue queue;
	pthread_t *threads;
	unsigned nthreads;         /* started */
	unsigned nthreads_max;     /* to start */
	struct pr_stage_inst **insts;
	unsigned ninsts;
};

struct worker_arg {
	struct pool *pool;
	struct pr_stage_inst *inst;
};

/* Outcomes a worker holds before it delivers them: a few small items'
 * worth, so that it takes the stage's lock once for several. */
#define HOLD_ITEMS 8
#define HOLD_BYTES (64 * 1024)
#define HOLD_TIME  0.001

/* Counts and delivers the *N outcomes at HELD, frees their inputs. */
static void
deliver_held(struct pr_stage_run *sr, struct pr_outcome *held, size_t *n, size_t *bytes)
{
	pr_stage_run_finish(sr, held, *n);
	for (size_t i = 0; i < *n; i++)
		pr_item_free(held[i].item);
	*n = *bytes = 0;
}

static void *
pool_worker(void *arg)
{
	struct worker_arg *w = arg;
	struct pool *pool = w->pool;
	struct pr_stage_run *sr = pool->sr;
	struct pr_item_list batch = { 0 };
	struct pr_outcome held[HOLD_ITEMS];
	size_t nheld = 0, bytes = 0;
	double waited, clock;

	/* A few items at a time when many wait (one wake-up for several),
	 * never more than a fair share of what is queued. */
	while (pr_queue_pop(&pool->queue, HOLD_ITEMS, pool->nthreads_max, &batch, &waited) > 0) {
		struct pr_item *item;

		pr_stage_run_waited(sr, waited);
		clock = 0;
		while ((item = pr_item_list_pop(&batch)) != NULL) {
			struct pr_outcome *o = &held[nheld];
			if (!pr_stage_run_may_start(sr, item->seq, 0)) {
				/* What this worker holds may be what the stage waits for. */
				deliver_held(sr, held, &nheld, &bytes);
				o = &held[0];
				pr_stage_run_may_start(sr, item->seq, 1);
				clock = 0;
			}
			pr_stage_run_exec(sr, w->inst, item, o, &clock);
			nheld++;
			for (struct pr_item *r = o->results.head; r != NULL; r = r->next)
				bytes += r->len;
			/* Delivered at the end of the batch, or sooner when they are
			 * many, large, or slow to come. */
			if (batch.count == 0 || nheld == HOLD_ITEMS || bytes >= HOLD_BYTES ||
			    !o->ran || o->slice.end - held[0].slice.start >= HOLD_TIME) {
				deliver_held(sr, held, &nheld, &bytes);
				clock = 0;
			}
		}
	}
	free(w);
	return NULL;
}

static void
pool_stop(struct pr_stage_run *sr)
{
	struct pool *pool = sr->ex_data;

	if (pool == NULL)
		return;
	pr_queue_close(&pool->queue);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	for (unsigned i = 0; i < pool->ninsts; i++)
		pr_stage_close(pool->insts[i]);
	pr_queue_destroy(&pool->queue);
	free(pool->threads);
	free(pool->insts);
	free(pool);
	sr->ex_data = NULL;
}

static int
pool_start(struct pr_stage_run *sr, unsigned nthreads, char **err)
{
	struct pool *pool = pr_calloc(1, sizeof(*pool));
	int shared = (sr->conf->desc->flags & PIPERUN_STAGE_THREAD_SAFE) != 0;

	pool->sr = sr;
	pool->nthreads_max = nthreads;
	pr_queue_init(&pool->queue);
	pool->threads = pr_calloc(nthreads, sizeof(*pool->threads));
	pool->insts = pr_calloc(nthreads, sizeof(*pool->insts));
	sr->ex_data = pool;
	for (unsigned i = 0; i < (shared ? 1 : nthreads); i++) {
		pool->insts[i] = pr_stage_run_open(sr, err);
		if (pool->insts[i] == NULL) {
			pool_stop(sr);
			return -1;
		}
		pool->ninsts++;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		struct worker_arg *w = pr_calloc(1, sizeof(*w));
		int rc;

		w->pool = pool;
		w->inst = pool->insts[shared ? 0 : i];
		rc = pr_thread_start(&pool->threads[i], pool_worker, w);
		if (rc != 0) {
			free(w);
			*err = pr_asprintf("piperun: stage '%s': cannot start a thread: %s",
			                   sr->conf->name, strerror(rc));
			pool_stop(sr);
			return -1;
		}
		pool->nthreads++;
	}
	return 0;
}

static int
threads_start(struct pr_stage_run *sr, char **err)
{
	return pool_start(sr, sr->workers, err);
}

static int
serial_start(struct pr_stage_run *sr, char **err)
{
	return pool_start(sr, 1, err);
}

static void
pool_submit(struct pr_stage_run *sr, struct pr_item_list *items)
{
	struct pool *pool = sr->ex_data;

	pr_queue_push_list(&pool->queue, items);
}

static void
pool_drain(struct pr_stage_run *sr)
{
	struct pool *pool = sr->ex_data;

	/* Workers finish what is queued, deliver it, and exit. */
	pr_queue_close(&pool->queue);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pool->nthreads = 0;
}

const struct pr_executor pr_exec_threads = {
	.name = "threads",
	.start = threads_start,
	.submit = pool_submit,
	.drain = pool_drain,
	.stop = pool_stop,
};

const struct pr_executor pr_exec_serial = {
	.name = "sequential",
	.start = serial_start,
	.submit = pool_submit,
	.drain = pool_drain,
	.stop = pool_stop,
};
