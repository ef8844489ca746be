/*
 * source-t.c: tests runner/source.c: globs, lines and blocks.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runner/source.h"
#include "runner/util.h"
#include "tests/tap/basic.h"

static char warned[1000];

static void
warn(void *ud, const char *line)
{
	(void)ud;
	snprintf(warned, sizeof(warned), "%s", line);
}

static struct pr_input
input(enum pr_input_type type, const char *const *paths, size_t n, uint64_t block)
{
	struct pr_input in = { .type = type, .count = n, .block_size = block, .base = test_tmpdir() };

	in.written = pr_calloc(n, sizeof(char *));
	in.paths = pr_calloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		in.written[i] = pr_strdup(paths[i]);
		in.paths[i] = pr_asprintf("%s/%s", test_tmpdir(), paths[i]);
	}
	return in;
}

static void
input_free(struct pr_input *in)
{
	for (size_t i = 0; i < in->count; i++) {
		free(in->written[i]);
		free(in->paths[i]);
	}
	free(in->written);
	free(in->paths);
}

/* Every item of IN, names joined with ' ', data concatenated. */
static int
drain(struct pr_input *in, char **names, char **data, size_t *len, size_t *maxlen)
{
	struct pr_source *s = pr_source_open(in, warn, NULL);
	struct pr_item *item;
	char *err = NULL;
	int rc;

	*names = pr_strdup("");
	*data = pr_strdup("");
	*len = *maxlen = 0;
	while ((rc = pr_source_next(s, &item, &err)) == 1) {
		char *n = pr_asprintf("%s%s%s", *names, **names ? " " : "", item->name);
		free(*names);
		*names = n;
		*data = pr_reallocarray(*data, *len + item->len + 1, 1);
		if (item->len > 0)
			memcpy(*data + *len, item->data, item->len);
		*len += item->len;
		if (item->len > *maxlen)
			*maxlen = item->len;
		pr_item_free(item);
	}
	free(err);
	pr_source_close(s);
	return rc;
}

int
main(void)
{
	char *names, *data;
	size_t len, maxlen;
	char dir[4200];

	snprintf(dir, sizeof(dir), "%s/logs", test_tmpdir());
	mkdir(dir, 0777);
	snprintf(dir, sizeof(dir), "%s/logs/sub", test_tmpdir());
	mkdir(dir, 0777);
	test_write_file("logs/b.txt", "b", 1);
	test_write_file("logs/a.txt", "a", 1);
	test_write_file("logs/B.txt", "B", 1);
	test_write_file("logs/sub/c.txt", "c", 1);
	test_write_file("logs/x.log", "x", 1);

	{
		const char *pats[] = { "logs/*.txt", "logs/a*", "logs/*/*.txt", "none/*.txt" };
		struct pr_input in = input(PR_INPUT_GLOB, pats, 4, 0);
		is_int(0, drain(&in, &names, &data, &len, &maxlen), "glob runs to the end");
		is_string("B.txt a.txt b.txt sub/c.txt", names,
		          "sorted per pattern, named below the fixed prefix, duplicates once, folders skipped");
		is_string("piperun: warning: glob 'none/*.txt' matches no file", warned, "empty glob warns");
		free(names);
		free(data);
		input_free(&in);
	}

	test_write_file("lines.txt", "one\ntwo\n\nlast", 14);
	{
		const char *paths[] = { "lines.txt" };
		struct pr_input in = input(PR_INPUT_LINES, paths, 1, 0);
		drain(&in, &names, &data, &len, &maxlen);
		is_string("lines.txt#1 lines.txt#2 lines.txt#3 lines.txt#4", names, "one item per line");
		is_bytes("one\ntwo\n\nlast", 14, data, len, "lines keep their newlines");
		free(names);
		free(data);
		input_free(&in);
	}

	/* Blocks: 2000 lines of varied length, and one line longer than a block. */
	{
		char *text = pr_strdup("");
		for (int i = 0; i < 2000; i++) {
			char *n = pr_asprintf("%sline %d %.*s\n", text, i, i % 37, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
			free(text);
			text = n;
		}
		char *n = pr_asprintf("%s%0300d\ntail", text, 7);
		free(text);
		text = n;
		test_write_file("blocks.txt", text, strlen(text));
		const char *paths[] = { "blocks.txt" };
		struct pr_input in = input(PR_INPUT_BLOCKS, paths, 1, 256);
		struct pr_source *s = pr_source_open(&in, warn, NULL);
		struct pr_item *item;
		char *err = NULL;
		size_t total = 0, count = 0;
		int aligned = 1, bounded = 1;
		while (pr_source_next(s, &item, &err) == 1) {
			int last = total + item->len == strlen(text);
			if (!last && item->data[item->len - 1] != '\n')
				aligned = 0;
			if (item->len > 256 && memchr(item->data, '\n', item->len - 1) != NULL)
				bounded = 0;
			if (memcmp(text + total, item->data, item->len) != 0)
				aligned = 0;
			total += item->len;
			count++;
			pr_item_free(item);
		}
		pr_source_close(s);
		ok(aligned, "every block but the last ends at a newline, data in order");
		ok(bounded, "no block over the size unless it is one long line");
		is_int((long long)strlen(text), (long long)total, "blocks add up to the file");
		ok(count > strlen(text) / 256, "many blocks (%zu)", count);
		free(text);
		input_free(&in);
	}

	{
		const char *paths[] = { "missing.txt" };
		struct pr_input in = input(PR_INPUT_LINES, paths, 1, 0);
		struct pr_source *s = pr_source_open(&in, warn, NULL);
		struct pr_item *item;
		char *err = NULL;
		is_int(-1, pr_source_next(s, &item, &err), "a missing lines file is an error");
		ok(err != NULL && strstr(err, "missing.txt: No such file or directory") != NULL,
		   "naming the file");
		free(err);
		pr_source_close(s);
		input_free(&in);
	}
	return test_done();
}
