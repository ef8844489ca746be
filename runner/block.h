/*
 * block.h: shared blocks, the memory of large items.
 *
 * In a run with worker processes, the data of a large item (PR_BLOCK_MIN
 * bytes and more) lives in a block: a memory file (memfd) that every
 * process can map.  The read stage reads a file straight into one, a worker
 * reads it there, writes its result into a block of its own (or over the
 * item, in piperun's block), and piperun writes that result out from where
 * it is: a large item crosses the process boundary both ways without a
 * copy, and only a frame naming the block goes through the socket (see
 * ipc.h).
 *
 * A block is this process's own, from its pool, or a peer's, mapped
 * once the peer sent its descriptor.  A stage may write its result over
 * its input where it lies (reuse_input() in piperun-stage.h), in a
 * peer's block too: the result then goes back to the owner in its own
 * block.  References count its
 * holders: the item whose data it is, each time it was lent to a peer
 * (until the peer gives it back), and for a peer's block, the connection
 * that mapped it.  An own block that nobody holds goes back to the pool
 * with its pages, so the next item of about its size reuses them without
 * page faults.  When an item lets go of a peer's block, the block is given
 * back to its owner through the connection's mailbox.
 */
#ifndef PR_BLOCK_H
#define PR_BLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PR_BLOCK_MIN (64 * 1024)
#define PR_BLOCK_IDS 128 /* the most blocks a pool holds at once */

struct pr_mailbox;

struct pr_block {
	unsigned char *map;
	size_t size;
	atomic_uint refs;
	unsigned id;             /* its owner's number for it, below PR_BLOCK_IDS */
	uint32_t gen;            /* own: how many files the id had before this one */
	int fd;                  /* own: the memory file; -1 for a peer's */
	atomic_uint peers;       /* own: how many peers have mapped the file */
	struct pr_mailbox *home; /* a peer's: where it is given back; NULL: own */
};

/* From now on, large item data in this process goes into blocks.  Called
 * when a stage runs in worker processes, and by the workers. */
void pr_block_enable(void);

/* An own block for SIZE bytes of item data, held once by the caller, when
 * blocks are enabled and SIZE is large; else NULL. */
struct pr_block *pr_block_alloc_data(size_t size);

/* Memory for SIZE bytes of item data: in a new own block (*B set) when
 * blocks are enabled and SIZE is large, else from malloc (*B NULL).
 * Never NULL. */
unsigned char *pr_data_alloc(size_t size, struct pr_block **b);

/* An own block of at least SIZE bytes, held once by the caller, or NULL
 * (no memfd, or every block of the pool in use). */
struct pr_block *pr_block_alloc(size_t size);

/* A thread that makes items for one peer (a worker process's feeder)
 * names the blocks that peer has mapped: GENS[id] is one more than the gen
 * of block id's file there (the connection's record, ipc.h).  From then
 * on, pr_block_alloc() on this thread prefers them among the free blocks
 * that suit: the first use of a block's pages in a process can cost as
 * much as the work on them (4 MiB: 7-13 ms in each process, on a VM that
 * builds its page tables lazily), so a worker should see few blocks.
 * NULL: no peer. */
void pr_block_prefer(const uint32_t *gens);

/* How own block B suits the calling thread's peer: 2 when the peer has
 * mapped it, 1 when no peer has, 0 when only others have; -1 when the
 * thread names no peer, or B is not an own block. */
int pr_block_for_peer(const struct pr_block *b);

/* Reads up to LEN bytes from FD into P as read() does.  Where P lies in
 * an own block and FD is a regular file, the bytes go into the block's
 * memory file (sendfile()) without this process touching its pages: the
 * first touch of a page through a mapping can cost as much as copying it
 * many times over (a 4 MiB block filled through the mapping: 10 ms; through
 * the file: 1-2 ms, on a VM whose host builds page tables lazily).  Uses
 * the memory file's offset: one thread at a time fills a block. */
ssize_t pr_data_read(int fd, void *p, size_t len);

/* The own block whose memory starts at P, or NULL. */
struct pr_block *pr_block_find(const void *p);

/* A peer's block B, held, becomes memory of a stage's own, as if from
 * host->alloc() (see reuse_input() in piperun-stage.h): until the stage
 * hands it on or back, pr_block_handed() finds it by its address. */
void pr_block_hand(struct pr_block *b);

/* The peer's block handed to a stage whose memory starts at P, or NULL;
 * with TAKE, the stage no longer has it (an item holds it, or it is let
 * go of). */
struct pr_block *pr_block_handed(const void *p, int take);

/* The own block numbered ID, or NULL. */
struct pr_block *pr_block_by_id(unsigned id);

/* Holds B once more. */
void pr_block_hold(struct pr_block *b);

/* Lets go of B once: a peer's block is given back to its owner. */
void pr_block_release(struct pr_block *b);

/* Lets go of B once, without giving a peer's block back: for the hold of
 * the connection that mapped it, and for lends the peer never returned. */
void pr_block_drop(struct pr_block *b);

/* A peer's block: MAP, SIZE bytes, mapped here, numbered ID by its owner,
 * held once, given back through HOME. */
struct pr_block *pr_block_peer(unsigned char *map, size_t size, unsigned id,
                               struct pr_mailbox *home);

/* A mailbox gathers the numbers of a peer's blocks given back by any
 * thread until the connection sends them. */
struct pr_mailbox *pr_mailbox_new(void);
/* Takes the numbers posted so far into IDS (up to MAX); returns the count. */
size_t pr_mailbox_take(struct pr_mailbox *m, uint32_t *ids, size_t max);
/* The connection is gone: later posts are dropped.  Lets go of M. */
void pr_mailbox_close(struct pr_mailbox *m);

/* The pool's own blocks: how many exist, and how many are in use. */
void pr_block_stats(unsigned *blocks, unsigned *busy);
/* Lets go of every free block, pages and all: for when no more items
 * will come for a while, such as at the end of a run. */
void pr_block_trim(void);

#endif
