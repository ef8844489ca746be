/*
 * trace.c: a timeline of a run, as Chrome trace-event JSON or SVG.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runner/trace.h"
#include "runner/util.h"

struct slice {
	double start, end;
	long pid, tid;
	unsigned stage;
	int failed;
	char *name;
};

struct counter {
	double ts;
	unsigned stage, depth;
};

struct pr_trace {
	pthread_mutex_t lock;
	double t0;
	char **stages;
	size_t nstages;
	struct slice *slices;
	size_t nslices, cap;
	struct counter *counters;
	size_t ncounters, ccap;
};

struct pr_trace *
pr_trace_new(const struct pr_pipeline *p)
{
	struct pr_trace *t = pr_calloc(1, sizeof(*t));

	pthread_mutex_init(&t->lock, NULL);
	t->t0 = pr_now();
	t->nstages = p->nstages;
	t->stages = pr_calloc(p->nstages, sizeof(char *));
	for (size_t i = 0; i < p->nstages; i++)
		t->stages[i] = pr_strdup(p->stages[i].name);
	return t;
}

void
pr_trace_free(struct pr_trace *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nslices; i++)
		free(t->slices[i].name);
	for (size_t i = 0; i < t->nstages; i++)
		free(t->stages[i]);
	free(t->stages);
	free(t->slices);
	free(t->counters);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void
pr_trace_slice(struct pr_trace *t, unsigned stage, const char *name, double start, double end,
               long pid, long tid, int failed)
{
	char *copy = pr_strdup(name);

	pthread_mutex_lock(&t->lock);
	if (t->nslices == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 1024;
		t->slices = pr_reallocarray(t->slices, t->cap, sizeof(*t->slices));
	}
	t->slices[t->nslices++] = (struct slice){ start, end, pid, tid, stage, failed, copy };
	pthread_mutex_unlock(&t->lock);
}

void
pr_trace_counter(struct pr_trace *t, unsigned stage, double ts, unsigned depth)
{
	pthread_mutex_lock(&t->lock);
	if (t->ncounters == t->ccap) {
		t->ccap = t->ccap ? 2 * t->ccap : 1024;
		t->counters = pr_reallocarray(t->counters, t->ccap, sizeof(*t->counters));
	}
	t->counters[t->ncounters++] = (struct counter){ ts, stage, depth };
	pthread_mutex_unlock(&t->lock);
}

/* Writes S as the inside of a JSON (or XML, with XML) string. */
static void
escaped(FILE *f, const char *s, int xml)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (xml && (*p == '<' || *p == '>' || *p == '&' || *p == '"'))
			fprintf(f, "&#%d;", *p);
		else if (!xml && (*p == '"' || *p == '\\'))
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, xml ? "?" : "\\u%04x", *p);
		else
			fputc(*p, f);
	}
}

/* Lanes: the distinct (pid, tid) pairs of the slices, in order of first
 * use, so that each worker is one row. */
struct lane {
	long pid, tid;
	unsigned stage;
};

static size_t
lanes_of(const struct pr_trace *t, struct lane **out)
{
	struct lane *lanes = NULL;
	size_t n = 0;

	for (size_t i = 0; i < t->nslices; i++) {
		size_t j;
		for (j = 0; j < n; j++)
			if (lanes[j].pid == t->slices[i].pid && lanes[j].tid == t->slices[i].tid &&
			    lanes[j].stage == t->slices[i].stage)
				break;
		if (j < n)
			continue;
		lanes = pr_reallocarray(lanes, n + 1, sizeof(*lanes));
		lanes[n++] = (struct lane){ t->slices[i].pid, t->slices[i].tid, t->slices[i].stage };
	}
	*out = lanes;
	return n;
}

int
pr_trace_write_json(const struct pr_trace *t, FILE *f)
{
	struct lane *lanes;
	size_t n = lanes_of(t, &lanes);
	const char *sep = "";

	fputs("{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": %ld, \"tid\": %ld, "
		           "\"args\": {\"name\": \"",
		        sep, lanes[i].pid, lanes[i].tid);
		escaped(f, t->stages[lanes[i].stage], 0);
		fprintf(f, " %ld\"}}", lanes[i].tid);
		sep = ",\n";
	}
	for (size_t i = 0; i < t->nslices; i++) {
		const struct slice *s = &t->slices[i];
		fprintf(f, "%s{\"ph\": \"X\", \"name\": \"", sep);
		escaped(f, t->stages[s->stage], 0);
		fprintf(f, "\", \"cat\": \"%s\", \"pid\": %ld, \"tid\": %ld, \"ts\": %.3f, "
		           "\"dur\": %.3f, \"args\": {\"item\": \"",
		        s->failed ? "failed" : "ok", s->pid, s->tid, (s->start - t->t0) * 1e6,
		        (s->end - s->start) * 1e6);
		escaped(f, s->name, 0);
		fputs("\"}}", f);
		sep = ",\n";
	}
	for (size_t i = 0; i < t->ncounters; i++) {
		const struct counter *c = &t->counters[i];
		fprintf(f, "%s{\"ph\": \"C\", \"name\": \"queue ", sep);
		escaped(f, t->stages[c->stage], 0);
		fprintf(f, "\", \"pid\": 0, \"ts\": %.3f, \"args\": {\"items\": %u}}",
		        (c->ts - t->t0) * 1e6, c->depth);
		sep = ",\n";
	}
	fputs("\n]}\n", f);
	free(lanes);
	return ferror(f) ? -1 : 0;
}

int
pr_trace_write_svg(const struct pr_trace *t, FILE *f)
{
	static const char *const colours[] = { "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1",
		                               "#76b7b2", "#edc948", "#ff9da7", "#9c755f" };
	const double width = 1200, lane_h = 18, left = 170, top = 30;
	struct lane *lanes;
	size_t n = lanes_of(t, &lanes);
	double end = 0;

	for (size_t i = 0; i < t->nslices; i++)
		if (t->slices[i].end - t->t0 > end)
			end = t->slices[i].end - t->t0;
	if (end <= 0)
		end = 1;
	double scale = (width - left - 10) / end;
	double height = top + (double)n * lane_h + 30;

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
	           "font-family=\"sans-serif\" font-size=\"11\">\n",
	        width, height);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"10\" y=\"18\" font-size=\"13\">piperun timeline: %zu items-stages, "
	           "%.3f s</text>\n",
	        t->nslices, end);
	for (size_t l = 0; l < n; l++) {
		double y = top + (double)l * lane_h;
		fprintf(f, "<text x=\"10\" y=\"%.1f\">", y + 12);
		escaped(f, t->stages[lanes[l].stage], 1);
		fprintf(f, " %ld/%ld</text>\n", lanes[l].pid, lanes[l].tid);
	}
	for (size_t i = 0; i < t->nslices; i++) {
		const struct slice *s = &t->slices[i];
		size_t l;
		for (l = 0; l < n; l++)
			if (lanes[l].pid == s->pid && lanes[l].tid == s->tid && lanes[l].stage == s->stage)
				break;
		double x = left + (s->start - t->t0) * scale;
		double w = (s->end - s->start) * scale;
		fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\">"
		           "<title>",
		        x, top + (double)l * lane_h + 2, w < 0.5 ? 0.5 : w, lane_h - 4,
		        s->failed ? "#e15759" : colours[s->stage % 8]);
		escaped(f, s->name, 1);
		fprintf(f, " (%.3f ms)</title></rect>\n", (s->end - s->start) * 1e3);
	}
	for (int tick = 0; tick <= 10; tick++) {
		double x = left + (width - left - 10) * tick / 10.0;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>"
		           "<text x=\"%.1f\" y=\"%.1f\">%.3gs</text>\n",
		        x, top - 4, x, height - 24, x - 8, height - 10, end * tick / 10.0);
	}
	fputs("</svg>\n", f);
	free(lanes);
	return ferror(f) ? -1 : 0;
}
