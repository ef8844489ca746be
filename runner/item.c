/*
 * item.c: the unit every layer of the engine shares.
 */
#include "config.h"

#include <stdlib.h>

#include "runner/item.h"
#include "runner/util.h"

struct pr_item *
pr_item_new(const char *name, const char *path, unsigned char *data, size_t len)
{
	struct pr_item *item = pr_calloc(1, sizeof(*item));

	item->name = pr_strdup(name);
	item->path = path ? pr_strdup(path) : NULL;
	item->data = data;
	item->len = len;
	return item;
}

void
pr_item_free(struct pr_item *item)
{
	if (item == NULL)
		return;
	free(item->name);
	free(item->path);
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
