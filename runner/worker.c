/*
 * worker.c: piperun re-executed as a worker process of a cpu stage.
 *
 * The worker never writes to the user's terminal or to standard output:
 * results and messages travel to the parent, which alone prints.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif
#include <time.h>
#include <unistd.h>

#include "runner/ipc.h"
#include "runner/loader.h"
#include "runner/stage.h"
#include "runner/util.h"
#include "runner/worker.h"

static int
refuse(struct pr_conn *c, const char *msg)
{
	struct pr_buf meta = { 0 };

	pr_buf_str(&meta, msg);
	pr_conn_send(c, PR_FRAME_REFUSED, &meta, NULL, 0, NULL);
	pr_conn_flush(c);
	free(meta.p);
	return 1;
}

/* Results of small items gather for at most this long before they go. */
#define FLUSH_EVERY 0.001

/*
 * The write side of the socket.  With a status page, the results of quick
 * items gather in the connection's buffer and go when no more items wait
 * here, or FLUSH_EVERY after they were queued at most: a thread sends them
 * then, so that a long item does not hold back the results of those that
 * came before it.  Those of an item that took FLUSH_EVERY or more, or that
 * hold a large result, go at once.  Without a status page, each item's
 * results go as soon as it is done.
 */
struct sender {
	struct pr_conn *c;
	pthread_mutex_t lock; /* the connection's write side */
	pthread_cond_t wake;
	double due;           /* under lock: when the queued results must go; 0: none */
	int stop;             /* under lock */
	int threaded;
	pthread_t thread;
};

static void *
sender_thread(void *arg)
{
	struct sender *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		double now = pr_now();
		if (s->due == 0) {
			pthread_cond_wait(&s->wake, &s->lock);
		} else if (now >= s->due) {
			pr_conn_flush(s->c); /* a failure shows to the main thread too */
			s->due = 0;
		} else {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			double left = s->due - now;
			ts.tv_sec += (time_t)left;
			ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->wake, &s->lock, &ts);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void
sender_start(struct sender *s, struct pr_conn *c, int batched)
{
	pthread_condattr_t ca;

	memset(s, 0, sizeof(*s));
	s->c = c;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	s->threaded = batched && pr_thread_start(&s->thread, sender_thread, s, "piperun sender") == 0;
}

/* Results were queued: they go now when NOW is set, else within
 * FLUSH_EVERY.  Called with the lock held.  Returns 0 or a negative
 * errno. */
static int
sender_queued(struct sender *s, int now)
{
	if (!s->threaded || now) {
		s->due = 0;
		return pr_conn_flush(s->c);
	}
	if (s->due == 0) {
		s->due = pr_now() + FLUSH_EVERY;
		pthread_cond_signal(&s->wake);
	}
	return 0;
}

/* Sends whatever is queued, now.  Returns 0 or a negative errno. */
static int
sender_flush(struct sender *s)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = pr_conn_flush(s->c);
	s->due = 0;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void
sender_stop(struct sender *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->threaded)
		pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
}

/* Runs one item frame and queues its results. */
static int
serve_item(struct sender *snd, struct pr_stage_inst *inst, unsigned char *meta, size_t meta_len,
           unsigned char *data, size_t len, struct pr_block *block, struct pr_attempt *at,
           uint64_t cut)
{
	struct pr_conn *c = snd->c;
	struct pr_rd r = { meta, meta_len };
	struct pr_item_list out = { 0 };
	struct pr_buf reply = { 0 };
	struct pr_item *item, *it;
	uint64_t seq, tries;
	char *name, *path, *err = NULL;
	double t0, took;
	size_t large = 0;
	int rc;

	if (pr_rd_u64(&r, &seq) < 0 || pr_rd_str(&r, &name) < 0 || pr_rd_str(&r, &path) < 0 ||
	    pr_rd_u64(&r, &tries) < 0 || name == NULL || tries > UINT_MAX) {
		free(name);
		free(path);
		if (block != NULL)
			pr_block_release(block);
		else
			free(data);
		return -1;
	}
	/* Data in the parent's block is read where it is; freeing the item
	 * (or the result the stage wrote there, once sent) gives the block
	 * back. */
	item = pr_item_new(name, path, data, len, block);
	item->tries = (unsigned)tries;
	free(name);
	free(path);
	t0 = pr_now();
	int run = seq <= cut;
	rc = run ? pr_stage_try(inst, item, at, &out, &err) : 0;
	took = pr_now() - t0;
	/* The stage took the parent's block (and may have written over it):
	 * its results must reach the parent before the item counts as done,
	 * or a replacement worker would run it again on what is left. */
	int taken = block != NULL && item->block == NULL;
	pr_item_free(item);
	pthread_mutex_lock(&snd->lock);
	while ((it = pr_item_list_pop(&out)) != NULL) {
		reply.len = 0;
		pr_buf_str(&reply, it->name);
		large += it->len >= PR_BLOCK_MIN;
		if (pr_conn_send(c, PR_FRAME_OUT, &reply, it->data, it->len, it->block) < 0)
			rc = -2;
		pr_item_free(it);
		if (rc == -2)
			break;
	}
	pr_item_list_clear(&out);
	if (rc != -2) {
		reply.len = 0;
		pr_buf_u64(&reply, !run ? PR_DONE_NOT_RUN : rc == 0 ? PR_DONE_OK : PR_DONE_FAILED);
		pr_buf_u64(&reply, (uint64_t)(took * 1e6));
		pr_buf_str(&reply, rc == 0 ? NULL : err);
		/* Waiting to gather more results saves nothing after a slow
		 * item, or a large result, and would hold them back. */
		if (pr_conn_send(c, PR_FRAME_DONE, &reply, NULL, 0, NULL) < 0 ||
		    sender_queued(snd, took >= FLUSH_EVERY || large > 0 || taken) < 0)
			rc = -2;
	}
	pthread_mutex_unlock(&snd->lock);
	free(reply.p);
	free(err);
	return rc == -2 ? -1 : 0;
}

int
pr_worker_main(int fd, int status_fd)
{
	struct pr_worker_status *status = NULL;
	struct sender snd;
	uint64_t served = 0;
	struct pr_load_opts lo = { .have_inputs = 1 };
	struct pr_pipeline *p = NULL;
	struct pr_stage_inst *inst = NULL;
	struct pr_diag d;
	struct pr_conn c;
	unsigned char *meta, *data;
	size_t meta_len, len;
	uint32_t type;
	uint64_t index;
	char *file = NULL;
	int rc;

	/* The user's Ctrl-C reaches the whole process group: the parent alone
	 * decides what happens to the work, and ends workers itself. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGPIPE);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

#ifdef HAVE_SYS_PRCTL_H
	/* Started as /proc/self/exe, the worker would show as "exe" in ps(1)
	 * and top(1): it is piperun. */
	prctl(PR_SET_NAME, "piperun", 0, 0, 0);
#endif
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (status_fd >= 0) {
		void *page = mmap(NULL, sizeof(*status), PROT_READ | PROT_WRITE, MAP_SHARED, status_fd, 0);
		if (page != MAP_FAILED)
			status = page;
		close(status_fd);
	}
	/* Stray writes of a stage go to stderr, never into piperun's output. */
	dup2(STDERR_FILENO, STDOUT_FILENO);

	/* Results go to the parent in blocks it reads where they are. */
	pr_block_enable();
	pr_conn_init(&c, fd);
	struct pr_block *block;
	if (pr_conn_recv(&c, &type, &meta, &meta_len, &data, &len, &block) != 1 ||
	    type != PR_FRAME_HELLO) {
		if (block != NULL)
			pr_block_release(block);
		pr_conn_free(&c);
		return 1;
	}
	if (block != NULL) {
		unsigned char *copy = pr_malloc(len);
		memcpy(copy, data, len);
		pr_block_release(block);
		data = copy;
	}
	struct pr_rd r = { meta, meta_len };
	if (pr_rd_str(&r, &file) < 0 || file == NULL || pr_rd_u64(&r, &index) < 0) {
		free(meta);
		free(data);
		rc = refuse(&c, "piperun: worker: a malformed greeting");
		pr_conn_free(&c);
		return rc;
	}
	free(meta);
	pr_diag_init(&d, file);
	p = pr_pipeline_load_text(file, (const char *)data, len, &lo, &d);
	free(data);
	if (p != NULL && index < p->nstages)
		inst = pr_stage_open(p, &p->stages[index], 0, &d);
	if (inst == NULL) {
		rc = refuse(&c, d.count > 0 ? d.msgs[0] : "piperun: worker: cannot open the stage");
		pr_conn_free(&c);
		pr_diag_free(&d);
		pr_pipeline_free(p);
		free(file);
		return rc;
	}
	pr_diag_free(&d);
	free(file);
	rc = pr_conn_send(&c, PR_FRAME_READY, NULL, NULL, 0, NULL) < 0;
	/* With the status page telling the parent how far this process got,
	 * results need not go out one item at a time. */
	sender_start(&snd, &c, status != NULL);
	for (;;) {
		int got;
		if (rc != 0)
			break;
		/* No more items here: whatever is queued goes before waiting. */
		if (pr_conn_buffered(&c) == 0 && sender_flush(&snd) < 0)
			break;
		if ((got = pr_conn_recv(&c, &type, &meta, &meta_len, &data, &len, &block)) <= 0)
			break;
		if (got == 2)
			continue; /* only blocks given back */
		if (type != PR_FRAME_ITEM) {
			if (block != NULL)
				pr_block_release(block);
			else
				free(data);
			rc = 1;
		} else {
			if (status != NULL) {
				atomic_store(&status->attempt.tried, 0);
				atomic_store(&status->started, served + 1);
			}
			if (serve_item(&snd, inst, meta, meta_len, data, len, block,
			               status != NULL ? &status->attempt : NULL,
			               status != NULL ? atomic_load(&status->cut) : UINT64_MAX) < 0)
				rc = 1;
			served++;
			if (status != NULL)
				atomic_store(&status->done, served);
		}
		free(meta);
	}
	sender_flush(&snd);
	sender_stop(&snd);
	/* piperun may still hold results in this process's blocks. */
	pr_conn_end(&c);
	pr_stage_close(inst);
	pr_pipeline_free(p);
	if (status != NULL)
		munmap(status, sizeof(*status));
	close(fd);
	return rc;
}
