/*
 * exec-omp.c: the OpenMP executor for thread-safe cpu stages: a dispatcher
 * thread takes batches of items from the queue and runs each batch as an
 * OpenMP parallel loop over one shared state.
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
	size_t max = 4 * (size_t)sr->workers;
	struct pr_item **items = pr_calloc(max, sizeof(*items));
	struct pr_item_list *results = pr_calloc(max, sizeof(*results));
	struct pr_item_list batch = { 0 };
	double waited;
	size_t n;

	while ((n = pr_queue_pop(&o->queue, max, 1, &batch, &waited)) > 0) {
		pr_stage_run_waited(sr, waited);
		for (size_t i = 0; i < n; i++) {
			items[i] = pr_item_list_pop(&batch);
			results[i] = (struct pr_item_list){ 0 };
		}
#pragma omp parallel for num_threads(sr->workers) schedule(dynamic, 1)
		for (size_t i = 0; i < n; i++)
			pr_stage_run_call(sr, o->inst, items[i], &results[i]);
		for (size_t i = 0; i < n; i++) {
			uint64_t seq = items[i]->seq;
			size_t len = items[i]->len;
			pr_item_free(items[i]);
			pr_stage_run_deliver(sr, seq, len, &results[i]);
		}
	}
	free(items);
	free(results);
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
	rc = pr_thread_start(&o->dispatcher, omp_dispatch, o);
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
