/*
 * plan.h: how each stage of a pipeline will run, for --plan.
 */
#ifndef PR_PLAN_H
#define PR_PLAN_H

#include <stdio.h>

#include "runner/engine.h"
#include "runner/pipeline.h"

/* Prints P's plan under the run options O to F: a header line, then one
 * line per stage with its name, kind, executor and workers. */
void pr_plan_print(FILE *f, const struct pr_pipeline *p, const struct pr_run_opts *o);

#endif
