/*
 * gzip-t.c: tests stages/gzip.c: round trips, members, corrupt data.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runner/util.h"
#include "tests/tap/basic.h"
#include "tests/tap/stage.h"

/* The size from which the stage compresses an item over itself. */
#define BOUNCE_SIZE (64 * 1024)

/* Runs STAGE on LEN bytes of DATA; returns the one output (or NULL). */
static struct pr_item *
run(const char *stage, const void *data, size_t len, char **err)
{
	struct test_stage t;
	struct pr_item_list out = { 0 };
	struct pr_item *item;

	*err = NULL;
	if (test_stage_open(&t, stage) < 0)
		bail("cannot open %s", stage);
	test_stage_run(&t, "x", NULL, data, len, &out, err);
	item = pr_item_list_pop(&out);
	pr_item_list_clear(&out);
	test_stage_close(&t);
	return item;
}

int
main(void)
{
	size_t big = 5 * 1024 * 1024;
	unsigned char *data = pr_malloc(big);
	struct pr_item *z, *back, *z2;
	char *err;

	for (size_t i = 0; i < big; i++)
		data[i] = (unsigned char)((i * 7919) >> 5 ^ (i & 0xff) % 13);
	z = run("{name: z, run: gzip, with: {level: 6}}", data, big, &err);
	ok(z != NULL && z->len > 18 && z->data[0] == 0x1f && z->data[1] == 0x8b,
	   "compresses to the gzip format");
	back = run("{name: u, run: gzip, with: {decompress: true}}", z->data, z->len, &err);
	ok(back != NULL, "decompresses its own output");
	if (back != NULL)
		is_bytes(data, big, back->data, back->len, "the round trip restores every byte");
	pr_item_free(back);

	/* A large item is compressed over itself; with `on_error: retry` the
	 * input must stay as it was, so the result goes elsewhere: the two
	 * give the same bytes. */
	z2 = run("{name: z, run: gzip, on_error: retry, with: {level: 6}}", data, big, &err);
	ok(z2 != NULL, "compresses with on_error: retry");
	if (z2 != NULL)
		is_bytes(z->data, z->len, z2->data, z2->len,
		         "compressing over the input gives the bytes compressing elsewhere gives");
	pr_item_free(z2);

	/* Where the output would overtake the input not yet read (data that
	 * does not compress, level 0), the rest goes to memory of its own. */
	size_t noisy = 1024 * 1024;
	unsigned char *noise = pr_malloc(noisy);
	uint32_t seed = 12345;
	for (size_t i = 0; i < noisy; i++) {
		seed = seed * 1103515245u + 12345u;
		noise[i] = (unsigned char)(seed >> 23);
	}
	struct { const char *stage; const unsigned char *data; size_t len; const char *what; } over[] = {
		{ "{name: z, run: gzip, with: {level: 6}}", noise, noisy, "1 MiB of noise, level 6" },
		{ "{name: z, run: gzip, with: {level: 0}}", data, big, "5 MiB, level 0" },
		{ "{name: z, run: gzip, with: {level: 9}}", data, BOUNCE_SIZE - 1, "an item just under 64 KiB" },
		{ "{name: z, run: gzip, with: {level: 9}}", data, BOUNCE_SIZE, "an item of 64 KiB" },
	};
	for (size_t k = 0; k < sizeof(over) / sizeof(over[0]); k++) {
		z2 = run(over[k].stage, over[k].data, over[k].len, &err);
		back = z2 == NULL ? NULL
		                  : run("{name: u, run: gzip, with: {decompress: true}}", z2->data, z2->len, &err);
		ok(back != NULL, "%s: compresses and decompresses", over[k].what);
		if (back != NULL)
			is_bytes(over[k].data, over[k].len, back->data, back->len, "%s: the round trip restores every byte",
			         over[k].what);
		if (k < 2)
			ok(z2 != NULL && z2->len > over[k].len, "%s: the output is larger than the input", over[k].what);
		pr_item_free(z2);
		pr_item_free(back);
	}
	free(noise);

	/* Two members one after the other, as `cat a.gz b.gz`. */
	z2 = run("{name: z, run: gzip, with: {level: 1}}", "tail\n", 5, &err);
	unsigned char *two = pr_malloc(z->len + z2->len);
	memcpy(two, z->data, z->len);
	memcpy(two + z->len, z2->data, z2->len);
	back = run("{name: u, run: gzip, with: {decompress: true}}", two, z->len + z2->len, &err);
	ok(back != NULL && back->len == big + 5 && memcmp(back->data + big, "tail\n", 5) == 0,
	   "several members are all restored");
	pr_item_free(back);

	back = run("{name: u, run: gzip, with: {decompress: true}}", z->data, z->len / 2, &err);
	ok(back == NULL && err != NULL && strncmp(err, "corrupt gzip data: ", 19) == 0,
	   "truncated data fails: %s", err ? err : "");
	free(err);
	back = run("{name: u, run: gzip, with: {decompress: true}}", "not gzip at all", 15, &err);
	ok(back == NULL && err != NULL && strncmp(err, "corrupt gzip data: ", 19) == 0,
	   "data that is not gzip fails: %s", err ? err : "");
	free(err);
	back = run("{name: u, run: gzip, with: {decompress: true}}", "", 0, &err);
	ok(back == NULL && err != NULL, "an empty item is not gzip data");
	free(err);

	back = run("{name: z, run: gzip}", "", 0, &err);
	ok(back != NULL && back->len > 0, "an empty item compresses to a valid, empty gzip file");
	pr_item_free(back);

	free(two);
	pr_item_free(z);
	pr_item_free(z2);
	free(data);
	return test_done();
}
