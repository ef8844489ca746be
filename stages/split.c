/*
 * split.c: the split stage: cuts an item into line-aligned blocks of at most
 * `size` bytes (a longer line is a block of its own), or into single lines
 * with `lines: true`.  The pieces are named NAME#1, NAME#2 ... and leave in
 * order.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/stages.h"

struct split_state {
	uint64_t size; /* 0: one line per piece */
};

static int
split_open(const struct piperun_host *host, struct piperun_opts *opts, void **state)
{
	struct split_state *s;
	uint64_t size = 0;
	int lines = 0, has_size, has_lines;

	if ((has_size = host->opt_size(opts, "size", &size)) < 0 ||
	    (has_lines = host->opt_bool(opts, "lines", &lines)) < 0)
		return -1;
	has_size = has_size == 0;
	has_lines = has_lines == 0 && lines;
	if (has_size == has_lines) {
		host->open_error(opts, "give one of 'size' (a block size) or 'lines: true'");
		return -1;
	}
	if (has_size && size == 0) {
		host->open_error(opts, "option 'size' must be at least 1 byte");
		return -1;
	}
	s = malloc(sizeof(*s));
	if (s == NULL) {
		host->open_error(opts, "out of memory");
		return -1;
	}
	s->size = has_size ? size : 0;
	*state = s;
	return 0;
}

static void
split_close(void *state)
{
	free(state);
}

/* The length of the next piece of P (LEN bytes left): up to and including
 * the last newline within SIZE bytes, else the first line whole. */
static size_t
piece(const unsigned char *p, size_t len, uint64_t size)
{
	const unsigned char *nl;

	if (size > 0 && len <= size)
		return len;
	if (size > 0) {
		for (size_t i = (size_t)size; i > 0; i--)
			if (p[i - 1] == '\n')
				return i;
	}
	nl = memchr(p, '\n', len);
	return nl != NULL ? (size_t)(nl - p) + 1 : len;
}

static int
split_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
              struct piperun_out *out)
{
	const struct split_state *s = state;
	size_t off = 0, n = 0, namelen = strlen(item->name) + 24;
	char *name = host->alloc(namelen);

	if (name == NULL) {
		host->item_error(out, "out of memory");
		return -1;
	}
	while (off < item->len) {
		size_t len = piece(item->data + off, item->len - off, s->size);

		snprintf(name, namelen, "%s#%zu", item->name, ++n);
		if (host->emit(out, name, item->data + off, len) < 0) {
			host->release(name);
			host->item_error(out, "out of memory");
			return -1;
		}
		off += len;
	}
	host->release(name);
	return 0;
}

const struct piperun_stage pr_stage_split = {
	PIPERUN_STAGE_HEADER,
	.name = "split",
	.summary = "cut data into line-aligned blocks of a size, or into lines",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_CPU,
	.open = split_open,
	.process = split_process,
	.close = split_close,
};
