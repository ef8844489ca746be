/*
 * inplace.c: a test stage that writes its result over its input when the
 * host lets it take the input (reuse_input()): it swaps the case of
 * ASCII letters, and puts in place of the first byte 'T' when it worked
 * where the input was, 'C' when it had to allocate, 'R' when it took the
 * input and released it.
 *
 * Options: more (bytes to ask for beyond the input's length; default 0),
 * then (after taking the input: "emit-input" calls emit_input(), which
 * must fail; "release" gives the memory back and emits a copy instead).
 */
#include <stdlib.h>
#include <string.h>

#include "piperun-stage.h"

struct inplace {
	long long more;
	const char *then;
};

static int
inplace_open(const struct piperun_host *host, struct piperun_opts *opts, void **state)
{
	struct inplace *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	p->then = "";
	if (host->opt_int(opts, "more", 0, 1 << 30, &p->more) < 0 ||
	    host->opt_string(opts, "then", &p->then) < 0) {
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

static void
swap_case(const unsigned char *in, size_t len, unsigned char *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned c = in[i];
		out[i] = (unsigned char)((c | 32) >= 'a' && (c | 32) <= 'z' ? c ^ 32 : c);
	}
}

static int
inplace_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
                struct piperun_out *out)
{
	struct inplace *p = state;
	size_t size = item->len + (size_t)p->more;
	unsigned char *buf = NULL;
	unsigned char how = 'T';

	if ((host->abi & 0xffffu) >= 3 && host->reuse_input != NULL)
		buf = host->reuse_input(out, size);
	if (buf != NULL && strcmp(p->then, "emit-input") == 0) {
		int rc = host->emit_input(out);
		host->release(buf);
		return rc;
	}
	if (buf != NULL && strcmp(p->then, "release") == 0) {
		unsigned char *copy = malloc(item->len + 1);
		int rc;
		if (copy == NULL)
			return -1;
		swap_case(item->data, item->len, copy);
		host->release(buf);
		if (item->len > 0)
			copy[0] = 'R';
		rc = host->emit(out, NULL, copy, item->len);
		free(copy);
		return rc;
	}
	if (buf == NULL) {
		how = 'C';
		if ((buf = host->alloc(size ? size : 1)) == NULL) {
			host->item_error(out, "out of memory");
			return -1;
		}
	}
	/* In place, each byte is read before it is written over. */
	swap_case(item->data, item->len, buf);
	if (item->len > 0)
		buf[0] = how;
	return host->emit_owned(out, NULL, buf, item->len);
}

static void
inplace_close(void *state)
{
	free(state);
}

PIPERUN_STAGE_EXPORT = {
	PIPERUN_STAGE_HEADER,
	.name = "inplace",
	.summary = "swap the case of ASCII letters, over the input where the host allows",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_CPU,
	.open = inplace_open,
	.process = inplace_process,
	.close = inplace_close,
};
