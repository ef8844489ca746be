/*
 * stats.c: what each stage did, counted while it runs.
 */
#include "config.h"

#include <inttypes.h>

#include "runner/stats.h"

/* Writes S as a JSON string. */
static void
json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

int
pr_stats_write_json(const struct pr_stats *s, FILE *f)
{
	fputs("{\"pipeline\": ", f);
	json_string(f, s->pipeline);
	fputs(", \"status\": ", f);
	json_string(f, s->status);
	fprintf(f, ", \"elapsed_s\": %.6f, \"items_in\": %" PRIu64 ", \"items_out\": %" PRIu64
	           ", \"stages\": [",
	        s->elapsed_s, s->items_in, s->items_out);
	for (size_t i = 0; i < s->nstages; i++) {
		const struct pr_stage_stats *t = &s->stages[i];
		fputs(i ? ", {\"name\": " : "{\"name\": ", f);
		json_string(f, t->name);
		fputs(", \"kind\": ", f);
		json_string(f, t->kind);
		fputs(", \"executor\": ", f);
		json_string(f, t->executor);
		fprintf(f,
		        ", \"workers\": %u, \"in\": %" PRIu64 ", \"out\": %" PRIu64 ", \"ok\": %" PRIu64
		        ", \"filtered\": %" PRIu64 ", \"failed\": %" PRIu64
		        ", \"interrupted\": %" PRIu64 ", \"bytes_in\": %" PRIu64
		        ", \"bytes_out\": %" PRIu64 ", \"busy_s\": %.6f, \"wait_s\": %.6f}",
		        t->workers, t->in, t->out, t->ok, t->filtered, t->failed, t->interrupted,
		        t->bytes_in, t->bytes_out, t->busy_s, t->wait_s);
	}
	fputs("]}\n", f);
	return ferror(f) ? -1 : 0;
}

/* The share of its workers' time a stage spent working. */
static double
utilisation(const struct pr_stats *s, const struct pr_stage_stats *t)
{
	double u = s->elapsed_s > 0 && t->workers > 0 ? t->busy_s / (s->elapsed_s * t->workers) : 0;

	return u > 1 ? 1 : u;
}

void
pr_stats_write_summary(const struct pr_stats *s, FILE *f)
{
	size_t bottleneck = 0;

	fprintf(f, "piperun: %s: %s in %.3fs, %" PRIu64 " items in, %" PRIu64 " out\n", s->pipeline,
	        s->status, s->elapsed_s, s->items_in, s->items_out);
	fprintf(f, "piperun:   %-12s %-4s %-10s %7s %8s %8s %8s %6s %6s %10s %10s %8s %8s %5s\n",
	        "stage", "kind", "executor", "workers", "in", "out", "filtered", "failed", "intr",
	        "bytes in", "bytes out", "busy", "wait", "util");
	for (size_t i = 0; i < s->nstages; i++) {
		const struct pr_stage_stats *t = &s->stages[i];
		fprintf(f,
		        "piperun:   %-12s %-4s %-10s %7u %8" PRIu64 " %8" PRIu64 " %8" PRIu64
		        " %6" PRIu64 " %6" PRIu64 " %10" PRIu64 " %10" PRIu64 " %7.3fs %7.3fs %4.0f%%\n",
		        t->name, t->kind, t->executor, t->workers, t->in, t->out, t->filtered, t->failed,
		        t->interrupted, t->bytes_in, t->bytes_out, t->busy_s, t->wait_s,
		        utilisation(s, t) * 100);
		if (utilisation(s, t) > utilisation(s, &s->stages[bottleneck]))
			bottleneck = i;
	}
	if (s->nstages > 1 && s->elapsed_s > 0)
		fprintf(f, "piperun:   bottleneck: %s (its workers were busy %.0f%% of the time)\n",
		        s->stages[bottleneck].name, utilisation(s, &s->stages[bottleneck]) * 100);
}

int
pr_stats_check(const struct pr_stats *s, size_t *bad)
{
	for (size_t i = 0; i < s->nstages; i++) {
		const struct pr_stage_stats *t = &s->stages[i];
		if (t->in != t->ok + t->failed + t->interrupted || t->filtered > t->ok) {
			*bad = i;
			return -1;
		}
	}
	return 0;
}
