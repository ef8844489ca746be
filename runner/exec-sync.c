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

	while ((item = pr_item_list_pop(items)) != NULL) {
		struct pr_item_list results = { 0 };
		uint64_t seq = item->seq;
		size_t len = item->len;

		pr_stage_run_call(sr, sr->ex_data, item, &results);
		pr_item_free(item);
		pr_stage_run_deliver(sr, seq, len, &results);
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
