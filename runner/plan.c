/*
 * plan.c: how each stage of a pipeline will run, for --plan.
 */
#include "config.h"

#include <string.h>

#include "runner/executor.h"
#include "runner/plan.h"

void
pr_plan_print(FILE *f, const struct pr_pipeline *p, const struct pr_run_opts *o)
{
	unsigned in_flight = 0, in_flight_mib = 0;
	int width = 5;

	for (size_t i = 0; i < p->nstages; i++)
		if ((int)strlen(p->stages[i].name) > width)
			width = (int)strlen(p->stages[i].name);
	fprintf(f, "pipeline %s (%s): %zu stage%s, order %s\n", p->name, p->file, p->nstages,
	        p->nstages == 1 ? "" : "s", p->order == PR_ORDER_ANY ? "any" : "input");
	fprintf(f, "%-*s  %-4s  %-10s  %7s  %5s  %s\n", width, "stage", "kind", "executor", "workers",
	        "queue", "bytes");
	for (size_t i = 0; i < p->nstages; i++) {
		const struct pr_stage_conf *c = &p->stages[i];
		unsigned workers = pr_workers_for(c, o->jobs, o->sync);
		unsigned bound = o->sync ? 1 : pr_bound_for(pr_executor_for(c, o->sync), workers);

		in_flight += bound;
		unsigned mib = o->sync ? 0 : (unsigned)(pr_bound_bytes_for(pr_executor_for(c, o->sync), workers) >> 20);
		in_flight_mib += mib;
		if (o->sync)
			fprintf(f, "%-*s  %-4s  %-10s  %7u  %5u  -\n", width, c->name,
			        pr_kind_name(c->kind), pr_executor_for(c, o->sync)->name, workers, bound);
		else
			fprintf(f, "%-*s  %-4s  %-10s  %7u  %5u  %u MiB\n", width, c->name,
			        pr_kind_name(c->kind), pr_executor_for(c, o->sync)->name, workers, bound,
			        mib);
	}
	if (o->sync)
		fprintf(f, "in flight: at most %u items\n", in_flight);
	else
		fprintf(f, "in flight: at most %u items and, but for the large items a worker always may hold, %u MiB\n",
		        in_flight, in_flight_mib);
}
