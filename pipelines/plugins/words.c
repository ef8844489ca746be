/*
 * words.c: an example plugin that turns one item into many: one item per
 * word (a run of bytes other than space, tab and newline), named NAME#N,
 * holding the word and a newline.  An item without words emits nothing.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags piperun) words.c -o words.so
 */
#include <stdio.h>
#include <string.h>

#include <piperun-stage.h>

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static int
words_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
              struct piperun_out *out)
{
	size_t i = 0, n = 0;

	(void)state;
	while (i < item->len) {
		size_t start;
		char *name;
		unsigned char *word;

		while (i < item->len && is_space(item->data[i]))
			i++;
		if (i == item->len)
			break;
		start = i;
		while (i < item->len && !is_space(item->data[i]))
			i++;
		name = host->alloc(strlen(item->name) + 24);
		word = host->alloc(i - start + 1);
		if (name == NULL || word == NULL) {
			host->release(name);
			host->release(word);
			host->item_error(out, "out of memory");
			return -1;
		}
		sprintf(name, "%s#%zu", item->name, ++n);
		memcpy(word, item->data + start, i - start);
		word[i - start] = '\n';
		int rc = host->emit_owned(out, name, word, i - start + 1);
		host->release(name);
		if (rc < 0) {
			host->item_error(out, "out of memory");
			return -1;
		}
	}
	return 0;
}

PIPERUN_STAGE_EXPORT = {
	PIPERUN_STAGE_HEADER,
	.name = "words",
	.summary = "one item per word of each item",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_CPU,
	.process = words_process,
};
