/*
 * item.c: the unit every layer of the engine shares.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "runner/block.h"
#include "runner/item.h"
#include "runner/util.h"

struct pr_item *
pr_item_new(const char *name, const char *path, unsigned char *data, size_t len,
            struct pr_block *block)
{
	/* One allocation for the item and its strings, which follow it. */
	size_t nlen = strlen(name) + 1, plen = path ? strlen(path) + 1 : 0;
	struct pr_item *item = pr_malloc(sizeof(*item) + nlen + plen);
	char *strings = (char *)(item + 1);

	memset(item, 0, sizeof(*item));
	item->name = memcpy(strings, name, nlen);
	item->path = path ? memcpy(strings + nlen, path, plen) : NULL;
	item->data = data;
	item->len = len;
	item->block = block;
	return item;
}

void
pr_item_free(struct pr_item *item)
{
	if (item == NULL)
		return;
	if (item->block != NULL)
		pr_block_release(item->block);
	else
		free(item->data);
	free(item);
}

void
pr_item_list_push(struct pr_item_list *l, struct pr_item *item)
{
	item->next = NULL;
	if (l->tail != NULL)
		l->tail->next = item;
	else
		l->head = item;
	l->tail = item;
	l->count++;
}

struct pr_item *
pr_item_list_pop(struct pr_item_list *l)
{
	struct pr_item *item = l->head;

	if (item == NULL)
		return NULL;
	l->head = item->next;
	if (l->head == NULL)
		l->tail = NULL;
	l->count--;
	item->next = NULL;
	return item;
}

void
pr_item_list_clear(struct pr_item_list *l)
{
	struct pr_item *item;

	while ((item = pr_item_list_pop(l)) != NULL)
		pr_item_free(item);
}

void
pr_item_list_append(struct pr_item_list *l, struct pr_item_list *from)
{
	if (from->count == 0)
		return;
	if (l->tail != NULL)
		l->tail->next = from->head;
	else
		l->head = from->head;
	l->tail = from->tail;
	l->count += from->count;
	*from = (struct pr_item_list){ 0 };
}
