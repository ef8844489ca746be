/*
 * reorder.h: puts a stage's results back in the order of its inputs.
 */
#ifndef PR_REORDER_H
#define PR_REORDER_H

#include <stdint.h>

#include "runner/item.h"

/* Results of inputs base, base+1 ... held until every earlier one is in. */
struct pr_reorder {
	uint64_t base;               /* the next input whose results leave */
	struct pr_reorder_slot *ring;
	size_t cap;                  /* slots in ring, a power of two */
};

void pr_reorder_init(struct pr_reorder *r);
void pr_reorder_free(struct pr_reorder *r);

/* Stores the results of input SEQ (>= base), taking the items of LIST,
 * with TAG, a number the caller keeps with them. */
void pr_reorder_put(struct pr_reorder *r, uint64_t seq, struct pr_item_list *list, int tag);

/* Moves the results of input base, if they are in, to OUT, their tag to
 * *TAG (when not NULL), and advances base.  Returns 1 when it did, 0 when
 * they are not in yet. */
int pr_reorder_take(struct pr_reorder *r, struct pr_item_list *out, int *tag);

#endif
