/*
 * reorder.c: puts a stage's results back in the order of its inputs.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "runner/reorder.h"
#include "runner/util.h"

struct pr_reorder_slot {
	int done;
	int tag;
	struct pr_item_list items;
};

void
pr_reorder_init(struct pr_reorder *r)
{
	memset(r, 0, sizeof(*r));
}

void
pr_reorder_free(struct pr_reorder *r)
{
	for (size_t i = 0; i < r->cap; i++)
		pr_item_list_clear(&r->ring[i].items);
	free(r->ring);
	memset(r, 0, sizeof(*r));
}

static void
grow(struct pr_reorder *r, uint64_t need)
{
	size_t cap = r->cap ? r->cap : 16;
	struct pr_reorder_slot *ring;

	while (cap <= need)
		cap *= 2;
	ring = pr_calloc(cap, sizeof(*ring));
	for (uint64_t s = r->base; s < r->base + r->cap; s++)
		ring[s & (cap - 1)] = r->ring[s & (r->cap - 1)];
	free(r->ring);
	r->ring = ring;
	r->cap = cap;
}

void
pr_reorder_put(struct pr_reorder *r, uint64_t seq, struct pr_item_list *list, int tag)
{
	struct pr_reorder_slot *slot;

	if (seq - r->base >= r->cap)
		grow(r, seq - r->base);
	slot = &r->ring[seq & (r->cap - 1)];
	slot->done = 1;
	slot->tag = tag;
	slot->items = *list;
	memset(list, 0, sizeof(*list));
}

int
pr_reorder_take(struct pr_reorder *r, struct pr_item_list *out, int *tag)
{
	struct pr_reorder_slot *slot;

	if (r->cap == 0)
		return 0;
	slot = &r->ring[r->base & (r->cap - 1)];
	if (!slot->done)
		return 0;
	*out = slot->items;
	if (tag != NULL)
		*tag = slot->tag;
	memset(slot, 0, sizeof(*slot));
	r->base++;
	return 1;
}
