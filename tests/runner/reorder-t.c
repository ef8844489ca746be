/*
 * reorder-t.c: tests runner/reorder.c with results arriving in any order.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "runner/reorder.h"
#include "tests/tap/basic.h"

/* Results for input N: N % 3 items (so some inputs give none). */
static void
put(struct pr_reorder *r, uint64_t n)
{
	struct pr_item_list l = { 0 };

	for (uint64_t k = 0; k < n % 3; k++) {
		char name[64];
		snprintf(name, sizeof(name), "%llu.%llu", (unsigned long long)n, (unsigned long long)k);
		pr_item_list_push(&l, pr_item_new(name, NULL, NULL, 0, NULL));
	}
	pr_reorder_put(r, n, &l, 0);
}

int
main(void)
{
	enum { N = 1000 };
	uint64_t order[N];
	struct pr_reorder r;
	struct pr_item_list got;
	unsigned long long want_n = 0, want_k = 0;
	int in_order = 1, taken = 0;

	for (uint64_t i = 0; i < N; i++)
		order[i] = i;
	srand(7);
	for (size_t i = N - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		uint64_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	pr_reorder_init(&r);
	for (size_t i = 0; i < N; i++) {
		put(&r, order[i]);
		while (pr_reorder_take(&r, &got, NULL)) {
			struct pr_item *it;
			taken++;
			while ((it = pr_item_list_pop(&got)) != NULL) {
				unsigned long long n, k;
				if (sscanf(it->name, "%llu.%llu", &n, &k) != 2)
					in_order = 0;
				/* Items of one input stay together, inputs in order. */
				while (want_n < n) {
					want_n++;
					want_k = 0;
				}
				if (n != want_n || k != want_k)
					in_order = 0;
				want_k++;
				pr_item_free(it);
			}
		}
	}
	is_int(N, taken, "every input's results come out once");
	ok(in_order, "in input order, items of one input in emitted order");
	is_int(0, pr_reorder_take(&r, &got, NULL), "nothing more");
	pr_reorder_free(&r);

	pr_reorder_init(&r);
	put(&r, 2);
	is_int(0, pr_reorder_take(&r, &got, NULL), "a later result waits for earlier ones");
	put(&r, 1);
	is_int(0, pr_reorder_take(&r, &got, NULL), "still waiting for input 0");
	pr_reorder_free(&r);
	return test_done();
}
