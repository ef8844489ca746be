/*
 * source.h: the items a pipeline starts from: glob, files, lines, blocks.
 */
#ifndef PR_SOURCE_H
#define PR_SOURCE_H

#include <stdatomic.h>

#include "runner/item.h"
#include "runner/pipeline.h"

struct pr_source;

/* Where a source reports what it skips; LINE is a whole message. */
typedef void pr_warn_fn(void *ud, const char *line);

/*
 * Opens the source IN describes.  Globs are expanded here (each pattern
 * sorted on its own, duplicates kept once, a pattern that matches nothing
 * reported through WARN); files for lines and blocks are opened as items
 * are asked for.  Returns the source; the caller frees it with
 * pr_source_close().
 */
struct pr_source *pr_source_open(const struct pr_input *in, pr_warn_fn *warn, void *ud);

/*
 * Hands out the next item in *ITEM (owned by the caller).  Returns 1 for an
 * item, 0 at the end, -1 on an error (an unreadable file), with *ERR set to
 * a message the caller frees; the source cannot go on after an error.
 */
int pr_source_next(struct pr_source *s, struct pr_item **item, char **err);

/* 1 when the next pr_source_next() needs no read (the item is at hand, or
 * the source is at its end), so that waiting for input does not hold back
 * the items already taken. */
int pr_source_ready(const struct pr_source *s);

/* The number of items the source will produce when known (globs and
 * files), else 0. */
uint64_t pr_source_total(const struct pr_source *s);

/* Makes an input of "-" read FD (0 unless this is called), or fail with a
 * message that standard input is closed when FD is -1. */
void pr_source_stdin(struct pr_source *s, int fd);

/* Makes the source end once *STOP is set: a read interrupted by a signal
 * then ends it, and a read that would wait for a pipe, a terminal or a
 * socket ends it as soon as STOP_FD (-1: none) is readable. */
void pr_source_stop_on(struct pr_source *s, const atomic_int *stop, int stop_fd);

void pr_source_close(struct pr_source *s);

#endif
