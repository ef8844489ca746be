/*
 * exec-t.c: tests stages/exec.c: words, placeholders, failures.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/tap/basic.h"
#include "tests/tap/stage.h"

/* Runs exec with COMMAND (YAML) on an item NAME holding DATA. */
static char *
run(const char *command, const char *name, const char *data, int *rc, char **err)
{
	struct test_stage t;
	struct pr_item_list out = { 0 };
	char stage[512], *got = NULL;

	snprintf(stage, sizeof(stage), "{name: e, run: exec, with: {command: %s}}", command);
	*err = NULL;
	if (test_stage_open(&t, stage) < 0) {
		*rc = -2;
		return NULL;
	}
	*rc = test_stage_run(&t, name, NULL, data, strlen(data), &out, err);
	if (out.head != NULL)
		got = out.head->len > 0 ? strndup((const char *)out.head->data, out.head->len)
		                        : strdup("");
	pr_item_list_clear(&out);
	test_stage_close(&t);
	return got;
}

static void
expect(const char *command, const char *name, const char *data, const char *want, const char *what)
{
	int rc;
	char *err, *got = run(command, name, data, &rc, &err);

	is_string(want, got, "%s", what);
	if (err != NULL)
		diag("%s", err);
	free(got);
	free(err);
}

int
main(void)
{
	sigset_t pipe_set;
	char *err, *got;
	int rc;

	/* As main() does: a closed pipe is an error, not a death. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, NULL);

	expect("[tr, a-z, A-Z]", "x", "hello\n", "HELLO\n", "a list is an argv");
	expect("\"tr a-z A-Z\"", "x", "hello\n", "HELLO\n", "a string is split into words");
	expect("\"printf '%s|%s' 'a b' \\\"c\\\\\\\"d\\\"\"", "x", "", "a b|c\"d",
	       "quotes group words and a backslash escapes");
	expect("[printf, '%s|%s|%s|%s', '{name}', '{stem}', '{ext}', '{dir}']", "logs/a.tar.gz", "",
	       "logs/a.tar.gz|a.tar|.gz|logs", "placeholders expand");
	expect("[printf, '%s|%s|%s', '{name}', '{stem}', '{ext}']", "plain", "", "plain|plain|",
	       "a name without folder or extension");
	expect("[printf, '%s', '{{name}}']", "x", "", "{name}", "doubled braces are braces");
	expect("[printf, '%s|%s', '{name}', 'x{name}']", "-rf", "", "./-rf|x-rf",
	       "a leading expansion never starts with '-'");
	expect("[printf, '%s', '{name}']", "a b;$(touch pwned)*", "", "a b;$(touch pwned)*",
	       "names stay inert, whatever they hold");
	expect("[head, -c, '3']", "x", "abcdefghij", "abc", "a command may leave its input unread");
	expect("[cat]", "x", "", "", "empty input, empty output");

	got = run("\"sh -c 'echo oops >&2; exit 3'\"", "x", "", &rc, &err);
	ok(rc == -1 && got == NULL, "a non-zero exit fails the item");
	is_string("'sh' exited with status 3: oops", err, "with the status and the stderr");
	free(err);
	got = run("\"sh -c 'kill -9 $$'\"", "x", "", &rc, &err);
	is_string("'sh' was killed by signal 9 (Killed)", err, "a signal is named");
	free(err);
	/* A file the system cannot run (a script without a #! line): the item
	 * fails, saying why, and the child is reaped. */
	char script[] = "./exec-t-XXXXXX";
	int fd = mkstemp(script);
	ok(fd >= 0 && write(fd, "echo hi\n", 8) == 8 && fchmod(fd, 0755) == 0 && close(fd) == 0,
	   "a script without #! made");
	char command[64];
	snprintf(command, sizeof(command), "[%s]", script);
	got = run(command, "x", "", &rc, &err);
	ok(rc == -1 && got == NULL, "a file the system cannot run fails the item");
	char *want = NULL;
	if (asprintf(&want, "cannot run '%s': %s", script, strerror(ENOEXEC)) < 0)
		want = NULL;
	is_string(want, err, "saying why");
	ok(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "and no child is left");
	free(want);
	free(err);
	unlink(script);
	got = run("nosuchcommand-xyz", "x", "", &rc, &err);
	is_int(-2, rc, "a missing command is refused when the stage opens");
	got = run("[printf, '{nmae}']", "x", "", &rc, &err);
	is_int(-2, rc, "an unknown placeholder is refused when the stage opens");
	got = run("\"echo 'unterminated\"", "x", "", &rc, &err);
	is_int(-2, rc, "an unterminated quote is refused");
	return test_done();
}
