/*
 * engine.c: runs a pipeline: source, stages and standard output, wired
 * together, with every item accounted for.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runner/block.h"
#include "runner/engine.h"
#include "runner/executor.h"
#include "runner/queue.h"
#include "runner/source.h"
#include "runner/util.h"

#define SINK_BUFFER (64 * 1024)
#define SINK_DELAY  0.05 /* seconds output may wait in the sink's buffer */
/* Results the last stage holds of fewer bytes are written out by whoever
 * brings them, not by the writer thread. */
#define WRITE_INLINE (64 * 1024)

struct pr_engine {
	const struct pr_pipeline *p;
	const struct pr_run_opts *o;
	struct pr_stats *stats;
	struct pr_stage_run *runs;
	atomic_int stop;   /* take no more items from the source */
	atomic_int cancel; /* stop the work in flight */
	atomic_int done;   /* every stage has drained */
	atomic_int failed; /* some item failed */
	atomic_ullong items_in;
	/* The sink, which the last stage's passer writes to; or, while it has
	 * none, whoever holds the last stage's lock. */
	unsigned char *out; /* small results gather here */
	size_t outlen;
	double flushed;
	int broken_pipe;    /* out_fd's reader went away */
	double t0;
	int tick_wake[2];  /* wakes the control thread when there is no control */
	int stop_pipe[2];  /* readable once stop is set, for a source that waits */
};

/* Takes no more items from the source, and wakes it if it waits for
 * input: a pipe may stay open and quiet for as long as its writer likes. */
static void
stop_run(struct pr_engine *e)
{
	if (atomic_exchange(&e->stop, 1) == 0 && e->stop_pipe[1] >= 0)
		(void)!write(e->stop_pipe[1], "", 1);
}

static void
message(struct pr_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
message(struct pr_engine *e, const char *fmt, ...)
{
	va_list ap;
	char *line;

	if (e->o->message == NULL)
		return;
	va_start(ap, fmt);
	line = pr_vasprintf(fmt, ap);
	va_end(ap);
	e->o->message(e->o->ud, line);
	free(line);
}

static void
warn_cb(void *ud, const char *line)
{
	struct pr_engine *e = ud;

	message(e, "%s", line);
}

int
pr_run_control_init(struct pr_run_control *c)
{
	atomic_init(&c->signal, 0);
	atomic_init(&c->cancel, 0);
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

void
pr_run_control_signal(struct pr_run_control *c, int sig)
{
	int expected = 0;
	int saved = errno;

	if (!atomic_compare_exchange_strong(&c->signal, &expected, sig))
		atomic_store(&c->cancel, 1);
	(void)!write(c->wake[1], "", 1);
	errno = saved;
}

int
pr_stage_run_cancelled(const struct pr_stage_run *sr)
{
	return atomic_load(&sr->engine->cancel);
}

/* Interrupts the work in flight in every stage. */
static void
cancel_all(struct pr_engine *e)
{
	if (atomic_exchange(&e->cancel, 1))
		return;
	for (size_t i = 0; i < e->p->nstages; i++) {
		struct pr_stage_run *sr = &e->runs[i];
		if (sr->ex->cancel != NULL)
			sr->ex->cancel(sr);
		pthread_mutex_lock(&sr->lock);
		pthread_cond_broadcast(&sr->ran);
		pthread_mutex_unlock(&sr->lock);
	}
}

static void sink_flush(struct pr_engine *e);
static void pass_locked(struct pr_stage_run *sr, int nowait);

/* Items the source hands the first stage at once, at most. */
#define SUBMIT_BATCH 64

/* Copies the counts so far into LIVE (whose stages array the caller
 * provides), with each stage's queue; records the queues in the trace. */
static void
snapshot(struct pr_engine *e, struct pr_stats *live, double now)
{
	struct pr_stage_stats *stages = live->stages;
	struct pr_stage_run *last = &e->runs[e->p->nstages - 1];

	/* items_out belongs to the sink, under the last stage's lock. */
	pthread_mutex_lock(&last->lock);
	*live = *e->stats;
	pthread_mutex_unlock(&last->lock);
	live->stages = stages;
	live->items_in = atomic_load(&e->items_in);
	live->elapsed_s = now - e->t0;
	for (size_t i = 0; i < e->p->nstages; i++) {
		struct pr_stage_run *sr = &e->runs[i];
		pthread_mutex_lock(&sr->lock);
		stages[i] = *sr->stats;
		stages[i].queued = (unsigned)(sr->admitted - sr->released);
		stages[i].bound = sr->bound;
		pthread_mutex_unlock(&sr->lock);
		if (e->o->trace != NULL)
			pr_trace_counter(e->o->trace, (unsigned)i, now, stages[i].queued);
	}
}

/* How long work in flight has to end once interrupted, before the run is
 * reported stuck (see pr_run_opts.stuck). */
#define STUCK_WAIT 2.0

/* The earlier of the times A and B, where 0 means none. */
static double
earlier(double a, double b)
{
	return a == 0 ? b : b == 0 || a < b ? a : b;
}

/* Runs beside the pipeline: takes the user's signals (the first stops the
 * source, a second one or the end of the grace period interrupts), and
 * ticks for progress and the trace's queue counters. */
static void *
control_main(void *arg)
{
	struct pr_engine *e = arg;
	struct pr_run_control *c = e->o->control;
	double deadline = 0, stuck = 0, tick = 0, next_tick = 0, next_progress = 0;
	struct pr_stats live;

	tick = SINK_DELAY;
	if (e->o->progress != NULL)
		tick = tick > 0 && tick < e->o->progress_interval ? tick : e->o->progress_interval;
	live.stages = pr_calloc(e->p->nstages, sizeof(*live.stages));
	next_tick = pr_now() + tick;
	while (!atomic_load(&e->done)) {
		struct pollfd p = { c != NULL ? c->wake[0] : e->tick_wake[0], POLLIN, 0 };
		double until = earlier(earlier(deadline, stuck), tick > 0 ? next_tick : 0), now = pr_now();
		int ms;
		char buf[64];

		ms = until == 0 ? -1 : until > now ? (int)((until - now) * 1000) + 1 : 0;
		if (poll(&p, 1, ms) > 0)
			while (read(p.fd, buf, sizeof(buf)) > 0)
				;
		now = pr_now();
		if (tick > 0 && now >= next_tick) {
			struct pr_stage_run *last = &e->runs[e->p->nstages - 1];
			pthread_mutex_lock(&last->lock);
			if (!last->passer && e->outlen > 0 && now - e->flushed >= SINK_DELAY)
				sink_flush(e);
			pthread_mutex_unlock(&last->lock);
			if (e->o->trace != NULL || (e->o->progress != NULL && now >= next_progress)) {
				snapshot(e, &live, now);
				if (e->o->progress != NULL && now >= next_progress) {
					e->o->progress(e->o->ud, &live);
					next_progress = now + e->o->progress_interval;
				}
			}
			next_tick = now + tick;
		}
		if (c == NULL)
			continue;
		if (atomic_load(&c->signal) && deadline == 0 && !atomic_load(&e->cancel)) {
			stop_run(e);
			deadline = now + e->o->grace;
		}
		if (!atomic_load(&e->cancel) &&
		    (atomic_load(&c->cancel) || (deadline > 0 && now >= deadline))) {
			cancel_all(e);
			stuck = now + STUCK_WAIT;
		}
		if (stuck > 0 && now >= stuck) {
			/* Code running in this process (a stage on threads) may not
			 * look at the cancel flag; only its caller can end it. */
			struct pr_stage_run *last = &e->runs[e->p->nstages - 1];
			stuck = 0;
			if (e->o->stuck != NULL) {
				/* What is in order already goes out first. */
				if (pthread_mutex_trylock(&last->lock) == 0) {
					if (!last->passer)
						sink_flush(e);
					pthread_mutex_unlock(&last->lock);
				}
				e->o->stuck(e->o->ud);
			}
		}
	}
	free(live.stages);
	return NULL;
}

struct pr_stage_inst *
pr_stage_run_open(struct pr_stage_run *sr, char **err)
{
	struct pr_diag d;
	struct pr_stage_inst *inst;

	pr_diag_init(&d, sr->engine->p->file);
	inst = pr_stage_open(sr->engine->p, sr->conf, 0, &d);
	if (inst == NULL)
		*err = pr_strdup(d.count > 0 ? d.msgs[0] : "cannot open the stage");
	else
		inst->cancel = &sr->engine->cancel;
	pr_diag_free(&d);
	return inst;
}

/* The calling thread's process and thread ids, looked up once. */
static void
thread_ids(long *pid, long *tid)
{
	static _Thread_local long my_pid, my_tid;

	if (my_tid == 0) {
		my_pid = (long)getpid();
		my_tid = (long)syscall(SYS_gettid);
	}
	*pid = my_pid;
	*tid = my_tid;
}

static _Thread_local int spare_thread;

void
pr_thread_spare(int spare)
{
	spare_thread = spare;
}

int
pr_thread_is_spare(void)
{
	return spare_thread;
}

int
pr_stage_run_past_cut(const struct pr_stage_run *sr, uint64_t seq)
{
	return seq > atomic_load_explicit(&sr->cut, memory_order_relaxed);
}

void
pr_stage_run_exec(struct pr_stage_run *sr, struct pr_stage_inst *inst, struct pr_item *item,
                  struct pr_outcome *o, double *clock)
{
	*o = (struct pr_outcome){ .item = item, .in_len = item->len };
	if (atomic_load(&sr->engine->cancel)) {
		o->err = pr_strdup("interrupted");
		*clock = 0;
		return;
	}
	/* Not run: counted ok and filtered now, and interrupted when it is
	 * dropped (see drop_locked()). */
	if (pr_stage_run_past_cut(sr, item->seq)) {
		*clock = 0;
		return;
	}
	o->slice.start = *clock > 0 ? *clock : pr_now();
	if (pr_stage_try(inst, item, NULL, &o->results, &o->err) != 0 && o->err == NULL)
		o->err = pr_strdup("failed");
	o->slice.end = *clock = pr_now();
	thread_ids(&o->slice.pid, &o->slice.tid);
	o->ran = 1;
}

int
pr_stage_run_call(struct pr_stage_run *sr, struct pr_stage_inst *inst, struct pr_item *item,
                  struct pr_item_list *out)
{
	struct pr_outcome o;
	double clock = 0;

	pr_stage_run_exec(sr, inst, item, &o, &clock);
	pr_stage_run_account(sr, item->name, o.results.count, o.err, o.ran ? &o.slice : NULL);
	pr_item_list_append(out, &o.results);
	int rc = o.err == NULL ? 0 : -1;
	free(o.err);
	return rc;
}

/* Records one finished item in SR's statistics; called with the lock. */
static void
count_locked(struct pr_stage_run *sr, size_t nout, int failed, int interrupted, double busy)
{
	struct pr_stage_stats *st = sr->stats;

	st->busy_s += busy;
	if (!failed) {
		st->ok++;
		if (nout == 0)
			st->filtered++;
	} else if (interrupted) {
		st->interrupted++;
	} else {
		st->failed++;
	}
}

/* Reports a failed item (not an interrupted one) and stops the run unless
 * the stage skips failures; called without the lock. */
static void
report_failure(struct pr_stage_run *sr, const char *name, const char *err)
{
	sr->engine->failed = 1;
	if (sr->conf->on_error != PR_ON_ERROR_SKIP)
		stop_run(sr->engine);
	message(sr->engine, "piperun: stage '%s' failed on '%s': %s", sr->conf->name, name, err);
}

static void
trace_slice(struct pr_stage_run *sr, const char *name, const struct pr_slice *slice, int failed)
{
	struct pr_trace *trace = sr->engine->o->trace;

	if (trace != NULL && slice != NULL)
		pr_trace_slice(trace, (unsigned)(sr->conf - sr->engine_pipeline->stages), name,
		               slice->start, slice->end, slice->pid, slice->tid, failed);
}

void
pr_stage_run_account(struct pr_stage_run *sr, const char *name, size_t nout, const char *err,
                     const struct pr_slice *slice)
{
	int interrupted = err != NULL && atomic_load(&sr->engine->cancel);

	trace_slice(sr, name, slice, err != NULL);
	pthread_mutex_lock(&sr->lock);
	count_locked(sr, nout, err != NULL, interrupted, slice != NULL ? slice->end - slice->start : 0);
	pthread_mutex_unlock(&sr->lock);
	if (err != NULL && !interrupted)
		report_failure(sr, name, err);
}

void
pr_stage_run_message(struct pr_stage_run *sr, const char *line)
{
	message(sr->engine, "%s", line);
}

void
pr_stage_run_waited(struct pr_stage_run *sr, double wait)
{
	pthread_mutex_lock(&sr->lock);
	sr->stats->wait_s += wait;
	pthread_mutex_unlock(&sr->lock);
}

/* Writes LEN bytes at P to standard output; a closed pipe ends the run. */
static void
sink_write(struct pr_engine *e, const void *p, size_t len)
{
	int rc;

	if (e->broken_pipe || len == 0)
		return;
	rc = pr_write_all(e->o->out_fd, p, len);
	if (rc == -EPIPE) {
		e->broken_pipe = 1;
		stop_run(e);
	} else if (rc < 0) {
		message(e, "piperun: standard output: %s", strerror(-rc));
		e->failed = 1;
		stop_run(e);
	}
}

/* Writes what the sink's buffer holds.  Called by the last stage's passer,
 * or with the lock held while it has none. */
static void
sink_flush(struct pr_engine *e)
{
	sink_write(e, e->out, e->outlen);
	e->outlen = 0;
	e->flushed = pr_now();
}

/* Writes out an item that left the last stage, and frees it.  Small items
 * gather in a buffer that is written when full, every few hundredths of a
 * second (by the control thread) and at the end; one large item is
 * written as it is.  Called by the last stage's passer.  Returns 1 when
 * the item counts as out. */
static int
sink(struct pr_engine *e, struct pr_item *item)
{
	if (e->outlen + item->len > SINK_BUFFER)
		sink_flush(e);
	if (item->len >= SINK_BUFFER)
		sink_write(e, item->data, item->len);
	else if (item->len > 0) {
		memcpy(e->out + e->outlen, item->data, item->len);
		e->outlen += item->len;
	}
	pr_item_free(item);
	return !e->broken_pipe;
}

/* The items SR admits whatever their size (see has_room()). */
static uint64_t
always(const struct pr_stage_run *sr)
{
	return sr->always + (atomic_load_explicit(&sr->helping, memory_order_relaxed) > 0
	                             ? sr->workers
	                             : 0);
}

/* Whether SR has room for one more item of LEN bytes; with the lock. */
static int
has_room(const struct pr_stage_run *sr, size_t len)
{
	/* Up to a bound of items, and of bytes; but every worker may always
	 * have an item, and one more wait, whatever their size: large items
	 * are not worth taking ahead, and their memory counts. */
	return sr->admitted - sr->released < sr->bound &&
	       (sr->admitted - sr->released < always(sr) ||
	        sr->held_bytes + len <= sr->bound_bytes);
}

/* Admits the items of ITEMS into SR in order as there is room (or at
 * once, with NOWAIT), numbers them and hands them to the executor, several
 * at a time when they fit; leaves ITEMS empty. */
static void
submit(struct pr_stage_run *sr, struct pr_item_list *items, int nowait)
{
	struct pr_item_list admitted = { 0 };
	struct pr_item *item;

	pthread_mutex_lock(&sr->lock);
	while ((item = pr_item_list_pop(items)) != NULL) {
		while (!nowait && !has_room(sr, item->len)) {
			/* Those admitted go to work before this waits for room. */
			if (admitted.count > 0) {
				pthread_mutex_unlock(&sr->lock);
				sr->ex->submit(sr, &admitted);
				pthread_mutex_lock(&sr->lock);
				continue;
			}
			sr->waiting++;
			pthread_cond_wait(&sr->room, &sr->lock);
			sr->waiting--;
		}
		sr->held_bytes += item->len;
		sr->admitted++;
		sr->inputs++;
		item->seq = sr->seq_in++;
		sr->stats->in++;
		sr->stats->bytes_in += item->len;
		pr_item_list_push(&admitted, item);
	}
	pthread_mutex_unlock(&sr->lock);
	sr->ex->submit(sr, &admitted);
}

/* Wakes those waiting for room in SR when there is enough; with the lock.
 * A stage full of small items refills once it has half emptied: one
 * wake-up for many items, not one each.  A stage full of large items
 * refills as soon as a worker could take one more, and before its workers
 * run dry: while each has fewer than one item running, its items ahead,
 * and one more waiting for it, whatever results wait to leave.  (A
 * submitter woken when results fill the stage's bytes waits again.) */
static void
wake_room(struct pr_stage_run *sr)
{
	if (sr->waiting > 0 && (sr->admitted - sr->released < always(sr) ||
	                        sr->inputs <= (uint64_t)sr->workers * (2 + sr->ex->ahead) ||
	                        (sr->admitted - sr->released <= sr->bound / 2 &&
	                         sr->held_bytes <= sr->bound_bytes / 2)))
		pthread_cond_broadcast(&sr->room);
	if (atomic_load_explicit(&sr->helping, memory_order_relaxed) > 0 && has_room(sr, 0))
		pr_queue_kick(sr->helpers_wake);
}

/* Whether a thread bringing results to SR waits: while the passer is
 * held up (a slow reader, a full next stage), those who bring more wait
 * for it past half the stage's bytes, rather than fill the rest with
 * them.  With the lock. */
static int
bring_blocked(struct pr_stage_run *sr)
{
	return (sr->passer || sr->writer) && sr->out_bytes > sr->bound_bytes / 2 &&
	       !pr_stage_run_cancelled(sr);
}

/* Whether a worker of SR waits before it starts item SEQ: past the
 * bound, no item starts while the results passed on wait for room in the
 * next stage; and, in order, only the earliest item starts while results
 * wait for it.  With the lock. */
static int
start_blocked(struct pr_stage_run *sr, uint64_t seq)
{
	int in_order = sr->engine->p->order != PR_ORDER_ANY;

	return (sr->out_bytes > sr->bound_bytes ||
	        (in_order && sr->result_bytes > sr->bound_bytes && seq != sr->reorder.base)) &&
	       !pr_stage_run_cancelled(sr);
}

/* Wakes those waiting on SR's `ran` when the wait of one of them may be
 * over, and only then: the results passed on made room, or the earliest
 * item changed since the last wake-up.  With the lock. */
static void
wake_ran(struct pr_stage_run *sr)
{
	int in_order = sr->engine->p->order != PR_ORDER_ANY;

	if ((sr->bring_waiting > 0 && !bring_blocked(sr)) ||
	    (sr->run_waiting > 0 && sr->out_bytes <= sr->bound_bytes &&
	     (!in_order || sr->result_bytes <= sr->bound_bytes || sr->start_over ||
	      sr->reorder.base != sr->woken_base))) {
		sr->woken_base = sr->reorder.base;
		sr->start_over = 0;
		pthread_cond_broadcast(&sr->ran);
	}
}

/* Releases a batch of results, which leaves SR in order, to the passer;
 * called with SR's lock held, so batches leave one at a time, in order. */
static void
forward(struct pr_stage_run *sr, struct pr_item_list *list)
{
	struct pr_batches *out = &sr->outbox;

	for (struct pr_item *item = list->head; item != NULL; item = item->next) {
		sr->out_bytes += item->len;
		sr->stats->out++;
		sr->stats->bytes_out += item->len;
	}
	if (list->count == 0) {
		sr->released++;
		wake_room(sr);
		return;
	}
	/* The batch counts in the stage's bounds until it is passed on. */
	if (out->n == out->cap) {
		out->cap = out->cap ? 2 * out->cap : 64;
		out->lists = pr_reallocarray(out->lists, out->cap, sizeof(*out->lists));
	}
	out->lists[out->n++] = *list;
	*list = (struct pr_item_list){ 0 };
}

/* Passes what SR released on, in order, to the next stage or the sink,
 * unless another thread is at it, or the writer is to: that one passes
 * these on too before it stops.  Called with the lock held, and releases
 * it; may wait for room in the next stage, or for the passer, unless
 * NOWAIT. */
static void
pass_on_unlock(struct pr_stage_run *sr, int nowait)
{
	int to_writer = sr->writer && sr->out_bytes >= WRITE_INLINE;

	if (to_writer && !sr->passer && sr->writer_idle)
		pthread_cond_signal(&sr->write);
	if (sr->passer || to_writer) {
		/* While the passer is held up (a slow reader, a full next stage),
		 * those who bring more results wait for it past half the stage's
		 * bytes, rather than fill the rest with them. */
		while (!nowait && bring_blocked(sr)) {
			sr->bring_waiting++;
			pthread_cond_wait(&sr->ran, &sr->lock);
			sr->bring_waiting--;
		}
		pthread_mutex_unlock(&sr->lock);
		return;
	}
	pass_locked(sr, nowait);
	pthread_mutex_unlock(&sr->lock);
}

/* Passes what SR released on as the passer, until none is left, without
 * waiting for room in the next stage when NOWAIT.  Called with the lock
 * held, which it lets go of while it passes. */
static void
pass_locked(struct pr_stage_run *sr, int nowait)
{
	struct pr_engine *e = sr->engine;

	if (sr->outbox.n == 0)
		return;
	sr->passer = 1;
	while (sr->outbox.n > 0) {
		struct pr_batches b = sr->outbox;
		struct pr_item_list next = { 0 };
		/* Nothing was passing: out_bytes are all the outbox's. */
		uint64_t out = 0, bytes = sr->out_bytes;
		sr->outbox = sr->passing;
		sr->passing = b;
		pthread_mutex_unlock(&sr->lock);
		for (size_t i = 0; i < b.n; i++) {
			if (sr->next != NULL) {
				pr_item_list_append(&next, &b.lists[i]);
				continue;
			}
			struct pr_item *item;
			while ((item = pr_item_list_pop(&b.lists[i])) != NULL)
				out += (uint64_t)sink(e, item);
		}
		if (next.count > 0)
			submit(sr->next, &next, nowait);
		pthread_mutex_lock(&sr->lock);
		sr->released += b.n;
		sr->held_bytes -= bytes;
		sr->result_bytes -= bytes;
		sr->out_bytes -= bytes;
		atomic_store_explicit(&sr->over, sr->result_bytes > sr->bound_bytes,
		                      memory_order_relaxed);
		if (sr->next == NULL)
			e->stats->items_out += out;
		sr->passing.n = 0;
		wake_room(sr);
		wake_ran(sr);
	}
	sr->passer = 0;
	wake_ran(sr);
}

/* The last stage's writer: passes on what the stage released while it is
 * large, until told to stop and nothing is left. */
static void *
writer_main(void *arg)
{
	struct pr_stage_run *sr = arg;

	pthread_mutex_lock(&sr->lock);
	for (;;) {
		if (sr->outbox.n > 0 && !sr->passer) {
			pass_locked(sr, 0);
			continue;
		}
		if (sr->writer_stop && sr->outbox.n == 0 && !sr->passer)
			break;
		sr->writer_idle = 1;
		pthread_cond_wait(&sr->write, &sr->lock);
		sr->writer_idle = 0;
	}
	pthread_mutex_unlock(&sr->lock);
	return NULL;
}

/* Stops SR's writer once it has written everything out. */
static void
writer_stop(struct pr_stage_run *sr, pthread_t thread)
{
	pthread_mutex_lock(&sr->lock);
	sr->writer_stop = 1;
	pthread_cond_signal(&sr->write);
	pthread_mutex_unlock(&sr->lock);
	pthread_join(thread, NULL);
	sr->writer = 0;
}

void
pr_stage_run_running(struct pr_stage_run *sr, unsigned n)
{
	pthread_mutex_lock(&sr->lock);
	sr->bound_bytes = pr_bound_bytes_for(sr->ex, n);
	sr->always = n + 1;
	atomic_store_explicit(&sr->over, sr->result_bytes > sr->bound_bytes, memory_order_relaxed);
	pthread_cond_broadcast(&sr->ran);
	pthread_mutex_unlock(&sr->lock);
}

int
pr_stage_run_may_start(struct pr_stage_run *sr, uint64_t seq, int wait)
{
	int may = 1;

	/* See start_blocked().  A glance at the flag spares the lock while
	 * results flow. */
	if (!atomic_load_explicit(&sr->over, memory_order_relaxed))
		return 1;
	pthread_mutex_lock(&sr->lock);
	while (start_blocked(sr, seq)) {
		if (!wait) {
			may = 0;
			break;
		}
		sr->start_over |= sr->out_bytes > sr->bound_bytes;
		sr->run_waiting++;
		pthread_cond_wait(&sr->ran, &sr->lock);
		sr->run_waiting--;
	}
	pthread_mutex_unlock(&sr->lock);
	return may;
}

/* Lets go of LIST, the results of an input after the one whose failure
 * stopped the run, as if the input had not been run: it counts as
 * interrupted unless it FAILED itself.  Called with the lock. */
static void
drop_locked(struct pr_stage_run *sr, struct pr_item_list *list, int failed)
{
	for (struct pr_item *it = list->head; it != NULL; it = it->next) {
		sr->held_bytes -= it->len;
		sr->result_bytes -= it->len;
	}
	atomic_store_explicit(&sr->over, sr->result_bytes > sr->bound_bytes, memory_order_relaxed);
	if (!failed) {
		sr->stats->ok--;
		sr->stats->interrupted++;
		if (list->count == 0)
			sr->stats->filtered--;
	}
	pr_item_list_clear(list);
	sr->released++;
	wake_room(sr);
}

/* Takes the results of input SEQ, which held IN_LEN bytes and FAILED or
 * not, and passes on whatever may leave; a failure that CUTS ends the
 * stage's output when it stops the run.  Called with the lock. */
static void
deliver_locked(struct pr_stage_run *sr, uint64_t seq, size_t in_len, struct pr_item_list *results,
               int failed, int cuts)
{
	struct pr_item_list ready;
	int tag;

	/* The input is gone; its results are held until they leave. */
	sr->held_bytes -= in_len;
	sr->inputs--;
	for (struct pr_item *it = results->head; it != NULL; it = it->next) {
		sr->held_bytes += it->len;
		sr->result_bytes += it->len;
	}
	atomic_store_explicit(&sr->over, sr->result_bytes > sr->bound_bytes, memory_order_relaxed);
	if (sr->engine->p->order == PR_ORDER_ANY) {
		forward(sr, results);
	} else {
		/* A failure that stops the run ends the stage's output in order
		 * there, as under --sync, where no later input would have come:
		 * the output does not depend on which items were in flight. */
		if (cuts && sr->conf->on_error != PR_ON_ERROR_SKIP &&
		    !atomic_load(&sr->engine->cancel) && seq < sr->cut)
			sr->cut = seq;
		pr_reorder_put(&sr->reorder, seq, results, failed);
		while (pr_reorder_take(&sr->reorder, &ready, &tag)) {
			if (sr->reorder.base - 1 > sr->cut)
				drop_locked(sr, &ready, tag);
			else
				forward(sr, &ready);
		}
	}
	*results = (struct pr_item_list){ 0 };
}

void
pr_stage_run_deliver(struct pr_stage_run *sr, uint64_t seq, size_t in_len,
                     struct pr_item_list *results, int failed)
{
	pthread_mutex_lock(&sr->lock);
	deliver_locked(sr, seq, in_len, results, failed, 0);
	wake_ran(sr);
	pass_on_unlock(sr, 0);
}

static void
finish(struct pr_stage_run *sr, struct pr_outcome *o, size_t n, int nowait)
{
	int interrupted = atomic_load(&sr->engine->cancel);

	for (size_t i = 0; i < n; i++)
		trace_slice(sr, o[i].item->name, o[i].ran ? &o[i].slice : NULL, o[i].err != NULL);
	pthread_mutex_lock(&sr->lock);
	for (size_t i = 0; i < n; i++) {
		count_locked(sr, o[i].results.count, o[i].err != NULL, interrupted,
		             o[i].ran ? o[i].slice.end - o[i].slice.start : 0);
		if (o[i].err != NULL)
			pr_item_list_clear(&o[i].results);
		deliver_locked(sr, o[i].item->seq, o[i].in_len, &o[i].results, o[i].err != NULL,
		               o[i].err != NULL);
	}
	wake_ran(sr);
	pass_on_unlock(sr, nowait);
	for (size_t i = 0; i < n; i++) {
		if (o[i].err != NULL && !interrupted)
			report_failure(sr, o[i].item->name, o[i].err);
		free(o[i].err);
		o[i].err = NULL;
		pr_item_free(o[i].item);
		o[i].item = NULL;
	}
}

void
pr_stage_run_finish(struct pr_stage_run *sr, struct pr_outcome *o, size_t n)
{
	finish(sr, o, n, 0);
}

void
pr_stage_run_finish_nowait(struct pr_stage_run *sr, struct pr_outcome *o, size_t n)
{
	finish(sr, o, n, 1);
}

int
pr_stage_run_roomy(struct pr_stage_run *sr)
{
	pthread_mutex_lock(&sr->lock);
	int roomy = has_room(sr, 0);
	pthread_mutex_unlock(&sr->lock);
	return roomy;
}

static void
stats_init(struct pr_engine *e)
{
	const struct pr_pipeline *p = e->p;
	struct pr_stats *s = e->stats;

	memset(s, 0, sizeof(*s));
	s->pipeline = p->name;
	s->status = "ok";
	s->nstages = p->nstages;
	s->stages = pr_calloc(p->nstages, sizeof(*s->stages));
	for (size_t i = 0; i < p->nstages; i++) {
		const struct pr_stage_run *sr = &e->runs[i];
		s->stages[i].name = p->stages[i].name;
		s->stages[i].kind = pr_kind_name(p->stages[i].kind);
		s->stages[i].executor = sr->ex->name;
		s->stages[i].workers = sr->workers;
	}
}

enum pr_run_status
pr_engine_run(const struct pr_pipeline *p, const struct pr_run_opts *o, struct pr_stats *stats)
{
	struct pr_engine e = { .p = p, .o = o, .stats = stats, .t0 = pr_now(),
		               .stop_pipe = { -1, -1 } };
	struct pr_source *src = NULL;
	pthread_t control;
	int controlled = 0;
	size_t started = 0;
	double t0 = pr_now();
	char *err = NULL;
	size_t bad;

	e.runs = pr_calloc(p->nstages, sizeof(*e.runs));
	for (size_t i = 0; i < p->nstages; i++) {
		struct pr_stage_run *sr = &e.runs[i];
		sr->engine = &e;
		sr->engine_pipeline = p;
		sr->conf = &p->stages[i];
		sr->ex = pr_executor_for(sr->conf, o->sync);
		sr->workers = pr_workers_for(sr->conf, o->jobs, o->sync);
		sr->bound = pr_bound_for(sr->ex, sr->workers);
		sr->bound_bytes = pr_bound_bytes_for(sr->ex, sr->workers);
		sr->always = sr->workers + 1;
		sr->next = i + 1 < p->nstages ? &e.runs[i + 1] : NULL;
		sr->prev = i > 0 ? &e.runs[i - 1] : NULL;
		atomic_init(&sr->helping, 0);
		pr_reorder_init(&sr->reorder);
		sr->cut = UINT64_MAX;
		pthread_mutex_init(&sr->lock, NULL);
		pthread_cond_init(&sr->room, NULL);
		pthread_cond_init(&sr->ran, NULL);
		pthread_cond_init(&sr->write, NULL);
	}
	stats_init(&e);
	for (size_t i = 0; i < p->nstages; i++)
		e.runs[i].stats = &stats->stages[i];

	for (; started < p->nstages; started++) {
		if (e.runs[started].ex->start(&e.runs[started], &err) < 0) {
			message(&e, "%s", err);
			free(err);
			e.failed = 1;
			goto stop;
		}
	}
	struct pr_stage_run *last = &e.runs[p->nstages - 1];
	pthread_t writer;
	if (!o->sync && pr_thread_start(&writer, writer_main, last, "piperun output") == 0)
		last->writer = 1;
	src = pr_source_open(&p->input, warn_cb, &e);
	if (pipe2(e.stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		e.stop_pipe[0] = e.stop_pipe[1] = -1;
	pr_source_stop_on(src, &e.stop, e.stop_pipe[0]);
	pr_source_stdin(src, o->in_fd);
	stats->items_total = pr_source_total(src);
	e.tick_wake[0] = e.tick_wake[1] = -1;
	e.out = pr_malloc(SINK_BUFFER);
	e.flushed = pr_now();
	if ((o->control != NULL || pipe2(e.tick_wake, O_CLOEXEC | O_NONBLOCK) == 0) &&
	    pr_thread_start(&control, control_main, &e, "piperun control") == 0)
		controlled = 1;
	/* Items go to the first stage a few at a time while the source has
	 * more at hand, and at once when the next one would mean waiting (or,
	 * under --sync, always: a failure stops the feeding at once). */
	struct pr_item_list fresh = { 0 };
	while (!e.stop) {
		struct pr_item *item;
		int rc = pr_source_next(src, &item, &err);
		if (rc == 0)
			break;
		if (rc < 0) {
			message(&e, "piperun: %s", err);
			free(err);
			e.failed = 1;
			break;
		}
		atomic_fetch_add(&e.items_in, 1);
		pr_item_list_push(&fresh, item);
		if (fresh.count >= SUBMIT_BATCH || o->sync || !pr_source_ready(src))
			submit(&e.runs[0], &fresh, 0);
	}
	if (fresh.count > 0)
		submit(&e.runs[0], &fresh, 0);
	for (size_t i = 0; i < p->nstages; i++)
		e.runs[i].ex->drain(&e.runs[i]);
	if (last->writer)
		writer_stop(last, writer);
	if (controlled) {
		pthread_mutex_lock(&last->lock);
		sink_flush(&e);
		pthread_mutex_unlock(&last->lock);
		atomic_store(&e.done, 1);
		(void)!write(o->control != NULL ? o->control->wake[1] : e.tick_wake[1], "", 1);
		pthread_join(control, NULL);
	}
	if (e.tick_wake[0] >= 0) {
		close(e.tick_wake[0]);
		close(e.tick_wake[1]);
	}
	/* Every item is done: the free blocks' pages go now, while worker
	 * processes exit, rather than after them, when piperun exits. */
	pr_block_trim();
	for (size_t i = 0; i < p->nstages; i++) {
		const struct pr_stage_run *sr = &e.runs[i];
		if (sr->admitted != sr->released || sr->held_bytes != 0 || sr->result_bytes != 0) {
			message(&e, "piperun: internal error: stage '%s' still holds %llu items and %llu "
			        "bytes at the end", sr->conf->name,
			        (unsigned long long)(sr->admitted - sr->released),
			        (unsigned long long)sr->held_bytes);
			e.failed = 1;
		}
	}
stop:
	/* Last first: the workers of a stage may run items of the one
	 * before (see `help` in struct pr_executor) until it stops. */
	for (size_t i = started; i-- > 0;)
		e.runs[i].ex->stop(&e.runs[i]);
	for (size_t i = 0; i < p->nstages; i++) {
		pr_reorder_free(&e.runs[i].reorder);
		/* Empty: whoever released a batch passed it on, or saw it done. */
		for (size_t j = 0; j < e.runs[i].outbox.n; j++)
			pr_item_list_clear(&e.runs[i].outbox.lists[j]);
		free(e.runs[i].outbox.lists);
		free(e.runs[i].passing.lists);
		pthread_cond_destroy(&e.runs[i].room);
		pthread_cond_destroy(&e.runs[i].ran);
		pthread_cond_destroy(&e.runs[i].write);
		pthread_mutex_destroy(&e.runs[i].lock);
	}
	pr_source_close(src);
	if (e.stop_pipe[0] >= 0) {
		close(e.stop_pipe[0]);
		close(e.stop_pipe[1]);
	}
	if (!controlled)
		sink_flush(&e);
	free(e.out);
	free(e.runs);
	stats->items_in = atomic_load(&e.items_in);
	stats->elapsed_s = pr_now() - t0;
	if (pr_stats_check(stats, &bad) < 0) {
		message(&e, "piperun: internal error: the counts of stage '%s' do not add up",
		        stats->stages[bad].name);
		e.failed = 1;
	}
	if (e.broken_pipe) {
		stats->status = "broken pipe";
		return PR_RUN_BROKEN_PIPE;
	}
	if (o->control != NULL && atomic_load(&o->control->signal)) {
		stats->status = "interrupted";
		return PR_RUN_INTERRUPTED;
	}
	stats->status = e.failed ? "failed" : "ok";
	return e.failed ? PR_RUN_FAILED : PR_RUN_OK;
}

void
pr_run_stats_free(struct pr_stats *stats)
{
	if (stats == NULL)
		return;
	free(stats->stages);
	stats->stages = NULL;
	stats->nstages = 0;
}
