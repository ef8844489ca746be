/*
 * clean-t.c: tests stages/clean.c against the rules of SPEC section 5.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tests/tap/basic.h"
#include "tests/tap/stage.h"

struct clean_case {
	const char *what;
	const char *in;
	size_t inlen;
	const char *want;
};

#define S(x) x, sizeof(x) - 1

static const struct clean_case cases[] = {
	{ "empty input", S(""), "" },
	{ "lowercases ASCII", S("Hello WORLD\n"), "hello world\n" },
	{ "punctuation becomes space and runs collapse", S("a,,b!!  c\n"), "a b c\n" },
	{ "trims both ends", S("  \t lead and trail \t \n"), "lead and trail\n" },
	{ "drops lines left empty", S("one\n\n  \n!!!\ntwo\n"), "one\ntwo\n" },
	{ "a last line without newline gets one", S("no newline"), "no newline\n" },
	{ "digits kept", S("Port 8080, PID=41\n"), "port 8080 pid 41\n" },
	{ "CR is not a line end", S("dos\r\nline\r\n"), "dos\nline\n" },
	{ "non-ASCII bytes become spaces", S("caf\xc3\xa9 na\xefve\n"), "caf na ve\n" },
	{ "NUL bytes become spaces", S("a\0b\n"), "a b\n" },
	{ "only separators", S(" .;: \n\t\n"), "" },
	{ "newlines only", S("\n\n\n"), "" },
	{ "letters around the alphabet's edges", S("@AZ[`az{/09:\n"), "az az 09\n" },
};

int
main(void)
{
	struct test_stage t;

	if (test_stage_open(&t, "{name: c, run: clean}") < 0)
		bail("cannot open clean");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pr_item_list out = { 0 };
		char *err;
		int rc = test_stage_run(&t, "x.txt", NULL, cases[i].in, cases[i].inlen, &out, &err);

		is_int(0, rc, "%s: succeeds", cases[i].what);
		is_int(1, (long long)out.count, "%s: one item out", cases[i].what);
		if (out.head != NULL) {
			is_bytes(cases[i].want, strlen(cases[i].want), out.head->data, out.head->len,
			         "%s: data", cases[i].what);
			is_string("x.txt", out.head->name, "%s: name kept", cases[i].what);
		}
		pr_item_list_clear(&out);
		free(err);
	}
	test_stage_close(&t);
	return test_done();
}
