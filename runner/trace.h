/*
 * trace.h: a timeline of a run: one slice per item per stage on the lane
 * of the worker that ran it, and the depth of each stage's queue over
 * time; written as Chrome trace-event JSON (--trace) or as an SVG picture
 * (--timeline).
 */
#ifndef PR_TRACE_H
#define PR_TRACE_H

#include <stdio.h>

#include "runner/pipeline.h"

struct pr_trace;

/* A new, empty trace of pipeline P's stages.  Free with pr_trace_free(). */
struct pr_trace *pr_trace_new(const struct pr_pipeline *p);
void pr_trace_free(struct pr_trace *t);

/* Records that worker (PID, TID) ran item NAME of STAGE from START to END
 * (pr_now() seconds).  Safe from any thread. */
void pr_trace_slice(struct pr_trace *t, unsigned stage, const char *name, double start,
                    double end, long pid, long tid, int failed);

/* Records STAGE's queue holding DEPTH items at time TS. */
void pr_trace_counter(struct pr_trace *t, unsigned stage, double ts, unsigned depth);

/* Writes the trace; each returns 0, or -1 when writing failed. */
int pr_trace_write_json(const struct pr_trace *t, FILE *f);
int pr_trace_write_svg(const struct pr_trace *t, FILE *f);

#endif
