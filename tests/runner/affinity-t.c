/*
 * affinity-t.c: tests that a thread which names a peer (a worker process's
 * feeder, with pr_block_prefer()) keeps that peer to the blocks it has
 * mapped already.  pr_block_alloc() takes a free block the peer has
 * mapped over one let go of later, and one no peer has mapped over one
 * only another peer has.  The queue gives the thread an item in such a
 * block before an earlier one that only another peer has mapped, alone;
 * pr_queue_trypop_peer() gives nothing rather than that one.  A thread
 * that names no peer gets the latest block and the queue's items in
 * order, as before.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "runner/block.h"
#include "runner/ipc.h"
#include "runner/queue.h"
#include "tests/tap/basic.h"

#define BIG (1u << 20)

#ifdef HAVE_MEMFD_CREATE
struct link {
	struct pr_conn us, peer;
};

static void
link_open(struct link *l)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail("socketpair");
	pr_conn_init(&l->us, sv[0]);
	pr_conn_init(&l->peer, sv[1]);
}

/* Lends own block B to L's peer, which maps it, lets go of it and gives
 * it back: afterwards the peer has B mapped and B is held only as before. */
static void
visit(struct link *l, struct pr_block *b)
{
	struct pr_buf meta = { 0 };
	unsigned char *m, *data;
	size_t ml, dl;
	uint32_t type;
	struct pr_block *got;
	int rc;

	pr_buf_str(&meta, "item");
	if (pr_conn_send(&l->us, PR_FRAME_ITEM, &meta, b->map, BIG, b) < 0 ||
	    pr_conn_flush(&l->us) < 0)
		bail("cannot send");
	free(meta.p);
	while ((rc = pr_conn_recv(&l->peer, &type, &m, &ml, &data, &dl, &got)) == 2)
		;
	if (rc != 1 || got == NULL)
		bail("the peer got no block");
	free(m);
	pr_block_release(got);
	if (pr_conn_flush(&l->peer) < 0 ||
	    pr_conn_recv(&l->us, &type, &m, &ml, &data, &dl, &got) != 2)
		bail("the block did not come back");
}

static struct pr_block *
take(void)
{
	struct pr_block *b = pr_block_alloc(BIG);

	if (b == NULL)
		bail("no block");
	return b;
}

/* Queues an item in B, which it holds. */
static void
queue_in(struct pr_queue *q, const char *name, struct pr_block *b)
{
	pr_block_hold(b);
	pr_queue_push(q, pr_item_new(name, NULL, b->map, BIG, b));
}

/* The names of the items in L, joined by spaces, which frees them. */
static char *
names(struct pr_item_list *l)
{
	static char buf[256];
	struct pr_item *it;

	buf[0] = '\0';
	while ((it = pr_item_list_pop(l)) != NULL) {
		if (buf[0] != '\0')
			strcat(buf, " ");
		strcat(buf, it->name);
		pr_item_free(it);
	}
	return buf;
}
#endif

int
main(void)
{
#ifdef HAVE_MEMFD_CREATE
	struct link one, two;
	struct pr_queue q;
	struct pr_item_list out = { 0 };

	pr_block_enable();
	link_open(&one);
	link_open(&two);
	struct pr_block *x = take(), *y = take(), *z = take();
	visit(&one, x);
	visit(&two, y);
	/* Free, let go of in this order: z last. */
	pr_block_drop(x);
	pr_block_drop(y);
	pr_block_drop(z);

	ok(take() == z, "a thread that names no peer gets the block let go of last");
	pr_block_drop(z);
	pr_block_prefer(one.us.sent_gen);
	is_int(2, pr_block_for_peer(x), "peer one has mapped x");
	is_int(0, pr_block_for_peer(y), "only peer two has mapped y");
	is_int(1, pr_block_for_peer(z), "no peer has mapped z");
	ok(take() == x, "peer one's feeder gets x, which its peer has mapped, though z was let go of later");
	pr_block_drop(x);
	pr_block_prefer(two.us.sent_gen);
	ok(take() == y, "peer two's feeder gets y, though x was let go of later");
	pr_block_drop(y);
	pr_block_prefer(one.us.sent_gen);
	struct pr_block *held = take();
	ok(held == x, "peer one's feeder takes x again");
	ok(take() == z, "with x in use, it gets z, which no peer has mapped, though y was let go of later");
	pr_block_drop(z);
	pr_block_drop(held);

	/* Items in y (peer two's) and x (peer one's), queued in that order. */
	pr_queue_init(&q);
	queue_in(&q, "in-y", y);
	queue_in(&q, "in-x", x);
	pr_block_prefer(NULL);
	pr_queue_trypop(&q, 8, 1, &out);
	is_string("in-y in-x", names(&out), "a thread that names no peer takes the items in order");
	queue_in(&q, "in-y", y);
	queue_in(&q, "in-x", x);
	pr_block_prefer(one.us.sent_gen);
	pr_queue_trypop(&q, 8, 1, &out);
	is_string("in-x", names(&out), "peer one's feeder takes the item in x first, and alone");
	is_int(0, (long long)pr_queue_trypop_peer(&q, 8, 1, &out),
	       "and with _peer, not the item in y, which only peer two has mapped");
	pr_queue_trypop(&q, 8, 1, &out);
	is_string("in-y", names(&out), "without _peer, it takes that item too");
	queue_in(&q, "in-z", z);
	pr_queue_trypop_peer(&q, 8, 1, &out);
	is_string("in-z", names(&out), "with _peer, it takes an item in a block no peer has mapped");
	pr_block_prefer(two.us.sent_gen);
	queue_in(&q, "in-y", y);
	pr_queue_trypop_peer(&q, 8, 1, &out);
	is_string("in-y", names(&out), "peer two's feeder takes the item in y with _peer");
	pr_queue_destroy(&q);
	pr_block_prefer(NULL);
	pr_conn_free(&one.us);
	pr_conn_free(&one.peer);
	pr_conn_free(&two.us);
	pr_conn_free(&two.peer);
	unsigned blocks, busy;
	pr_block_stats(&blocks, &busy);
	is_int(0, busy, "no block is left busy");
#else
	ok(1, "# SKIP no memfd_create: no blocks");
#endif
	return test_done();
}
