/*
 * diag-t.c: tests runner/diag.c: message form, order and suggestions.
 */
#include "config.h"

#include "runner/diag.h"
#include "tests/tap/basic.h"

int
main(void)
{
	static const char *const keys[] = { "workers", "kind", "name", "on_error", "run", NULL };
	struct pr_diag d;

	pr_diag_init(&d, "p.yml");
	pr_diag_error(&d, (struct pr_mark){ 7, 3 }, "later %d", 1);
	pr_diag_error(&d, (struct pr_mark){ 2, 9 }, "earlier");
	pr_diag_warn(&d, (struct pr_mark){ 2, 1 }, "a warning");
	pr_diag_error(&d, (struct pr_mark){ 0, 0 }, "no place");
	is_int(4, (long long)d.count, "four messages");
	is_int(3, (long long)d.errors, "three errors");
	is_string("p.yml: error: no place", d.msgs[0], "a message without a place comes first");
	is_string("p.yml:2:1: warning: a warning", d.msgs[1], "file:line:col: warning:");
	is_string("p.yml:2:9: error: earlier", d.msgs[2], "sorted by line and column");
	is_string("p.yml:7:3: error: later 1", d.msgs[3], "printf-style message");
	pr_diag_free(&d);
	pr_diag_free(NULL);

	is_string("workers", pr_diag_suggest("worker", keys), "a missing letter");
	is_string("workers", pr_diag_suggest("wokrers", keys), "two letters swapped");
	is_string("on_error", pr_diag_suggest("on-error", keys), "a dash for an underscore");
	is_string("kind", pr_diag_suggest("knd", keys), "a short word");
	is_string("run", pr_diag_suggest("rnu", keys), "a transposition counts as one edit");
	ok(pr_diag_suggest("frobnicate", keys) == NULL, "no suggestion for an unrelated word");
	ok(pr_diag_suggest("x", keys) == NULL, "none for a one-letter word");
	return test_done();
}
