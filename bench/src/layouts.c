/*
 * layouts.c: W1's work (read, clean, write each file) hand-written in C
 * in two ways of laying it out over threads and worker processes, both
 * with the cleaning in worker processes and the files in shared memory,
 * as piperun runs it by default.  They differ only in which thread does
 * what, so that the benchmark shows what the layout costs apart from
 * piperun's engine.
 *
 *   layouts pools OUTDIR FILE...
 *       piperun's layout: a pool of reading threads puts each file, read
 *       into a shared block, on a queue; one thread per worker process
 *       takes blocks off it, keeps two with its worker, and puts each
 *       one cleaned on a second queue; a pool of writing threads writes
 *       them out.  A file passes from thread to thread four times.
 *   layouts lanes OUTDIR FILE...
 *       one lane per CPU: a thread and a worker process.  The thread
 *       reads a file into a block, sends it to its worker, reads the next
 *       while the worker cleans, and writes each block out when it comes
 *       back.  A file passes only to the worker and back.
 *
 * There are as many worker processes as CPUs, made with fork() before
 * any thread starts.  Blocks are memory files made up front, as many as
 * the layout can have in use at once, and handed out most recently freed
 * first, as piperun's pool does; a block's pages are allocated when it is
 * first written, so a block never used costs nothing.  Each output file
 * equals the C reference's; order does not matter, as each file is
 * written to its own name.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "common.h"

#define MAX_WORKERS 64
#define AHEAD 2      /* blocks a worker holds: the one it cleans, the next */
#define POOL_THREADS 2 /* reading threads, and writing threads (pools) */
#define QUEUE_CAP 2  /* blocks each queue holds (pools) */

struct job {
	unsigned block;
	int file;
	uint64_t len;
};

static char **files;
static int nfiles;
static const char *outdir;
static atomic_int next_file;
static unsigned nworkers;
static size_t block_size;

static unsigned char **blocks;
static struct {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	unsigned *ids, n;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0 };

static int socks[MAX_WORKERS][2]; /* [0] this process's end, [1] the worker's */

static void
make_blocks(unsigned n)
{
	blocks = calloc(n, sizeof(*blocks));
	pool.ids = calloc(n, sizeof(*pool.ids));
	if (blocks == NULL || pool.ids == NULL)
		bench_die("out of memory", "blocks");
	for (unsigned i = 0; i < n; i++) {
		int fd = memfd_create("layouts", 0);
		void *p;
		if (fd < 0 || ftruncate(fd, (off_t)block_size) < 0 ||
		    (p = mmap(NULL, block_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
			bench_die("cannot make a block", "memfd");
		close(fd);
		blocks[i] = p;
		pool.ids[pool.n++] = n - 1 - i;
	}
}

static unsigned
block_get(void)
{
	pthread_mutex_lock(&pool.lock);
	while (pool.n == 0)
		pthread_cond_wait(&pool.freed, &pool.lock);
	unsigned id = pool.ids[--pool.n];
	pthread_mutex_unlock(&pool.lock);
	return id;
}

static void
block_put(unsigned id)
{
	pthread_mutex_lock(&pool.lock);
	pool.ids[pool.n++] = id;
	pthread_cond_signal(&pool.freed);
	pthread_mutex_unlock(&pool.lock);
}

static void
send_job(int fd, const struct job *j)
{
	if (write(fd, j, sizeof(*j)) != (ssize_t)sizeof(*j))
		bench_die("cannot send to a worker", NULL);
}

static int
recv_job(int fd, struct job *j)
{
	ssize_t n = read(fd, j, sizeof(*j));
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*j))
		bench_die("cannot receive from a worker", NULL);
	return 1;
}

/* A worker process: cleans each block it is sent over itself. */
static void
worker(unsigned w)
{
	struct job j;

	for (unsigned k = 0; k <= w; k++)
		close(socks[k][0]);
	while (recv_job(socks[w][1], &j)) {
		j.len = bench_clean(blocks[j.block], j.len, blocks[j.block]);
		send_job(socks[w][1], &j);
	}
	_exit(0);
}

static void
read_job(struct job *j)
{
	const char *path = files[j->file];
	int fd = open(path, O_RDONLY);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		bench_die("cannot open", path);
	/* One byte stays free: clean may add a newline. */
	while ((r = read(fd, blocks[j->block] + n, block_size - 1 - n)) > 0)
		n += (size_t)r;
	if (r < 0)
		bench_die("cannot read", path);
	close(fd);
	j->len = n;
}

static void
write_job(const struct job *j)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", outdir, bench_base(files[j->file]));
	bench_write_file(path, blocks[j->block], j->len);
	block_put(j->block);
}

/* Feeds worker W: keeps it AHEAD jobs deep, each from NEXT (0: no more),
 * and hands each job cleaned to DONE.  Both layouts feed their workers so;
 * they differ in what NEXT and DONE do. */
static void
feed(unsigned w, int (*next)(struct job *), void (*done)(const struct job *))
{
	int fd = socks[w][0], sent = 0, more = 1;
	struct job j;

	while (more || sent > 0) {
		while (more && sent < AHEAD) {
			if (!(more = next(&j)))
				break;
			send_job(fd, &j);
			sent++;
		}
		if (sent > 0) {
			if (!recv_job(fd, &j))
				bench_die("a worker ended early", NULL);
			done(&j);
			sent--;
		}
	}
	close(fd);
}

/* ---------------------------------------------------------------- lanes */

/* The next file, read into a block by the lane's own thread. */
static int
read_next(struct job *j)
{
	if ((j->file = atomic_fetch_add(&next_file, 1)) >= nfiles)
		return 0;
	j->block = block_get();
	read_job(j);
	return 1;
}

static void *
lane(void *arg)
{
	feed((unsigned)(uintptr_t)arg, read_next, write_job);
	return NULL;
}

/* ---------------------------------------------------------------- pools */

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t more, room;
	struct job jobs[QUEUE_CAP];
	unsigned head, n, producers; /* open while producers > 0 */
};

static struct queue to_clean, to_write;

static void
queue_init(struct queue *q, unsigned producers)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->more, NULL);
	pthread_cond_init(&q->room, NULL);
	q->producers = producers;
}

static void
queue_put(struct queue *q, const struct job *j)
{
	pthread_mutex_lock(&q->lock);
	while (q->n == QUEUE_CAP)
		pthread_cond_wait(&q->room, &q->lock);
	q->jobs[(q->head + q->n++) % QUEUE_CAP] = *j;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->lock);
}

/* Returns 0 once every producer is done and the queue is empty. */
static int
queue_take(struct queue *q, struct job *j)
{
	pthread_mutex_lock(&q->lock);
	while (q->n == 0 && q->producers > 0)
		pthread_cond_wait(&q->more, &q->lock);
	int got = q->n > 0;
	if (got) {
		*j = q->jobs[q->head];
		q->head = (q->head + 1) % QUEUE_CAP;
		q->n--;
		pthread_cond_signal(&q->room);
	}
	pthread_mutex_unlock(&q->lock);
	return got;
}

static void
queue_producer_done(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->producers--;
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->lock);
}

static void *
reader(void *arg)
{
	struct job j;

	(void)arg;
	while ((j.file = atomic_fetch_add(&next_file, 1)) < nfiles) {
		j.block = block_get();
		read_job(&j);
		queue_put(&to_clean, &j);
	}
	queue_producer_done(&to_clean);
	return NULL;
}

static int
take_next(struct job *j)
{
	return queue_take(&to_clean, j);
}

static void
put_cleaned(const struct job *j)
{
	queue_put(&to_write, j);
}

static void *
feeder(void *arg)
{
	feed((unsigned)(uintptr_t)arg, take_next, put_cleaned);
	queue_producer_done(&to_write);
	return NULL;
}

static void *
writer(void *arg)
{
	struct job j;

	(void)arg;
	while (queue_take(&to_write, &j))
		write_job(&j);
	return NULL;
}

/* ---------------------------------------------------------------- main */

static void
usage(void)
{
	fprintf(stderr, "usage: layouts lanes|pools OUTDIR FILE...\n");
	exit(2);
}

static void
start(pthread_t *t, void *(*fn)(void *), uintptr_t arg)
{
	if (pthread_create(t, NULL, fn, (void *)arg) != 0)
		bench_die("cannot start a thread", NULL);
}

int
main(int argc, char **argv)
{
	pthread_t threads[MAX_WORKERS + 2 * POOL_THREADS];
	unsigned nthreads = 0;
	int lanes;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (argc < 4 || (strcmp(argv[1], "lanes") != 0 && strcmp(argv[1], "pools") != 0))
		usage();
	bench_init();
	lanes = strcmp(argv[1], "lanes") == 0;
	outdir = argv[2];
	files = argv + 3;
	nfiles = argc - 3;
	nworkers = cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS : (unsigned)cpus;
	for (int i = 0; i < nfiles; i++) {
		struct stat st;
		if (stat(files[i], &st) < 0)
			bench_die("cannot stat", files[i]);
		if ((size_t)st.st_size + 1 > block_size)
			block_size = (size_t)st.st_size + 1;
	}
	/* Every block the layout can have in use at once: with each worker,
	 * and (pools) in each reading or writing thread and on each queue. */
	make_blocks(nworkers * AHEAD + (lanes ? 0 : 2 * (POOL_THREADS + QUEUE_CAP)));
	for (unsigned w = 0; w < nworkers; w++) {
		pid_t pid;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks[w]) < 0)
			bench_die("cannot make a socket", NULL);
		if ((pid = fork()) < 0)
			bench_die("cannot fork", NULL);
		if (pid == 0)
			worker(w);
		close(socks[w][1]);
	}
	if (lanes) {
		for (unsigned w = 0; w < nworkers; w++)
			start(&threads[nthreads++], lane, w);
	} else {
		queue_init(&to_clean, POOL_THREADS);
		queue_init(&to_write, nworkers);
		for (unsigned i = 0; i < POOL_THREADS; i++)
			start(&threads[nthreads++], reader, 0);
		for (unsigned w = 0; w < nworkers; w++)
			start(&threads[nthreads++], feeder, w);
		for (unsigned i = 0; i < POOL_THREADS; i++)
			start(&threads[nthreads++], writer, 0);
	}
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	int status, failed = 0;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	return failed;
}
