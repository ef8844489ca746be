/*
 * stage.c: running one stage on one item, for the stage tests.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "runner/loader.h"
#include "runner/util.h"
#include "tests/tap/basic.h"
#include "tests/tap/stage.h"

int
test_stage_open(struct test_stage *t, const char *stage)
{
	struct pr_load_opts o = { .have_inputs = 1 };
	char *text = pr_asprintf("stages:\n  - %s\n", stage);
	char *path = pr_asprintf("%s/p.yml", test_tmpdir());
	struct pr_diag d;

	memset(t, 0, sizeof(*t));
	pr_diag_init(&d, path);
	t->p = pr_pipeline_load_text(path, text, strlen(text), &o, &d);
	if (t->p != NULL)
		t->inst = pr_stage_open(t->p, &t->p->stages[0], 0, &d);
	for (size_t i = 0; i < d.count; i++)
		diag("%s", d.msgs[i]);
	pr_diag_free(&d);
	free(text);
	free(path);
	return t->inst != NULL ? 0 : -1;
}

void
test_stage_close(struct test_stage *t)
{
	pr_stage_close(t->inst);
	pr_pipeline_free(t->p);
	memset(t, 0, sizeof(*t));
}

int
test_stage_run(struct test_stage *t, const char *name, const char *path, const void *data,
               size_t len, struct pr_item_list *out, char **err)
{
	unsigned char *copy = NULL;
	struct pr_item *item;
	int rc;

	if (len > 0) {
		copy = pr_malloc(len);
		memcpy(copy, data, len);
	}
	item = pr_item_new(name, path, copy, len, NULL);
	*err = NULL;
	rc = pr_stage_process(t->inst, item, out, err);
	pr_item_free(item);
	return rc;
}
