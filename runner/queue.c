/*
 * queue.c: the FIFO of items between the engine and an executor's workers.
 */
#include "config.h"

#include "runner/block.h"
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

/* How far past the front of the queue a popper looks for an item of its
 * peer's (see take_for_peer()). */
#define PEER_LOOK 4

/* When the calling thread names a peer (pr_block_prefer()) and the front
 * item of L lies in a block only other peers have mapped, the first of
 * the next few items in a block the peer has mapped, or none has, taken
 * out of L: that item goes to the peer alone, which saves it mapping
 * another block, a cost of about the work on the block on some machines
 * (see block.h).  NULL when the front item will do, or none does; *NONE
 * tells which. */
static struct pr_item *
take_for_peer(struct pr_item_list *l, int *none)
{
	struct pr_item *prev = l->head, *it;
	unsigned looked = 0;

	*none = 0;
	if (pr_block_for_peer(l->head->block) != 0)
		return NULL;
	for (it = prev->next; it != NULL && looked < PEER_LOOK; prev = it, it = it->next, looked++) {
		if (pr_block_for_peer(it->block) < 1)
			continue;
		prev->next = it->next;
		if (l->tail == it)
			l->tail = prev;
		it->next = NULL;
		l->count--;
		return it;
	}
	*none = 1;
	return NULL;
}

/* The pops below.  WAIT: 0 not at all, 1 for an item, 2 for an item or a
 * kick since SEEN.  PEER_ONLY: take nothing rather than items in blocks
 * only others than the calling thread's peer have mapped. */
static size_t
queue_pop(struct pr_queue *q, size_t max, size_t share, struct pr_item_list *out, int wait,
          uint64_t seen, double *waited, int peer_only)
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
	int none = 0;
	struct pr_item *mine = q->items.count > 0 ? take_for_peer(&q->items, &none) : NULL;
	if (mine != NULL) {
		pr_item_list_push(out, mine);
		n = max = 1;
	} else if (none && peer_only) {
		max = 0;
	}
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
	return queue_pop(q, max, share, out, 1, 0, waited, 0);
}

size_t
pr_queue_pop_or_kick(struct pr_queue *q, size_t max, size_t share, struct pr_item_list *out,
                     uint64_t seen, double *waited)
{
	return queue_pop(q, max, share, out, 2, seen, waited, 0);
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
	return queue_pop(q, max, share, out, 0, 0, NULL, 0);
}

size_t
pr_queue_trypop_peer(struct pr_queue *q, size_t max, size_t share, struct pr_item_list *out)
{
	return queue_pop(q, max, share, out, 0, 0, NULL, 1);
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
