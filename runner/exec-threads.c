/*
 * exec-threads.c: the thread pool executor for io stages, and its
 * one-thread form for sync stages in a parallel run.
 *
 * Workers take items from one queue.  A stage that declares itself
 * thread-safe is opened once and shared; any other is opened once per
 * worker.
 *
 * An io stage has more threads than CPUs, for items that wait.  When its
 * items turn out not to wait (files read from the page cache or tmpfs,
 * say), only as many run at once as there are CPUs: more would only share
 * the CPUs, finish every item later, and in order hold back the items
 * after the first.
 *
 * Then, when the next stage runs on worker processes, the threads that
 * feed them run the stage's items instead (see pool_help()): each reads,
 * say, the next file itself when its worker is about to run dry and sends
 * it on at once, where a thread of this stage would read ahead and hand
 * it over, and the pool's own threads leave the items to them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runner/executor.h"
#include "runner/queue.h"
#include "runner/util.h"

struct pool {
	struct pr_stage_run *sr;
	struct pr_queue queue;
	pthread_t *threads;
	unsigned nthreads;         /* started */
	unsigned nthreads_max;     /* to start */
	struct pr_stage_inst **insts;
	unsigned ninsts;
	atomic_uint_fast64_t item_ns; /* about how long an item takes; 0: not known yet */
	atomic_uint_fast64_t cpu_ns;  /* about how much CPU time it takes; 0: not known yet */
	atomic_uint timed_items;      /* items timed so far, up to a few */
	/* Slow items that blocked (waited on something other than a CPU), in
	 * thousandths, a moving average; and the gate that keeps items that
	 * do not wait down to a CPU each. */
	atomic_uint blocked;
	atomic_int open;  /* items are known to wait: the gate stays open */
	unsigned cpus;
	pthread_mutex_t gate_lock;
	pthread_cond_t gate_open;
	unsigned running; /* slow items running; under gate_lock */
	int watching;     /* a waiter looks at the items running; under gate_lock */
	double looked;    /* when it last looked; under gate_lock */
	int shared;       /* one state for all the workers */
	/* Per worker, then per helper (see pool_help()): its thread while it
	 * runs a slow item, else 0, and the looks in a row that found it
	 * asleep; under gate_lock. */
	pid_t *tids;
	unsigned char *naps;
	unsigned nslots;
	/* Helpers attached, and those of them asleep (when all are, the own
	 * workers run the items); no more items come.  Under gate_lock. */
	unsigned helpers;
	unsigned asleep;
	int draining;
};

/* Items of at least this many nanoseconds are timed and gated; faster
 * ones are not worth the system calls. */
#define SLOW_NS 100000

/* Items known to take less than this many nanoseconds are not worth a
 * handoff to a worker (see pool_submit()). */
#define INLINE_NS 1000

struct worker_arg {
	struct pool *pool;
	struct pr_stage_inst *inst;
	unsigned index;
};

/* How many items a worker takes at once: several small ones, for one
 * wake-up and one lock for them all, but no more than PR_HOLD_TIME's worth,
 * so that slow items (files read, commands run) spread over the workers
 * one each and leave the stage in order as fast as they are done,
 * rather than queue behind each other in one worker.  One at first,
 * until an item has shown how long it takes. */
static size_t
take_count(struct pool *pool)
{
	uint64_t ns = atomic_load_explicit(&pool->item_ns, memory_order_relaxed);
	uint64_t n = ns == 0 ? 1 : (uint64_t)(PR_HOLD_TIME * 1e9) / ns;

	return n < 1 ? 1 : n > PR_HOLD_ITEMS ? PR_HOLD_ITEMS : (size_t)n;
}

/* The CPU time the calling thread has used, in nanoseconds. */
static uint64_t
thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Folds NS into the moving average at AVG (0: none yet).  Racing updates
 * lose a sample now and then, which does not matter for an estimate. */
static void
average(atomic_uint_fast64_t *avg, uint64_t ns)
{
	uint64_t old = atomic_load_explicit(avg, memory_order_relaxed);

	atomic_store_explicit(avg, old == 0 ? ns : (old * 7 + ns) / 8, memory_order_relaxed);
}

/* What reading the thread's CPU clock costs, in nanoseconds: a system
 * call on some machines, of a microsecond or two, more than a quick item
 * takes; or 0 until measured. */
static atomic_uint_fast64_t clock_cost;

/* Measures clock_cost once: the least of a few back-to-back reads. */
static void
measure_clock_cost(void)
{
	uint64_t least = UINT64_MAX;

	if (atomic_load_explicit(&clock_cost, memory_order_relaxed) != 0)
		return;
	for (int i = 0; i < 8; i++) {
		uint64_t a = thread_cpu_ns(), b = thread_cpu_ns();
		if (b - a < least)
			least = b - a;
	}
	atomic_store_explicit(&clock_cost, least + 1, memory_order_relaxed);
}

/* The CPU time a batch of items takes, less their delivery's, and less
 * the clock's own: each read of it counts about half its cost. */
struct meter {
	uint64_t start, paused, at;
	unsigned reads;
};

static void
meter_start(struct meter *m)
{
	*m = (struct meter){ .start = thread_cpu_ns(), .reads = 1 };
}

/* Stops counting (for a delivery) until meter_resume(). */
static void
meter_pause(struct meter *m)
{
	m->at = thread_cpu_ns();
	m->reads++;
}

static void
meter_resume(struct meter *m)
{
	m->paused += thread_cpu_ns() - m->at;
	m->reads++;
}

/* Folds the CPU time of the N items measured by M into the pool's
 * estimate: CPU time, unlike the time between an item's start and end,
 * leaves out the moments the thread was not running. */
static void
cpu_timed(struct pool *pool, const struct meter *m, size_t n)
{
	if (n == 0)
		return;
	uint64_t spent = thread_cpu_ns() - m->start - m->paused;
	uint64_t clock = atomic_load_explicit(&clock_cost, memory_order_relaxed) * (m->reads + 1) / 2;
	average(&pool->cpu_ns, (spent > clock ? spent - clock : 0) / n + 1);
}

/* Among how many workers what is queued is shared: all of them when
 * items wait, else as many as there are CPUs, so that small items that
 * compute go to few threads in large batches rather than wake them all. */
static size_t
share(struct pool *pool)
{
	return atomic_load_explicit(&pool->open, memory_order_relaxed) ? pool->nthreads_max
	                                                                 : pool->cpus;
}

/* Folds the time the item of O took into the pool's estimate. */
static void
timed(struct pool *pool, const struct pr_outcome *o)
{
	if (o->ran) {
		average(&pool->item_ns, (uint64_t)((o->slice.end - o->slice.start) * 1e9) + 1);
		if (atomic_load_explicit(&pool->timed_items, memory_order_relaxed) < 1000)
			atomic_fetch_add_explicit(&pool->timed_items, 1, memory_order_relaxed);
	}
}

/* The voluntary context switches of the calling thread so far: each one
 * a wait on something other than a CPU.  -1 when unknown. */
static long
waits(void)
{
#ifdef RUSAGE_THREAD
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) == 0)
		return ru.ru_nvcsw;
#endif
	return -1;
}

/* Whether an item next is worth timing and gating: only in a pool with
 * more threads than CPUs. */
static int
slow(struct pool *pool)
{
	uint64_t ns = atomic_load_explicit(&pool->item_ns, memory_order_relaxed);

	return pool->nthreads_max > pool->cpus && (ns == 0 || ns >= SLOW_NS);
}

/* Whether thread TID of this process is asleep (waiting on something),
 * as /proc says; when /proc cannot tell, it is taken to be. */
static int
asleep(pid_t tid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", (long)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	/* "tid (name) S ...": the name may hold anything, so the last ')'. */
	char *p = strrchr(buf, ')');
	return p == NULL || p[1] == '\0' || (p[2] != 'R');
}

/* Whether a slow item running now waits rather than computes: its
 * thread was found asleep at this look and the one before, a millisecond
 * or more earlier, so that a moment's wait (a page fault, a lock) does not
 * count.  Called with gate_lock held. */
static int
one_asleep(struct pool *pool)
{
	double now = pr_now();
	int found = 0;

	if (now - pool->looked < 0.0009)
		return 0;
	pool->looked = now;
	for (unsigned i = 0; i < pool->nslots; i++) {
		if (pool->tids[i] == 0)
			continue;
		pool->naps[i] = asleep(pool->tids[i]) ? pool->naps[i] + (pool->naps[i] < 2) : 0;
		found |= pool->naps[i] >= 2;
	}
	return found;
}

/* Whether the stage's items are seen to compute rather than wait: the
 * gate is shut, a few have been timed, they are slow enough to be gated,
 * and hardly any of those lately slept (a thread that computes may still
 * lose its CPU for a while).  Two timed items will do when they spent at
 * least a quarter of their time on a CPU, which items that wait do not:
 * the sooner helpers run them, the fewer the stage's own threads take
 * ahead (each a file's worth of memory, say).  Faster items go to the
 * pool's threads in batches, which a helper taking one at a time would
 * only break up. */
static int
computes(struct pool *pool)
{
	unsigned timed = atomic_load_explicit(&pool->timed_items, memory_order_relaxed);
	uint64_t ns = atomic_load_explicit(&pool->item_ns, memory_order_relaxed);

	return !atomic_load(&pool->open) && ns >= SLOW_NS && atomic_load(&pool->blocked) < 350 &&
	       (timed >= 8 ||
	        (timed >= 2 && atomic_load_explicit(&pool->cpu_ns, memory_order_relaxed) >= ns / 4));
}

/* How many of the own workers may run slow items at once: none while
 * helpers run them, else one per CPU.  Called with gate_lock held. */
static unsigned
turns(struct pool *pool)
{
	uint64_t seq;

	if (pool->helpers == 0 || pool->asleep == pool->helpers || !computes(pool))
		return pool->cpus;
	/* The last items gone, they go on to see the end. */
	return pool->draining && !pr_queue_front(&pool->queue, &seq) ? pool->cpus : 0;
}

/*
 * Waits for a CPU's turn when the stage's items do not wait.  Items are
 * taken not to wait until one has been seen to: a worker that finds the
 * gate shut looks every millisecond whether one of the items running is
 * asleep, and goes in if one is, so items that wait (a command, a pipe, a
 * disk) soon all run at once, as if there were no gate.
 */
static void
gate_enter(struct pool *pool, unsigned index, pid_t tid, int holding)
{
	pthread_mutex_lock(&pool->gate_lock);
	/* A worker that holds an item already goes in at a CPU's turn: the
	 * helpers may wait for it, as the earliest. */
	while (pool->running >= (holding ? pool->cpus : turns(pool)) && !atomic_load(&pool->open)) {
		/* One waiter looks, a millisecond apart; the others sleep until
		 * the gate opens, or the looker goes in and hands over.  While
		 * helpers run the items, none looks: they wake the waiters when
		 * the items turn out to wait, or run out (see pool_help()). */
		if (pool->watching || (!holding && turns(pool) == 0)) {
			pthread_cond_wait(&pool->gate_open, &pool->gate_lock);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 1000000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pool->watching = 1;
		int rc = pthread_cond_timedwait(&pool->gate_open, &pool->gate_lock, &ts);
		pool->watching = 0;
		if (rc == ETIMEDOUT && one_asleep(pool)) {
			pthread_cond_signal(&pool->gate_open);
			break;
		}
	}
	pool->running++;
	pool->tids[index] = tid;
	pool->naps[index] = 0;
	pthread_mutex_unlock(&pool->gate_lock);
}

/* Worker INDEX gives up its turn at the gate. */
static void
gate_quit(struct pool *pool, unsigned index)
{
	pthread_mutex_lock(&pool->gate_lock);
	pool->running--;
	pool->tids[index] = 0;
	pthread_cond_signal(&pool->gate_open);
	pthread_mutex_unlock(&pool->gate_lock);
}

/* Folds whether the item just done waited into the pool's average, and
 * opens or shuts the gate by it; BEFORE is waits() when it started. */
static void
note_waits(struct pool *pool, long before)
{
	long after = waits();

	if (before >= 0 && after >= 0) {
		unsigned b = after > before ? 1000 : 0, old = atomic_load(&pool->blocked);
		/* Slowly, so that a few items held up by a lock or a page fault
		 * do not open the gate. */
		unsigned now = (old * 15 + b) / 16;
		atomic_store(&pool->blocked, now);
		int open = now >= 500;
		if (open != atomic_load(&pool->open)) {
			/* As many items run at once as there are CPUs, or workers;
			 * the results the stage holds are bounded to match. */
			atomic_store(&pool->open, open);
			pr_stage_run_running(pool->sr, open ? pool->nthreads_max : pool->cpus);
		}
	}
}

/* An item is done; BEFORE is waits() when it started. */
static void
gate_leave(struct pool *pool, unsigned index, long before)
{
	note_waits(pool, before);
	gate_quit(pool, index);
}

/* Runs ITEM with INST, into O, in a thread that is none of the pool's
 * workers (one that hands items over, or a helper), and folds its CPU
 * time, its time and whether it waited into the pool's measures. */
static void
run_measured(struct pool *pool, struct pr_stage_run *sr, struct pr_stage_inst *inst,
             struct pr_item *item, struct pr_outcome *o)
{
	long before = waits();
	double clock = 0;
	struct meter m;

	meter_start(&m);
	pr_stage_run_exec(sr, inst, item, o, &clock);
	cpu_timed(pool, &m, 1);
	note_waits(pool, before);
	timed(pool, o);
}

/* Counts and delivers the *N outcomes at HELD, and frees their inputs. */
static void
deliver_held(struct pr_stage_run *sr, struct pr_outcome *held, size_t *n, size_t *bytes)
{
	pr_stage_run_finish(sr, held, *n);
	*n = *bytes = 0;
}

/* Takes worker INDEX's next items into BATCH: a few small ones at a time
 * when many wait (one wake-up for several), never more than a fair share
 * of what is queued.  Slow items that compute go through the gate one at a
 * time, and the worker waits for its turn before it takes one: the
 * earliest item queued then starts first, where workers that each held an
 * item at the gate would go in in no particular order, and results that
 * wait in the reorder buffer for an earlier item hold their memory.
 * Returns how many, 0 once the queue is closed and empty; *GATED is set
 * when the worker holds a turn at the gate for the first item. */
static size_t
next_items(struct pool *pool, unsigned index, pid_t tid, struct pr_item_list *batch,
           double *waited, int *gated)
{
	int slowly = slow(pool);

	*gated = 0;
	*waited = 0;
	while (slowly && !atomic_load(&pool->open)) {
		uint64_t seq;
		double waited_now;
		if (!pr_queue_wait(&pool->queue, &waited_now))
			return 0;
		*waited += waited_now;
		gate_enter(pool, index, tid, 0);
		/* Past the stage's bounds the worker waits without an item, and
		 * its turn goes to another, so that whoever goes on next takes
		 * the earliest item. */
		if (pr_queue_front(&pool->queue, &seq) &&
		    !pr_stage_run_may_start(pool->sr, seq, 0)) {
			gate_quit(pool, index);
			pr_stage_run_may_start(pool->sr, seq, 1);
		} else if (pr_queue_trypop(&pool->queue, 1, share(pool), batch) > 0) {
			*gated = 1;
			return 1;
		} else {
			gate_quit(pool, index); /* another worker took it */
		}
		slowly = slow(pool);
	}
	return pr_queue_pop(&pool->queue, take_count(pool), share(pool), batch, waited);
}

static void *
pool_worker(void *arg)
{
	struct worker_arg *w = arg;
	struct pool *pool = w->pool;
	struct pr_stage_run *sr = pool->sr;
	struct pr_item_list batch = { 0 };
	struct pr_outcome held[PR_HOLD_ITEMS];
	size_t nheld = 0, bytes = 0;
	double waited, clock;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int in_gate;

	while (next_items(pool, w->index, tid, &batch, &waited, &in_gate) > 0) {
		struct pr_item *item;

		pr_stage_run_waited(sr, waited);
		clock = 0;
		/* The CPU time the items take, less their delivery's. */
		size_t n = batch.count;
		struct meter m;
		meter_start(&m);
		while ((item = pr_item_list_pop(&batch)) != NULL) {
			struct pr_outcome *o = &held[nheld];
			int gated = in_gate || slow(pool), checked = in_gate;
			long before = 0;
			/* The stage's bounds are seen to after the gate, which may
			 * have held the item while results came; an item taken with
			 * a turn was seen to them as it was taken, and keeps the
			 * turn, or a later one could start before it. */
			if (gated && !in_gate)
				gate_enter(pool, w->index, tid, 1);
			in_gate = 0;
			if (!checked && !pr_stage_run_may_start(sr, item->seq, 0)) {
				/* What this worker holds may be what the stage waits
				 * for; another item may go through the gate meanwhile. */
				if (gated)
					gate_quit(pool, w->index);
				meter_pause(&m);
				deliver_held(sr, held, &nheld, &bytes);
				meter_resume(&m);
				o = &held[0];
				pr_stage_run_may_start(sr, item->seq, 1);
				if (gated)
					gate_enter(pool, w->index, tid, 1);
				clock = 0;
			}
			if (gated) {
				before = waits();
				clock = 0;
			}
			pr_stage_run_exec(sr, w->inst, item, o, &clock);
			if (gated)
				gate_leave(pool, w->index, before);
			timed(pool, o);
			nheld++;
			for (struct pr_item *r = o->results.head; r != NULL; r = r->next)
				bytes += r->len;
			/* Delivered at the end of the batch, or sooner. */
			if (batch.count == 0 || pr_held_due(held, nheld, bytes)) {
				meter_pause(&m);
				deliver_held(sr, held, &nheld, &bytes);
				meter_resume(&m);
				clock = 0;
			}
		}
		cpu_timed(pool, &m, n);
		pr_queue_done(&pool->queue);
	}
	free(w);
	return NULL;
}

static void
pool_stop(struct pr_stage_run *sr)
{
	struct pool *pool = sr->ex_data;

	if (pool == NULL)
		return;
	pr_queue_close(&pool->queue);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	for (unsigned i = 0; i < pool->ninsts; i++)
		pr_stage_close(pool->insts[i]);
	pr_queue_destroy(&pool->queue);
	pthread_cond_destroy(&pool->gate_open);
	pthread_mutex_destroy(&pool->gate_lock);
	free(pool->tids);
	free(pool->naps);
	free(pool->threads);
	free(pool->insts);
	free(pool);
	sr->ex_data = NULL;
}

static int
pool_start(struct pr_stage_run *sr, unsigned nthreads, char **err)
{
	struct pool *pool = pr_calloc(1, sizeof(*pool));
	int shared = (sr->conf->desc->flags & PIPERUN_STAGE_THREAD_SAFE) != 0;

	measure_clock_cost();
	pool->sr = sr;
	pool->nthreads_max = nthreads;
	pool->shared = shared;
	pool->cpus = pr_online_cpus();
	/* Items are taken not to wait until they are seen to. */
	atomic_init(&pool->blocked, 0);
	atomic_init(&pool->open, 0);
	if (nthreads > pool->cpus)
		pr_stage_run_running(sr, pool->cpus);
	pool->tids = pr_calloc(nthreads, sizeof(*pool->tids));
	pool->naps = pr_calloc(nthreads, sizeof(*pool->naps));
	pool->nslots = nthreads;
	pthread_mutex_init(&pool->gate_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->gate_open, &ca);
	pthread_condattr_destroy(&ca);
	pr_queue_init(&pool->queue);
	pool->threads = pr_calloc(nthreads, sizeof(*pool->threads));
	pool->insts = pr_calloc(nthreads, sizeof(*pool->insts));
	sr->ex_data = pool;
	for (unsigned i = 0; i < (shared ? 1 : nthreads); i++) {
		pool->insts[i] = pr_stage_run_open(sr, err);
		if (pool->insts[i] == NULL) {
			pool_stop(sr);
			return -1;
		}
		pool->ninsts++;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		struct worker_arg *w = pr_calloc(1, sizeof(*w));
		int rc;

		w->pool = pool;
		w->inst = pool->insts[shared ? 0 : i];
		w->index = i;
		rc = pr_thread_start(&pool->threads[i], pool_worker, w, sr->conf->name);
		if (rc != 0) {
			free(w);
			*err = pr_asprintf("piperun: stage '%s': cannot start a thread: %s",
			                   sr->conf->name, strerror(rc));
			pool_stop(sr);
			return -1;
		}
		pool->nthreads++;
	}
	return 0;
}

static int
threads_start(struct pr_stage_run *sr, char **err)
{
	return pool_start(sr, sr->workers, err);
}

static int
serial_start(struct pr_stage_run *sr, char **err)
{
	return pool_start(sr, 1, err);
}

/* Whether items are so quick, and sure not to wait, that handing them to
 * a worker would cost more than running them: one state shared by the
 * workers, no timeout or retries, and items known to take under
 * INLINE_NS of CPU time and under SLOW_NS from start to end. */
static int
quick(struct pool *pool)
{
	const struct pr_stage_conf *c = pool->sr->conf;
	uint64_t ns = atomic_load_explicit(&pool->cpu_ns, memory_order_relaxed);
	uint64_t wall = atomic_load_explicit(&pool->item_ns, memory_order_relaxed);

	return pool->shared && ns > 0 && ns < INLINE_NS && wall > 0 && wall < SLOW_NS &&
	       c->timeout <= 0 &&
	       c->on_error != PR_ON_ERROR_RETRY &&
	       !atomic_load_explicit(&pool->open, memory_order_relaxed);
}

static void
pool_submit(struct pr_stage_run *sr, struct pr_item_list *items)
{
	struct pool *pool = sr->ex_data;
	struct pr_outcome held[PR_HOLD_ITEMS];
	size_t nheld = 0, bytes = 0;
	double clock = 0;

	/* Quick items run here, in the thread that hands them over, while
	 * they stay quick and may start: no wake-up, no handoff.  Only when
	 * no worker has an item, so that the stage runs no more items at once
	 * than it has workers, and a sync stage still sees them one at a
	 * time, in order (submissions to a stage come one after the other).
	 * Timed up to 64 at a time, or a millisecond's worth, so that items
	 * that turn slow go to the workers again. */
	int may = 1;
	while (may && items->head != NULL && quick(pool) && pr_queue_idle(&pool->queue)) {
		struct meter m;
		size_t ran = 0;
		double since = 0;
		meter_start(&m);
		while (items->head != NULL && ran < PR_HOLD_ITEMS && (ran == 0 || clock - since < PR_HOLD_TIME) &&
		       (may = pr_stage_run_may_start(sr, items->head->seq, 0))) {
			struct pr_outcome *o = &held[nheld++];
			pr_stage_run_exec(sr, pool->insts[0], pr_item_list_pop(items), o, &clock);
			timed(pool, o);
			if (ran++ == 0)
				since = o->slice.start;
			for (struct pr_item *r = o->results.head; r != NULL; r = r->next)
				bytes += r->len;
			if (nheld == PR_HOLD_ITEMS || bytes >= PR_HOLD_BYTES) {
				meter_pause(&m);
				deliver_held(sr, held, &nheld, &bytes);
				meter_resume(&m);
			}
		}
		cpu_timed(pool, &m, ran);
	}
	if (nheld > 0)
		deliver_held(sr, held, &nheld, &bytes);
	/* Items that compute run here too when the thread that hands them
	 * over has time to spare (a worker process's feeder, whose worker
	 * runs its next batch): written out, say, as soon as they come, with
	 * no wake-up, and their memory free for the next.  Only with the one
	 * state the workers share, as the thread has no state of its own, and
	 * in a pool with a gate: only a gate tells items that compute from
	 * those that wait, which would hold the thread up (and its worker's
	 * results, and its stage's end). */
	while (items->head != NULL && pool->shared && pool->nthreads_max > pool->cpus &&
	       pr_thread_is_spare() && computes(pool) &&
	       pr_stage_run_may_start(sr, items->head->seq, 0)) {
		run_measured(pool, sr, pool->insts[0], pr_item_list_pop(items), &held[0]);
		pr_stage_run_finish(sr, held, 1);
	}
	pr_queue_push_list(&pool->queue, items);
}

static void
pool_drain(struct pr_stage_run *sr)
{
	struct pool *pool = sr->ex_data;

	/* Workers finish what is queued, deliver it, and exit; so do the
	 * helpers, with the items they took. */
	pthread_mutex_lock(&pool->gate_lock);
	pool->draining = 1;
	pthread_cond_broadcast(&pool->gate_open);
	pthread_mutex_unlock(&pool->gate_lock);
	pr_queue_close(&pool->queue);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pool->nthreads = 0;
	pr_queue_wait_done(&pool->queue);
}

static int
pool_help_attach(struct pr_stage_run *sr, struct pr_helper *h, struct pr_queue *wake)
{
	struct pool *pool = sr->ex_data;
	char *err = NULL;

	/* Only a pool with a gate knows whether its items compute. */
	if (pool == NULL || pool->nthreads_max <= pool->cpus)
		return -1;
	*h = (struct pr_helper){ .sr = sr };
	if (pool->shared) {
		h->inst = pool->insts[0];
	} else if ((h->inst = pr_stage_run_open(sr, &err)) == NULL) {
		free(err);
		return -1;
	} else {
		h->own_inst = 1;
	}
	pthread_mutex_lock(&pool->gate_lock);
	h->slot = pool->nslots++;
	pool->tids = pr_reallocarray(pool->tids, pool->nslots, sizeof(*pool->tids));
	pool->naps = pr_reallocarray(pool->naps, pool->nslots, sizeof(*pool->naps));
	pool->tids[h->slot] = 0;
	pool->naps[h->slot] = 0;
	pool->helpers++;
	pr_queue_kick_on(&pool->queue, wake);
	pthread_mutex_unlock(&pool->gate_lock);
	return 0;
}

/* Helper H goes to sleep (ASLEEP 1), waiting for its own stage's items,
 * or wakes: while all of them sleep, the own workers run the items, as
 * the helpers may wait for one of them. */
static void
pool_help_sleep(struct pr_stage_run *sr, struct pr_helper *h, int asleep)
{
	struct pool *pool = sr->ex_data;

	pthread_mutex_lock(&pool->gate_lock);
	h->asleep = asleep;
	pool->asleep += asleep ? 1 : -1;
	if (pool->asleep == pool->helpers)
		pthread_cond_broadcast(&pool->gate_open);
	pthread_mutex_unlock(&pool->gate_lock);
}

/*
 * Runs the next queued item for a helper, a worker of the next stage with
 * nothing to do, while the items compute: a thread of the pool would only
 * take a CPU's turn for it, and hand the results over.  Not while the next
 * stage has no room: it wakes its helpers when it has.  Nor while one of
 * the pool's own threads runs an item (at the start, before the items have
 * shown that they compute): its results are on their way, and a helper
 * that ran one more would only hold one more item's memory.
 */
static int
pool_help(struct pr_stage_run *sr, struct pr_helper *h)
{
	struct pool *pool = sr->ex_data;
	struct pr_item_list batch = { 0 };
	struct pr_outcome o;
	uint64_t seq;

	if (!pr_queue_front(&pool->queue, &seq)) {
		pthread_mutex_lock(&pool->gate_lock);
		int done = pool->draining;
		if (done)
			pthread_cond_broadcast(&pool->gate_open);
		pthread_mutex_unlock(&pool->gate_lock);
		return done ? -1 : 0;
	}
	pthread_mutex_lock(&pool->gate_lock);
	unsigned running = pool->running;
	pthread_mutex_unlock(&pool->gate_lock);
	if (running > 0 || !computes(pool) || !pr_stage_run_may_start(sr, seq, 0) ||
	    !pr_stage_run_roomy(sr->next) || pr_queue_trypop(&pool->queue, 1, 1, &batch) == 0)
		return 0;
	pthread_mutex_lock(&pool->gate_lock);
	pool->tids[h->slot] = (pid_t)syscall(SYS_gettid);
	pool->naps[h->slot] = 0;
	pthread_mutex_unlock(&pool->gate_lock);
	run_measured(pool, sr, h->inst, pr_item_list_pop(&batch), &o);
	pthread_mutex_lock(&pool->gate_lock);
	pool->tids[h->slot] = 0;
	pthread_mutex_unlock(&pool->gate_lock);
	if (!computes(pool)) {
		pthread_mutex_lock(&pool->gate_lock);
		pthread_cond_broadcast(&pool->gate_open);
		pthread_mutex_unlock(&pool->gate_lock);
	}
	pr_stage_run_finish_nowait(sr, &o, 1);
	pr_queue_done(&pool->queue);
	return 1;
}

static void
pool_help_detach(struct pr_stage_run *sr, struct pr_helper *h)
{
	struct pool *pool = sr->ex_data;

	pthread_mutex_lock(&pool->gate_lock);
	if (h->asleep)
		pool->asleep--;
	if (--pool->helpers == 0)
		pr_queue_kick_on(&pool->queue, NULL);
	pthread_cond_broadcast(&pool->gate_open);
	pthread_mutex_unlock(&pool->gate_lock);
	if (h->own_inst)
		pr_stage_close(h->inst);
	*h = (struct pr_helper){ 0 };
}

const struct pr_executor pr_exec_threads = {
	.name = "threads",
	.start = threads_start,
	.submit = pool_submit,
	.drain = pool_drain,
	.stop = pool_stop,
	.help_attach = pool_help_attach,
	.help = pool_help,
	.help_detach = pool_help_detach,
	.help_sleep = pool_help_sleep,
};

const struct pr_executor pr_exec_serial = {
	.name = "sequential",
	.start = serial_start,
	.submit = pool_submit,
	.drain = pool_drain,
	.stop = pool_stop,
};
