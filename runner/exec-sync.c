/*
 * exec-sync.c: the sequential executor: one item at a time, in order, on
 * the calling thread.
 */
#include "config.h"

#include "runner/executor.h"

static int
sync_start(struct pr_stage_run *sr, char **err)
{
	sr->ex_data = pr_stage_run_open(sr, err);
	return sr->ex_data != NULL ? 0 : -1;
}

static void
sync_submit(struct pr_stage_run *sr, struct pr_item_list *items)
{
	struct pr_item *item;
	double clock = 0;

	/* Each item is counted and its results passed on before the next. */
	while ((item = pr_item_list_pop(items)) != NULL) {
		struct pr_outcome o;
		pr_stage_run_exec(sr, sr->ex_data, item, &o, &clock);
		pr_stage_run_finish(sr, &o, 1);
		clock = 0; /* passing results on may have waited */
	}
}

static void
sync_drain(struct pr_stage_run *sr)
{
	(void)sr; /* every item was finished by submit() */
}

static void
sync_stop(struct pr_stage_run *sr)
{
	pr_stage_close(sr->ex_data);
	sr->ex_data = NULL;
}

const struct pr_executor pr_exec_sync = {
	.name = "sequential",
	.start = sync_start,
	.submit = sync_submit,
	.drain = sync_drain,
	.stop = sync_stop,
};
