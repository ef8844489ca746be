/*
 * piperun.c: the command line: options, messages and exit statuses.  The
 * only place that exits.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner/engine.h"
#include "runner/loader.h"
#include "runner/plan.h"
#include "runner/progress.h"
#include "runner/units.h"
#include "runner/util.h"
#include "runner/worker.h"
#include "stages/stages.h"

/* The JSON Schema of the pipeline format (runner/schema.json). */
extern const char pr_schema_json[];

enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_BROKEN_PIPE = 128 + 13,
};

enum {
	OPT_SYNC = 256,
	OPT_PLAN,
	OPT_STATS,
	OPT_LIST_STAGES,
	OPT_GRACE,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_TRACE,
	OPT_TIMELINE,
	OPT_SCHEMA,
};

static const struct option long_options[] = {
	{ "jobs", required_argument, NULL, 'j' },
	{ "sync", no_argument, NULL, OPT_SYNC },
	{ "check", no_argument, NULL, 'n' },
	{ "plan", no_argument, NULL, OPT_PLAN },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "list-stages", no_argument, NULL, OPT_LIST_STAGES },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "timeline", required_argument, NULL, OPT_TIMELINE },
	{ "schema", no_argument, NULL, OPT_SCHEMA },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
	"Usage: piperun [OPTIONS] PIPELINE.yml [INPUT...]\n"
	"Run the pipeline declared in PIPELINE.yml; INPUT files replace its input.\n"
	"\n"
	"  -j, --jobs N        workers for every cpu stage\n"
	"      --sync          run every stage sequentially in one thread\n"
	"  -n, --check         validate the pipeline file and exit\n"
	"      --plan          print how each stage will run and exit\n"
	"      --progress      show live progress on stderr (default: when a terminal)\n"
	"      --no-progress   never show live progress\n"
	"      --stats FILE    write per-stage statistics as JSON to FILE\n"
	"      --trace FILE    write a Chrome trace-event JSON timeline to FILE\n"
	"      --timeline FILE write the timeline as an SVG picture to FILE\n"
	"      --grace TIME    after SIGINT or SIGTERM, let items in flight finish\n"
	"                      for TIME (default 10s) before interrupting them\n"
	"  -q, --quiet         name no failed items, show neither progress nor summary\n"
	"  -v, --verbose       print the summary at the end of the run (default: when\n"
	"                      stderr is a terminal); the last of -q and -v wins\n"
	"      --list-stages   list the built-in stages\n"
	"      --schema        print a JSON Schema of the pipeline format\n"
	"  -h, --help          show this help and exit\n"
	"  -V, --version       show the version and exit\n"
	"\n"
	"Exit status: 0 every item went through, 1 some items failed,\n"
	"2 bad usage or an invalid pipeline file, 128+N ended by signal N.\n"
	"See piperun(1) and piperun-pipeline(5).\n";

struct cli {
	int quiet, verbose, check, plan, sync;
	int stdin_closed; /* piperun was started without a standard input */
	int progress; /* 1 on, 0 off, -1 when stderr is a terminal */
	unsigned jobs;
	double grace;
	const char *stats, *trace, *timeline;
};

/* stderr is shared by failure lines (from any thread) and the progress
 * display (from the engine's control thread): one at a time, whole lines. */
static pthread_mutex_t stderr_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pr_progress progress;
static int progress_on;

static void
draw_progress(void *ud, const struct pr_stats *live)
{
	(void)ud;
	pthread_mutex_lock(&stderr_lock);
	pr_progress_draw(&progress, live);
	pthread_mutex_unlock(&stderr_lock);
}

/* The user's signals, as the handler records them for the engine. */
static struct pr_run_control control;

static void
on_signal(int sig)
{
	pr_run_control_signal(&control, sig);
}

/* Handles SIGINT and SIGTERM in this (the main) thread, unless piperun was
 * started with them ignored: they then stay ignored, as Unix programs do.
 * No SA_RESTART, so a read of the input returns at once. */
static void
catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM };
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

static void
print_line(void *ud, const char *line)
{
	const struct cli *cli = ud;

	if (cli->quiet)
		return;
	pthread_mutex_lock(&stderr_lock);
	if (progress_on)
		pr_progress_erase(&progress); /* redrawn at the next tick */
	fprintf(stderr, "%s\n", line);
	pthread_mutex_unlock(&stderr_lock);
}

/* Work in flight did not end after it was interrupted: a stage running
 * in this process that does not look at the cancel flag.  The user asked
 * for the run to end, and only ending the process ends such a call. */
static void
on_stuck(void *ud)
{
	print_line(ud, "piperun: work in flight did not stop when interrupted; "
	               "exiting without waiting for it");
	_exit(128 + atomic_load(&control.signal));
}

/* Opens FILE for writing an output of the run, or says why not. */
static FILE *
open_output(const char *file)
{
	FILE *f = fopen(file, "w");

	if (f == NULL)
		fprintf(stderr, "piperun: %s: %s\n", file, strerror(errno));
	return f;
}

/* Closes F after WRITE_RC; says when FILE could not be written. */
static int
close_output(FILE *f, const char *file, int write_rc)
{
	if (f == NULL)
		return 0;
	if (write_rc < 0 || fclose(f) != 0) {
		fprintf(stderr, "piperun: %s: cannot write it\n", file);
		return -1;
	}
	return 0;
}

/* Opens /dev/null on each of descriptors 0, 1 and 2 that is closed, so
 * that no file or pipe piperun opens lands there and is taken for
 * standard input or output.  Each is opened for the other direction, so
 * that reading a closed standard input, or writing a closed output, still
 * fails.  Sets *STDIN_CLOSED when descriptor 0 was closed; returns -1
 * when /dev/null cannot be opened. */
static int
open_std_fds(int *stdin_closed)
{
	*stdin_closed = 0;
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (fd == STDIN_FILENO)
			*stdin_closed = 1;
		/* The lowest free descriptor: this one, as the lower are open. */
		int null = open("/dev/null", fd == STDIN_FILENO ? O_WRONLY : O_RDONLY);
		if (null < 0)
			return -1;
		if (null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
	return 0;
}

/* Reads the descriptor in ARG; -1 unless it is a Unix socket, as the one
 * that exec-procs.c hands each worker it starts always is. */
static int
worker_socket(const char *arg)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char *end;
	long fd;

	errno = 0;
	fd = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || fd < 0 || fd > 65535)
		return -1;
	if (getsockname((int)fd, (struct sockaddr *)&sa, &len) < 0 || sa.ss_family != AF_UNIX)
		return -1;
	return (int)fd;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("piperun: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'piperun --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

static void
list_stages(void)
{
	for (size_t i = 0; pr_builtin_stages[i] != NULL; i++) {
		const struct piperun_stage *s = pr_builtin_stages[i];
		printf("%-8s %-4s  %s\n", s->name, pr_kind_name((enum piperun_kind)s->kind), s->summary);
	}
}

static int
run(const struct cli *cli, const char *file, char *const *inputs, size_t ninputs)
{
	struct pr_load_opts lo = { .have_inputs = ninputs > 0 };
	struct pr_run_opts ro = { .sync = cli->sync, .jobs = cli->jobs, .out_fd = STDOUT_FILENO,
		                  .in_fd = cli->stdin_closed ? -1 : STDIN_FILENO,
		                  .message = print_line, .ud = (void *)cli, .grace = cli->grace };
	struct pr_stats stats;
	struct pr_pipeline *p;
	struct pr_diag d;
	FILE *stats_file = NULL, *trace_file = NULL, *timeline_file = NULL;
	enum pr_run_status status;
	int rc;

	pr_diag_init(&d, file);
	p = pr_pipeline_load(file, &lo, &d);
	for (size_t i = 0; i < d.count; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	pr_diag_free(&d);
	if (p == NULL)
		return EXIT_USAGE;
	if (ninputs > 0)
		pr_pipeline_set_inputs(p, inputs, ninputs);
	if (cli->check) {
		pr_pipeline_free(p);
		return EXIT_OK;
	}
	if (cli->plan) {
		pr_plan_print(stdout, p, &ro);
		pr_pipeline_free(p);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
	}
	/* Every output file opens before the run, so a wrong path costs nothing. */
	if ((cli->stats != NULL && (stats_file = open_output(cli->stats)) == NULL) ||
	    (cli->trace != NULL && (trace_file = open_output(cli->trace)) == NULL) ||
	    (cli->timeline != NULL && (timeline_file = open_output(cli->timeline)) == NULL)) {
		if (stats_file != NULL)
			fclose(stats_file);
		if (trace_file != NULL)
			fclose(trace_file);
		pr_pipeline_free(p);
		return EXIT_USAGE;
	}
	if (trace_file != NULL || timeline_file != NULL)
		ro.trace = pr_trace_new(p);
	progress_on = !cli->quiet && (cli->progress == 1 ||
	                              (cli->progress < 0 && isatty(STDERR_FILENO)));
	if (progress_on) {
		pr_progress_init(&progress, stderr, p->nstages);
		ro.progress = draw_progress;
		ro.progress_interval = 0.25;
	}
	if (pr_run_control_init(&control) == 0) {
		ro.control = &control;
		ro.stuck = on_stuck;
		catch_signals();
	}
	status = pr_engine_run(p, &ro, &stats);
	if (progress_on) {
		pr_progress_erase(&progress);
		pr_progress_free(&progress);
		progress_on = 0;
	}
	if (cli->verbose || (!cli->quiet && isatty(STDERR_FILENO)))
		pr_stats_write_summary(&stats, stderr);
	switch (status) {
	case PR_RUN_OK:
		rc = EXIT_OK;
		break;
	case PR_RUN_BROKEN_PIPE:
		rc = EXIT_BROKEN_PIPE;
		break;
	case PR_RUN_INTERRUPTED:
		rc = 128 + atomic_load(&control.signal);
		break;
	default:
		rc = EXIT_FAILED;
	}
	if (close_output(stats_file, cli->stats,
	                 stats_file ? pr_stats_write_json(&stats, stats_file) : 0) < 0 ||
	    close_output(trace_file, cli->trace,
	                 trace_file ? pr_trace_write_json(ro.trace, trace_file) : 0) < 0 ||
	    close_output(timeline_file, cli->timeline,
	                 timeline_file ? pr_trace_write_svg(ro.trace, timeline_file) : 0) < 0) {
		if (rc == EXIT_OK)
			rc = EXIT_FAILED;
	}
	pr_trace_free(ro.trace);
	pr_run_stats_free(&stats);
	pr_pipeline_free(p);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli cli = { .grace = 10, .progress = -1 };
	int c;

	/* Before anything opens a descriptor. */
	if (open_std_fds(&cli.stdin_closed) < 0) {
		fprintf(stderr, "piperun: /dev/null: %s\n", strerror(errno));
		return EXIT_FAILED;
	}
	/* Before any thread: a write to a closed pipe (standard output, a
	 * command's input) returns EPIPE to the writer instead of killing
	 * piperun.  Children get an empty mask, hence the usual SIGPIPE, or
	 * SIGPIPE ignored if piperun was started with it ignored. */
	sigset_t pipe_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, NULL);
	pr_memory_tune();

	if (argc >= 2 && strcmp(argv[1], PR_WORKER_FLAG) == 0) {
		/* Run by hand, a worker would wait for nothing and exit 1. */
		int fd = argc == 3 || argc == 4 ? worker_socket(argv[2]) : -1;
		if (fd < 0) {
			fprintf(stderr, "piperun: %s is for piperun's own use: it starts the worker "
			        "processes of cpu stages\n", PR_WORKER_FLAG);
			return EXIT_USAGE;
		}
		return pr_worker_main(fd, argc == 4 ? atoi(argv[3]) : -1);
	}
	while ((c = getopt_long(argc, argv, "j:nqvhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'j': {
			char *end;
			long n;

			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg || n < 1 || n > 1024)
				return usage_error("-j takes a number from 1 to 1024, not '%s'", optarg);
			cli.jobs = (unsigned)n;
			break;
		}
		case OPT_SYNC:
			cli.sync = 1;
			break;
		case 'n':
			cli.check = 1;
			break;
		case OPT_PLAN:
			cli.plan = 1;
			break;
		case OPT_STATS:
			cli.stats = optarg;
			break;
		case OPT_PROGRESS:
			cli.progress = 1;
			break;
		case OPT_NO_PROGRESS:
			cli.progress = 0;
			break;
		case OPT_TRACE:
			cli.trace = optarg;
			break;
		case OPT_TIMELINE:
			cli.timeline = optarg;
			break;
		case OPT_GRACE:
			if (pr_parse_duration(optarg, &cli.grace) < 0)
				return usage_error("--grace takes a duration such as 10s or 500ms, not '%s'",
				                   optarg);
			break;
		/* The last of -q and -v wins, so either can override an alias. */
		case 'q':
			cli.quiet = 1;
			cli.verbose = 0;
			break;
		case 'v':
			cli.verbose = 1;
			cli.quiet = 0;
			break;
		case OPT_SCHEMA:
			fputs(pr_schema_json, stdout);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
		case OPT_LIST_STAGES:
			list_stages();
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
		case 'h':
			fputs(usage_text, stdout);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
		case 'V':
			printf("piperun %s\n", PACKAGE_VERSION);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
		default:
			fputs("Try 'piperun --help' for more information.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("%s", "missing PIPELINE.yml");
	/* Standard input is for items (an input of "-"), and the paths a
	 * pipeline names are relative to its file's directory. */
	if (strcmp(argv[optind], "-") == 0)
		return usage_error("%s", "the pipeline must be a file, not '-' (standard input)");
	return run(&cli, argv[optind], argv + optind + 1, (size_t)(argc - optind - 1));
}
