/*
 * queue.c: the FIFO of items between the engine and an executor's workers.
 */
#include "config.h"

#include "runner/queue.h"
#include "runner/util.h"

void
pr_queue_init(struct pr_queue *q)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->ready, NULL);
	q->items = (struct pr_item_list){ 0 };
	q->closed = 0;
	q->out = 0;
	q->kick = NULL;
	q->kicks = 0;
}

void
pr_queue_destroy(struct pr_queue *q)
{
	pr_item_list_clear(&q->items);
	pthread_cond_destroy(&q->ready);
	pthread_mutex_destroy(&q->lock);
}

void
pr_queue_kick(struct pr_queue *target)
{
	if (target == NULL)
		return;
	pthread_mutex_lock(&target->lock);
	target->kicks++;
	pthread_cond_broadcast(&target->ready);
	pthread_mutex_unlock(&target->lock);
}

void
pr_queue_push(struct pr_queue *q, struct pr_item *item)
{
	pthread_mutex_lock(&q->lock);
	pr_item_list_push(&q->items, item);
	/* Only a queue that was empty has sleepers to wake; whoever pops
	 * wakes the next one while items are left (see pr_queue_pop()). */
	if (q->items.count == 1)
		pthread_cond_signal(&q->ready);
	struct pr_queue *k = q->kick;
	pthread_mutex_unlock(&q->lock);
	pr_queue_kick(k);
}

/* WAIT: 0 not at all, 1 for an item, 2 for an item or a kick past SEEN. */
static size_t
queue_pop(struct pr_queue *q, size_t max, size_t share, struct pr_item_list *out, int wait,
          uint64_t seen, double *waited)
{
	size_t n = 0;
	double t0 = 0;

	pthread_mutex_lock(&q->lock);
	if (q->items.count == 0 && !q->closed && waited != NULL)
		t0 = pr_now();
	while (wait && q->items.count == 0 && !q->closed && (wait == 1 || q->kicks == seen))
		pthread_cond_wait(&q->ready, &q->lock);
	if (waited != NULL)
		*waited = t0 > 0 ? pr_now() - t0 : 0;
	if (share > 1 && (q->items.count + share - 1) / share < max)
		max = (q->items.count + share - 1) / share;
	while (n < max && q->items.count > 0) {
		pr_item_list_push(out, pr_item_list_pop(&q->items));
		n++;
	}
	if (n > 0)
		q->out++;
	/* Others may be waiting for what is left. */
	if (q->items.count > 0)
		pthread_cond_signal(&q->ready);
	pthread_mutex_unlock(&q->lock);
	return n;
}

void
pr_queue_push_list(struct pr_queue *q, struct pr_item_list *items)
{
	if (items->count == 0)
		return;
	pthread_mutex_lock(&q->lock);
	int was_empty = q->items.count == 0;
	pr_item_list_append(&q->items, items);
	/* One sleeper wakes; whoever pops wakes the next while items are
	 * left (see queue_pop()). */
	if (was_empty)
		pthread_cond_signal(&q->ready);
	struct pr_queue *k = q->kick;
	pthread_mutex_unlock(&q->lock);
	pr_queue_kick(k);
}

size_t
pr_queue_pop(struct pr_queue *q, size_t max, size_t share, struct pr_item_list *out,
             double *waited)
{
	return queue_pop(q, max, share, out, 1, 0, waited);
}

size_t
pr_queue_pop_or_kick(struct pr_queue *q, size_t max, size_t share, struct pr_item_list *out,
                     uint64_t seen, double *waited)
{
	return queue_pop(q, max, share, out, 2, seen, waited);
}

uint64_t
pr_queue_kicks(struct pr_queue *q)
{
	pthread_mutex_lock(&q->lock);
	uint64_t n = q->kicks;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void
pr_queue_kick_on(struct pr_queue *q, struct pr_queue *target)
{
	pthread_mutex_lock(&q->lock);
	q->kick = target;
	pthread_mutex_unlock(&q->lock);
}

size_t
pr_queue_trypop(struct pr_queue *q, size_t max, size_t share, struct pr_item_list *out)
{
	return queue_pop(q, max, share, out, 0, 0, NULL);
}

int
pr_queue_wait(struct pr_queue *q, double *waited)
{
	double t0 = 0;
	int any;

	pthread_mutex_lock(&q->lock);
	if (q->items.count == 0 && !q->closed)
		t0 = pr_now();
	while (q->items.count == 0 && !q->closed)
		pthread_cond_wait(&q->ready, &q->lock);
	any = q->items.count > 0;
	*waited = t0 > 0 ? pr_now() - t0 : 0;
	pthread_mutex_unlock(&q->lock);
	return any;
}

int
pr_queue_front(struct pr_queue *q, uint64_t *seq)
{
	int any;

	pthread_mutex_lock(&q->lock);
	any = q->items.head != NULL;
	if (any)
		*seq = q->items.head->seq;
	pthread_mutex_unlock(&q->lock);
	return any;
}

void
pr_queue_done(struct pr_queue *q)
{
	pthread_mutex_lock(&q->lock);
	/* The last one of a closed queue may be waited for. */
	if (--q->out == 0 && q->closed)
		pthread_cond_broadcast(&q->ready);
	pthread_mutex_unlock(&q->lock);
}

int
pr_queue_closed(struct pr_queue *q)
{
	pthread_mutex_lock(&q->lock);
	int closed = q->closed && q->items.count == 0;
	pthread_mutex_unlock(&q->lock);
	return closed;
}

void
pr_queue_wait_done(struct pr_queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (!q->closed || q->out > 0)
		pthread_cond_wait(&q->ready, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

int
pr_queue_idle(struct pr_queue *q)
{
	int idle;

	pthread_mutex_lock(&q->lock);
	idle = q->items.count == 0 && q->out == 0;
	pthread_mutex_unlock(&q->lock);
	return idle;
}

void
pr_queue_close(struct pr_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->ready);
	struct pr_queue *k = q->kick;
	pthread_mutex_unlock(&q->lock);
	pr_queue_kick(k);
}
