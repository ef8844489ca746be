/*
 * yaml-t.c: tests runner/yaml.c: aliases, merge keys and the limits.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runner/util.h"
#include "runner/yaml.h"
#include "tests/tap/basic.h"

static int
parse(const char *text, struct pr_yaml *doc, char **first)
{
	struct pr_diag d;
	int rc;

	pr_diag_init(&d, "y.yml");
	rc = pr_yaml_parse(text, strlen(text), doc, &d);
	*first = pr_strdup(d.count > 0 ? d.msgs[0] : "");
	pr_diag_free(&d);
	return rc;
}

static void
test_billion_laughs(void)
{
	char *text = pr_strdup("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	struct pr_yaml doc;
	char *err;
	clock_t t0 = clock();

	for (char c = 'b'; c <= 'j'; c++) {
		char *next = pr_asprintf("%s%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n",
		                         text, c, c, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1,
		                         c - 1, c - 1);
		free(text);
		text = next;
	}
	is_int(-1, parse(text, &doc, &err), "billion laughs is refused");
	is_string("y.yml:6:4: error: aliases expand to more than 100000 nodes; refusing to expand "
	          "them", err, "with the place where expansion passed the limit");
	ok((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0, "quickly");
	pr_yaml_free(&doc);
	free(err);
	free(text);
}

static void
test_depth(void)
{
	char text[1000];
	struct pr_yaml doc;
	char *err;
	size_t n = 0;

	for (int i = 0; i < 70; i++)
		text[n++] = '[';
	for (int i = 0; i < 70; i++)
		text[n++] = ']';
	text[n] = '\0';
	is_int(-1, parse(text, &doc, &err), "deep nesting is refused");
	is_string("y.yml:1:65: error: nesting deeper than 64 levels", err, "message");
	pr_yaml_free(&doc);
	free(err);
}

int
main(void)
{
	struct pr_yaml doc;
	char *err;

	is_int(0, parse("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", &doc, &err), "merge key");
	struct pr_node *m = pr_map_get(doc.root, "m");
	is_string("1", pr_map_get(m, "x")->value, "merged key");
	is_string("3", pr_map_get(m, "y")->value, "explicit key wins over merged");
	is_int(2, (long long)pr_map_len(m), "no merge key left behind");
	pr_yaml_free(&doc);
	free(err);

	is_int(0, parse("a: &a {x: 1}\nb: &b {x: 2, z: 3}\nm: {<<: [*a, *b]}\n", &doc, &err),
	       "merge of a list");
	m = pr_map_get(doc.root, "m");
	is_string("1", pr_map_get(m, "x")->value, "earlier merge source wins");
	is_string("3", pr_map_get(m, "z")->value, "later source adds its keys");
	pr_yaml_free(&doc);
	free(err);

	is_int(-1, parse("m: {<<: 3}\n", &doc, &err), "merge of a scalar");
	is_string("y.yml:1:9: error: a merge key takes a mapping or a list of mappings, not a single "
	          "value", err, "message");
	pr_yaml_free(&doc);
	free(err);

	is_int(-1, parse("a: 1\nb: 2\na: 3\n", &doc, &err), "duplicate keys");
	is_string("y.yml:3:1: error: duplicate key 'a' (first at line 1)", err, "message");
	pr_yaml_free(&doc);
	free(err);

	is_int(-1, parse("a: 1\n---\nb: 2\n", &doc, &err), "two documents");
	is_string("y.yml:2:1: error: a pipeline file holds one YAML document, this is a second one",
	          err, "message");
	pr_yaml_free(&doc);
	free(err);

	is_int(-1, parse("a: *nope\n", &doc, &err), "undefined alias");
	is_string("y.yml:1:4: error: undefined alias '*nope'", err, "message");
	pr_yaml_free(&doc);
	free(err);

	is_int(-1, parse("a: &x [1, *x]\n", &doc, &err), "an alias inside its own anchor");
	is_string("y.yml:1:11: error: undefined alias '*x'", err, "is undefined, so no cycle");
	pr_yaml_free(&doc);
	free(err);

	is_int(-1, parse("a: !!binary aGk=\n", &doc, &err), "a core tag that does not fit");
	pr_yaml_free(&doc);
	free(err);
	is_int(-1, parse("? [a]\n: 1\n", &doc, &err), "a complex key");
	is_string("y.yml:1:3: error: a key must be a plain value, not a list", err, "message");
	pr_yaml_free(&doc);
	free(err);

	is_int(0, parse("a: !!str 12\nb: '12'\nc: 12\n", &doc, &err), "tags and quotes");
	ok(pr_map_get(doc.root, "a")->quoted, "!!str makes a string");
	ok(pr_map_get(doc.root, "b")->quoted, "quotes make a string");
	ok(!pr_map_get(doc.root, "c")->quoted, "plain stays plain");
	pr_yaml_free(&doc);
	free(err);

	is_int(-1, parse("a: \"x\\0y\"\n", &doc, &err), "a NUL byte in a value");
	pr_yaml_free(&doc);
	free(err);

	char *huge = pr_malloc(PR_YAML_MAX_FILE + 2);
	memset(huge, '#', PR_YAML_MAX_FILE + 1);
	huge[PR_YAML_MAX_FILE + 1] = '\0';
	is_int(-1, parse(huge, &doc, &err), "a file over 1 MiB");
	is_string("y.yml: error: the file is larger than 1048576 bytes", err, "message");
	pr_yaml_free(&doc);
	free(err);
	free(huge);

	test_billion_laughs();
	test_depth();
	return test_done();
}
