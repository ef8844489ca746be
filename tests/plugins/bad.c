/*
 * bad.c: test plugins that piperun must refuse or treat with care, one per
 * macro: BAD_ABI (built for interface 2.0), BAD_SIZE (a descriptor too
 * small), NO_SYMBOL (exports no descriptor), REFUSE (open() refuses its
 * options), UNSAFE (not thread-safe: emits "NAME STATE TID" so a test can
 * see which thread used which state), BAD_NAME (a name with a space and a
 * slash), BAD_KIND (a kind no enum piperun_kind has).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "piperun-stage.h"

#ifndef NO_SYMBOL
static int
bad_open(const struct piperun_host *host, struct piperun_opts *opts, void **state)
{
#ifdef REFUSE
	(void)state;
	const char *mode = "none";
	if (host->opt_string(opts, "mode", &mode) < 0)
		return -1;
	host->open_error(opts, "mode '%s' is not one this stage knows", mode);
	return -1;
#else
	(void)host;
	(void)opts;
	*state = calloc(1, 1);
	return *state != NULL ? 0 : -1;
#endif
}

static int
bad_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
            struct piperun_out *out)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s %p %ld\n", item->name, state,
	                 (long)syscall(SYS_gettid));

	return host->emit(out, NULL, line, (size_t)n);
}

static void
bad_close(void *state)
{
	free(state);
}

PIPERUN_STAGE_EXPORT = {
#ifdef BAD_ABI
	.abi = (uint32_t)2 << 16,
#else
	.abi = PIPERUN_STAGE_ABI,
#endif
#ifdef BAD_SIZE
	.size = 24,
#else
	.size = sizeof(struct piperun_stage),
#endif
#ifdef BAD_NAME
	.name = "a b/c",
#else
	.name = "bad",
#endif
	.summary = "a plugin for the loader's tests",
	.flags = 0,
#ifdef BAD_KIND
	.kind = 77,
#else
	.kind = PIPERUN_KIND_NONE,
#endif
	.open = bad_open,
	.process = bad_process,
	.close = bad_close,
};
#else
int piperun_not_a_stage = 1;
#endif
