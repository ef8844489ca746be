/*
 * write-t.c: tests stages/write.c: atomic writes below dir, and refusals.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/util.h"
#include "tests/tap/basic.h"
#include "tests/tap/stage.h"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = pr_malloc(1 << 20);

	*len = 0;
	if (f == NULL) {
		free(buf);
		return NULL;
	}
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* Counts entries of DIR whose name starts with PREFIX. */
static int
count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static void
expect_refused(struct test_stage *t, const char *name)
{
	struct pr_item_list out = { 0 };
	char *err;

	is_int(-1, test_stage_run(t, name, NULL, "x", 1, &out, &err), "refuses name '%s'", name);
	ok(err != NULL && strstr(err, "the name leads outside") != NULL, "message for '%s': %s",
	   name, err ? err : "");
	free(err);
}

/* A second item named NAME in the run is refused, and the message says
 * why. */
static void
refused_again(struct test_stage *t, const char *name, const char *what)
{
	struct pr_item_list out = { 0 };
	char *err;

	is_int(-1, test_stage_run(t, name, NULL, "again", 5, &out, &err), "%s", what);
	ok(err != NULL && strstr(err, "an earlier item of this run") != NULL, "and says why: %s",
	   err ? err : "");
	free(err);
}

/* Names that fail among names written, enough to grow the set and to
 * collide in it: taking the failed ones back out keeps every written name
 * refused, and lets each failed one be written later. */
static void
release_many(struct test_stage *t)
{
	struct pr_item_list out = { 0 };
	char *err, *name, *path = pr_asprintf("%s/out/deep/blk", test_tmpdir());
	int written = 0, failed = 0, refused = 0, later = 0;

	test_write_file("out/deep/blk", "b", 1);
	for (int i = 0; i < 300; i++) {
		name = pr_asprintf(i % 3 == 0 ? "blk/n%d" : "n%d", i);
		if (test_stage_run(t, name, NULL, "x", 1, &out, &err) == 0)
			written += i % 3 != 0;
		else
			failed += i % 3 == 0;
		free(err);
		free(name);
	}
	unlink(path);
	for (int i = 0; i < 300; i++) {
		name = pr_asprintf(i % 3 == 0 ? "blk/n%d" : "n%d", i);
		if (test_stage_run(t, name, NULL, "x", 1, &out, &err) == 0)
			later += i % 3 == 0;
		else
			refused += i % 3 != 0 && strstr(err, "an earlier item of this run") != NULL;
		free(err);
		free(name);
	}
	free(path);
	is_int(200, written, "200 names written among 100 failures");
	is_int(100, failed, "100 names failed, a file in the way");
	is_int(200, refused, "each name written is refused after the failures were taken back");
	is_int(100, later, "each name that failed is written once the file is gone");
}

int
main(void)
{
	struct test_stage t;
	struct pr_item_list out = { 0 };
	char *err, *path, *got;
	size_t len;

	if (test_stage_open(&t, "{name: w, run: write, with: {dir: out/deep, suffix: .txt}}") < 0)
		bail("cannot open write");

	is_int(0, test_stage_run(&t, "a/b/c", NULL, "hello\n", 6, &out, &err), "writes a nested name");
	is_int(0, (long long)out.count, "write emits nothing");
	path = pr_asprintf("%s/out/deep/a/b/c.txt", test_tmpdir());
	got = slurp(path, &len);
	ok(got != NULL, "dir (relative to the pipeline file) and folders are created");
	if (got != NULL)
		is_bytes("hello\n", 6, got, len, "content");
	free(got);

	refused_again(&t, "a/b/c", "a second item with the same name in one run is refused");
	test_stage_close(&t);
	if (test_stage_open(&t, "{name: w, run: write, with: {dir: out/deep, suffix: .txt}}") < 0)
		bail("cannot open write");
	is_int(0, test_stage_run(&t, "a/b/c", NULL, "new", 3, &out, &err), "a new run replaces a file");
	got = slurp(path, &len);
	if (got != NULL)
		is_bytes("new", 3, got, len, "content replaced whole");
	free(got);
	free(path);

	is_int(0, test_stage_run(&t, "empty", NULL, NULL, 0, &out, &err), "writes an empty item");
	path = pr_asprintf("%s/out/deep/empty.txt", test_tmpdir());
	ok(access(path, F_OK) == 0, "an empty item makes an empty file");
	free(path);

	path = pr_asprintf("%s/out/deep/a/b", test_tmpdir());
	is_int(0, count_prefix(path, ".piperun-"), "no temporary file is left");
	free(path);

	expect_refused(&t, "../escape");
	expect_refused(&t, "a/../../escape");
	expect_refused(&t, "/etc/passwd");
	expect_refused(&t, "a/b/../../../escape");
	is_int(-1, test_stage_run(&t, "", NULL, "x", 1, &out, &err), "refuses an empty name");
	free(err);
	is_int(-1, test_stage_run(&t, "dir/", NULL, "x", 1, &out, &err), "refuses a folder name");
	free(err);
	is_int(0, test_stage_run(&t, "./x//y/./z", NULL, "n", 1, &out, &err),
	       "'.' and empty components are dropped");
	path = pr_asprintf("%s/out/deep/x/y/z.txt", test_tmpdir());
	ok(access(path, F_OK) == 0, "./x//y/./z is written as x/y/z");
	free(path);
	path = pr_asprintf("%s/out/escape.txt", test_tmpdir());
	ok(access(path, F_OK) != 0, "nothing written outside dir");
	free(path);

	/* A symbolic link planted below dir is not followed. */
	path = pr_asprintf("%s/out/deep/link", test_tmpdir());
	if (symlink(test_tmpdir(), path) == 0) {
		is_int(-1, test_stage_run(&t, "link/x", NULL, "x", 1, &out, &err),
		       "a symbolic link below dir is not followed");
		free(err);
		char *outside = pr_asprintf("%s/x.txt", test_tmpdir());
		ok(access(outside, F_OK) != 0, "nothing written through the link");
		free(outside);
	}
	free(path);

	/* A file where a folder should be. */
	is_int(0, test_stage_run(&t, "plain", NULL, "p", 1, &out, &err), "writes plain.txt");
	is_int(-1, test_stage_run(&t, "plain.txt/x", NULL, "x", 1, &out, &err),
	       "a file in the way of a folder fails");
	ok(err != NULL && strstr(err, "plain.txt/x") != NULL, "the message names the item: %s",
	   err ? err : "");
	free(err);

	/* A failed write claims no name: a retry of the item writes it once
	 * the obstacle is gone, and only then is a second item refused. */
	path = pr_asprintf("%s/out/deep/plain.txt", test_tmpdir());
	unlink(path);
	free(path);
	is_int(0, test_stage_run(&t, "plain.txt/x", NULL, "x", 1, &out, &err),
	       "a name whose write failed can be written again");
	refused_again(&t, "plain.txt/x", "once written, a second item with the name is refused");
	release_many(&t);

	test_stage_close(&t);
	return test_done();
}
