/*
 * count.c: the count stage: replaces an item's data with
 * "LINES WORDS BYTES NAME\n", counted as wc counts them in the C locale:
 * a word is a run of printable bytes between white space, and bytes that
 * are neither printable nor space neither start nor end one.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/stages.h"

static int
count_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
              struct piperun_out *out)
{
	uint64_t lines = 0, words = 0;
	int in_word = 0;
	size_t cap = strlen(item->name) + 3 * 21 + 8;
	char *buf;
	int n;

	(void)state;
	for (size_t i = 0; i < item->len; i++) {
		unsigned char c = item->data[i];
		switch (c) {
		case '\n':
			lines++;
			/* fall through */
		case ' ':
		case '\t':
		case '\v':
		case '\f':
		case '\r':
			in_word = 0;
			break;
		default:
			/* wc: a printable byte starts or goes on with a word; any
			 * other byte neither starts nor ends one. */
			if (c > ' ' && c < 0x7f) {
				if (!in_word)
					words++;
				in_word = 1;
			}
		}
	}
	buf = host->alloc(cap);
	if (buf == NULL) {
		host->item_error(out, "out of memory");
		return -1;
	}
	n = snprintf(buf, cap, "%" PRIu64 " %" PRIu64 " %zu %s\n", lines, words, item->len,
	             item->name);
	return host->emit_owned(out, NULL, buf, (size_t)n);
}

const struct piperun_stage pr_stage_count = {
	PIPERUN_STAGE_HEADER,
	.name = "count",
	.summary = "replace data with \"LINES WORDS BYTES NAME\", as wc counts",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_SYNC,
	.process = count_process,
};
