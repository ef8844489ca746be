/*
 * read-t.c: tests stages/read.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "runner/util.h"
#include "tests/tap/basic.h"
#include "tests/tap/stage.h"

int
main(void)
{
	struct test_stage t;
	struct pr_item_list out = { 0 };
	char *err, *path;
	size_t big = 3 * 1024 * 1024 + 17;
	unsigned char *data = pr_malloc(big);

	if (test_stage_open(&t, "{name: r, run: read}") < 0)
		bail("cannot open read");

	for (size_t i = 0; i < big; i++)
		data[i] = (unsigned char)(i * 131 + (i >> 9));
	path = pr_strdup(test_write_file("big.bin", data, big));
	is_int(0, test_stage_run(&t, "big.bin", path, NULL, 0, &out, &err), "reads a file by path");
	if (out.head != NULL) {
		is_bytes(data, big, out.head->data, out.head->len, "all bytes, binary included");
		is_string("big.bin", out.head->name, "the name is kept");
	}
	pr_item_list_clear(&out);
	free(path);

	path = pr_strdup(test_write_file("empty", "", 0));
	is_int(0, test_stage_run(&t, "empty", path, NULL, 0, &out, &err), "reads an empty file");
	is_int(0, out.head ? (long long)out.head->len : -1, "an empty file gives an empty item");
	is_int(1, (long long)out.count, "an empty file still gives one item");
	pr_item_list_clear(&out);
	free(path);

	path = pr_asprintf("%s/missing", test_tmpdir());
	is_int(-1, test_stage_run(&t, "missing", path, NULL, 0, &out, &err), "a missing file fails");
	char *want = pr_asprintf("%s: No such file or directory", path);
	is_string(want, err, "the message names the file and the reason");
	is_int(0, (long long)out.count, "a failure emits nothing");
	free(want);
	free(err);
	free(path);

	is_int(-1, test_stage_run(&t, "dir", test_tmpdir(), NULL, 0, &out, &err), "a folder fails");
	free(err);

	test_stage_close(&t);
	free(data);
	return test_done();
}
