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

/* What byte C becomes: itself lowercased, or 0 for a separator. */
static inline unsigned char
clean_byte(unsigned char c)
{
	if ((unsigned)(c - 'A') < 26u)
		return (unsigned char)(c + ('a' - 'A'));
	if ((unsigned)(c - 'a') < 26u || (unsigned)(c - '0') < 10u)
		return c;
	return 0;
}

static int
clean_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
              struct piperun_out *out)
{
	const unsigned char *p = item->data, *end = item->data + item->len;
	unsigned char *buf, *w;
	int pending_space = 0;
	int in_line = 0;

	(void)state;
	/* The output is never longer than the input plus a final newline. */
	buf = host->alloc(item->len + 1);
	if (buf == NULL) {
		host->item_error(out, "out of memory");
		return -1;
	}
	w = buf;
	for (; p < end; p++) {
		unsigned char c = *p;
		unsigned char m;

		if (c == '\n') {
			if (in_line)
				*w++ = '\n';
			in_line = pending_space = 0;
			continue;
		}
		m = clean_byte(c);
		if (m == 0) {
			pending_space = in_line;
			continue;
		}
		if (pending_space)
			*w++ = ' ';
		*w++ = m;
		in_line = 1;
		pending_space = 0;
	}
	if (in_line)
		*w++ = '\n';
	return host->emit_owned(out, NULL, buf, (size_t)(w - buf));
}

const struct piperun_stage pr_stage_clean = {
	PIPERUN_STAGE_HEADER,
	.name = "clean",
	.summary = "lowercase ASCII, turn other bytes to spaces, squeeze, trim, drop empty lines",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_CPU,
	.process = clean_process,
};
