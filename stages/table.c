/*
 * table.c: the table of built-in stages.
 */
#include "config.h"

#include <string.h>

#include "stages/stages.h"

const struct piperun_stage *const pr_builtin_stages[] = {
	&pr_stage_read,
	&pr_stage_write,
	&pr_stage_clean,
	&pr_stage_exec,
	&pr_stage_grep,
	&pr_stage_split,
	&pr_stage_gzip,
	&pr_stage_hash,
	&pr_stage_count,
	NULL
};

const struct piperun_stage *
pr_builtin_find(const char *name)
{
	for (size_t i = 0; pr_builtin_stages[i] != NULL; i++)
		if (strcmp(pr_builtin_stages[i]->name, name) == 0)
			return pr_builtin_stages[i];
	return NULL;
}
