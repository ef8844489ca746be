/*
 * source-t.c: tests runner/source.c: globs, lines and blocks.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/block.h"
#include "runner/item.h"
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
		in.paths[i] = paths[i][0] == '/' ? pr_strdup(paths[i])
		                                 : pr_asprintf("%s/%s", test_tmpdir(), paths[i]);
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

/* LINES lines of varied length, one line of LONG digits in the middle, and
 * a last line without a newline. */
static char *
blocks_text(int lines, int long_len)
{
	size_t cap = (size_t)lines * 60 + (size_t)long_len + 64, len = 0;
	char *text = pr_malloc(cap);

	for (int i = 0; i < lines; i++) {
		len += (size_t)snprintf(text + len, cap - len, "line %d %.*s\n", i, i % 37,
		                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		if (i == lines / 2) {
			memset(text + len, '7', (size_t)long_len);
			len += (size_t)long_len;
			text[len++] = '\n';
		}
	}
	len += (size_t)snprintf(text + len, cap - len, "tail");
	return text;
}

/* Cuts TEXT into blocks of SIZE from the file FILE, or from a pipe when
 * FILE is NULL, and checks them. */
static void
check_blocks(const char *text, uint64_t size, const char *file, const char *what)
{
	char path[64];
	pid_t pid = -1;
	int fds[2];

	if (file != NULL) {
		test_write_file(file, text, strlen(text));
		snprintf(path, sizeof(path), "%s", file);
	} else {
		if (pipe(fds) < 0)
			bail("pipe");
		if ((pid = fork()) == 0) {
			close(fds[0]);
			for (size_t off = 0, n = strlen(text); off < n; off += 1000)
				if (write(fds[1], text + off, n - off < 1000 ? n - off : 1000) < 0)
					_exit(1);
			_exit(0);
		}
		close(fds[1]);
		snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
	}
	const char *paths[] = { path };
	struct pr_input in = input(PR_INPUT_BLOCKS, paths, 1, size);
	struct pr_source *s = pr_source_open(&in, warn, NULL);
	struct pr_item *item;
	char *err = NULL;
	size_t total = 0, count = 0, n = strlen(text);
	int aligned = 1, bounded = 1, full = 0;
	while (pr_source_next(s, &item, &err) == 1) {
		int last = total + item->len == n;
		if (!last && item->data[item->len - 1] != '\n')
			aligned = 0;
		if (item->len > size && memchr(item->data, '\n', item->len - 1) != NULL)
			bounded = 0;
		if (item->len + 200 > size && item->len <= size)
			full++;
		if (total + item->len > n || memcmp(text + total, item->data, item->len) != 0)
			aligned = 0;
		total += item->len;
		count++;
		pr_item_free(item);
	}
	pr_source_close(s);
	if (pid > 0) {
		close(fds[0]);
		waitpid(pid, NULL, 0);
	}
	ok(err == NULL, "%s: no error", what);
	ok(aligned, "%s: every block but the last ends at a newline, data in order", what);
	ok(bounded, "%s: no block over the size unless it is one long line", what);
	is_int((long long)n, (long long)total, "%s: blocks add up to the input", what);
	ok(count > n / size && full > (int)(count / 2),
	   "%s: many blocks (%zu), most of them nearly full (%d)", what, count, full);
	free(err);
	input_free(&in);
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

	/* Blocks, cut from a buffer (small blocks) and read straight into
	 * each item (large ones, in shared blocks too), from a file and from a
	 * pipe that delivers a little at a time. */
	{
		char *text = blocks_text(2000, 300);
		check_blocks(text, 256, "blocks.txt", "256-byte blocks");
		free(text);
		text = blocks_text(40000, 100000);
		check_blocks(text, 65536, "big-blocks.txt", "64 KiB blocks");
		pr_block_enable();
		check_blocks(text, 65536, "big-blocks.txt", "64 KiB blocks in shared memory");
		check_blocks(text, 65536, NULL, "64 KiB blocks from a pipe");
		free(text);
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
