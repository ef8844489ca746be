/*
 * diag.h: error messages about a pipeline file, each with its place.
 */
#ifndef PR_DIAG_H
#define PR_DIAG_H

#include <stddef.h>

/* A place in a pipeline file; line and col count from 1, 0 when unknown. */
struct pr_mark {
	unsigned line;
	unsigned col;
};

/* The messages gathered while a pipeline file is loaded. */
struct pr_diag {
	char *file;     /* as the user named it; owned */
	char **msgs;    /* whole lines without newline, in file order; owned */
	struct pr_mark *marks;
	size_t count;
	size_t errors;  /* how many of msgs are errors (the rest are warnings) */
};

void pr_diag_init(struct pr_diag *d, const char *file);
void pr_diag_free(struct pr_diag *d);

/* Adds "FILE:LINE:COL: error: MESSAGE" (or without LINE:COL when the mark
 * is unknown). */
void pr_diag_error(struct pr_diag *d, struct pr_mark m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pr_diag_warn(struct pr_diag *d, struct pr_mark m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Returns the closest of the NULL-terminated CANDIDATES to WORD when it is
 * near enough to be a likely misspelling, else NULL. */
const char *pr_diag_suggest(const char *word, const char *const *candidates);

#endif
