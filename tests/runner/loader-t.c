/*
 * loader-t.c: tests runner/loader.c: every key of a pipeline file, and
 * every error with its exact file:line:col.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runner/loader.h"
#include "runner/util.h"
#include "tests/tap/basic.h"

/* Loads TEXT as "p.yml" and returns every message joined by newlines. */
static char *
messages(const char *text, int have_inputs, struct pr_pipeline **out)
{
	struct pr_load_opts o = { .have_inputs = have_inputs };
	struct pr_diag d;
	struct pr_pipeline *p;
	char *all = pr_strdup("");

	pr_diag_init(&d, "p.yml");
	p = pr_pipeline_load_text("p.yml", text, strlen(text), &o, &d);
	for (size_t i = 0; i < d.count; i++) {
		char *next = pr_asprintf("%s%s%s", all, i ? "\n" : "", d.msgs[i]);
		free(all);
		all = next;
	}
	pr_diag_free(&d);
	if (out != NULL)
		*out = p;
	else
		pr_pipeline_free(p);
	return all;
}

struct bad_case {
	const char *what;
	const char *yaml;
	const char *want;
};

#define STAGES "stages:\n  - {name: r, run: read}\n"

static const struct bad_case bad_cases[] = {
	{ "misspelt top-level key",
	  "input: {files: a}\nstagse: []\n",
	  "p.yml:1:1: error: the pipeline has no 'stages'\n"
	  "p.yml:2:1: error: unknown key 'stagse' (did you mean 'stages'?)" },
	{ "unknown top-level key without a near miss",
	  "input: {files: a}\nfrobnicate: 1\n" STAGES,
	  "p.yml:2:1: error: unknown key 'frobnicate'" },
	{ "misspelt stage key",
	  "input: {files: a}\nstages:\n  - name: clean\n    run: clean\n    worker: 3\n",
	  "p.yml:5:5: error: unknown key 'worker' in stage 'clean' (did you mean 'workers'?)" },
	{ "misspelt built-in",
	  "input: {files: a}\nstages:\n  - name: c\n    run: claen\n",
	  "p.yml:4:10: error: unknown built-in stage 'claen' (did you mean 'clean'?)" },
	{ "unknown built-in without a near miss",
	  "input: {files: a}\nstages:\n  - name: c\n    run: teleport\n",
	  "p.yml:4:10: error: unknown built-in stage 'teleport' (piperun --list-stages lists them)" },
	{ "newer version",
	  "version: 2\nwhatever: [\n  1]\n",
	  "p.yml:1:10: error: this file asks for pipeline format version 2; this piperun reads "
	  "version 1" },
	{ "version not a number",
	  "version: one\ninput: {files: a}\n" STAGES,
	  "p.yml:1:10: error: 'version' must be 1, the only pipeline format version, not 'one'" },
	{ "version 0, and the rest still checked",
	  "version: 0\ninput: {files: a}\nstagse: []\n",
	  "p.yml:1:1: error: the pipeline has no 'stages'\n"
	  "p.yml:1:10: error: 'version' must be 1, the only pipeline format version, not '0'\n"
	  "p.yml:3:1: error: unknown key 'stagse' (did you mean 'stages'?)" },
	{ "version quoted",
	  "version: \"1\"\ninput: {files: a}\n" STAGES,
	  "p.yml:1:10: error: 'version' must be the number 1, not the string '1'" },
	{ "no input and no INPUT arguments",
	  STAGES,
	  "p.yml:1:1: error: the pipeline has no 'input', and no INPUT arguments were given" },
	{ "two sources",
	  "input:\n  glob: '*.txt'\n  files: [a]\n" STAGES,
	  "p.yml:3:10: error: input takes one source, but has both 'glob' and 'files'" },
	{ "empty input",
	  "input: {}\n" STAGES,
	  "p.yml:1:8: error: input needs one of glob, files, lines or blocks" },
	{ "misspelt input key",
	  "input:\n  glb: '*.txt'\n" STAGES,
	  "p.yml:2:3: error: unknown key 'glb' in input (did you mean 'glob'?)\n"
	  "p.yml:2:3: error: input needs one of glob, files, lines or blocks" },
	{ "files of wrong type",
	  "input:\n  files: {a: 1}\n" STAGES,
	  "p.yml:2:10: error: 'files' in input must be a path or a non-empty list of paths, not a "
	  "mapping" },
	{ "empty list of files",
	  "input:\n  files: []\n" STAGES,
	  "p.yml:2:10: error: 'files' in input must be a path or a non-empty list of paths, not an "
	  "empty list" },
	{ "block size not a size",
	  "input:\n  blocks: {file: a, size: lots}\n" STAGES,
	  "p.yml:2:27: error: 'size' in blocks must be a size from 1 byte to 1TiB such as 64k or "
	  "1MiB, not 'lots'" },
	{ "blocks without file",
	  "input:\n  blocks: {size: 1k}\n" STAGES,
	  "p.yml:2:11: error: blocks needs a 'file'" },
	{ "bad order",
	  "input: {files: a}\norder: random\n" STAGES,
	  "p.yml:2:8: error: 'order' must be input or any, not 'random'" },
	{ "stages not a list",
	  "input: {files: a}\nstages: read\n",
	  "p.yml:2:9: error: 'stages' must be a non-empty list of stages, not 'read'" },
	{ "empty stages",
	  "input: {files: a}\nstages: []\n",
	  "p.yml:2:9: error: 'stages' must be a non-empty list of stages, not an empty list" },
	{ "stage not a mapping",
	  "input: {files: a}\nstages:\n  - read\n",
	  "p.yml:3:5: error: stage 1 must be a mapping, not a single value" },
	{ "stage without a name",
	  "input: {files: a}\nstages:\n  - run: read\n",
	  "p.yml:3:5: error: stage 1 needs a 'name'" },
	{ "bad stage name",
	  "input: {files: a}\nstages:\n  - {name: 'a b', run: read}\n",
	  "p.yml:3:12: error: stage name 'a b' may hold only letters, digits, '_' and '-' (at most "
	  "64)" },
	{ "empty stage name",
	  "input: {files: a}\nstages:\n  - {name: \"\", run: read}\n",
	  "p.yml:3:12: error: a stage name cannot be empty (1 to 64 letters, digits, '_' and '-')" },
	{ "duplicate stage names",
	  "input: {files: a}\nstages:\n  - {name: r, run: read}\n  - {name: r, run: clean}\n",
	  "p.yml:4:12: error: duplicate stage name 'r' (first at line 3)" },
	{ "neither run nor plugin",
	  "input: {files: a}\nstages:\n  - {name: r, kind: io}\n",
	  "p.yml:3:5: error: stage 'r' needs 'run' (a built-in stage) or 'plugin' (a shared "
	  "object)" },
	{ "both run and plugin",
	  "input: {files: a}\nstages:\n  - {name: r, run: read, plugin: x.so}\n",
	  "p.yml:3:34: error: stage 'r' has both 'run' and 'plugin'; give one of them" },
	{ "bad kind",
	  "input: {files: a}\nstages:\n  - {name: r, run: read, kind: gpu}\n",
	  "p.yml:3:32: error: 'kind' in stage 'r' must be io, cpu or sync, not 'gpu'" },
	{ "executor on an io stage",
	  "input: {files: a}\nstages:\n  - {name: r, run: read, executor: openmp}\n",
	  "p.yml:3:36: error: 'executor' applies to cpu stages only; stage 'r' is io" },
	{ "bad executor",
	  "input: {files: a}\nstages:\n  - {name: c, run: clean, executor: gpu}\n",
	  "p.yml:3:37: error: 'executor' in stage 'c' must be process or openmp, not 'gpu'" },
	{ "workers out of range",
	  "input: {files: a}\nstages:\n  - {name: c, run: clean, workers: 0}\n",
	  "p.yml:3:36: error: 'workers' in stage 'c' must be a whole number from 1 to 1024 or auto, "
	  "not '0'" },
	{ "workers quoted",
	  "input: {files: a}\nstages:\n  - {name: c, run: clean, workers: '4'}\n",
	  "p.yml:3:36: error: 'workers' in stage 'c' must be a whole number from 1 to 1024 or auto, "
	  "not '4'" },
	{ "workers on a sync stage",
	  "input: {files: a}\nstages:\n  - {name: c, run: clean, kind: sync, workers: 2}\n",
	  "p.yml:3:48: error: stage 'c' is sync and runs one item at a time: 'workers' must be 1 "
	  "or auto" },
	{ "bad on_error",
	  "input: {files: a}\nstages:\n  - {name: r, run: read, on_error: ignore}\n",
	  "p.yml:3:36: error: 'on_error' in stage 'r' must be fail, skip or retry, not 'ignore'" },
	{ "retries without retry",
	  "input: {files: a}\nstages:\n  - {name: r, run: read, retries: 2}\n",
	  "p.yml:3:35: error: 'retries' in stage 'r' goes with 'on_error: retry'" },
	{ "retries out of range",
	  "input: {files: a}\nstages:\n  - {name: r, run: read, on_error: retry, retries: -1}\n",
	  "p.yml:3:52: error: 'retries' in stage 'r' must be a whole number from 0 to 100, not "
	  "'-1'" },
	{ "bad timeout",
	  "input: {files: a}\nstages:\n  - {name: r, run: read, timeout: soon}\n",
	  "p.yml:3:35: error: 'timeout' in stage 'r' must be a duration above zero such as 30s, "
	  "1.5m or 500ms, not 'soon'" },
	{ "with not a mapping",
	  "input: {files: a}\nstages:\n  - {name: r, run: read, with: [1]}\n",
	  "p.yml:3:32: error: 'with' in stage 'r' must be a mapping of options, not a list" },
	{ "name in defaults",
	  "input: {files: a}\ndefaults:\n  name: x\n" STAGES,
	  "p.yml:3:9: error: 'name' cannot be set in defaults" },
	{ "run in defaults",
	  "input: {files: a}\ndefaults: {run: read}\n" STAGES,
	  "p.yml:2:17: error: 'run' cannot be set in defaults" },
	{ "misspelt key in defaults",
	  "input: {files: a}\ndefaults: {on_eror: skip}\n" STAGES,
	  "p.yml:2:12: error: unknown key 'on_eror' in defaults (did you mean 'on_error'?)" },
	{ "unknown option of a built-in",
	  "input: {files: a}\nstages:\n  - {name: w, run: write, with: {dir: o, sufix: .t}}\n",
	  "p.yml:3:42: error: unknown option 'sufix' for stage 'w' (did you mean 'suffix'?)" },
	{ "missing required option",
	  "input: {files: a}\nstages:\n  - {name: w, run: write}\n",
	  "p.yml:3:5: error: stage 'w': option 'dir' is required" },
	{ "option of wrong type",
	  "input: {files: a}\nstages:\n  - {name: w, run: write, with: {dir: [o]}}\n",
	  "p.yml:3:39: error: option 'dir' of stage 'w' must be a string, not a list" },
	{ "a plugin that does not exist",
	  "input: {files: a}\nstages:\n  - {name: x, kind: cpu, plugin: nothere.so}\n",
	  "p.yml:3:34: error: cannot load plugin './nothere.so': No such file or directory" },
	{ "not a mapping",
	  "- a\n- b\n",
	  "p.yml:1:1: error: a pipeline file must be a mapping, not a list" },
	{ "empty file",
	  "",
	  "p.yml:1:1: error: the file is empty: a pipeline needs 'stages'" },
	{ "YAML syntax error",
	  "input: {files: a\nstages: []\n",
	  "p.yml:2:7: error: did not find expected ',' or '}' while parsing a flow mapping" },
	{ "several errors at once, in file order",
	  "input: {files: a}\nordr: any\nstages:\n  - {name: c, run: clean, workers: x}\n"
	  "  - {name: d, run: nope}\n",
	  "p.yml:2:1: error: unknown key 'ordr' (did you mean 'order'?)\n"
	  "p.yml:4:36: error: 'workers' in stage 'c' must be a whole number from 1 to 1024 or auto, "
	  "not 'x'\n"
	  "p.yml:5:20: error: unknown built-in stage 'nope' (piperun --list-stages lists them)" },
};

static void
test_bad_cases(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct pr_pipeline *p;
		char *got = messages(c->yaml, 0, &p);

		ok(p == NULL, "%s: refused", c->what);
		is_string(c->want, got, "%s: message", c->what);
		pr_pipeline_free(p);
		free(got);
	}
}

static void
test_full_pipeline(void)
{
	const char *yaml =
		"version: 1\n"
		"name: clean-logs\n"
		"x-io: &io {kind: io, workers: 8}\n"
		"input:\n"
		"  glob: [\"logs/*.txt\", \"more/*.txt\"]\n"
		"order: any\n"
		"defaults:\n"
		"  on_error: retry\n"
		"  retries: 5\n"
		"  timeout: 1.5s\n"
		"stages:\n"
		"  - <<: *io\n"
		"    name: read\n"
		"    run: read\n"
		"  - name: clean\n"
		"    run: clean\n"
		"    executor: openmp\n"
		"    workers: auto\n"
		"    on_error: skip\n"
		"    retries: 2\n"
		"  - name: write\n"
		"    <<: *io\n"
		"    workers: 3\n"
		"    run: write\n"
		"    timeout: 250ms\n"
		"    with: {dir: out, suffix: .txt}\n";
	struct pr_pipeline *p;
	char *got = messages(yaml, 0, &p);

	/* retries set in the stage with on_error: skip is an error; the file
	 * without it loads.  A build without OpenMP refuses the executor. */
	const char *no_omp = pr_have_openmp ? "" : "p.yml:17:15: error: stage 'clean' asks for "
	                                           "openmp, but this piperun was built without OpenMP";
	char *want = pr_asprintf("%s%sp.yml:20:14: error: 'retries' in stage 'clean' goes with "
	                         "'on_error: retry'", no_omp, *no_omp ? "\n" : "");
	is_string(want, got, "retries with skip is refused even when defaults say retry");
	free(want);
	free(got);
	pr_pipeline_free(p);

	char *fixed = pr_strdup(yaml);
	char *r = strstr(fixed, "    retries: 2\n");
	memmove(r, r + 15, strlen(r + 15) + 1);
	got = messages(fixed, 0, &p);
	free(fixed);
	is_string(no_omp, got, "the full pipeline loads without messages (but for OpenMP)");
	if (!pr_have_openmp) {
		free(got);
		return;
	}
	free(got);
	if (!ok(p != NULL, "loaded"))
		return;
	is_string("clean-logs", p->name, "name");
	is_int(PR_INPUT_GLOB, p->input.type, "glob input");
	is_int(2, (long long)p->input.count, "two patterns");
	is_string("more/*.txt", p->input.written[1], "pattern as written");
	is_int(PR_ORDER_ANY, p->order, "order any");
	is_int(3, (long long)p->nstages, "three stages");
	is_int(PIPERUN_KIND_IO, p->stages[0].kind, "merge key gives kind");
	is_int(8, p->stages[0].workers, "merge key gives workers");
	is_int(PR_ON_ERROR_RETRY, p->stages[0].on_error, "defaults give on_error");
	is_int(5, p->stages[0].retries, "defaults give retries");
	ok(p->stages[0].timeout == 1.5, "defaults give timeout");
	is_int(PIPERUN_KIND_CPU, p->stages[1].kind, "usual tag of clean is cpu");
	is_int(PR_EXECUTOR_OPENMP, p->stages[1].executor, "executor openmp");
	is_int(0, p->stages[1].workers, "workers auto");
	is_int(PR_ON_ERROR_SKIP, p->stages[1].on_error, "stage overrides on_error");
	is_int(3, p->stages[2].workers, "explicit key beats merge key");
	ok(p->stages[2].timeout == 0.25, "timeout 250ms");
	ok(p->stages[2].with != NULL, "with kept");
	pr_pipeline_free(p);
}

static void
test_inputs(void)
{
	struct pr_pipeline *p;
	char *got;

	got = messages("input:\n  blocks: {file: big.txt, size: 64k}\n" STAGES, 0, &p);
	is_string("", got, "blocks with a size");
	if (p != NULL) {
		is_int(PR_INPUT_BLOCKS, p->input.type, "blocks type");
		is_int(65536, (long long)p->input.block_size, "block size 64k");
		is_string("big.txt", p->input.paths[0], "path relative to the file's folder '.'");
	}
	pr_pipeline_free(p);
	free(got);

	got = messages("input:\n  blocks: big.txt\n" STAGES, 0, &p);
	is_int(PR_DEFAULT_BLOCK_SIZE, p ? (long long)p->input.block_size : -1, "default block size");
	pr_pipeline_free(p);
	free(got);

	got = messages("input:\n  lines: \"-\"\n" STAGES, 0, &p);
	is_string("-", p ? p->input.paths[0] : NULL, "lines from standard input");
	pr_pipeline_free(p);
	free(got);

	got = messages(STAGES, 1, &p);
	is_string("", got, "input may be left out when INPUT arguments are given");
	pr_pipeline_free(p);
	free(got);

	/* Paths are relative to the pipeline file's folder. */
	struct pr_load_opts o = { 0 };
	struct pr_diag d;
	const char *text = "input: {files: [a.txt, /abs/b.txt]}\n" STAGES;
	pr_diag_init(&d, "dir/sub/p.yml");
	p = pr_pipeline_load_text("dir/sub/p.yml", text, strlen(text), &o, &d);
	if (ok(p != NULL, "loads from a folder")) {
		is_string("dir/sub/a.txt", p->input.paths[0], "relative path joined to the file's folder");
		is_string("a.txt", p->input.written[0], "name as written");
		is_string("/abs/b.txt", p->input.paths[1], "absolute path kept");
	}
	pr_pipeline_free(p);
	pr_diag_free(&d);
}

static void
test_yaml_features(void)
{
	struct pr_pipeline *p;
	char *got;

	got = messages("input: {files: a}\nstages:\n  - {name: c, run: count, workers: auto}\n", 0,
	               &p);
	is_string("", got, "workers: auto on a sync stage");
	is_int(1, p ? (long long)p->stages[0].workers : -1, "means one worker");
	pr_pipeline_free(p);
	free(got);

	got = messages("input: {files: a}\nstages:\n  - {name: r, run: read, kind: io}\n"
	               "  - {name: w, run: write, on_error: yes, with: {dir: o}}\n", 0, &p);
	is_string("p.yml:4:37: error: 'on_error' in stage 'w' must be fail, skip or retry, not 'yes'",
	          got, "yes is not a word of on_error");
	free(got);

	got = messages("x-a: &a {dir: out}\ninput: {files: a}\nstages:\n"
	               "  - {name: w, run: write, with: *a}\n", 0, &p);
	is_string("", got, "an alias as options");
	pr_pipeline_free(p);
	free(got);

	got = messages("input: {files: a}\nstages:\n  - !!map {name: r, run: !custom read}\n", 0, &p);
	is_string("p.yml:3:26: error: unsupported tag '!custom'", got, "unknown tags are refused");
	free(got);
}

/* Plugins that cannot be loaded are refused with the stage's place. */
static void
test_plugin_errors(void)
{
	char *yaml, *got, *want;
	const char *path = test_write_file("not-a-plugin.so", "hello\n", 6);
	struct pr_pipeline *p;

	yaml = pr_asprintf("input: {files: a}\nstages:\n  - name: x\n    kind: cpu\n    plugin: %s\n",
	                   path);
	got = messages(yaml, 0, &p);
	want = pr_asprintf("p.yml:5:13: error: cannot load plugin '%s': ", path);
	ok(p == NULL && strncmp(got, want, strlen(want)) == 0, "a file that is not a shared object: %s",
	   got);
	free(got);
	free(want);
	chmod(path, 0666);
	got = messages(yaml, 0, &p);
	want = pr_asprintf("p.yml:5:13: error: refusing plugin '%s': it is writable by others", path);
	is_string(want, got, "a plugin writable by others is refused");
	free(got);
	free(want);
	free(yaml);
}

int
main(void)
{
	test_bad_cases();
	test_full_pipeline();
	test_inputs();
	test_yaml_features();
	test_plugin_errors();
	return test_done();
}
