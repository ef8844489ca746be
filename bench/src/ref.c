/*
 * ref.c: the single-threaded C reference of the piperun benchmarks (the
 * floor every peer is compared with), and small helpers of the harness.
 *
 *   ref clean-files OUTDIR FILE...   W1: read, clean, write OUTDIR/BASE
 *   ref gzip-files OUTDIR FILE...    W3: read, gzip -6 (zlib), write OUTDIR/BASE.gz
 *   ref clean-lines FILE             W2: one item per line, cleaned, to stdout
 *   ref clean-stream [BLOCK]         W4: stdin to stdout in line-aligned blocks
 *   ref spawn-lines FILE CMD [ARG...] W5: run CMD once per line, the line on
 *                                    its stdin, its stdout to ours, in order
 *   ref msethash FILE                order-independent digest of FILE's lines
 *                                    (to check `order: any` outputs)
 *   ref split N clean-files|gzip-files OUTDIR FILE...
 *                                    N processes, each running the mode on
 *                                    its share of the files
 *
 * Everything runs in one thread, one item after the other; but `split`
 * runs N such loops at once, each on a contiguous share of the files, with
 * nothing passed between them: what the work costs on N CPUs when no item
 * goes from one thread to another, which no pipeline can beat.  GNU parallel
 * and xargs -P run `clean-files`/`gzip-files` on one file per job and
 * `clean-stream` per --pipe block, so they run the same compiled loop.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/wait.h>

#include "common.h"

extern char **environ;

static int
files_mode(const char *outdir, char **files, int n, int gz)
{
	char path[4096];

	for (int i = 0; i < n; i++) {
		size_t len, olen;
		unsigned char *in = bench_read_file(files[i], &len);
		unsigned char *out;
		if (gz) {
			out = bench_gzip(in, len, 6, &olen);
			snprintf(path, sizeof(path), "%s/%s.gz", outdir, bench_base(files[i]));
		} else {
			out = (unsigned char *)malloc(len + 1);
			if (out == NULL)
				bench_die("out of memory", files[i]);
			olen = bench_clean(in, len, out);
			snprintf(path, sizeof(path), "%s/%s", outdir, bench_base(files[i]));
		}
		bench_write_file(path, out, olen);
		free(in);
		free(out);
	}
	return 0;
}

static int
lines_mode(const char *file)
{
	FILE *f = fopen(file, "rb");
	char *line = NULL;
	size_t cap = 0, ocap = 0;
	unsigned char *out = NULL;
	ssize_t n;

	if (f == NULL)
		bench_die("cannot open", file);
	while ((n = getline(&line, &cap, f)) > 0) {
		if ((size_t)n + 1 > ocap) {
			ocap = (size_t)n + 1;
			out = (unsigned char *)realloc(out, ocap);
			if (out == NULL)
				bench_die("out of memory", file);
		}
		size_t olen = bench_clean((unsigned char *)line, (size_t)n, out);
		if (olen > 0 && fwrite(out, 1, olen, stdout) != olen)
			bench_die("cannot write", "stdout");
	}
	if (ferror(f))
		bench_die("cannot read", file);
	if (fflush(stdout) != 0)
		bench_die("cannot write", "stdout");
	return 0;
}

static int
stream_mode(size_t block)
{
	struct bench_blocks b;
	unsigned char *in, *out = (unsigned char *)malloc(block * 2 + 2);
	size_t ocap = block * 2 + 2, len;

	if (out == NULL)
		bench_die("out of memory", "stream");
	bench_blocks_init(&b, 0, block);
	while ((in = bench_blocks_next(&b, &len)) != NULL) {
		if (len + 1 > ocap) {
			ocap = len + 1;
			out = (unsigned char *)realloc(out, ocap);
			if (out == NULL)
				bench_die("out of memory", "stream");
		}
		size_t olen = bench_clean(in, len, out);
		bench_write_all(1, out, olen, "stdout");
		free(in);
	}
	return 0;
}

/* Runs ARGV with DATA on its stdin; appends its stdout to ours. */
static void
spawn_one(char **argv, const char *data, size_t len)
{
	int in[2], out[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	char buf[65536];
	int st;

	if (pipe(in) < 0 || pipe(out) < 0)
		bench_die("cannot make a pipe", NULL);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		bench_die("cannot run", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	/* items are one short line: they fit in the pipe, and a command that
	 * does not read them (true) must not make us fail */
	signal(SIGPIPE, SIG_IGN);
	if (write(in[1], data, len) < 0 && errno != EPIPE)
		bench_die("cannot write to", argv[0]);
	close(in[1]);
	for (;;) {
		ssize_t r = read(out[0], buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			bench_die("cannot read from", argv[0]);
		if (r == 0)
			break;
		bench_write_all(1, buf, (size_t)r, "stdout");
	}
	close(out[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			bench_die("waitpid", argv[0]);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench: %s failed\n", argv[0]);
		exit(1);
	}
}

static int
spawn_mode(const char *file, char **argv)
{
	FILE *f = fopen(file, "rb");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		bench_die("cannot open", file);
	while ((n = getline(&line, &cap, f)) > 0)
		spawn_one(argv, line, (size_t)n);
	return 0;
}

/* FNV-1a then a finaliser: one 64-bit value per line, summed and xored so
 * that the digest does not depend on the order of the lines. */
static int
msethash_mode(const char *file)
{
	size_t len;
	unsigned char *d = bench_read_file(file, &len);
	uint64_t sum = 0, x = 0, lines = 0;
	size_t i = 0;

	while (i < len) {
		uint64_t h = 1469598103934665603ull;
		size_t j = i;
		while (j < len && d[j] != '\n')
			h = (h ^ d[j++]) * 1099511628211ull;
		h ^= h >> 33;
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 33;
		sum += h;
		x ^= h * 0x9e3779b97f4a7c15ull;
		lines++;
		i = j + 1;
	}
	printf("%zu %llu %016llx%016llx\n", len, (unsigned long long)lines,
	       (unsigned long long)sum, (unsigned long long)x);
	return 0;
}

/* Runs files_mode() on N shares of the FILES files in N processes at once
 * (ref is single-threaded, so fork() is safe); 0 if all of them did. */
static int
split_mode(int n, const char *outdir, char **files, int nfiles, int gz)
{
	int status, rc = 0;

	for (int k = 0; k < n; k++) {
		int from = (int)((long)k * nfiles / n), to = (int)((long)(k + 1) * nfiles / n);
		pid_t pid = fork();
		if (pid < 0)
			bench_die("cannot fork", "split");
		if (pid == 0)
			_exit(files_mode(outdir, files + from, to - from, gz));
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ref clean-files|gzip-files OUTDIR FILE...\n"
	                "       ref clean-lines FILE | clean-stream [BLOCK] | msethash FILE\n"
	                "       ref spawn-lines FILE CMD [ARG...]\n"
	                "       ref split N clean-files|gzip-files OUTDIR FILE...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	bench_init();
	if (strcmp(argv[1], "clean-files") == 0 && argc >= 3)
		return files_mode(argv[2], argv + 3, argc - 3, 0);
	if (strcmp(argv[1], "gzip-files") == 0 && argc >= 3)
		return files_mode(argv[2], argv + 3, argc - 3, 1);
	if (strcmp(argv[1], "split") == 0 && argc >= 5 && atoi(argv[2]) > 0 &&
	    (strcmp(argv[3], "clean-files") == 0 || strcmp(argv[3], "gzip-files") == 0))
		return split_mode(atoi(argv[2]), argv[4], argv + 5, argc - 5,
		                  strcmp(argv[3], "gzip-files") == 0);
	if (strcmp(argv[1], "clean-lines") == 0 && argc == 3)
		return lines_mode(argv[2]);
	if (strcmp(argv[1], "clean-stream") == 0 && argc <= 3)
		return stream_mode(argc == 3 ? (size_t)strtoull(argv[2], NULL, 10) : 1u << 20);
	if (strcmp(argv[1], "spawn-lines") == 0 && argc >= 4)
		return spawn_mode(argv[2], argv + 3);
	if (strcmp(argv[1], "msethash") == 0 && argc == 3)
		return msethash_mode(argv[2]);
	usage();
	return 2;
}
