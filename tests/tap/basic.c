/*
 * basic.c: a small TAP producer for the C tests.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tap/basic.h"

static int planned = -1;
static int count, failures;
static char tmpdir[4096];

void
plan(int n)
{
	planned = n;
	if (n > 0)
		printf("1..%d\n", n);
	fflush(stdout);
}

static int
report(int cond, const char *fmt, va_list ap)
{
	count++;
	printf("%sok %d - ", cond ? "" : "not ", count);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		failures++;
	return cond;
}

int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	return cond;
}

int
is_int(long long want, long long got, const char *fmt, ...)
{
	va_list ap;
	int cond = want == got;

	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("want %lld, got %lld", want, got);
	return cond;
}

int
is_string(const char *want, const char *got, const char *fmt, ...)
{
	va_list ap;
	int cond = want && got ? strcmp(want, got) == 0 : want == got;

	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("want '%s'\n#  got '%s'", want ? want : "(null)", got ? got : "(null)");
	return cond;
}

int
is_bytes(const void *want, size_t wlen, const void *got, size_t glen, const char *fmt, ...)
{
	va_list ap;
	int cond = wlen == glen && (wlen == 0 || memcmp(want, got, wlen) == 0);

	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("want %zu bytes '%.*s', got %zu bytes '%.*s'", wlen, (int)(wlen > 200 ? 200 : wlen),
		     (const char *)want, glen, (int)(glen > 200 ? 200 : glen), (const char *)got);
	return cond;
}

void
diag(const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	/* Every line a comment, so that data with newlines stays out of TAP. */
	fputs("# ", stdout);
	for (const char *p = text ? text : "(out of memory)"; *p != '\0'; p++) {
		putchar(*p);
		if (*p == '\n')
			fputs("# ", stdout);
	}
	putchar('\n');
	fflush(stdout);
	free(text);
}

void
bail(const char *fmt, ...)
{
	va_list ap;

	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(255);
}

int
test_done(void)
{
	if (tmpdir[0] != '\0') {
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			diag("could not remove %s", tmpdir);
	}
	if (planned <= 0)
		printf("1..%d\n", count);
	else if (planned != count)
		diag("planned %d tests but ran %d", planned, count);
	fflush(stdout);
	return failures == 0 && (planned <= 0 || planned == count) ? 0 : 1;
}

const char *
test_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		const char *base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof(tmpdir), "%s/piperun-test-XXXXXX", base && *base ? base : "/tmp");
		if (mkdtemp(tmpdir) == NULL)
			bail("cannot make a temporary folder");
	}
	return tmpdir;
}

const char *
test_write_file(const char *name, const void *data, size_t len)
{
	static char path[4400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", test_tmpdir(), name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		bail("cannot write %s", path);
	return path;
}

const char *
test_datadir(void)
{
	static char path[4096];
	const char *src = getenv("srcdir");

	snprintf(path, sizeof(path), "%s/tests/data", src && *src ? src : ".");
	return path;
}
