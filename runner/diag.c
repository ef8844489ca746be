/*
 * diag.c: error messages about a pipeline file, each with its place.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/diag.h"
#include "runner/util.h"

void
pr_diag_init(struct pr_diag *d, const char *file)
{
	memset(d, 0, sizeof(*d));
	d->file = pr_strdup(file);
}

void
pr_diag_free(struct pr_diag *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->count; i++)
		free(d->msgs[i]);
	free(d->msgs);
	free(d->marks);
	free(d->file);
	memset(d, 0, sizeof(*d));
}

static void
diag_add(struct pr_diag *d, struct pr_mark m, const char *level, const char *fmt, va_list ap)
{
	char *text = pr_vasprintf(fmt, ap);
	char *line;

	if (m.line > 0)
		line = pr_asprintf("%s:%u:%u: %s: %s", d->file, m.line, m.col, level, text);
	else
		line = pr_asprintf("%s: %s: %s", d->file, level, text);
	free(text);
	/* Kept in file order, whatever order the checks ran in. */
	size_t at = d->count;
	while (at > 0 && (d->marks[at - 1].line > m.line ||
	                  (d->marks[at - 1].line == m.line && d->marks[at - 1].col > m.col)))
		at--;
	d->msgs = pr_reallocarray(d->msgs, d->count + 1, sizeof(*d->msgs));
	d->marks = pr_reallocarray(d->marks, d->count + 1, sizeof(*d->marks));
	memmove(d->msgs + at + 1, d->msgs + at, (d->count - at) * sizeof(*d->msgs));
	memmove(d->marks + at + 1, d->marks + at, (d->count - at) * sizeof(*d->marks));
	d->msgs[at] = line;
	d->marks[at] = m;
	d->count++;
}

void
pr_diag_error(struct pr_diag *d, struct pr_mark m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, m, "error", fmt, ap);
	va_end(ap);
	d->errors++;
}

void
pr_diag_warn(struct pr_diag *d, struct pr_mark m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, m, "warning", fmt, ap);
	va_end(ap);
}

/* Edit distance with transpositions (optimal string alignment), for words
 * of a pipeline file's length. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[65][65];

	if (la > 64 || lb > 64)
		return (size_t)-1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *
pr_diag_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	size_t limit = strlen(word) <= 3 ? 1 : 2;

	for (size_t i = 0; candidates[i] != NULL; i++) {
		size_t dist = distance(word, candidates[i]);
		if (dist < best_d) {
			best_d = dist;
			best = candidates[i];
		}
	}
	return best_d <= limit && best_d < strlen(word) ? best : NULL;
}
