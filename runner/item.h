/*
 * item.h: the unit every layer of the engine shares.
 */
#ifndef PR_ITEM_H
#define PR_ITEM_H

#include <stddef.h>
#include <stdint.h>

struct pr_block;

/*
 * An item: a name, the file it stands for (if any) and its bytes, plus its
 * position in the stream entering the current stage.  Each stage numbers
 * its input items 0, 1, 2 ...; the results of input N leave the stage after
 * those of input N-1 (unless order is `any`) and are numbered anew for the
 * next stage, so one-to-many and filtering stages keep order without any
 * global key.
 */
struct pr_item {
	struct pr_item *next;  /* in a list */
	const char *name;      /* never NULL; allocated with the item */
	const char *path;      /* or NULL; allocated with the item */
	unsigned char *data;   /* owned: from malloc, or in BLOCK; NULL when len is 0 */
	size_t len;
	struct pr_block *block; /* the shared block DATA is in, held; or NULL */
	uint64_t seq;
	int from_input;        /* a stand-in for "the input item, unchanged" */
	unsigned tries;        /* attempts made on it in worker processes that died */
};

/* A FIFO list of items. */
struct pr_item_list {
	struct pr_item *head;
	struct pr_item *tail;
	size_t count;
};

/* Returns a new item with copies of NAME and PATH (which may be NULL) that
 * takes ownership of DATA (LEN bytes): from malloc when BLOCK is NULL,
 * else in BLOCK, whose hold it takes. */
struct pr_item *pr_item_new(const char *name, const char *path, unsigned char *data, size_t len,
                            struct pr_block *block);

/* Frees ITEM and everything it owns; accepts NULL. */
void pr_item_free(struct pr_item *item);

void pr_item_list_push(struct pr_item_list *l, struct pr_item *item);
struct pr_item *pr_item_list_pop(struct pr_item_list *l);
void pr_item_list_clear(struct pr_item_list *l);
/* Moves every item of FROM to the end of L, in order; FROM ends empty. */
void pr_item_list_append(struct pr_item_list *l, struct pr_item_list *from);

#endif
