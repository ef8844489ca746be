/*
 * stage.h: running one stage on one item, for the stage tests.
 */
#ifndef TAP_STAGE_H
#define TAP_STAGE_H

#include "runner/item.h"
#include "runner/stage.h"

/* A stage opened from a one-stage pipeline file in the test's temporary
 * folder.  STAGE is the YAML flow mapping of the stage, e.g.
 * "{name: w, run: write, with: {dir: out}}". */
struct test_stage {
	struct pr_pipeline *p;
	struct pr_stage_inst *inst;
};

/* Returns 0, or -1 after a diagnostic (the stage did not open). */
int test_stage_open(struct test_stage *t, const char *stage);
void test_stage_close(struct test_stage *t);

/* Runs the stage on an item NAME (with PATH, may be NULL) holding LEN bytes
 * of DATA.  Returns what pr_stage_process() returns; *OUT receives the
 * items, *ERR the message of a failure (both the caller's). */
int test_stage_run(struct test_stage *t, const char *name, const char *path, const void *data,
                   size_t len, struct pr_item_list *out, char **err);

#endif
