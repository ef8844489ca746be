/*
 * loader.c: a pipeline file, read and validated.
 *
 * The YAML tree is walked through tables of {key, handler}; unknown keys and
 * their "did you mean" come from one place, walk().  Every error is
 * reported with its file:line:col and the walk goes on, so one run shows
 * every mistake in the file.
 */
#include "config.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/loader.h"
#include "runner/plugin.h"
#include "runner/stage.h"
#include "runner/units.h"
#include "runner/util.h"
#include "stages/stages.h"

#ifdef _OPENMP
const int pr_have_openmp = 1;
#else
const int pr_have_openmp = 0;
#endif

struct loader {
	struct pr_pipeline *p;
	struct pr_diag *d;
	char *ctx;           /* " in stage 'x'", " in input" ...: where a key is */
	int in_defaults;
};

/* A stage while its keys are read: the conf and where each key was set. */
struct stage_build {
	struct pr_stage_conf c;
	const struct pr_node *name, *kind, *run, *plugin, *executor, *workers, *on_error, *retries;
	int executor_here, workers_here, retries_here; /* set by the stage, not defaults */
};

typedef void key_fn(struct loader *L, void *target, const struct pr_node *v);

struct key {
	const char *name;
	key_fn *fn;
};

/* Reports that V, the value of KEY, is not WANT. */
static void
bad(struct loader *L, const char *key, const struct pr_node *v, const char *want)
{
	if (v->type == PR_NODE_SCALAR && !pr_node_is_null(v))
		pr_diag_error(L->d, v->mark, "'%s'%s must be %s, not '%s'", key, L->ctx, want, v->value);
	else
		pr_diag_error(L->d, v->mark, "'%s'%s must be %s, not %s", key, L->ctx, want,
		              pr_node_what(v));
}

static int
is_string(const struct pr_node *v)
{
	return v->type == PR_NODE_SCALAR && !pr_node_is_null(v);
}

/* Matches V against WORDS; returns the index or -1 after reporting. */
static int
word(struct loader *L, const char *key, const struct pr_node *v, const char *const *words,
     const char *want)
{
	if (is_string(v))
		for (int i = 0; words[i] != NULL; i++)
			if (strcmp(v->value, words[i]) == 0)
				return i;
	bad(L, key, v, want);
	return -1;
}

/* Reads a plain whole number in [MIN, MAX]; -1 after reporting. */
static long long
number(struct loader *L, const char *key, const struct pr_node *v, long long min, long long max,
       const char *want)
{
	char *end;
	long long n;

	if (v->type == PR_NODE_SCALAR && !v->quoted && v->value[0] != '\0') {
		n = strtoll(v->value, &end, 10);
		if (*end == '\0' && n >= min && n <= max)
			return n;
	}
	bad(L, key, v, want);
	return -1;
}

/* Walks map V with KEYS, calling each key's handler; reports unknown keys
 * (keys starting with "x-" are ignored where ALLOW_X). */
static void
walk(struct loader *L, const struct pr_node *v, const struct key *keys, void *target, int allow_x)
{
	const char *names[32];
	size_t n = 0;

	for (; keys[n].name != NULL; n++)
		names[n] = keys[n].name;
	names[n] = NULL;
	for (size_t i = 0; i < pr_map_len(v); i++) {
		const struct pr_node *k = pr_map_key(v, i);
		size_t j;

		for (j = 0; j < n; j++)
			if (strcmp(k->value, keys[j].name) == 0)
				break;
		if (j < n) {
			keys[j].fn(L, target, pr_map_value(v, i));
			continue;
		}
		if (allow_x && strncmp(k->value, "x-", 2) == 0)
			continue;
		const char *hint = pr_diag_suggest(k->value, names);
		if (hint != NULL)
			pr_diag_error(L->d, k->mark, "unknown key '%s'%s (did you mean '%s'?)", k->value,
			              L->ctx, hint);
		else
			pr_diag_error(L->d, k->mark, "unknown key '%s'%s", k->value, L->ctx);
	}
}

static void
set_ctx(struct loader *L, char *ctx)
{
	free(L->ctx);
	L->ctx = ctx;
}

/* ---- input ---- */

static void
input_set(struct loader *L, enum pr_input_type type, const char *key, const struct pr_node *v)
{
	static const char *const names[] = { "", "glob", "files", "lines", "blocks" };
	struct pr_input *in = &L->p->input;

	if (in->type != PR_INPUT_NONE)
		pr_diag_error(L->d, v->mark, "input takes one source, but has both '%s' and '%s'",
		              names[in->type], key);
	in->type = type;
}

static void
input_add(struct loader *L, const char *written)
{
	struct pr_input *in = &L->p->input;

	in->written = pr_reallocarray(in->written, in->count + 1, sizeof(char *));
	in->paths = pr_reallocarray(in->paths, in->count + 1, sizeof(char *));
	in->written[in->count] = pr_strdup(written);
	if (strcmp(written, "-") == 0) {
		in->paths[in->count] = pr_strdup(written);
	} else if (in->type == PR_INPUT_GLOB) {
		/* The folder is literal, whatever characters its name holds. */
		char *dir = pr_glob_escape(L->p->dir);
		in->paths[in->count] = pr_path_join(dir, written);
		free(dir);
	} else {
		in->paths[in->count] = pr_path_join(L->p->dir, written);
	}
	in->count++;
}

/* A string or a non-empty list of strings. */
static void
input_list(struct loader *L, enum pr_input_type type, const char *key, const struct pr_node *v)
{
	input_set(L, type, key, v);
	if (L->p->input.count > 0)
		return;
	if (is_string(v)) {
		input_add(L, v->value);
		return;
	}
	if (v->type != PR_NODE_SEQ || v->nkids == 0) {
		bad(L, key, v, "a path or a non-empty list of paths");
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		if (is_string(v->kids[i]))
			input_add(L, v->kids[i]->value);
		else
			bad(L, key, v->kids[i], "a path");
	}
}

static void
key_glob(struct loader *L, void *t, const struct pr_node *v)
{
	(void)t;
	input_list(L, PR_INPUT_GLOB, "glob", v);
}

static void
key_files(struct loader *L, void *t, const struct pr_node *v)
{
	(void)t;
	input_list(L, PR_INPUT_FILES, "files", v);
}

static void
key_lines(struct loader *L, void *t, const struct pr_node *v)
{
	(void)t;
	input_set(L, PR_INPUT_LINES, "lines", v);
	if (L->p->input.count > 0)
		return;
	if (is_string(v))
		input_add(L, v->value);
	else
		bad(L, "lines", v, "a path, or \"-\" for standard input");
}

static void
key_block_file(struct loader *L, void *t, const struct pr_node *v)
{
	(void)t;
	if (is_string(v))
		input_add(L, v->value);
	else
		bad(L, "file", v, "a path, or \"-\" for standard input");
}

static void
key_block_size(struct loader *L, void *t, const struct pr_node *v)
{
	uint64_t size;

	(void)t;
	if (v->type == PR_NODE_SCALAR && pr_parse_size(v->value, &size) == 0 && size > 0 &&
	    size <= (uint64_t)1 << 40)
		L->p->input.block_size = size;
	else
		bad(L, "size", v, "a size from 1 byte to 1TiB such as 64k or 1MiB");
}

static const struct key block_keys[] = {
	{ "file", key_block_file },
	{ "size", key_block_size },
	{ NULL, NULL },
};

static void
key_blocks(struct loader *L, void *t, const struct pr_node *v)
{
	(void)t;
	input_set(L, PR_INPUT_BLOCKS, "blocks", v);
	if (L->p->input.count > 0)
		return;
	L->p->input.block_size = PR_DEFAULT_BLOCK_SIZE;
	if (is_string(v)) {
		input_add(L, v->value);
	} else if (v->type == PR_NODE_MAP) {
		char *saved = pr_strdup(L->ctx);
		set_ctx(L, pr_strdup(" in blocks"));
		walk(L, v, block_keys, NULL, 0);
		set_ctx(L, saved);
		if (L->p->input.count == 0)
			pr_diag_error(L->d, v->mark, "blocks needs a 'file'");
	} else {
		bad(L, "blocks", v, "a path or a mapping with 'file' and 'size'");
	}
}

static const struct key input_keys[] = {
	{ "glob", key_glob },
	{ "files", key_files },
	{ "lines", key_lines },
	{ "blocks", key_blocks },
	{ NULL, NULL },
};

/* ---- stages ---- */

static void
key_stage_name(struct loader *L, void *t, const struct pr_node *v)
{
	struct stage_build *b = t;

	if (L->in_defaults) {
		pr_diag_error(L->d, v->mark, "'name' cannot be set in defaults");
		return;
	}
	b->name = v;
	if (!is_string(v)) {
		bad(L, "name", v, "a name of letters, digits, '_' and '-'");
		return;
	}
	/* A quoted "" is a string, but no name that a message could show. */
	if (v->value[0] == '\0') {
		pr_diag_error(L->d, v->mark,
		              "a stage name cannot be empty (1 to %d letters, digits, '_' and '-')",
		              PR_MAX_STAGE_NAME);
		return;
	}
	if (strlen(v->value) > PR_MAX_STAGE_NAME || !pr_stage_name_valid(v->value)) {
		pr_diag_error(L->d, v->mark,
		              "stage name '%s' may hold only letters, digits, '_' and '-' (at most %d)",
		              v->value, PR_MAX_STAGE_NAME);
		return;
	}
	b->c.name = pr_strdup(v->value);
}

static void
key_kind(struct loader *L, void *t, const struct pr_node *v)
{
	static const char *const words[] = { "io", "cpu", "sync", NULL };
	struct stage_build *b = t;
	int i = word(L, "kind", v, words, "io, cpu or sync");

	if (i >= 0) {
		b->c.kind = (enum piperun_kind)(i + 1);
		b->kind = v;
	}
}

static void
key_run(struct loader *L, void *t, const struct pr_node *v)
{
	struct stage_build *b = t;

	if (L->in_defaults) {
		pr_diag_error(L->d, v->mark, "'run' cannot be set in defaults");
		return;
	}
	b->run = v;
	if (!is_string(v))
		bad(L, "run", v, "the name of a built-in stage");
}

static void
key_plugin(struct loader *L, void *t, const struct pr_node *v)
{
	struct stage_build *b = t;

	if (L->in_defaults) {
		pr_diag_error(L->d, v->mark, "'plugin' cannot be set in defaults");
		return;
	}
	b->plugin = v;
	if (!is_string(v))
		bad(L, "plugin", v, "the path of a shared object");
}

static void
key_with(struct loader *L, void *t, const struct pr_node *v)
{
	struct stage_build *b = t;

	if (L->in_defaults) {
		pr_diag_error(L->d, v->mark, "'with' cannot be set in defaults");
		return;
	}
	if (v->type == PR_NODE_MAP)
		b->c.with = v;
	else if (!pr_node_is_null(v))
		bad(L, "with", v, "a mapping of options");
}

static void
key_executor(struct loader *L, void *t, const struct pr_node *v)
{
	static const char *const words[] = { "process", "openmp", NULL };
	struct stage_build *b = t;
	int i = word(L, "executor", v, words, "process or openmp");

	if (i >= 0) {
		b->c.executor = (enum pr_executor_pref)i;
		b->executor = v;
		b->executor_here = !L->in_defaults;
	}
}

static void
key_workers(struct loader *L, void *t, const struct pr_node *v)
{
	struct stage_build *b = t;
	char want[64];

	b->workers = v;
	b->workers_here = !L->in_defaults;
	if (is_string(v) && !v->quoted && strcmp(v->value, "auto") == 0) {
		b->c.workers = 0;
		return;
	}
	snprintf(want, sizeof(want), "a whole number from 1 to %d or auto", PR_MAX_WORKERS);
	long long n = number(L, "workers", v, 1, PR_MAX_WORKERS, want);
	if (n > 0)
		b->c.workers = (unsigned)n;
}

static void
key_on_error(struct loader *L, void *t, const struct pr_node *v)
{
	static const char *const words[] = { "fail", "skip", "retry", NULL };
	struct stage_build *b = t;
	int i = word(L, "on_error", v, words, "fail, skip or retry");

	if (i >= 0) {
		b->c.on_error = (enum pr_on_error)i;
		b->on_error = v;
	}
}

static void
key_retries(struct loader *L, void *t, const struct pr_node *v)
{
	struct stage_build *b = t;
	long long n = number(L, "retries", v, 0, 100, "a whole number from 0 to 100");

	b->retries = v;
	b->retries_here = !L->in_defaults;
	if (n >= 0)
		b->c.retries = (unsigned)n;
}

static void
key_timeout(struct loader *L, void *t, const struct pr_node *v)
{
	struct stage_build *b = t;
	double s;

	if (v->type == PR_NODE_SCALAR && pr_parse_duration(v->value, &s) == 0 && s > 0)
		b->c.timeout = s;
	else
		bad(L, "timeout", v, "a duration above zero such as 30s, 1.5m or 500ms");
}

static const struct key stage_keys[] = {
	{ "name", key_stage_name },
	{ "kind", key_kind },
	{ "run", key_run },
	{ "plugin", key_plugin },
	{ "with", key_with },
	{ "executor", key_executor },
	{ "workers", key_workers },
	{ "on_error", key_on_error },
	{ "retries", key_retries },
	{ "timeout", key_timeout },
	{ NULL, NULL },
};

/* Finds the stage's descriptor: a built-in or a plugin. */
static void
stage_resolve(struct loader *L, struct stage_build *b)
{
	struct pr_stage_conf *c = &b->c;
	char err[512];

	if (b->run != NULL && b->plugin != NULL) {
		pr_diag_error(L->d, b->plugin->mark,
		              "stage '%s' has both 'run' and 'plugin'; give one of them", c->name);
		return;
	}
	if (b->run == NULL && b->plugin == NULL) {
		pr_diag_error(L->d, c->mark,
		              "stage '%s' needs 'run' (a built-in stage) or 'plugin' (a shared object)",
		              c->name);
		return;
	}
	if (b->run != NULL && is_string(b->run)) {
		c->desc = pr_builtin_find(b->run->value);
		if (c->desc == NULL) {
			const char *names[64];
			size_t n = 0;
			for (; pr_builtin_stages[n] != NULL && n < 63; n++)
				names[n] = pr_builtin_stages[n]->name;
			names[n] = NULL;
			const char *hint = pr_diag_suggest(b->run->value, names);
			if (hint != NULL)
				pr_diag_error(L->d, b->run->mark,
				              "unknown built-in stage '%s' (did you mean '%s'?)",
				              b->run->value, hint);
			else
				pr_diag_error(L->d, b->run->mark,
				              "unknown built-in stage '%s' (piperun --list-stages lists them)",
				              b->run->value);
		}
	}
	if (b->plugin != NULL && is_string(b->plugin)) {
		/* Always a path with a slash: never the library search path. */
		char *path = pr_path_join(L->p->dir, b->plugin->value);
		if (strchr(path, '/') == NULL) {
			char *dotted = pr_asprintf("./%s", path);
			free(path);
			path = dotted;
		}
		c->plugin = path;
		if (pr_plugin_load(path, &c->plugin_handle, &c->desc, err, sizeof(err)) < 0)
			pr_diag_error(L->d, b->plugin->mark, "%s", err);
	}
}

/* The checks that need the stage's kind, once it is known. */
static void
stage_check_kind(struct loader *L, struct stage_build *b)
{
	struct pr_stage_conf *c = &b->c;

	/* pr_plugin_load() refuses a kind out of range; built-ins have one. */
	if (c->kind == PIPERUN_KIND_NONE && c->desc != NULL)
		c->kind = (enum piperun_kind)c->desc->kind;
	if (c->kind == PIPERUN_KIND_NONE) {
		/* A stage that could not be found is reported already: errors
		 * that only follow from its unknown kind would mislead. */
		if (c->desc != NULL)
			pr_diag_error(L->d, c->mark,
			              "stage '%s' needs a 'kind' (io, cpu or sync): its stage declares no "
			              "usual one", c->name);
		return;
	}
	if (c->kind != PIPERUN_KIND_CPU) {
		if (b->executor_here)
			pr_diag_error(L->d, b->executor->mark,
			              "'executor' applies to cpu stages only; stage '%s' is %s", c->name,
			              pr_kind_name(c->kind));
		c->executor = PR_EXECUTOR_PROCESS;
	} else if (c->executor == PR_EXECUTOR_OPENMP && !pr_have_openmp) {
		pr_diag_error(L->d, b->executor->mark,
		              "stage '%s' asks for openmp, but this piperun was built without OpenMP",
		              c->name);
	} else if (c->executor == PR_EXECUTOR_OPENMP && c->desc != NULL &&
	           !(c->desc->flags & PIPERUN_STAGE_THREAD_SAFE)) {
		pr_diag_error(L->d, b->executor->mark,
		              "stage '%s' does not declare itself thread-safe, so it cannot run on "
		              "openmp", c->name);
	}
	if (c->kind == PIPERUN_KIND_SYNC) {
		/* auto (0) means one worker for a sync stage. */
		if (b->workers_here && c->workers != 1 && c->workers != 0)
			pr_diag_error(L->d, b->workers->mark,
			              "stage '%s' is sync and runs one item at a time: 'workers' must be 1 "
			              "or auto", c->name);
		c->workers = 1;
	}
}

/* The checks that need the whole stage. */
static void
stage_check(struct loader *L, struct stage_build *b)
{
	struct pr_stage_conf *c = &b->c;

	stage_check_kind(L, b);
	if (b->retries_here && c->on_error != PR_ON_ERROR_RETRY)
		pr_diag_error(L->d, b->retries->mark,
		              "'retries' in stage '%s' goes with 'on_error: retry'", c->name);
}

static void
load_stage(struct loader *L, const struct stage_build *defaults, const struct pr_node *v,
           size_t index)
{
	struct pr_pipeline *p = L->p;
	struct stage_build b = *defaults;
	const struct pr_node *name = pr_map_get(v, "name");

	b.c.mark = v->mark;
	b.c.with = NULL;
	b.retries = defaults->retries;
	if (name != NULL && is_string(name) && name->value[0] != '\0')
		set_ctx(L, pr_asprintf(" in stage '%s'", name->value));
	else
		set_ctx(L, pr_asprintf(" in stage %zu", index + 1));
	walk(L, v, stage_keys, &b, 0);
	if (b.c.name == NULL) {
		if (name == NULL)
			pr_diag_error(L->d, v->mark, "stage %zu needs a 'name'", index + 1);
		b.c.name = pr_asprintf("%zu", index + 1);
	} else {
		for (size_t i = 0; i < p->nstages; i++) {
			if (strcmp(p->stages[i].name, b.c.name) == 0) {
				pr_diag_error(L->d, b.name->mark, "duplicate stage name '%s' (first at line %u)",
				              b.c.name, p->stages[i].mark.line);
				break;
			}
		}
	}
	stage_resolve(L, &b);
	stage_check(L, &b);
	p->stages[p->nstages++] = b.c;
}

static void
load_stages(struct loader *L, const struct pr_node *stages, const struct pr_node *defaults)
{
	struct stage_build def;

	memset(&def, 0, sizeof(def));
	def.c.retries = PR_DEFAULT_RETRIES;
	if (defaults != NULL) {
		if (defaults->type == PR_NODE_MAP) {
			set_ctx(L, pr_strdup(" in defaults"));
			L->in_defaults = 1;
			walk(L, defaults, stage_keys, &def, 0);
			L->in_defaults = 0;
			if (def.retries != NULL && def.c.on_error != PR_ON_ERROR_RETRY)
				pr_diag_error(L->d, def.retries->mark,
				              "'retries' in defaults goes with 'on_error: retry'");
			set_ctx(L, pr_strdup(""));
		} else if (!pr_node_is_null(defaults)) {
			bad(L, "defaults", defaults, "a mapping of stage keys");
		}
	}
	if (stages == NULL) {
		pr_diag_error(L->d, L->p->doc.root->mark, "the pipeline has no 'stages'");
		return;
	}
	if (stages->type != PR_NODE_SEQ || stages->nkids == 0) {
		bad(L, "stages", stages, "a non-empty list of stages");
		return;
	}
	L->p->stages = pr_calloc(stages->nkids, sizeof(*L->p->stages));
	for (size_t i = 0; i < stages->nkids; i++) {
		const struct pr_node *s = stages->kids[i];
		if (s->type != PR_NODE_MAP) {
			pr_diag_error(L->d, s->mark, "stage %zu must be a mapping, not %s", i + 1,
			              pr_node_what(s));
			continue;
		}
		load_stage(L, &def, s, i);
	}
	set_ctx(L, pr_strdup(""));
}

/* Opens each stage once in checking mode, so that its options are
 * validated before any item is read. */
static void
check_stage_options(struct loader *L)
{
	for (size_t i = 0; i < L->p->nstages; i++) {
		struct pr_stage_conf *c = &L->p->stages[i];
		if (c->desc == NULL)
			continue;
		pr_stage_close(pr_stage_open(L->p, c, 1, L->d));
	}
}

/* ---- top level ---- */

/* Checks the format version V; returns -1 when the file asks for a newer
 * one, whose keys may mean anything, so that nothing more is said. */
static int
check_version(struct loader *L, const struct pr_node *v)
{
	long long n = 0;
	char *end;

	if (v->type == PR_NODE_SCALAR && !v->quoted && v->value[0] != '\0') {
		n = strtoll(v->value, &end, 10);
		if (*end != '\0')
			n = 0;
	}
	if (n == 1)
		return 0;
	if (n > 1) {
		pr_diag_error(L->d, v->mark,
		              "this file asks for pipeline format version %lld; this piperun reads "
		              "version 1", n);
		return -1;
	}
	/* Not a version at all: the rest of the file is version 1, and checked. */
	if (v->type == PR_NODE_SCALAR && v->quoted)
		pr_diag_error(L->d, v->mark, "'version' must be the number 1, not the string '%s'",
		              v->value);
	else
		bad(L, "version", v, "1, the only pipeline format version");
	return 0;
}

static void
key_name(struct loader *L, void *t, const struct pr_node *v)
{
	(void)t;
	if (!is_string(v)) {
		bad(L, "name", v, "a string");
		return;
	}
	free(L->p->name);
	L->p->name = pr_strdup(v->value);
}

static void
key_input(struct loader *L, void *t, const struct pr_node *v)
{
	(void)t;
	if (v->type != PR_NODE_MAP) {
		bad(L, "input", v, "a mapping with glob, files, lines or blocks");
		return;
	}
	set_ctx(L, pr_strdup(" in input"));
	walk(L, v, input_keys, NULL, 0);
	set_ctx(L, pr_strdup(""));
	L->p->input.mark = v->mark;
	if (L->p->input.type == PR_INPUT_NONE)
		pr_diag_error(L->d, v->mark, "input needs one of glob, files, lines or blocks");
}

static void
key_order(struct loader *L, void *t, const struct pr_node *v)
{
	static const char *const words[] = { "input", "any", NULL };
	int i = word(L, "order", v, words, "input or any");

	(void)t;
	if (i >= 0)
		L->p->order = (enum pr_order)i;
}

/* version is read before the walk, defaults and stages after it. */
static void
key_later(struct loader *L, void *t, const struct pr_node *v)
{
	(void)L;
	(void)t;
	(void)v;
}

static const struct key top_keys[] = {
	{ "version", key_later },
	{ "name", key_name },
	{ "input", key_input },
	{ "order", key_order },
	{ "defaults", key_later },
	{ "stages", key_later },
	{ NULL, NULL },
};

static char *
file_stem(const char *path)
{
	char *copy = pr_strdup(path);
	char *base = pr_strdup(basename(copy));
	char *dot = strrchr(base, '.');

	if (dot != NULL && dot != base && (strcmp(dot, ".yml") == 0 || strcmp(dot, ".yaml") == 0))
		*dot = '\0';
	free(copy);
	return base;
}

static struct pr_pipeline *
load(const char *path, const char *text, size_t len, const struct pr_load_opts *o,
     struct pr_diag *d)
{
	struct pr_pipeline *p = pr_calloc(1, sizeof(*p));
	struct loader L = { .p = p, .d = d, .ctx = pr_strdup("") };
	char *copy;
	int rc;

	p->file = pr_strdup(path);
	copy = pr_strdup(path);
	p->dir = pr_strdup(dirname(copy));
	free(copy);
	p->name = file_stem(path);
	p->input.base = p->dir;
	p->version = 1;
	if (text != NULL) {
		p->text = pr_strndup(text, len);
		p->text_len = len;
	} else if (pr_yaml_read(path, &p->text, &p->text_len, d) < 0) {
		goto fail;
	}
	rc = pr_yaml_parse(p->text, p->text_len, &p->doc, d);
	if (rc < 0)
		goto fail;
	if (p->doc.root == NULL) {
		pr_diag_error(d, (struct pr_mark){ 1, 1 }, "the file is empty: a pipeline needs 'stages'");
		goto fail;
	}
	if (p->doc.root->type != PR_NODE_MAP) {
		pr_diag_error(d, p->doc.root->mark, "a pipeline file must be a mapping, not %s",
		              pr_node_what(p->doc.root));
		goto fail;
	}
	const struct pr_node *version = pr_map_get(p->doc.root, "version");
	if (version != NULL && check_version(&L, version) < 0)
		goto fail;
	walk(&L, p->doc.root, top_keys, NULL, 1);
	if (pr_map_get(p->doc.root, "input") == NULL && !o->have_inputs)
		pr_diag_error(d, p->doc.root->mark,
		              "the pipeline has no 'input', and no INPUT arguments were given");
	load_stages(&L, pr_map_get(p->doc.root, "stages"), pr_map_get(p->doc.root, "defaults"));
	check_stage_options(&L);
	if (d->errors > 0)
		goto fail;
	free(L.ctx);
	return p;
fail:
	free(L.ctx);
	pr_pipeline_free(p);
	return NULL;
}

struct pr_pipeline *
pr_pipeline_load(const char *path, const struct pr_load_opts *o, struct pr_diag *d)
{
	return load(path, NULL, 0, o, d);
}

struct pr_pipeline *
pr_pipeline_load_text(const char *path, const char *text, size_t len,
                      const struct pr_load_opts *o, struct pr_diag *d)
{
	return load(path, text, len, o, d);
}
