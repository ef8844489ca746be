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
 * more on it), fail_on (an item name: it fails, after any sleep),
 * once_dir (a folder: die_on, crash_on and hang_on hold only the first
 * time, which leaves a file named after the item there), log (a file: each
 * attempt on an item appends the item's name to it), thread_log (a file:
 * each attempt appends the item's name and the name of the thread that
 * runs it, as ps -L shows it), close_log (a file:
 * closing the state appends "PID TIME" to it), bulk (a size: each result
 * is padded with spaces to this many bytes).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "piperun-stage.h"

struct probe {
	double sleep, spin, jitter;
	int fanout;
	const char *die_on, *crash_on, *hang_on, *slow_on, *fail_on, *once_dir, *log;
	const char *thread_log, *close_log;
	uint64_t bulk;
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
	    host->opt_string(opts, "slow_on", &p->slow_on) < 0 ||
	    host->opt_string(opts, "fail_on", &p->fail_on) < 0 ||
	    host->opt_string(opts, "once_dir", &p->once_dir) < 0 ||
	    host->opt_string(opts, "log", &p->log) < 0 ||
	    host->opt_string(opts, "thread_log", &p->thread_log) < 0 ||
	    host->opt_string(opts, "close_log", &p->close_log) < 0 ||
	    host->opt_size(opts, "bulk", &p->bulk) < 0) {
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

/* Whether a fault meant for item NAME (ON names it) happens: always, or
 * with once_dir only the first time. */
static int
fault(const struct probe *p, const char *on, const char *name)
{
	char path[4096];
	int fd;

	if (on == NULL || strcmp(name, on) != 0)
		return 0;
	if (p->once_dir == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/%s", p->once_dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return 0;
	close(fd);
	return 1;
}

/* Appends a line with NAME, and WHAT unless it is NULL, to the file at
 * PATH.  Returns 0, or -1 after item_error(). */
static int
append(const struct piperun_host *host, struct piperun_out *out, const char *path,
       const char *name, const char *what)
{
	char line[512];
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int n = snprintf(line, sizeof(line), "%s%s%s\n", name, what ? " " : "", what ? what : "");

	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	if (fd < 0 || write(fd, line, (size_t)n) != n) {
		if (fd >= 0)
			close(fd);
		host->item_error(out, "%s: cannot append to it", path);
		return -1;
	}
	close(fd);
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

	if (p->log != NULL && append(host, out, p->log, item->name, NULL) < 0)
		return -1;
	if (p->thread_log != NULL) {
		char name[17] = "";
		prctl(PR_GET_NAME, name);
		if (append(host, out, p->thread_log, item->name, name) < 0)
			return -1;
	}
	if (fault(p, p->die_on, item->name))
		raise(SIGKILL);
	if (fault(p, p->crash_on, item->name)) {
		volatile int *nowhere = NULL;
		*nowhere = 1;
	}
	if (fault(p, p->hang_on, item->name))
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
	if (p->fail_on != NULL && strcmp(item->name, p->fail_on) == 0) {
		host->item_error(out, "failed as asked");
		return -1;
	}
	for (unsigned i = 0; i < copies; i++) {
		int n = snprintf(line, sizeof(line), "%s#%u %ld %ld %ld %.6f %.6f\n", item->name, i,
		                 (long)getpid(), (long)getppid(), (long)syscall(SYS_gettid), start,
		                 now());
		const char *data = line;
		size_t size = (size_t)n;
		char *big = NULL;
		if (p->bulk > size) {
			if ((big = malloc((size_t)p->bulk)) == NULL)
				return -1;
			memcpy(big, line, size);
			memset(big + size, ' ', (size_t)p->bulk - size);
			data = big;
			size = (size_t)p->bulk;
		}
		int rc = host->emit(out, NULL, data, size);
		free(big);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static void
probe_close(void *state)
{
	struct probe *p = state;

	if (p->close_log != NULL) {
		FILE *f = fopen(p->close_log, "ae");
		if (f != NULL) {
			fprintf(f, "%ld %.6f\n", (long)getpid(), now());
			fclose(f);
		}
	}
	free(p);
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
