/*
 * loader.h: a pipeline file, read and validated.
 */
#ifndef PR_LOADER_H
#define PR_LOADER_H

#include "runner/diag.h"
#include "runner/pipeline.h"

/* 1 when this piperun was built with OpenMP. */
extern const int pr_have_openmp;

struct pr_load_opts {
	int have_inputs; /* INPUT arguments were given: `input:` may be left out */
};

/*
 * Loads the pipeline file PATH: parses it, checks every key, loads plugins
 * and opens every stage in checking mode to validate its options.  Every
 * error and warning goes to D, which must have been initialised with PATH.
 * Returns the pipeline (owned by the caller, see pr_pipeline_free()), or
 * NULL when the file has errors.
 */
struct pr_pipeline *pr_pipeline_load(const char *path, const struct pr_load_opts *o,
                                     struct pr_diag *d);

/* The same for a pipeline given as TEXT, as if read from PATH (tests). */
struct pr_pipeline *pr_pipeline_load_text(const char *path, const char *text, size_t len,
                                          const struct pr_load_opts *o, struct pr_diag *d);

#endif
