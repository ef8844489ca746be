/*
 * probe.c: a test stage that reports where and when it ran each item:
 * "NAME PID PPID TID START END\n", times on the monotonic clock.
 *
 * Options: sleep (duration per item), spin (duration per item spent
 * computing, not waiting), jitter (up to this much more, varied
 * by item name), fanout (true: emit 0, 1 or 2 items per input, by name),
 * die_on (an item name: the process kills itself with SIGKILL on it),
 * crash_on (an item name: a segmentation fault on it), hang_on (an item
 * name: it sleeps for an hour on it), slow_on (an item name: it sleeps 2 s
 * more on it).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "piperun-stage.h"

struct probe {
	double sleep, spin, jitter;
	int fanout;
	const char *die_on, *crash_on, *hang_on, *slow_on;
};

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
probe_open(const struct piperun_host *host, struct piperun_opts *opts, void **state)
{
	struct probe *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	if (host->opt_duration(opts, "sleep", &p->sleep) < 0 ||
	    host->opt_duration(opts, "spin", &p->spin) < 0 ||
	    host->opt_duration(opts, "jitter", &p->jitter) < 0 ||
	    host->opt_bool(opts, "fanout", &p->fanout) < 0 ||
	    host->opt_string(opts, "die_on", &p->die_on) < 0 ||
	    host->opt_string(opts, "crash_on", &p->crash_on) < 0 ||
	    host->opt_string(opts, "hang_on", &p->hang_on) < 0 ||
	    host->opt_string(opts, "slow_on", &p->slow_on) < 0) {
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

static int
probe_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
              struct piperun_out *out)
{
	struct probe *p = state;
	double start = now(), pause = p->sleep;
	unsigned copies = p->fanout ? hash(item->name) % 3 : 1;
	char line[512];

	if (p->die_on != NULL && strcmp(item->name, p->die_on) == 0)
		raise(SIGKILL);
	if (p->crash_on != NULL && strcmp(item->name, p->crash_on) == 0) {
		volatile int *nowhere = NULL;
		*nowhere = 1;
	}
	if (p->hang_on != NULL && strcmp(item->name, p->hang_on) == 0)
		pause = 3600;
	if (p->slow_on != NULL && strcmp(item->name, p->slow_on) == 0)
		pause += 2;
	if (p->jitter > 0)
		pause += p->jitter * (double)(hash(item->name) % 1000) / 1000.0;
	if (pause > 0) {
		struct timespec ts = { (time_t)pause, (long)((pause - (double)(time_t)pause) * 1e9) };
		while (nanosleep(&ts, &ts) < 0)
			;
	}
	if (p->spin > 0) {
		/* Busy on a CPU until this thread has used SPIN seconds of it. */
		struct timespec ts;
		double used, until;
		volatile unsigned sink = 0;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		until = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + p->spin;
		do {
			for (unsigned i = 0; i < 10000; i++)
				sink += i;
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
			used = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
		} while (used < until);
	}
	for (unsigned i = 0; i < copies; i++) {
		int n = snprintf(line, sizeof(line), "%s#%u %ld %ld %ld %.6f %.6f\n", item->name, i,
		                 (long)getpid(), (long)getppid(), (long)syscall(SYS_gettid), start,
		                 now());
		if (host->emit(out, NULL, line, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

static void
probe_close(void *state)
{
	free(state);
}

PIPERUN_STAGE_EXPORT = {
	PIPERUN_STAGE_HEADER,
	.name = "probe",
	.summary = "report the process, thread and times of each item",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_NONE,
	.open = probe_open,
	.process = probe_process,
	.close = probe_close,
};
