/*
 * pipeline.c: a validated pipeline, as the loader hands it to the engine.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "runner/pipeline.h"
#include "runner/util.h"

static void
input_clear(struct pr_input *in)
{
	for (size_t i = 0; i < in->count; i++) {
		free(in->written[i]);
		free(in->paths[i]);
	}
	free(in->written);
	free(in->paths);
	in->written = in->paths = NULL;
	in->count = 0;
}

void
pr_pipeline_free(struct pr_pipeline *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nstages; i++) {
		free(p->stages[i].name);
		free(p->stages[i].plugin);
		if (p->stages[i].plugin_handle != NULL)
			dlclose(p->stages[i].plugin_handle);
	}
	free(p->stages);
	input_clear(&p->input);
	pr_yaml_free(&p->doc);
	free(p->text);
	free(p->file);
	free(p->dir);
	free(p->name);
	free(p);
}

const char *
pr_kind_name(enum piperun_kind kind)
{
	switch (kind) {
	case PIPERUN_KIND_IO:
		return "io";
	case PIPERUN_KIND_CPU:
		return "cpu";
	case PIPERUN_KIND_SYNC:
		return "sync";
	default:
		return "none";
	}
}

void
pr_pipeline_set_inputs(struct pr_pipeline *p, char *const *paths, size_t count)
{
	input_clear(&p->input);
	if (p->input.type == PR_INPUT_NONE || p->input.type == PR_INPUT_GLOB)
		p->input.type = PR_INPUT_FILES;
	if (p->input.type == PR_INPUT_BLOCKS && p->input.block_size == 0)
		p->input.block_size = PR_DEFAULT_BLOCK_SIZE;
	p->input.written = pr_calloc(count, sizeof(char *));
	p->input.paths = pr_calloc(count, sizeof(char *));
	for (size_t i = 0; i < count; i++) {
		p->input.written[i] = pr_strdup(paths[i]);
		p->input.paths[i] = pr_strdup(paths[i]);
	}
	p->input.count = count;
}

char *
pr_path_join(const char *dir, const char *path)
{
	if (path[0] == '/' || dir == NULL || dir[0] == '\0' || strcmp(dir, ".") == 0)
		return pr_strdup(path);
	return pr_asprintf("%s/%s", dir, path);
}

char *
pr_glob_escape(const char *s)
{
	char *out = pr_malloc(2 * strlen(s) + 1), *w = out;

	for (; *s != '\0'; s++) {
		if (strchr("*?[\\", *s) != NULL)
			*w++ = '\\';
		*w++ = *s;
	}
	*w = '\0';
	return out;
}
