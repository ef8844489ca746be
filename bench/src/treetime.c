/*
 * treetime.c: runs one command and measures it as a whole process tree:
 * wall time, CPU time (user + system) of the command and of every
 * descendant, and the peak memory of the command and its live
 * descendants, sampled every INTERVAL ms (default 20): the sum of their
 * PSS, and the sum of their VmRSS.
 *
 *   treetime [-i MS] -o RESULT.json -- COMMAND [ARG...]
 *
 * Standard input, output and error are the command's.  The exit status is
 * the command's (128+N for a signal).
 *
 * How:
 *  - treetime makes itself a child subreaper, so a descendant whose parent
 *    exits is reparented to it and is still counted, then reaped by it;
 *  - CPU time is getrusage(RUSAGE_CHILDREN) once every descendant has been
 *    reaped: the kernel adds each reaped process's own time and that of the
 *    children it reaped to its reaper, so the whole tree is covered;
 *  - wall time runs from just before fork() to the moment the command
 *    itself exits (a pidfd wakes treetime at once, no polling delay);
 *  - memory: /proc is listed every interval; a process id seen for the
 *    first time is read once (/proc/PID/stat) for its parent and joins the
 *    tree if the parent is in it; each process of the tree is then read
 *    from /proc/PID/statm (resident pages = VmRSS).  Processes that existed
 *    before the command are never read again, so a sample costs a
 *    directory listing plus one small read per process of the tree.
 *    Processes that live less than an interval may be missed: their memory
 *    does not make the peak, which is at least the largest maximum RSS of
 *    any single descendant (getrusage's ru_maxrss).
 *  - PSS comes from /proc/PID/smaps_rollup, which makes the kernel walk the
 *    process's page tables: read every 20 ms from processes that map much
 *    memory, it took a tenth of the CPUs from the command measured.  So it
 *    is read with a sample only when the last read took less than 2% of
 *    the time since; otherwise a later sample reads it.
 *  - VmRSS counts a page shared by several processes (libraries,
 *    copy-on-write pages of forked workers, shared memory) once in each;
 *    PSS divides it between them, so the sum of PSS is the memory the tree
 *    holds, each page counted once.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXPID (1 << 22)

static unsigned char seen[MAXPID / 8];
static pid_t tree[65536];
static size_t ntree;
static long page_kb;

static int
is_seen(pid_t p)
{
	return (seen[p >> 3] >> (p & 7)) & 1;
}

static void
set_seen(pid_t p)
{
	seen[p >> 3] |= (unsigned char)(1u << (p & 7));
}

static int
in_tree(pid_t p)
{
	for (size_t i = 0; i < ntree; i++)
		if (tree[i] == p)
			return 1;
	return 0;
}

/* Reads /proc/P/NAME into BUF (SIZE bytes, NUL-terminated); 0, or -1
 * when the process or the file is gone. */
static int
proc_read(pid_t p, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)p, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static pid_t
parent_of(pid_t p)
{
	char buf[512];
	int ppid;

	if (proc_read(p, "stat", buf, sizeof(buf)) < 0)
		return -1;
	char *s = strrchr(buf, ')'); /* the command name may hold anything */
	if (s == NULL || sscanf(s + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

static long
rss_kb(pid_t p)
{
	char buf[256];
	long size, res;

	if (proc_read(p, "statm", buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%ld %ld", &size, &res) != 2)
		return -1;
	return res * page_kb;
}

/* The PSS of process P in KiB, or -1. */
static long
pss_kb(pid_t p)
{
	char buf[4096];
	long kb;

	if (proc_read(p, "smaps_rollup", buf, sizeof(buf)) < 0)
		return -1;
	char *line = strstr(buf, "\nPss:");
	if (line == NULL || sscanf(line + 5, "%ld", &kb) != 1)
		return -1;
	return kb;
}

/* Lists /proc: new pids whose parent is in the tree join it. */
static void
scan(DIR *proc, int mark_only)
{
	pid_t newp[4096], newpp[4096];
	size_t nnew = 0;
	struct dirent *d;

	rewinddir(proc);
	while ((d = readdir(proc)) != NULL) {
		char *end;
		long p = strtol(d->d_name, &end, 10);
		if (*end != '\0' || p <= 0 || p >= MAXPID || is_seen((pid_t)p))
			continue;
		set_seen((pid_t)p);
		if (mark_only)
			continue;
		pid_t pp = parent_of((pid_t)p);
		if (pp > 0 && nnew < 4096) {
			newp[nnew] = (pid_t)p;
			newpp[nnew++] = pp;
		}
	}
	/* a child may be listed before its parent: repeat until stable */
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t i = 0; i < nnew; i++)
			if (newp[i] > 0 && in_tree(newpp[i]) && ntree < sizeof(tree) / sizeof(*tree)) {
				tree[ntree++] = newp[i];
				newp[i] = 0;
				changed = 1;
			}
	}
}

/* The tree's summed VmRSS. */
static long
sample(DIR *proc)
{
	long sum = 0;

	scan(proc, 0);
	for (size_t i = 0; i < ntree;) {
		long kb = rss_kb(tree[i]);
		if (kb < 0) { /* gone */
			tree[i] = tree[--ntree];
			continue;
		}
		sum += kb;
		i++;
	}
	return sum;
}

/* The tree's summed PSS, of the processes sample() found. */
static long
sample_pss(void)
{
	long sum = 0;

	for (size_t i = 0; i < ntree; i++) {
		long kb = pss_kb(tree[i]);
		if (kb > 0)
			sum += kb;
	}
	return sum;
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
	const char *result = NULL;
	int interval = 20, opt;

	while ((opt = getopt(argc, argv, "+i:o:")) != -1) {
		if (opt == 'i')
			interval = atoi(optarg);
		else if (opt == 'o')
			result = optarg;
		else
			goto usage;
	}
	if (result == NULL || optind >= argc || interval <= 0) {
	usage:
		fprintf(stderr, "usage: treetime [-i MS] -o RESULT.json -- COMMAND [ARG...]\n");
		return 2;
	}
	page_kb = sysconf(_SC_PAGESIZE) / 1024;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("treetime: prctl");
		return 2;
	}
	DIR *proc = opendir("/proc");
	if (proc == NULL) {
		perror("treetime: /proc");
		return 2;
	}
	scan(proc, 1); /* everything alive now is not ours */

	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0) {
		perror("treetime: pipe");
		return 2;
	}
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0) {
		perror("treetime: fork");
		return 2;
	}
	if (pid == 0) {
		closedir(proc);
		execvp(argv[optind], argv + optind);
		int e = errno;
		if (write(ready[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(ready[1]);
	tree[ntree++] = pid;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		perror("treetime: pidfd_open");
		return 2;
	}

	long peak = 0, peak_pss = 0;
	double pss_next = 0;
	int pss_reads = 0;
	int status = 0, samples = 0;
	double t1 = 0;
	for (;;) {
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		int r = poll(&pfd, 1, interval);
		if (r > 0) {
			t1 = now();
			break;
		}
		long s = sample(proc);
		samples++;
		/* PSS costs the kernel a walk of the page tables, which a
		 * sample every 20 ms would make a load of its own: reading it
		 * may take no more than 2% of the time between reads. */
		double t = now();
		if (t >= pss_next) {
			long pss = sample_pss();
			double cost = now() - t;
			pss_next = t + (cost * 50 > interval / 1e3 ? cost * 50 : 0);
			pss_reads++;
			if (pss > peak_pss)
				peak_pss = pss;
		}
		if (s > peak)
			peak = s;
	}
	int err = 0;
	if (read(ready[0], &err, sizeof(err)) == (ssize_t)sizeof(err)) {
		fprintf(stderr, "treetime: cannot run %s: %s\n", argv[optind], strerror(err));
		return 127;
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("treetime: waitpid");
		return 2;
	}
	/* reap orphaned descendants; give them 10 s, then kill them */
	double deadline = now() + 10;
	int leftovers = 0;
	for (;;) {
		pid_t w = waitpid(-1, NULL, WNOHANG);
		if (w < 0 && errno == ECHILD)
			break;
		if (w > 0) {
			leftovers++;
			continue;
		}
		if (now() > deadline) {
			for (size_t i = 0; i < ntree; i++)
				kill(tree[i], SIGKILL);
			deadline = now() + 3600;
		}
		usleep(1000);
	}
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);

	FILE *f = fopen(result, "w");
	if (f == NULL) {
		perror(result);
		return 2;
	}
	/* the largest single descendant is a lower bound of the tree's peak
	 * (it matters for runs shorter than one interval) */
	if (ru.ru_maxrss > peak)
		peak = ru.ru_maxrss;
	/* with no sample at all, the same bound stands in for the PSS */
	if (peak_pss == 0)
		peak_pss = ru.ru_maxrss;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	fprintf(f,
	        "{\"wall_s\": %.6f, \"user_s\": %.6f, \"sys_s\": %.6f, \"cpu_s\": %.6f, "
	        "\"peak_tree_rss_kib\": %ld, \"peak_tree_pss_kib\": %ld, \"max_single_rss_kib\": %ld, "
	        "\"samples\": %d, \"pss_samples\": %d, \"orphans_reaped\": %d, \"exit\": %d}\n",
	        t1 - t0, tv(ru.ru_utime), tv(ru.ru_stime), tv(ru.ru_utime) + tv(ru.ru_stime), peak,
	        peak_pss, ru.ru_maxrss, samples, pss_reads, leftovers, code);
	fclose(f);
	return code;
}
