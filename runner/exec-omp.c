/*
 * exec-omp.c: the OpenMP executor for thread-safe cpu stages: a dispatcher
 * thread opens one OpenMP parallel region for the run, whose threads take
 * items from the queue and run them on one shared state.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "runner/executor.h"
#include "runner/queue.h"
#include "runner/util.h"

#ifdef _OPENMP

struct omp {
	struct pr_stage_run *sr;
	struct pr_queue queue;
	struct pr_stage_inst *inst;
	pthread_t dispatcher;
	int running;
};

static void *
omp_dispatch(void *arg)
{
	struct omp *o = arg;
	struct pr_stage_run *sr = o->sr;

	/* One parallel region for the whole run: each thread of the team takes
	 * items from the queue and delivers their results itself.  A thread
	 * with nothing to do sleeps on the queue; with a region per batch, the
	 * team would wait at its end for the batch's slowest item, and then
	 * spin, using CPUs the stage's neighbours need, until the next. */
#pragma omp parallel num_threads(sr->workers)
	{
		struct pr_item_list batch = { 0 };
		/* Up to a fair share of the queued items at once; their
		 * outcomes are held and delivered as a thread pool's are. */
		struct pr_outcome held[PR_HOLD_ITEMS];
		size_t n = 0, bytes = 0;
		double waited, clock;

		pr_thread_name(sr->conf->name);
		while (pr_queue_pop(&o->queue, PR_HOLD_ITEMS, sr->workers, &batch, &waited) > 0) {
			pr_stage_run_waited(sr, waited);
			clock = 0;
			while (batch.head != NULL) {
				struct pr_outcome *h = &held[n++];
				pr_stage_run_exec(sr, o->inst, pr_item_list_pop(&batch), h, &clock);
				for (struct pr_item *r = h->results.head; r != NULL; r = r->next)
					bytes += r->len;
				if (batch.head == NULL || pr_held_due(held, n, bytes)) {
					pr_stage_run_finish(sr, held, n);
					n = bytes = 0;
					clock = 0;
				}
			}
		}
	}
	return NULL;
}

static void
omp_stop(struct pr_stage_run *sr)
{
	struct omp *o = sr->ex_data;

	if (o == NULL)
		return;
	pr_queue_close(&o->queue);
	if (o->running)
		pthread_join(o->dispatcher, NULL);
	pr_stage_close(o->inst);
	pr_queue_destroy(&o->queue);
	free(o);
	sr->ex_data = NULL;
}

static int
omp_start(struct pr_stage_run *sr, char **err)
{
	struct omp *o = pr_calloc(1, sizeof(*o));
	int rc;

	o->sr = sr;
	pr_queue_init(&o->queue);
	sr->ex_data = o;
	/* The loader refuses openmp for stages that are not thread-safe. */
	o->inst = pr_stage_run_open(sr, err);
	if (o->inst == NULL) {
		omp_stop(sr);
		return -1;
	}
	rc = pr_thread_start(&o->dispatcher, omp_dispatch, o, sr->conf->name);
	if (rc != 0) {
		*err = pr_asprintf("piperun: stage '%s': cannot start a thread: %s", sr->conf->name,
		                   strerror(rc));
		omp_stop(sr);
		return -1;
	}
	o->running = 1;
	return 0;
}

static void
omp_submit(struct pr_stage_run *sr, struct pr_item_list *items)
{
	struct omp *o = sr->ex_data;

	pr_queue_push_list(&o->queue, items);
}

static void
omp_drain(struct pr_stage_run *sr)
{
	struct omp *o = sr->ex_data;

	pr_queue_close(&o->queue);
	pthread_join(o->dispatcher, NULL);
	o->running = 0;
}

#else /* !_OPENMP */

/* The loader refuses `executor: openmp` in a build without OpenMP, so
 * these never run a stage. */
static int
omp_start(struct pr_stage_run *sr, char **err)
{
	*err = pr_asprintf("piperun: stage '%s': this piperun was built without OpenMP",
	                   sr->conf->name);
	return -1;
}

static void
omp_submit(struct pr_stage_run *sr, struct pr_item_list *items)
{
	(void)sr;
	pr_item_list_clear(items);
}

static void
omp_drain(struct pr_stage_run *sr)
{
	(void)sr;
}

static void
omp_stop(struct pr_stage_run *sr)
{
	(void)sr;
}

#endif

const struct pr_executor pr_exec_omp = {
	.name = "openmp",
	.start = omp_start,
	.submit = omp_submit,
	.drain = omp_drain,
	.stop = omp_stop,
};
