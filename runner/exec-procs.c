/*
 * exec-procs.c: the worker process executor for cpu stages.
 *
 * Each worker is piperun itself, re-executed in worker mode with
 * posix_spawn (never a bare fork of this threaded process); it loads the
 * pipeline and opens the stage on its own.  One thread here feeds each
 * worker over a socketpair: a batch of small items (or one large one), and
 * a second batch behind it while the worker runs the first, so the worker
 * never waits for its next item; then the results of each item in turn.
 * Large items travel in memory files (see ipc.h), so the socket only holds
 * small frames and sending the second batch never blocks.  A worker sends
 * results a batch at a time; a page of shared memory says how far it got.
 * A worker that dies is noticed by the end of its socket, reaped, and
 * replaced; the item it was running fails with the signal's name (or,
 * under on_error: retry, goes to the replacement for its next attempt),
 * and the items sent after it, and those it finished whose results were
 * lost with it, go to the replacement.  A worker whose attempt on an item
 * overruns the stage's timeout, timed from the attempt's start as the
 * status page shows it, is killed with what its stage started, and
 * handled the same way.  When the stage has no more items, each worker
 * sees the end of its input and exits, and its feeder reaps it then.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/executor.h"
#include "runner/ipc.h"
#include "runner/queue.h"
#include "runner/units.h"
#include "runner/util.h"
#include "runner/worker.h"

extern char **environ;

#define BATCH_ITEMS 256
#define BATCH_BYTES (64 * 1024) /* a batch's bytes, unless it is one item */
/* The socket bytes two batches in flight may take: well below a socket's
 * buffer (about 200 KiB), so that sending never blocks. */
#define AHEAD_BYTES (96 * 1024)
struct proc {
	struct procs *procs;
	pid_t pid;
	int fd;
	struct pr_conn conn;
	struct pr_worker_status *status; /* shared with the worker, or NULL */
	uint64_t answered;               /* items whose results came from it */
	int hello_failed;                /* the pipeline could not be sent to it */
	pthread_t thread;
	int running;
	/* The feeder also runs the items of the stage before (see
	 * take_batch()). */
	struct pr_helper help;
	int helping;
};

struct procs {
	struct pr_stage_run *sr;
	struct pr_queue queue;
	struct proc *workers;
	unsigned n;
	int stage_index;
	pthread_mutex_t lock; /* the workers' pids, which cancel() reads; feeding */
	pthread_cond_t fed;   /* feeding went down */
	unsigned feeding;     /* feeders that may still pass results on */
	/* Whether an item's results are large, about (a moving average of
	 * their bytes per item, plus one; 0: no item has shown it yet). */
	atomic_uint_fast64_t out_bytes;
};

/* Time an attempt gets past the timeout T before its worker is killed:
 * what measuring takes, and room for a stage that checks
 * host->stopping() now and then (exec does, every 100 ms) to give the item
 * up by itself and keep its worker. */
#define TIMEOUT_SLACK(t) (0.1 + (t) / 20)

/* Gives W a fresh status page; returns the descriptor to hand the worker,
 * or -1 (W then has none, and its worker reports after every item). */
static int
status_page(struct proc *w)
{
	int fd = -1;
	void *p = MAP_FAILED;

	if (w->status != NULL)
		munmap(w->status, sizeof(*w->status));
	w->status = NULL;
	w->answered = 0;
#ifdef HAVE_MEMFD_CREATE
	fd = memfd_create("piperun-status", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, sizeof(*w->status)) == 0)
		p = mmap(NULL, sizeof(*w->status), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	w->status = p;
	atomic_store(&w->status->cut, UINT64_MAX);
#endif
	return fd;
}

/* Starts a worker and sends it the pipeline, without waiting for it:
 * see proc_ready().  Returns 0, or -1 with *ERR set. */
static int
proc_launch(struct proc *w, char **err)
{
	struct procs *ps = w->procs;
	const struct pr_pipeline *p = ps->sr->engine_pipeline;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int sv[2], rc;
	char name[] = "piperun", flag[] = PR_WORKER_FLAG, sock_arg[] = "3", status_arg[] = "4";
	char *argv[] = { name, flag, sock_arg, status_arg, NULL };
	int status_fd = status_page(w);
	struct pr_buf meta = { 0 };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		*err = pr_asprintf("piperun: stage '%s': socketpair: %s", ps->sr->conf->name,
		                   strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	if (status_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, status_fd, 4);
	else
		argv[3] = NULL;
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	pthread_mutex_lock(&ps->lock);
	rc = pr_stage_run_cancelled(ps->sr) ? ECANCELED
	                                     : posix_spawn(&w->pid, "/proc/self/exe", &fa, &attr, argv,
	                                                   environ);
	pthread_mutex_unlock(&ps->lock);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	if (status_fd >= 0)
		close(status_fd);
	if (rc != 0) {
		close(sv[0]);
		*err = pr_asprintf("piperun: stage '%s': cannot start a worker process: %s",
		                   ps->sr->conf->name, strerror(rc));
		return -1;
	}
	w->fd = sv[0];
	pr_conn_init(&w->conn, w->fd);
	pr_buf_str(&meta, p->file);
	pr_buf_u64(&meta, (uint64_t)ps->stage_index);
	rc = pr_conn_send(&w->conn, PR_FRAME_HELLO, &meta, p->text, p->text_len, NULL);
	if (rc == 0)
		rc = pr_conn_flush(&w->conn);
	free(meta.p);
	w->hello_failed = rc != 0;
	return 0;
}

/* Waits for W's worker to exit and reaps it; returns its status.  The
 * pid is forgotten in the same breath, under the lock, so that cancel()
 * never signals a pid that may have been reused. */
static int
proc_wait(struct proc *w)
{
	siginfo_t si;
	int status = 0;

	/* Waits without reaping: the lock is not held while the worker runs. */
	while (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&w->procs->lock);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	w->pid = -1;
	pthread_mutex_unlock(&w->procs->lock);
	return status;
}

/* Waits for a worker started by proc_launch() to open the stage.
 * Returns 0, or -1 with *ERR set and the worker reaped. */
static int
proc_ready(struct proc *w, char **err)
{
	struct procs *ps = w->procs;
	unsigned char *m, *d;
	size_t ml, dl;
	uint32_t type;
	struct pr_block *block;

	if (!w->hello_failed && pr_conn_recv(&w->conn, &type, &m, &ml, &d, &dl, &block) == 1) {
		if (block != NULL)
			pr_block_release(block);
		else
			free(d);
		if (type == PR_FRAME_READY) {
			free(m);
			return 0;
		}
		struct pr_rd r = { m, ml };
		char *why = NULL;
		if (type == PR_FRAME_REFUSED && pr_rd_str(&r, &why) == 0 && why != NULL)
			*err = why;
		free(m);
	}
	if (*err == NULL)
		*err = pr_asprintf("piperun: stage '%s': a worker process failed to start",
		                   ps->sr->conf->name);
	close(w->fd);
	w->fd = -1;
	pr_conn_free(&w->conn);
	proc_wait(w);
	return -1;
}

/* Starts a worker and waits for it to open the stage.  Returns 0, or -1
 * with *ERR set. */
static int
proc_spawn(struct proc *w, char **err)
{
	return proc_launch(w, err) < 0 ? -1 : proc_ready(w, err);
}

/* Closes the socket and reaps the worker; describes how it ended. */
static char *
proc_reap(struct proc *w)
{
	pid_t pid = w->pid;
	int status;

	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	pr_conn_free(&w->conn);
	if (pid <= 0)
		return pr_strdup("no worker");
	status = proc_wait(w);
	if (WIFSIGNALED(status))
		return pr_asprintf("worker process %ld was killed by signal %d (%s)", (long)pid,
		                   WTERMSIG(status), strsignal(WTERMSIG(status)));
	return pr_asprintf("worker process %ld exited with status %d", (long)pid,
	                   WEXITSTATUS(status));
}

/* Reaps W's worker once it has closed its stage and exited, which it does
 * when its socket ends: a worker done with its items is no zombie for the
 * rest of the run.  What it still sends, blocks it gives back, is taken. */
static void
proc_retire(struct proc *w)
{
	unsigned char *meta, *data;
	size_t ml, dl;
	uint32_t type;
	struct pr_block *block;
	int got;

	if (w->fd >= 0)
		shutdown(w->fd, SHUT_WR);
	while (w->fd >= 0 &&
	       (got = pr_conn_recv(&w->conn, &type, &meta, &ml, &data, &dl, &block)) > 0) {
		if (got == 2)
			continue;
		free(meta);
		if (block != NULL)
			pr_block_release(block);
		else
			free(data);
	}
	free(proc_reap(w));
}

/* Kills the children of process PID, each with its process group when it
 * leads one, as an exec command does.  They are found in /proc. */
static void
kill_children(pid_t pid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[64], buf[512];
		const char *p;
		long child, ppid, pgrp;
		char *end;
		ssize_t n;
		int fd;

		child = strtol(e->d_name, &end, 10);
		if (*end != '\0' || child <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", child);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "PID (COMM) STATE PPID PGRP ...", where COMM may hold anything. */
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %*c %ld %ld", &ppid, &pgrp) != 2 || ppid != (long)pid)
			continue;
		kill(pgrp == child ? -(pid_t)child : (pid_t)child, SIGKILL);
	}
	closedir(d);
}

/* Kills W's worker, and first what its stage started: an exec command
 * gets SIGKILL from the stage only two seconds after SIGTERM at a
 * timeout, and nothing when the run is interrupted (the worker does not
 * know), so with its worker killed the command's process group would live
 * on.  The worker is stopped meanwhile, so that it starts no more
 * children, and reaps none whose ids could then be reused.  Its exit is
 * left for proc_reap(). */
static void
proc_kill(struct proc *w)
{
	siginfo_t si;

	if (kill(w->pid, SIGSTOP) == 0)
		while (waitid(P_PID, (id_t)w->pid, &si, WSTOPPED | WEXITED | WNOWAIT) < 0 &&
		       errno == EINTR)
			;
	kill_children(w->pid);
	kill(w->pid, SIGKILL);
}

/* The bytes ITEMS take in the socket, about: their frames, and the data
 * of those small enough to travel inline. */
static size_t
wire_bytes(const struct pr_item_list *items)
{
	size_t n = 0;

	for (const struct pr_item *it = items->head; it != NULL; it = it->next)
		n += 64 + strlen(it->name) + (it->path ? strlen(it->path) : 0) +
		     (it->len < PR_BLOCK_MIN ? it->len : 0);
	return n;
}

/* Sends ITEMS (at most BATCH_BYTES in all, or one item) to the worker. */
static int
send_batch(struct proc *w, struct pr_item_list *items)
{
	struct pr_buf meta = { 0 };
	int rc = 0;

	for (struct pr_item *it = items->head; it != NULL && rc == 0; it = it->next) {
		meta.len = 0;
		pr_buf_u64(&meta, it->seq);
		pr_buf_str(&meta, it->name);
		pr_buf_str(&meta, it->path);
		pr_buf_u64(&meta, it->tries);
		rc = pr_conn_send(&w->conn, PR_FRAME_ITEM, &meta, it->data, it->len, it->block);
	}
	free(meta.p);
	return rc == 0 ? pr_conn_flush(&w->conn) : rc;
}

/* Waits until the worker has something to say, or DEADLINE (0: none).
 * Returns 1 when it has, 0 when the deadline passed first. */
static int
wait_readable(int fd, double deadline)
{
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int ms = -1;
		if (deadline > 0) {
			/* Past it, what the worker sent already still counts. */
			double left = deadline - pr_now();
			ms = left > 0 ? (int)(left * 1000) + 1 : 0;
		}
		int n = poll(&p, 1, ms);
		if (n > 0)
			return 1;
		if (n == 0 && deadline > 0 && pr_now() >= deadline)
			return 0;
		if (n < 0 && errno != EINTR)
			return 1; /* let the read say what is wrong */
	}
}

/* Without a status page, the time the item awaited may take from now, as
 * an upper bound: every attempt it has left, each with its timeout, slack
 * and longest backoff.  Its results come as soon as it is done. */
static double
item_budget(const struct pr_stage_conf *c, const struct pr_item *item)
{
	unsigned attempts = c->on_error == PR_ON_ERROR_RETRY ? c->retries + 1 : 1;
	unsigned left = attempts > item->tries ? attempts - item->tries : 1;

	return left * (c->timeout + TIMEOUT_SLACK(c->timeout)) + (left - 1) * PR_BACKOFF_MAX;
}

/* Waits until W's worker has something to say: returns 1, or 0 when the
 * attempt it runs overran TIMEOUT (0: none) and its slack first.  Each
 * attempt is timed from its start in the worker, as the status page
 * shows: not from when the items before it in its batch were answered,
 * nor from when this thread got round to waiting (passing results on can
 * hold it up).  Without a status page, the item awaited has until
 * BUDGET_END. */
static int
wait_worker(struct proc *w, double timeout, double budget_end)
{
	for (;;) {
		double deadline = 0;
		uint64_t since = 0;
		if (timeout > 0 && w->status == NULL) {
			deadline = budget_end;
		} else if (timeout > 0) {
			/* Between attempts, none can end before the next one could. */
			since = atomic_load(&w->status->attempt.since_us);
			deadline = (since > 0 ? (double)since / 1e6 : pr_now()) + timeout +
			           TIMEOUT_SLACK(timeout);
		}
		if (wait_readable(w->fd, deadline))
			return 1;
		/* The attempt is over when it is still the one that ran. */
		if (w->status == NULL ||
		    (since > 0 && atomic_load(&w->status->attempt.since_us) == since))
			return 0;
	}
}

/* Outcomes read from a worker and not delivered yet: those that are read
 * at once go on together, under one lock. */
struct held {
	struct pr_outcome o[PR_HOLD_ITEMS];
	size_t n;
};

/* Folds the BYTES of the results of one item into the stage's estimate.
 * Racing updates lose a sample now and then, which an estimate can bear. */
static void
results_seen(struct procs *ps, uint64_t bytes)
{
	uint64_t old = atomic_load_explicit(&ps->out_bytes, memory_order_relaxed);

	bytes++;
	atomic_store_explicit(&ps->out_bytes, old == 0 ? bytes : (old * 7 + bytes) / 8,
	                      memory_order_relaxed);
}

/* The most items a batch may have.  An item whose results are large goes
 * alone, as a large item does: its results take a block of the worker's
 * each, which comes back only with a frame sent after the batch, so a
 * batch of many would make the worker a block for each, and hold them
 * all.  Until an item has shown its results, one at a time. */
static size_t
batch_items(struct procs *ps)
{
	uint64_t out = atomic_load_explicit(&ps->out_bytes, memory_order_relaxed);

	return out == 0 || out > PR_BLOCK_MIN ? 1 : BATCH_ITEMS;
}

/* Counts and delivers the outcomes H holds, and frees their items. */
static void
finish_held(struct pr_stage_run *sr, struct held *h)
{
	if (h->n == 0)
		return;
	pr_stage_run_finish(sr, h->o, h->n);
	h->n = 0;
}

/* Reads the outcome of ITEM into H; delivers those H holds before it
 * waits for the worker.  Returns 1 when it came, 0 when the worker went
 * away, -1 when an attempt of the worker's (on this item or one after
 * it) overran TIMEOUT (0: none) first. */
static int
receive_one(struct proc *w, struct pr_item *item, double timeout, struct held *h)
{
	struct pr_item_list results = { 0 };
	double budget_end = timeout > 0 ? pr_now() + item_budget(w->procs->sr->conf, item) : 0;

	for (;;) {
		unsigned char *meta, *data;
		size_t ml, dl;
		uint32_t type;
		struct pr_rd r;
		struct pr_block *block;
		int got;

		if (pr_conn_buffered(&w->conn) == 0) {
			finish_held(w->procs->sr, h);
			/* The items it has not started yet need not run once an
			 * earlier one has stopped the run; until then the page the
			 * worker reads is left alone. */
			uint64_t cut = atomic_load_explicit(&w->procs->sr->cut, memory_order_relaxed);
			if (w->status != NULL && cut != UINT64_MAX)
				atomic_store_explicit(&w->status->cut, cut, memory_order_relaxed);
			/* Blocks given back go out before waiting. */
			if (pr_conn_flush(&w->conn) < 0) {
				pr_item_list_clear(&results);
				return 0;
			}
			if (!wait_worker(w, timeout, budget_end)) {
				pr_item_list_clear(&results);
				return -1;
			}
		}
		got = pr_conn_recv(&w->conn, &type, &meta, &ml, &data, &dl, &block);
		if (got == 2)
			continue;
		if (got <= 0) {
			pr_item_list_clear(&results);
			return 0;
		}
		r = (struct pr_rd){ meta, ml };
		if (type == PR_FRAME_OUT) {
			char *name = NULL;
			if (pr_rd_str(&r, &name) < 0 || name == NULL) {
				free(meta);
				if (block != NULL)
					pr_block_release(block);
				else
					free(data);
				pr_item_list_clear(&results);
				return 0;
			}
			/* A result in the worker's block stays there until the
			 * item is freed, which gives the block back. */
			pr_item_list_push(&results, pr_item_new(name, item->path, data, dl, block));
			free(name);
			free(meta);
			continue;
		}
		if (block != NULL)
			pr_block_release(block);
		else
			free(data);
		uint64_t status = 1, busy_us = 0;
		char *msg = NULL;
		if (type != PR_FRAME_DONE || pr_rd_u64(&r, &status) < 0 ||
		    pr_rd_u64(&r, &busy_us) < 0 || pr_rd_str(&r, &msg) < 0) {
			free(meta);
			pr_item_list_clear(&results);
			return 0;
		}
		free(meta);
		uint64_t out = 0;
		for (const struct pr_item *it = results.head; it != NULL; it = it->next)
			out += it->len;
		results_seen(w->procs, out);
		double end = pr_now();
		h->o[h->n++] = (struct pr_outcome){
			.item = item,
			.in_len = item->len,
			.results = results,
			.err = status == PR_DONE_OK || status == PR_DONE_NOT_RUN
			               ? NULL
			               : pr_strdup(msg ? msg : "failed"),
			.slice = { end - (double)busy_us / 1e6, end, (long)w->pid, (long)w->pid },
			.ran = status != PR_DONE_NOT_RUN,
		};
		free(msg);
		w->answered++;
		return 1;
	}
}

/* Takes up to batch_items() items, cut at BATCH_BYTES, from PENDING then
 * the queue, into BATCH; waits for the queue when WAIT is 1; with WAIT -1,
 * takes none that lie in blocks other workers have mapped (see
 * pr_queue_trypop_peer()).  Returns 0 when there is no item (no more work,
 * when WAIT is 1). */
static int
next_batch(struct procs *ps, struct pr_item_list *pending, struct pr_item_list *batch, int wait,
           double *waited)
{
	size_t bytes = 0, most = batch_items(ps);

	*waited = 0;
	if (pending->count == 0 &&
	    (wait == 1  ? pr_queue_pop(&ps->queue, most, ps->n, pending, waited)
	     : wait < 0 ? pr_queue_trypop_peer(&ps->queue, most, ps->n, pending)
	                : pr_queue_trypop(&ps->queue, most, ps->n, pending)) == 0)
		return 0;
	while (pending->head != NULL && batch->count < most) {
		if (batch->count > 0 && bytes + pending->head->len > BATCH_BYTES)
			break;
		bytes += pending->head->len;
		pr_item_list_push(batch, pr_item_list_pop(pending));
	}
	return 1;
}

/* Hands back, unrun, the items of BATCH that come after the one whose
 * failure stopped the run (see pr_stage_run_past_cut()): sent to a
 * worker, they would only be dropped. */
static void
pass_over(struct pr_stage_run *sr, struct pr_item_list *batch)
{
	struct pr_item_list keep = { 0 };
	struct pr_item *it;

	if (batch->tail == NULL || !pr_stage_run_past_cut(sr, batch->tail->seq))
		return;
	while ((it = pr_item_list_pop(batch)) != NULL) {
		if (!pr_stage_run_past_cut(sr, it->seq)) {
			pr_item_list_push(&keep, it);
			continue;
		}
		struct pr_outcome o = { .item = it, .in_len = it->len };
		pr_stage_run_finish(sr, &o, 1);
	}
	*batch = keep;
}

/* Puts the items of FRONT back before those of LIST, in order. */
static void
put_back(struct pr_item_list *list, struct pr_item_list *front)
{
	pr_item_list_append(front, list);
	*list = *front;
	*front = (struct pr_item_list){ 0 };
}

/* Fails ITEM, which no worker ran, with WHY, and frees it. */
static void
fail_unrun(struct pr_stage_run *sr, struct pr_item *item, const char *why)
{
	struct pr_item_list none = { 0 };

	pr_stage_run_account(sr, item->name, 0, why, NULL);
	pr_stage_run_deliver(sr, item->seq, item->len, &none, 1);
	pr_item_free(item);
}

/* Whether ITEM, on which W's worker died (HOW says how), goes to the
 * replacement for another attempt, as on_error: retry allows; says so on
 * stderr when it does.  The attempts it had count: the worker's status
 * page tells how many it made on the item it was running. */
static int
try_again(struct proc *w, struct pr_item *item, const char *how)
{
	struct pr_stage_run *sr = w->procs->sr;
	const struct pr_stage_conf *c = sr->conf;
	unsigned used = item->tries + 1;

	if (w->status != NULL &&
	    atomic_load(&w->status->started) == atomic_load(&w->status->done) + 1) {
		uint64_t tried = atomic_load(&w->status->attempt.tried);
		if (tried > used)
			used = (unsigned)tried;
	}
	if (c->on_error != PR_ON_ERROR_RETRY || used >= c->retries + 1 || pr_stage_run_cancelled(sr))
		return 0;
	item->tries = used;
	char *line = pr_asprintf("piperun: stage '%s' will try '%s' again (attempt %u of %u): %s",
	                         c->name, item->name, used + 1, c->retries + 1, how);
	pr_stage_run_message(sr, line);
	free(line);
	return 1;
}

/* The batches a feeder has sent its worker and not had all results of:
 * at most two, the first running and the second behind it. */
struct flight {
	struct pr_item_list pending;  /* taken from the queue, not sent yet */
	struct pr_item_list items;    /* sent, in order */
	size_t counts[2], wires[2];   /* per batch: items, and socket bytes */
	unsigned batches;
};

/* W's feeder no longer runs items of the stage before. */
static void
stop_helping(struct proc *w)
{
	if (!w->helping)
		return;
	w->help.sr->ex->help_detach(w->help.sr, &w->help);
	w->helping = 0;
	atomic_fetch_sub(&w->procs->sr->helping, 1);
}

/*
 * Takes W's next batch as next_batch() does.  A feeder that helps the
 * stage before (a read stage, say), when nothing is queued for its
 * worker, first runs that stage's next item itself: its results come
 * straight to this stage's queue, and go to the worker at once.  While it
 * waits, a push to that stage's queue wakes it to try again.
 */
static int
take_batch(struct proc *w, struct flight *f, struct pr_item_list *batch, int wait, int help,
           double *waited)
{
	struct procs *ps = w->procs;

	*waited = 0;
	while (help && w->helping) {
		uint64_t seen = pr_queue_kicks(&ps->queue);
		double t = 0;
		/* An item another worker's feeder read goes to that worker
		 * while this one can read its own. */
		if (next_batch(ps, &f->pending, batch, -1, &t))
			return 1;
		int h = w->help.sr->ex->help(w->help.sr, &w->help);
		if (h > 0)
			continue;
		if (h < 0) {
			stop_helping(w);
			break;
		}
		if (next_batch(ps, &f->pending, batch, 0, &t))
			return 1;
		if (!wait)
			return 0;
		w->help.sr->ex->help_sleep(w->help.sr, &w->help, 1);
		size_t got = pr_queue_pop_or_kick(&ps->queue, batch_items(ps), ps->n, &f->pending, seen, &t);
		w->help.sr->ex->help_sleep(w->help.sr, &w->help, 0);
		if (got == 0 && pr_queue_closed(&ps->queue))
			return 0;
		*waited += t;
	}
	/* Without helping now, a feeder that helps still leaves the items
	 * other workers' feeders read to them: it reads its own soon. */
	double t = 0;
	int got = next_batch(ps, &f->pending, batch, !wait && w->helping ? -1 : wait, &t);
	*waited += t;
	return got;
}

/* Sends W batches until two are in flight: the first waits for items
 * when WAIT is set, the second goes only if its items are there already
 * (or, with HELP, their input: see take_batch()) and both fit the
 * socket. */
static void
top_up(struct proc *w, struct flight *f, int wait, int help)
{
	struct pr_stage_run *sr = w->procs->sr;
	double waited;

	while (f->batches < 2) {
		struct pr_item_list batch = { 0 };
		if (!take_batch(w, f, &batch, wait && f->batches == 0, help, &waited))
			break;
		pr_stage_run_waited(sr, waited);
		pass_over(sr, &batch);
		if (batch.count == 0)
			continue;
		size_t wire = wire_bytes(&batch);
		if (f->batches == 1 && f->wires[0] + wire > AHEAD_BYTES) {
			put_back(&f->pending, &batch);
			break;
		}
		if (w->fd < 0) {
			/* No worker: every item fails. */
			struct pr_item *it;
			while ((it = pr_item_list_pop(&batch)) != NULL)
				fail_unrun(sr, it, "no worker process could be started");
			continue;
		}
		/* A failed send shows as the end of the socket later. */
		send_batch(w, &batch);
		f->counts[f->batches] = batch.count;
		f->wires[f->batches++] = wire;
		pr_item_list_append(&f->items, &batch);
	}
}

static void *
proc_feeder(void *arg)
{
	struct proc *w = arg;
	struct procs *ps = w->procs;
	struct pr_stage_run *sr = ps->sr;
	struct flight f = { 0 };
	struct held held = { .n = 0 };

	/* Results go on while the worker runs its next batch. */
	pr_thread_spare(1);
	/* What this thread reads for its worker goes into blocks the worker
	 * has mapped, where it can. */
	pr_block_prefer(w->conn.sent_gen);
	if (sr->prev != NULL && sr->prev->ex->help_attach != NULL &&
	    sr->prev->ex->help_attach(sr->prev, &w->help, &ps->queue) == 0) {
		w->helping = 1;
		atomic_fetch_add(&sr->helping, 1);
	}
	for (;;) {
		top_up(w, &f, 1, 1);
		if (f.batches == 0)
			break;
		struct pr_item *it;
		double timeout = sr->conf->timeout;
		int got = 1;
		while (f.counts[0] > 0 && (it = f.items.head) != NULL) {
			if ((got = receive_one(w, it, timeout, &held)) != 1)
				break;
			pr_item_list_pop(&f.items);
			if (--f.counts[0] == 0) {
				/* The worker gets its next batch before these results
				 * go on: passing them on may mean writing them out. */
				f.counts[0] = f.counts[1];
				f.wires[0] = f.wires[1];
				f.counts[1] = f.wires[1] = 0;
				f.batches--;
				top_up(w, &f, 0, 0);
				/* Then, with these results gone on, the input of a
				 * second batch may be made here. */
				if (w->helping && f.batches < 2) {
					finish_held(sr, &held);
					top_up(w, &f, 0, 1);
				}
			}
			if (held.n == PR_HOLD_ITEMS || f.batches == 0)
				finish_held(sr, &held);
			if (f.batches == 0)
				break;
		}
		finish_held(sr, &held);
		if (got == 1)
			continue;
		/* The worker died on an item, or overran its timeout and is
		 * killed: that item fails.  The items it finished, whose results
		 * were lost with it, and those after go to the replacement. */
		if (got < 0 && w->pid > 0)
			proc_kill(w);
		char *how = proc_reap(w);
		if (got < 0) {
			char t[32];
			free(how);
			how = pr_asprintf("timed out after %s; its worker process was killed",
			                  pr_format_duration(timeout, t, sizeof(t)));
		}
		struct pr_item_list redo = { 0 };
		if (w->status != NULL) {
			uint64_t done = atomic_load(&w->status->done);
			while (done > w->answered && f.items.count > 1) {
				pr_item_list_push(&redo, pr_item_list_pop(&f.items));
				done--;
			}
		}
		struct pr_item *dead = pr_item_list_pop(&f.items);
		if (try_again(w, dead, how)) {
			struct pr_item_list again = { 0 };
			pr_item_list_push(&again, dead);
			put_back(&f.items, &again);
		} else {
			fail_unrun(sr, dead, how);
		}
		free(how);
		put_back(&f.pending, &f.items);
		put_back(&f.pending, &redo);
		f.batches = 0;
		char *err = NULL;
		if (!pr_stage_run_cancelled(sr) && proc_spawn(w, &err) < 0) {
			pr_stage_run_message(sr, err);
			free(err);
		}
	}
	/* No more items: the stage may drain.  The worker sees the end of its
	 * input and closes its stage and exits now, while the later stages
	 * finish, alongside the other workers, rather than one at a time when
	 * the run stops; and it is reaped then. */
	stop_helping(w);
	pthread_mutex_lock(&ps->lock);
	ps->feeding--;
	pthread_cond_broadcast(&ps->fed);
	pthread_mutex_unlock(&ps->lock);
	proc_retire(w);
	return NULL;
}

static void
procs_stop(struct pr_stage_run *sr)
{
	struct procs *ps = sr->ex_data;

	if (ps == NULL)
		return;
	pr_queue_close(&ps->queue);
	for (unsigned i = 0; i < ps->n; i++) {
		if (ps->workers[i].running)
			pthread_join(ps->workers[i].thread, NULL);
		free(proc_reap(&ps->workers[i]));
		if (ps->workers[i].status != NULL)
			munmap(ps->workers[i].status, sizeof(*ps->workers[i].status));
	}
	pr_queue_destroy(&ps->queue);
	pthread_cond_destroy(&ps->fed);
	pthread_mutex_destroy(&ps->lock);
	free(ps->workers);
	free(ps);
	sr->ex_data = NULL;
}

static void
procs_cancel(struct pr_stage_run *sr)
{
	struct procs *ps = sr->ex_data;

	if (ps == NULL)
		return;
	/* Under the lock, no pid here has been reaped (see proc_wait()). */
	pthread_mutex_lock(&ps->lock);
	for (unsigned i = 0; i < ps->n; i++)
		if (ps->workers[i].pid > 0)
			proc_kill(&ps->workers[i]);
	pthread_mutex_unlock(&ps->lock);
}

static int
procs_start(struct pr_stage_run *sr, char **err)
{
	struct procs *ps = pr_calloc(1, sizeof(*ps));

	ps->sr = sr;
	atomic_init(&ps->out_bytes, 0);
	/* Large items from now on live where the workers can read them. */
	pr_block_enable();
	ps->stage_index = (int)(sr->conf - sr->engine_pipeline->stages);
	pthread_mutex_init(&ps->lock, NULL);
	pthread_cond_init(&ps->fed, NULL);
	pr_queue_init(&ps->queue);
	sr->helpers_wake = &ps->queue;
	ps->workers = pr_calloc(sr->workers, sizeof(*ps->workers));
	sr->ex_data = ps;
	/* All the workers start at once; then each is waited for. */
	for (unsigned i = 0; i < sr->workers; i++) {
		ps->workers[i] = (struct proc){ .procs = ps, .pid = -1, .fd = -1 };
		ps->n++;
		if (proc_launch(&ps->workers[i], err) < 0) {
			procs_stop(sr);
			return -1;
		}
	}
	for (unsigned i = 0; i < ps->n; i++) {
		if (proc_ready(&ps->workers[i], err) < 0) {
			procs_stop(sr);
			return -1;
		}
	}
	for (unsigned i = 0; i < ps->n; i++) {
		pthread_mutex_lock(&ps->lock);
		ps->feeding++;
		pthread_mutex_unlock(&ps->lock);
		int rc = pr_thread_start(&ps->workers[i].thread, proc_feeder, &ps->workers[i],
		                         sr->conf->name);
		if (rc != 0) {
			pthread_mutex_lock(&ps->lock);
			ps->feeding--;
			pthread_mutex_unlock(&ps->lock);
			*err = pr_asprintf("piperun: stage '%s': cannot start a thread: %s",
			                   sr->conf->name, strerror(rc));
			procs_stop(sr);
			return -1;
		}
		ps->workers[i].running = 1;
	}
	return 0;
}

static void
procs_submit(struct pr_stage_run *sr, struct pr_item_list *items)
{
	struct procs *ps = sr->ex_data;

	pr_queue_push_list(&ps->queue, items);
}

static void
procs_drain(struct pr_stage_run *sr)
{
	struct procs *ps = sr->ex_data;

	pr_queue_close(&ps->queue);
	/* The feeders are done with the items when they have passed every
	 * result on; stop() joins them once they have reaped their workers. */
	pthread_mutex_lock(&ps->lock);
	while (ps->feeding > 0)
		pthread_cond_wait(&ps->fed, &ps->lock);
	pthread_mutex_unlock(&ps->lock);
}

const struct pr_executor pr_exec_procs = {
	.name = "processes",
	.ahead = 1, /* the batch behind the running one */
	.batch = BATCH_ITEMS,
	.start = procs_start,
	.submit = procs_submit,
	.drain = procs_drain,
	.stop = procs_stop,
	.cancel = procs_cancel,
};
