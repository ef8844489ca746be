/*
 * basic.h: a small TAP producer for the C tests.
 */
#ifndef TAP_BASIC_H
#define TAP_BASIC_H

#include <stddef.h>

/* Declares N tests (0: the plan is printed at the end by test_done()). */
void plan(int n);

/* Reports one test; returns its outcome so callers can stop early. */
int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int is_int(long long want, long long got, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int is_string(const char *want, const char *got, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int is_bytes(const void *want, size_t wlen, const void *got, size_t glen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* A diagnostic line ("# ...") on standard output. */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Stops the whole test file as failed. */
void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Prints the late plan if needed; returns the exit status for main(). */
int test_done(void);

/* A fresh temporary folder for this test file (removed by test_done()). */
const char *test_tmpdir(void);

/* Writes LEN bytes to DIR/NAME; returns the path (static storage, reused). */
const char *test_write_file(const char *name, const void *data, size_t len);

/* The folder of the test data (tests/data in the source tree). */
const char *test_datadir(void);

#endif
