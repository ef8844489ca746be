/*
 * grep.c: the grep stage: keeps the lines that match a POSIX extended
 * regular expression (or, with invert, those that do not), as grep -E and
 * grep -Ev print them.  An item with no line kept emits nothing.
 */
#include "config.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "stages/stages.h"

struct grep_state {
	regex_t re;
	int invert;
};

static int
grep_open(const struct piperun_host *host, struct piperun_opts *opts, void **state)
{
	struct grep_state *g;
	const char *pattern = NULL;
	int invert = 0, icase = 0, rc;

	if ((rc = host->opt_string(opts, "pattern", &pattern)) < 0 ||
	    host->opt_bool(opts, "invert", &invert) < 0 ||
	    host->opt_bool(opts, "ignore_case", &icase) < 0)
		return -1;
	if (rc > 0) {
		host->open_error(opts, "option 'pattern' is required");
		return -1;
	}
	g = malloc(sizeof(*g));
	if (g == NULL) {
		host->open_error(opts, "out of memory");
		return -1;
	}
	rc = regcomp(&g->re, pattern, REG_EXTENDED | REG_NOSUB | REG_NEWLINE | (icase ? REG_ICASE : 0));
	if (rc != 0) {
		char why[256];
		regerror(rc, &g->re, why, sizeof(why));
		host->open_error(opts, "pattern '%s': %s", pattern, why);
		free(g);
		return -1;
	}
	g->invert = invert;
	*state = g;
	return 0;
}

static void
grep_close(void *state)
{
	struct grep_state *g = state;

	regfree(&g->re);
	free(g);
}

static int
grep_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
             struct piperun_out *out)
{
	const struct grep_state *g = state;
	const unsigned char *p, *end;
	unsigned char *buf, *w, *text;

	/* Kept lines, each with a newline: at most the input and one more byte. */
	buf = host->alloc(item->len + 1);
	if (buf == NULL) {
		host->item_error(out, "out of memory");
		return -1;
	}
	/* A copy ending in NUL: regexec() gets each line by offsets
	 * (REG_STARTEND), but some of its callers' tools (sanitizers) still
	 * look for the end of the string. */
	text = host->alloc(item->len + 1);
	if (text == NULL) {
		host->release(buf);
		host->item_error(out, "out of memory");
		return -1;
	}
	if (item->len > 0)
		memcpy(text, item->data, item->len);
	text[item->len] = '\0';
	p = text;
	end = text + item->len;
	w = buf;
	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *eol = nl != NULL ? nl : end;
		regmatch_t m = { .rm_so = 0, .rm_eo = eol - p };
		/* REG_STARTEND: the line is given by offsets, so NUL bytes in it
		 * are matched as bytes, as grep -a does. */
		int match = regexec(&g->re, (const char *)p, 1, &m, REG_STARTEND) == 0;

		if (match != g->invert) {
			memcpy(w, p, (size_t)(eol - p));
			w += eol - p;
			*w++ = '\n';
		}
		p = nl != NULL ? nl + 1 : end;
	}
	host->release(text);
	if (w == buf) {
		host->release(buf);
		return 0;
	}
	return host->emit_owned(out, NULL, buf, (size_t)(w - buf));
}

const struct piperun_stage pr_stage_grep = {
	PIPERUN_STAGE_HEADER,
	.name = "grep",
	.summary = "keep the lines matching a POSIX extended regex (invert: drop them)",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_CPU,
	.open = grep_open,
	.process = grep_process,
	.close = grep_close,
};
