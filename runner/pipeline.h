/*
 * pipeline.h: a validated pipeline, as the loader hands it to the engine.
 */
#ifndef PR_PIPELINE_H
#define PR_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "runner/diag.h"
#include "runner/yaml.h"
#include "stages/piperun-stage.h"

enum pr_input_type { PR_INPUT_NONE, PR_INPUT_GLOB, PR_INPUT_FILES, PR_INPUT_LINES, PR_INPUT_BLOCKS };
enum pr_order { PR_ORDER_INPUT, PR_ORDER_ANY };
enum pr_executor_pref { PR_EXECUTOR_PROCESS, PR_EXECUTOR_OPENMP };
enum pr_on_error { PR_ON_ERROR_FAIL, PR_ON_ERROR_SKIP, PR_ON_ERROR_RETRY };

#define PR_DEFAULT_BLOCK_SIZE (1u << 20)
#define PR_DEFAULT_RETRIES    3
#define PR_MAX_WORKERS        1024
#define PR_MAX_STAGE_NAME     64

/* The source of items. */
struct pr_input {
	enum pr_input_type type;
	struct pr_mark mark;
	char **written;   /* patterns or paths as written (for names); owned */
	char **paths;     /* the same, resolved against the base directory; owned */
	size_t count;
	const char *base;    /* the folder relative paths were joined to */
	uint64_t block_size; /* blocks only */
};

/* One stage as the pipeline file describes it. */
struct pr_stage_conf {
	char *name;
	struct pr_mark mark;           /* the stage's mapping */
	enum piperun_kind kind;
	const struct piperun_stage *desc;
	char *plugin;                  /* resolved path of a plugin, or NULL */
	void *plugin_handle;           /* dlopen handle, or NULL for a built-in */
	const struct pr_node *with;    /* options, or NULL */
	enum pr_executor_pref executor;
	unsigned workers;              /* 0 = auto */
	enum pr_on_error on_error;
	unsigned retries;
	double timeout;                /* seconds; 0 = none */
};

struct pr_pipeline {
	char *file;        /* as the user named it */
	char *dir;         /* its directory: the base of relative paths */
	char *name;        /* the `name:` key, or the file's stem */
	unsigned version;
	struct pr_input input;
	enum pr_order order;
	struct pr_stage_conf *stages;
	size_t nstages;
	struct pr_yaml doc; /* the parsed file, which `with:` options point into */
	char *text;         /* the file as read, for worker processes */
	size_t text_len;
};

/* Frees P and everything it owns; closes plugins.  Accepts NULL. */
void pr_pipeline_free(struct pr_pipeline *p);

/* The words pipeline files and --plan use. */
const char *pr_kind_name(enum piperun_kind kind);

/* Replaces P's input files with COUNT paths relative to the current
 * directory, keeping the kind of source (glob becomes files).  The names
 * are the paths as given. */
void pr_pipeline_set_inputs(struct pr_pipeline *p, char *const *paths, size_t count);

/* Returns a copy of S with the glob(3) characters *?[\\ escaped. */
char *pr_glob_escape(const char *s);

/* Joins a relative PATH to DIR; an absolute PATH is returned as is.
 * Returns memory the caller frees. */
char *pr_path_join(const char *dir, const char *path);

#endif
