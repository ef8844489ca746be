/*
 * executor.c: which executor runs a stage, with how many workers, and how
 * many items it may hold.
 */
#include "config.h"

#include <unistd.h>

#include "runner/executor.h"

const struct pr_executor *
pr_executor_for(const struct pr_stage_conf *c, int sync)
{
	if (sync)
		return &pr_exec_sync;
	switch (c->kind) {
	case PIPERUN_KIND_IO:
		return &pr_exec_threads;
	case PIPERUN_KIND_CPU:
		return c->executor == PR_EXECUTOR_OPENMP ? &pr_exec_omp : &pr_exec_procs;
	default:
		return &pr_exec_serial;
	}
}

unsigned
pr_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

unsigned
pr_workers_for(const struct pr_stage_conf *c, unsigned jobs, int sync)
{
	if (sync || c->kind == PIPERUN_KIND_SYNC)
		return 1;
	if (c->kind == PIPERUN_KIND_CPU && jobs > 0)
		return jobs;
	if (c->workers > 0)
		return c->workers;
	if (c->kind == PIPERUN_KIND_CPU)
		return pr_online_cpus();
	/* io: sized for waiting, not for cores. */
	return pr_online_cpus() * 4 > 8 ? pr_online_cpus() * 4 : 8;
}

unsigned
pr_bound_for(const struct pr_executor *ex, unsigned workers)
{
	/* Room for every worker to take a batch while another one waits;
	 * for an executor that takes large batches, room for each worker to
	 * run one and have the next behind it, even while the results of a
	 * later batch wait in the reorder buffer for an earlier one. */
	unsigned batches = ex->batch * (1 + ex->ahead) * workers + 64;

	return batches > 64 * (workers + 1) ? batches : 64 * (workers + 1);
}

uint64_t
pr_bound_bytes_for(const struct pr_executor *ex, unsigned workers)
{
	/* Every worker busy with a 1 MiB item, its result, and as many for
	 * each item it takes ahead; and one more waiting. */
	return (uint64_t)(2 * (1 + ex->ahead) * workers + 2) << 20;
}

int
pr_held_due(const struct pr_outcome *held, size_t n, size_t bytes)
{
	return n == PR_HOLD_ITEMS || bytes >= PR_HOLD_BYTES || !held[n - 1].ran ||
	       held[n - 1].slice.end - held[0].slice.start >= PR_HOLD_TIME;
}
