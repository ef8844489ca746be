// tbb_peer.cpp: the oneTBB peer of the piperun benchmarks, the best
// hand-written in-process pipeline: tbb::parallel_pipeline with
//   serial_in_order (source) -> parallel (the work) -> serial_in_order (sink)
// running exactly the kernels of the C reference (common.h).
//
//   tbb_peer clean-files OUTDIR FILE...    W1: read | clean | write
//   tbb_peer gzip-files OUTDIR FILE...     W3: read | gzip -6 | write
//   tbb_peer clean-lines FILE              W2: line | clean | stdout
//   tbb_peer clean-stream [BLOCK]          W4: 1 MiB block of stdin | clean | stdout
//   tbb_peer spawn-lines FILE CMD [ARG...] W5: line | run CMD | stdout
//
// Tokens (items in flight): 4 per thread.  Threads: oneTBB's default, one
// per online CPU, except for spawn-lines, whose parallel filter only waits
// on child processes and gets an arena of 8 threads (as many as piperun's
// io pool has by default on 2 CPUs).
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "common.h"

extern char **environ;

namespace {

struct Buf {
	unsigned char *data = nullptr;
	size_t len = 0;
	std::string name;
};

size_t tokens() { return 4 * (size_t)tbb::info::default_concurrency(); }

int files_mode(int argc, char **argv, bool gz)
{
	std::string outdir = argv[2];
	int next = 3;
	tbb::parallel_pipeline(
	    tokens(),
	    tbb::make_filter<void, Buf *>(tbb::filter_mode::serial_in_order,
	                                  [&](tbb::flow_control &fc) -> Buf * {
		                                  if (next >= argc) {
			                                  fc.stop();
			                                  return nullptr;
		                                  }
		                                  Buf *b = new Buf;
		                                  b->name = argv[next];
		                                  b->data = bench_read_file(argv[next++], &b->len);
		                                  return b;
	                                  }) &
	        tbb::make_filter<Buf *, Buf *>(tbb::filter_mode::parallel,
	                                       [&](Buf *b) -> Buf * {
		                                       unsigned char *out;
		                                       size_t olen;
		                                       if (gz)
			                                       out = bench_gzip(b->data, b->len, 6, &olen);
		                                       else {
			                                       out = (unsigned char *)malloc(b->len + 1);
			                                       if (out == nullptr)
				                                       bench_die("out of memory", "clean");
			                                       olen = bench_clean(b->data, b->len, out);
		                                       }
		                                       free(b->data);
		                                       b->data = out;
		                                       b->len = olen;
		                                       return b;
	                                       }) &
	        tbb::make_filter<Buf *, void>(tbb::filter_mode::serial_in_order, [&](Buf *b) {
		        std::string path = outdir + "/" + bench_base(b->name.c_str()) + (gz ? ".gz" : "");
		        bench_write_file(path.c_str(), b->data, b->len);
		        free(b->data);
		        delete b;
	        }));
	return 0;
}

int lines_mode(const char *file)
{
	FILE *f = fopen(file, "rb");
	if (f == nullptr)
		bench_die("cannot open", file);
	char *line = nullptr;
	size_t cap = 0;
	tbb::parallel_pipeline(
	    16 * (size_t)tbb::info::default_concurrency(),
	    tbb::make_filter<void, Buf *>(tbb::filter_mode::serial_in_order,
	                                  [&](tbb::flow_control &fc) -> Buf * {
		                                  ssize_t n = getline(&line, &cap, f);
		                                  if (n <= 0) {
			                                  fc.stop();
			                                  return nullptr;
		                                  }
		                                  Buf *b = new Buf;
		                                  b->data = (unsigned char *)malloc((size_t)n);
		                                  memcpy(b->data, line, (size_t)n);
		                                  b->len = (size_t)n;
		                                  return b;
	                                  }) &
	        tbb::make_filter<Buf *, Buf *>(tbb::filter_mode::parallel,
	                                       [](Buf *b) -> Buf * {
		                                       unsigned char *out = (unsigned char *)malloc(b->len + 1);
		                                       b->len = bench_clean(b->data, b->len, out);
		                                       free(b->data);
		                                       b->data = out;
		                                       return b;
	                                       }) &
	        tbb::make_filter<Buf *, void>(tbb::filter_mode::serial_in_order, [](Buf *b) {
		        if (b->len > 0 && fwrite(b->data, 1, b->len, stdout) != b->len)
			        bench_die("cannot write", "stdout");
		        free(b->data);
		        delete b;
	        }));
	if (fflush(stdout) != 0)
		bench_die("cannot write", "stdout");
	return 0;
}

int stream_mode(size_t block)
{
	struct bench_blocks bb;
	bench_blocks_init(&bb, 0, block);
	tbb::parallel_pipeline(
	    tokens(),
	    tbb::make_filter<void, Buf *>(tbb::filter_mode::serial_in_order,
	                                  [&](tbb::flow_control &fc) -> Buf * {
		                                  Buf *b = new Buf;
		                                  b->data = bench_blocks_next(&bb, &b->len);
		                                  if (b->data == nullptr) {
			                                  delete b;
			                                  fc.stop();
			                                  return nullptr;
		                                  }
		                                  return b;
	                                  }) &
	        tbb::make_filter<Buf *, Buf *>(tbb::filter_mode::parallel,
	                                       [](Buf *b) -> Buf * {
		                                       unsigned char *out = (unsigned char *)malloc(b->len + 1);
		                                       b->len = bench_clean(b->data, b->len, out);
		                                       free(b->data);
		                                       b->data = out;
		                                       return b;
	                                       }) &
	        tbb::make_filter<Buf *, void>(tbb::filter_mode::serial_in_order, [](Buf *b) {
		        bench_write_all(1, b->data, b->len, "stdout");
		        free(b->data);
		        delete b;
	        }));
	return 0;
}

// Runs ARGV with the item on its stdin; its stdout becomes the item.
void spawn_one(char **argv, Buf *b)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		bench_die("cannot make a pipe", nullptr);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	pid_t pid;
	if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv, environ) != 0)
		bench_die("cannot run", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (write(in[1], b->data, b->len) < 0 && errno != EPIPE)
		bench_die("cannot write to", argv[0]);
	close(in[1]);
	std::vector<unsigned char> res;
	unsigned char buf[65536];
	for (;;) {
		ssize_t r = read(out[0], buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			bench_die("cannot read from", argv[0]);
		if (r == 0)
			break;
		res.insert(res.end(), buf, buf + r);
	}
	close(out[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			bench_die("waitpid", argv[0]);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "tbb_peer: %s failed\n", argv[0]);
		exit(1);
	}
	free(b->data);
	b->len = res.size();
	b->data = (unsigned char *)malloc(b->len + 1);
	if (b->len > 0)
		memcpy(b->data, res.data(), b->len);
}

int spawn_mode(const char *file, char **argv)
{
	FILE *f = fopen(file, "rb");
	if (f == nullptr)
		bench_die("cannot open", file);
	signal(SIGPIPE, SIG_IGN);
	char *line = nullptr;
	size_t cap = 0;
	const int threads = 8;
	tbb::global_control gc(tbb::global_control::max_allowed_parallelism, threads);
	tbb::task_arena arena(threads);
	arena.execute([&] {
		tbb::parallel_pipeline(
		    2 * threads,
		    tbb::make_filter<void, Buf *>(tbb::filter_mode::serial_in_order,
		                                  [&](tbb::flow_control &fc) -> Buf * {
			                                  ssize_t n = getline(&line, &cap, f);
			                                  if (n <= 0) {
				                                  fc.stop();
				                                  return nullptr;
			                                  }
			                                  Buf *b = new Buf;
			                                  b->data = (unsigned char *)malloc((size_t)n);
			                                  memcpy(b->data, line, (size_t)n);
			                                  b->len = (size_t)n;
			                                  return b;
		                                  }) &
		        tbb::make_filter<Buf *, Buf *>(tbb::filter_mode::parallel,
		                                       [&](Buf *b) -> Buf * {
			                                       spawn_one(argv, b);
			                                       return b;
		                                       }) &
		        tbb::make_filter<Buf *, void>(tbb::filter_mode::serial_in_order, [](Buf *b) {
			        bench_write_all(1, b->data, b->len, "stdout");
			        free(b->data);
			        delete b;
		        }));
	});
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc < 2) {
	usage:
		fprintf(stderr, "usage: tbb_peer clean-files|gzip-files OUTDIR FILE... | clean-lines FILE |\n"
		                "       clean-stream [BLOCK] | spawn-lines FILE CMD [ARG...]\n");
		return 2;
	}
	bench_init();
	std::string m = argv[1];
	if (m == "clean-files" && argc >= 3)
		return files_mode(argc, argv, false);
	if (m == "gzip-files" && argc >= 3)
		return files_mode(argc, argv, true);
	if (m == "clean-lines" && argc == 3)
		return lines_mode(argv[2]);
	if (m == "clean-stream" && argc <= 3)
		return stream_mode(argc == 3 ? (size_t)strtoull(argv[2], nullptr, 10) : 1u << 20);
	if (m == "spawn-lines" && argc >= 4)
		return spawn_mode(argv[2], argv + 3);
	goto usage;
}
