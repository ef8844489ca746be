/*
 * caesar.c: an example plugin with state: rotates ASCII letters by `shift`
 * places (13 by default, as rot13).  The table is built once in open() and
 * only read afterwards, so the stage is thread-safe.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags piperun) caesar.c -o caesar.so
 */
#include <stdlib.h>

#include <piperun-stage.h>

struct caesar {
	unsigned char table[256];
};

static int
caesar_open(const struct piperun_host *host, struct piperun_opts *opts, void **state)
{
	long long shift = 13;
	struct caesar *c;

	if (host->opt_int(opts, "shift", 0, 25, &shift) < 0)
		return -1;
	c = malloc(sizeof(*c));
	if (c == NULL) {
		host->open_error(opts, "out of memory");
		return -1;
	}
	for (int i = 0; i < 256; i++)
		c->table[i] = (unsigned char)i;
	for (int i = 0; i < 26; i++) {
		c->table['a' + i] = (unsigned char)('a' + (i + shift) % 26);
		c->table['A' + i] = (unsigned char)('A' + (i + shift) % 26);
	}
	*state = c;
	return 0;
}

static int
caesar_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
               struct piperun_out *out)
{
	const struct caesar *c = state;
	unsigned char *buf = host->alloc(item->len);

	if (buf == NULL) {
		host->item_error(out, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < item->len; i++)
		buf[i] = c->table[item->data[i]];
	return host->emit_owned(out, NULL, buf, item->len);
}

static void
caesar_close(void *state)
{
	free(state);
}

PIPERUN_STAGE_EXPORT = {
	PIPERUN_STAGE_HEADER,
	.name = "caesar",
	.summary = "rotate ASCII letters by a fixed shift",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_CPU,
	.open = caesar_open,
	.process = caesar_process,
	.close = caesar_close,
};
