/*
 * ipc-t.c: tests runner/ipc.c and runner/block.c over a real socketpair:
 * frames round-trip; large data travels in blocks, not through the socket;
 * data already in a block is lent without a copy and its descriptor goes
 * once; blocks let go of by the receiver are given back to the sender;
 * lends a vanished peer never gave back are returned; a block outlives
 * the connection it came on while an item holds it; a result written
 * over its input goes back in the sender's block; and data still arrives,
 * intact, when no block is to be had.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/block.h"
#include "runner/ipc.h"
#include "tests/tap/basic.h"

#define BIG (1u << 20)

static unsigned char *
pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len);

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 31 + seed) ^ (i >> 9));
	return p;
}

/* Receives one frame on C and checks its data against WANT (LEN bytes);
 * returns the block it came in (held), or NULL. */
static struct pr_block *
expect(struct pr_conn *c, const char *what, const unsigned char *want, size_t len)
{
	unsigned char *meta, *data;
	size_t ml, dl;
	uint32_t type;
	struct pr_block *block;
	int rc;

	while ((rc = pr_conn_recv(c, &type, &meta, &ml, &data, &dl, &block)) == 2)
		;
	ok(rc == 1 && type == PR_FRAME_ITEM, "%s: a frame arrives", what);
	if (rc != 1)
		return NULL;
	is_bytes(want, len, data, dl, "%s: its data is intact", what);
	free(meta);
	if (block == NULL)
		free(data);
	return block;
}

static unsigned
busy_blocks(void)
{
	unsigned n, busy;

	pr_block_stats(&n, &busy);
	return busy;
}

#ifdef HAVE_MEMFD_CREATE
/* Connects A and B over a new socket pair, and lends B a new block of A's
 * holding DATA (LEN bytes), which A's item then lets go of; checks the
 * send as WHAT.  Returns the block, held only by the lend. */
static struct pr_block *
lend_new(struct pr_conn *a, struct pr_conn *b, const struct pr_buf *meta,
         const unsigned char *data, size_t len, const char *what)
{
	struct pr_block *own;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail("socketpair");
	pr_conn_init(a, sv[0]);
	pr_conn_init(b, sv[1]);
	if ((own = pr_block_alloc(BIG)) == NULL)
		bail("no block");
	memcpy(own->map, data, len);
	ok(pr_conn_send(a, PR_FRAME_ITEM, meta, own->map, len, own) == 0 && pr_conn_flush(a) == 0,
	   "%s", what);
	pr_block_drop(own); /* the sender's item is done with it */
	return own;
}
#endif

int
main(void)
{
	struct pr_conn a, b;
	struct pr_buf meta = { 0 };
	unsigned char *big = pattern(BIG, 1), *small = pattern(100, 2);
	unsigned char *data, *m;
	size_t ml, dl;
	uint32_t type;
	struct pr_block *got;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail("socketpair");
	pr_conn_init(&a, sv[0]);
	pr_conn_init(&b, sv[1]);
	pr_buf_str(&meta, "name");

	/* A small item goes inline. */
	ok(pr_conn_send(&a, PR_FRAME_ITEM, &meta, small, 100, NULL) == 0 && pr_conn_flush(&a) == 0,
	   "a small item is sent");
	ok(expect(&b, "small item", small, 100) == NULL, "a small item comes inline, in no block");

#ifdef HAVE_MEMFD_CREATE
	/* Large data from malloc is copied into a block: the socket carries
	 * only its frame. */
	uint64_t before = a.sent_bytes;
	ok(pr_conn_send(&a, PR_FRAME_ITEM, &meta, big, BIG, NULL) == 0 && pr_conn_flush(&a) == 0,
	   "a large item from malloc is sent");
	got = expect(&b, "large item", big, BIG);
	ok(got != NULL, "it comes in a block");
	ok(a.sent_bytes - before < 4096, "the socket carried %llu bytes for 1 MiB of data",
	   (unsigned long long)(a.sent_bytes - before));
	is_int(BIG, (long long)a.copied_bytes, "it was copied once, into the block");
	is_int(1, busy_blocks(), "the block is busy while lent");

	/* Let go of, the block is given back and free again. */
	pr_block_release(got);
	ok(pr_conn_flush(&b) == 0, "the release is sent");
	is_int(2, pr_conn_recv(&a, &type, &m, &ml, &data, &dl, &got),
	       "a release alone gives the caller no frame");
	is_int(0, busy_blocks(), "the block is free again");

	/* Data already in an own block is lent as it is: no copy, and the
	 * block's descriptor, sent once already, does not go again. */
	struct pr_block *own = pr_block_alloc(BIG);
	ok(own != NULL, "a free block is taken again");
	unsigned char *big2 = pattern(BIG - 5, 3);
	memcpy(own->map, big2, BIG - 5);
	ok(pr_conn_send(&a, PR_FRAME_ITEM, &meta, own->map, BIG - 5, own) == 0 && a.n_out_fds == 0,
	   "an item in a block the peer has is sent with no descriptor");
	ok(pr_conn_flush(&a) == 0, "and flushed");
	is_int(BIG, (long long)a.copied_bytes, "it was not copied");
	is_int(1, (long long)a.lent[own->id], "the block is lent once");
	got = expect(&b, "an item in a block", big2, BIG - 5);
	ok(got != NULL && got == b.peer[own->id], "it comes in the peer's mapping of that block");

	/* The receiver's item holds the block past the connection: it stays
	 * readable, and letting go of it later is harmless. */
	pr_block_drop(own); /* the sender's item is done with it */
	is_int(1, busy_blocks(), "the sender's block stays busy while lent");
	pr_conn_free(&b);
	is_bytes(big2, BIG - 5, got->map, BIG - 5, "the block is readable after its connection is gone");
	pr_block_release(got);
	pr_conn_free(&a);
	is_int(0, busy_blocks(), "a lend the peer never gave back is returned with the connection");

	/* A process that ends while its peer goes on (a worker whose input has
	 * ended, while piperun still holds its results) keeps what it lent:
	 * no release will come, and the peer may still read it. */
	own = lend_new(&a, &b, &meta, big2, BIG - 5, "an item is lent just before the end");
	got = expect(&b, "a lend at the end", big2, BIG - 5);
	pr_conn_end(&a);
	is_int(1, busy_blocks(), "the sender, ended, still holds the block it lent");
	pr_block_trim();
	is_bytes(big2, BIG - 5, got->map, BIG - 5, "the peer reads it whole, past the sender's trim");
	pr_block_release(got);
	pr_conn_free(&b);
	pr_block_drop(own); /* as the sender's exit would */
	is_int(0, busy_blocks(), "no block is left busy");

	/* A result written over its input in the sender's block goes back in
	 * that block: no copy, no new block, and the sender finds it where it
	 * lent it. */
	own = lend_new(&a, &b, &meta, big2, BIG - 5, "an item in a block is lent");
	got = expect(&b, "the lent item", big2, BIG - 5);
	unsigned char *result = pattern(BIG / 2, 4);
	memcpy(got->map, result, BIG / 2);
	uint64_t copied = b.copied_bytes;
	ok(pr_conn_send(&b, PR_FRAME_ITEM, &meta, got->map, BIG / 2, got) == 0 &&
	       pr_conn_flush(&b) == 0,
	   "a result written over it is sent back");
	is_int(0, (long long)(b.copied_bytes - copied), "the result was not copied");
	is_int(0, (long long)b.n_out_fds, "no descriptor went with it");
	struct pr_block *back = expect(&a, "the result in the sender's block", result, BIG / 2);
	ok(back == own, "it comes back in the sender's own block");
	pr_block_release(got); /* the receiver's result is sent */
	ok(pr_conn_flush(&b) == 0, "the lend is given back");
	is_int(2, pr_conn_recv(&a, &type, &m, &ml, &data, &dl, &got), "the release comes");
	is_int(0, (long long)a.lent[own->id], "the block is lent no more");
	is_int(1, busy_blocks(), "the result holds the block");
	is_bytes(result, BIG / 2, own->map, BIG / 2, "and its data is there");
	pr_block_release(back);
	is_int(0, busy_blocks(), "let go of, the block is free");
	/* A frame naming a block of the receiver's that it did not lend is
	 * refused. */
	struct pr_block *never = pr_block_alloc(BIG);
	unsigned char *other = mmap(NULL, never->size, PROT_READ | PROT_WRITE, MAP_SHARED, never->fd, 0);
	if (other == MAP_FAILED)
		bail("mmap");
	struct pr_block *fake = pr_block_peer(other, never->size, never->id, b.mail);
	ok(pr_conn_send(&b, PR_FRAME_ITEM, &meta, fake->map, 100000, fake) == 0 &&
	       pr_conn_flush(&b) == 0,
	   "a frame naming a block that was not lent is sent");
	ok(pr_conn_recv(&a, &type, &m, &ml, &data, &dl, &got) < 0, "it is refused");
	pr_block_drop(never);
	pr_block_drop(fake);
	free(result);
	pr_conn_free(&a);
	pr_conn_free(&b);

	/* With no block to be had, a large item goes through the socket, and a
	 * release queued meanwhile does not come between its frame and its
	 * data.  The socket's buffer is smaller than the item: a child writes
	 * while this process reads. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail("socketpair");
	pr_conn_init(&a, sv[0]);
	pr_conn_init(&b, sv[1]);
	ok(pr_conn_send(&b, PR_FRAME_ITEM, &meta, big, BIG, NULL) == 0 && pr_conn_flush(&b) == 0,
	   "a large item goes the other way");
	got = expect(&a, "the other way", big, BIG);
	ok(got != NULL, "in a block");
	struct pr_block *all[PR_BLOCK_IDS];
	unsigned n = 0;
	while (n < PR_BLOCK_IDS && (all[n] = pr_block_alloc(PR_BLOCK_MIN)) != NULL)
		n++;
	is_int(PR_BLOCK_IDS - 1, n, "the pool gives out every block it may have");
	pr_block_release(got); /* queued in a's mailbox */
	pid_t pid = fork();
	if (pid == 0) {
		pr_conn_send(&a, PR_FRAME_ITEM, &meta, big2, BIG - 5, NULL);
		pr_conn_send(&a, PR_FRAME_ITEM, &meta, small, 100, NULL);
		pr_conn_flush(&a);
		_exit(0);
	}
	ok(expect(&b, "no block free", big2, BIG - 5) == NULL,
	   "with every block busy, a large item comes through the socket");
	ok(expect(&b, "the frame after it", small, 100) == NULL, "the next frame follows intact");
	waitpid(pid, NULL, 0);
	while (n > 0)
		pr_block_drop(all[--n]);
	free(big2);

	/* Blocks left free since a busy moment are let go of, one at each
	 * allocation once they have been idle for a second, so
	 * that a long run does not keep its busiest moment's memory; one
	 * freed a moment ago is kept for the next item. */
	struct pr_block *x[3];
	unsigned made, now, busy;
	for (int i = 0; i < 3; i++)
		x[i] = pr_block_alloc(BIG);
	for (int i = 0; i < 3; i++)
		pr_block_drop(x[i]);
	pr_block_stats(&made, &busy);
	pr_block_drop(pr_block_alloc(BIG));
	pr_block_stats(&now, &busy);
	is_int(made, now, "blocks freed a moment ago are all kept");
	usleep(1100000);
	pr_block_drop(pr_block_alloc(BIG));
	pr_block_stats(&now, &busy);
	is_int(made - 1, now, "after 1.1 s idle, the next allocation lets one go");
	pr_block_drop(pr_block_alloc(BIG));
	pr_block_stats(&now, &busy);
	is_int(made - 2, now, "and the one after it another");

	/* At the end of a run every free block goes at once; those in use
	 * stay. */
	x[0] = pr_block_alloc(BIG);
	pr_block_stats(&made, &busy);
	pr_block_trim();
	pr_block_stats(&now, &busy);
	ok(made > busy && now == busy && busy >= 1,
	   "trimming lets every free block go, not the busy ones (%u of %u kept)", now, made);
	pr_block_drop(x[0]);
	pr_block_trim();
	unsigned left, held;
	pr_block_stats(&left, &held);
	is_int(now - 1, left, "and a busy one goes too once it is free");
#else
	ok(1, "# SKIP no memfd_create: large items go through the socket");
	(void)got;
	(void)data;
	(void)m;
	(void)ml;
	(void)dl;
	(void)type;
#endif

	/* End of file is reported as such, after the releases that came. */
	close(sv[0]);
	int rc;
	while ((rc = pr_conn_recv(&b, &type, &m, &ml, &data, &dl, &got)) == 2)
		;
	is_int(0, rc, "the other end closed: end of file");
	pr_conn_free(&a);
	pr_conn_free(&b);
	free(meta.p);
	free(big);
	free(small);
	return test_done();
}
