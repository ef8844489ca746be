/*
 * clean.c: the clean stage, byte-exact text normalisation.
 *
 * Per line: ASCII letters lowercased, every byte other than [a-z0-9] made a
 * space, runs of spaces collapsed, leading and trailing spaces trimmed,
 * empty lines dropped, each remaining line ended with "\n".  The same as
 *   tr A-Z a-z | tr -c 'a-z0-9\n' ' ' | tr -s ' ' | sed 's/^ //;s/ $//' | grep -v '^$'
 */
#include "config.h"

#include "stages/stages.h"

/* What byte C becomes: itself lowercased when it is a letter or a digit,
 * else '\n', which marks it as no part of a word.  Built at compile time. */
#define CLEAN_MAP(c)                                                      \
	((c) >= 'A' && (c) <= 'Z'                               ? (c) + 32 \
	 : ((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') ? (c)   \
	                                                          : '\n')
#define CLEAN_4(c)  CLEAN_MAP(c), CLEAN_MAP((c) + 1), CLEAN_MAP((c) + 2), CLEAN_MAP((c) + 3)
#define CLEAN_16(c) CLEAN_4(c), CLEAN_4((c) + 4), CLEAN_4((c) + 8), CLEAN_4((c) + 12)
#define CLEAN_64(c) CLEAN_16(c), CLEAN_16((c) + 16), CLEAN_16((c) + 32), CLEAN_16((c) + 48)
static const unsigned char clean_map[256] = { CLEAN_64(0), CLEAN_64(64), CLEAN_64(128),
	                                      CLEAN_64(192) };

/*
 * The loop has no branch that depends on the data, so words of a few
 * letters cost no mispredictions: every byte stores a pending space and
 * then its own output byte, and advances past each only when it counts.
 * A byte is a word byte, a separator, or a newline:
 *   word:      a space first if one is pending, then the byte;
 *   separator: a space becomes pending if the line has a word already;
 *   newline:   "\n" if the line has a word; the next line starts afresh.
 */
static size_t
clean_bytes(const unsigned char *in, size_t len, unsigned char *out)
{
	unsigned char *w = out;
	unsigned in_line = 0, pending = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned c = in[i], m = clean_map[c];
		unsigned word = m != '\n', sep = !word & (c != '\n');
		*w = ' ';
		w += pending & word;
		*w = (unsigned char)m;
		w += word | (in_line & !sep);
		pending = sep & in_line;
		in_line = word | (in_line & sep);
	}
	if (in_line)
		*w++ = '\n';
	return (size_t)(w - out);
}

static int
clean_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
              struct piperun_out *out)
{
	unsigned char *buf;

	(void)state;
	/* The output is never longer than the input plus a final newline (the
	 * newline only when the input does not end with one), and the loop
	 * never stores past the byte it is on (a pending space stands for a
	 * separator that wrote nothing): it may write over its input. */
	size_t most = item->len + (item->len == 0 || item->data[item->len - 1] != '\n');
	buf = NULL;
	if ((host->abi & 0xffffu) >= 3 && host->reuse_input != NULL)
		buf = host->reuse_input(out, most);
	if (buf == NULL)
		buf = host->alloc(most);
	if (buf == NULL) {
		host->item_error(out, "out of memory");
		return -1;
	}
	return host->emit_owned(out, NULL, buf, clean_bytes(item->data, item->len, buf));
}

const struct piperun_stage pr_stage_clean = {
	PIPERUN_STAGE_HEADER,
	.name = "clean",
	.summary = "lowercase ASCII, turn other bytes to spaces, squeeze, trim, drop empty lines",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_CPU,
	.process = clean_process,
};
