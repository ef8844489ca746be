/*
 * queue.h: the FIFO of items between the engine and an executor's workers.
 *
 * The queue itself does not limit its length: the engine admits at most a
 * stage's bound of items that have not left the stage yet (see
 * pr_stage_run in executor.h), which bounds this queue and the stage's
 * reorder buffer together.
 */
#ifndef PR_QUEUE_H
#define PR_QUEUE_H

#include <pthread.h>

#include "runner/item.h"

struct pr_queue {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	struct pr_item_list items;
	int closed;
	unsigned out; /* batches popped and not marked done (see pr_queue_done()) */
	/* Another queue whose sleepers a push here wakes (see
	 * pr_queue_kick_on()), and the wake-ups this one has had so. */
	struct pr_queue *kick;
	uint64_t kicks;
};

void pr_queue_init(struct pr_queue *q);
/* Frees the queue and any items left in it. */
void pr_queue_destroy(struct pr_queue *q);

/* Appends ITEM (taking it). */
void pr_queue_push(struct pr_queue *q, struct pr_item *item);

/* Appends every item of ITEMS (taking them and leaving the list empty). */
void pr_queue_push_list(struct pr_queue *q, struct pr_item_list *items);

/* Waits for at least one item, then moves up to MAX of them to OUT, and no
 * more than a SHARE-th of those queued (rounded up), so that SHARE workers
 * popping in turn all get some.  Returns how many, 0 once the queue is
 * closed and empty.  *WAITED gets the seconds spent waiting (may be NULL). */
size_t pr_queue_pop(struct pr_queue *q, size_t max, size_t share, struct pr_item_list *out,
                    double *waited);

/* As pr_queue_pop(), without waiting: 0 when no item is queued now.
 *
 * In every pop, a thread that names a peer (pr_block_prefer() in block.h)
 * takes an item in a block that peer has mapped, or none has, before one
 * in a block only other peers have mapped, if one of the next few items
 * is: that one alone.  The _peer variant takes nothing rather than an
 * item of another peer's. */
size_t pr_queue_trypop(struct pr_queue *q, size_t max, size_t share, struct pr_item_list *out);
size_t pr_queue_trypop_peer(struct pr_queue *q, size_t max, size_t share,
                            struct pr_item_list *out);

/* Waits until an item is queued, without taking it: returns 1, or 0 once
 * the queue is closed and empty.  *WAITED gets the seconds spent waiting. */
int pr_queue_wait(struct pr_queue *q, double *waited);

/* The number (seq) of the item that would be popped next, in *SEQ:
 * returns 0 when no item is queued. */
int pr_queue_front(struct pr_queue *q, uint64_t *seq);

/* A worker is done with the batch it popped last.  Only an executor that
 * asks pr_queue_idle() needs to say so. */
void pr_queue_done(struct pr_queue *q);

/* 1 when no item is queued and every batch popped is done: until the next
 * push, no worker has an item. */
int pr_queue_idle(struct pr_queue *q);

/* No more items will be pushed: poppers drain what is left, then get 0. */
void pr_queue_close(struct pr_queue *q);

/* 1 once the queue is closed and empty. */
int pr_queue_closed(struct pr_queue *q);

/* Waits until the queue is closed and every batch popped is done. */
void pr_queue_wait_done(struct pr_queue *q);

/* From now on, each push to Q and its closing wake the sleepers of
 * TARGET (NULL: none), which count the wake-ups: the workers of the next
 * stage that also run this queue's items sleep on their own queue, and
 * wake so to take one.  TARGET must outlive Q's pushes. */
void pr_queue_kick_on(struct pr_queue *q, struct pr_queue *target);

/* Wakes the sleepers of TARGET (NULL: none), as a push to a queue that
 * kicks on it does. */
void pr_queue_kick(struct pr_queue *target);

/* The wake-ups Q has had from another queue so far. */
uint64_t pr_queue_kicks(struct pr_queue *q);

/* As pr_queue_pop(), but returns 0 as well once Q has had a wake-up from
 * another queue since pr_queue_kicks() said SEEN. */
size_t pr_queue_pop_or_kick(struct pr_queue *q, size_t max, size_t share, struct pr_item_list *out,
                            uint64_t seen, double *waited);

#endif
