/*
 * stages.h: the table of built-in stages.
 */
#ifndef PR_STAGES_H
#define PR_STAGES_H

#include "stages/piperun-stage.h"

/* Every built-in stage, in the order --list-stages prints them; ends with
 * NULL. */
extern const struct piperun_stage *const pr_builtin_stages[];

/* Returns the built-in stage called NAME, or NULL. */
const struct piperun_stage *pr_builtin_find(const char *name);

extern const struct piperun_stage pr_stage_read;
extern const struct piperun_stage pr_stage_write;
extern const struct piperun_stage pr_stage_clean;
extern const struct piperun_stage pr_stage_exec;
extern const struct piperun_stage pr_stage_grep;
extern const struct piperun_stage pr_stage_split;
extern const struct piperun_stage pr_stage_gzip;
extern const struct piperun_stage pr_stage_hash;
extern const struct piperun_stage pr_stage_count;

#endif
