/*
 * split-t.c: tests stages/split.c: piece boundaries and names.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap/basic.h"
#include "tests/tap/stage.h"

/* Runs split with OPTIONS on DATA; returns "name=data|..." of the pieces. */
static char *
pieces(const char *options, const char *data)
{
	struct test_stage t;
	struct pr_item_list out = { 0 };
	char *err = NULL, stage[256], *all = calloc(1, 4096);

	snprintf(stage, sizeof(stage), "{name: s, run: split, with: %s}", options);
	if (test_stage_open(&t, stage) < 0)
		return strcpy(all, "(refused)");
	if (test_stage_run(&t, "f", NULL, data, strlen(data), &out, &err) < 0)
		strcpy(all, "(failed)");
	for (struct pr_item *it = out.head; it != NULL; it = it->next) {
		size_t n = strlen(all);
		snprintf(all + n, 4096 - n, "%s%s=%.*s", n ? "|" : "", it->name, (int)it->len,
		         (const char *)it->data);
	}
	pr_item_list_clear(&out);
	free(err);
	test_stage_close(&t);
	return all;
}

int
main(void)
{
	static const struct {
		const char *options, *data, *want;
	} cases[] = {
		{ "{lines: true}", "a\nbb\nccc", "f#1=a\n|f#2=bb\n|f#3=ccc" },
		{ "{lines: true}", "", "" },
		{ "{lines: true}", "\n\n", "f#1=\n|f#2=\n" },
		{ "{size: 4}", "ab\ncd\nef\n", "f#1=ab\n|f#2=cd\n|f#3=ef\n" },
		{ "{size: 6}", "ab\ncd\nef\n", "f#1=ab\ncd\n|f#2=ef\n" },
		{ "{size: 3}", "abcdef\ng\n", "f#1=abcdef\n|f#2=g\n" },
		{ "{size: 100}", "short", "f#1=short" },
		{ "{size: 4}", "abcdefgh", "f#1=abcdefgh" },
	};
	char *got;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = pieces(cases[i].options, cases[i].data);
		is_string(cases[i].want, got, "split %s, case %zu", cases[i].options, i + 1);
		free(got);
	}
	static const struct {
		const char *options, *what;
	} refused[] = {
		{ "{}", "neither size nor lines" },
		{ "{size: 4, lines: true}", "both size and lines" },
		{ "{size: 0}", "size 0" },
		{ "{lines: false}", "lines: false alone" },
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		got = pieces(refused[i].options, "x");
		is_string("(refused)", got, "%s is refused", refused[i].what);
		free(got);
	}
	return test_done();
}
