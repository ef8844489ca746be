/*
 * ipc.h: frames between piperun and its worker processes.
 *
 * A frame is a header (type, length of the metadata, length of the data),
 * the metadata (small numbers and strings, encoded with pr_buf) and the
 * data (an item's bytes), so an item's bytes are written from and read into
 * their own buffers without an extra copy.
 */
#ifndef PR_IPC_H
#define PR_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "runner/block.h"

enum pr_frame_type {
	PR_FRAME_HELLO = 1, /* parent: meta = file name, stage index; data = the pipeline text */
	PR_FRAME_READY,     /* worker: the stage is open */
	PR_FRAME_REFUSED,   /* worker: meta = why the stage could not open */
	PR_FRAME_ITEM,      /* parent: meta = seq, name, path; data = the item */
	PR_FRAME_OUT,       /* worker: meta = name; data = one item emitted */
	PR_FRAME_DONE,      /* worker: meta = status, busy microseconds, message */
	PR_FRAME_RELEASE,   /* either: meta = blocks given back; pr_conn's own */
};

/* A growable buffer for metadata. */
struct pr_buf {
	unsigned char *p;
	size_t len, cap;
};

void pr_buf_u64(struct pr_buf *b, uint64_t v);
/* A string, or NULL (kept apart from ""). */
void pr_buf_str(struct pr_buf *b, const char *s);

/* Reads metadata back; each returns 0, or -1 when the metadata ends early. */
struct pr_rd {
	const unsigned char *p;
	size_t left;
};
int pr_rd_u64(struct pr_rd *r, uint64_t *v);
/* Returns a copy (the caller frees it), NULL for a NULL string. */
int pr_rd_str(struct pr_rd *r, char **s);

/*
 * One end of a socket to or from a worker, buffered both ways: small frames
 * gather in the write buffer until pr_conn_flush() (or until it is full),
 * and reads take as much as the socket holds, so a batch of small items
 * costs a few system calls, not a few per item.
 *
 * A large item's bytes (PR_BLOCK_MIN and more) do not go through the
 * socket: they are in a shared block (see block.h), or are copied into
 * one, and the frame names the block.  The block's descriptor travels
 * once, with the first frame that uses it; after that both ends keep it
 * mapped.  The sender lends the block until the receiver gives it back,
 * which happens on its own when the receiver lets go of it: the numbers
 * of given-back blocks gather in the connection's mailbox, from any
 * thread, and go with the next flush.  Data the receiver wrote into a
 * block it was lent (a result over its input) goes back in that block,
 * which the sender finds where it lent it.  With no block to be had, data
 * goes through the socket.
 */
#define PR_CONN_FDS 16 /* descriptors one write may carry */

struct pr_mailbox;

struct pr_conn {
	int fd;
	struct pr_buf out;                    /* frames not written yet */
	int out_fds[PR_CONN_FDS];             /* block descriptors to go with them */
	unsigned n_out_fds;
	unsigned char *in;                    /* bytes read, from in_pos to in_len */
	size_t in_pos, in_len, in_cap;
	int *in_fds;                          /* descriptors received, not taken yet */
	size_t in_fds_head, in_fds_len, in_fds_cap;
	struct pr_mailbox *mail;              /* the peer's blocks let go of here */
	struct pr_block *peer[PR_BLOCK_IDS];  /* the peer's blocks, mapped here */
	uint32_t sent_gen[PR_BLOCK_IDS];      /* per own block: gen + 1 of the file the peer has */
	uint32_t lent[PR_BLOCK_IDS];          /* per own block: lends not given back yet */
	uint64_t sent_bytes;                  /* written to the socket, for tests */
	uint64_t shared_bytes;                /* sent in blocks, for tests */
	uint64_t copied_bytes;                /* copied into blocks to be sent, for tests */
};

void pr_conn_init(struct pr_conn *c, int fd);
/* Frees the buffers, and lets go of the peer's blocks and of the lends the
 * peer did not give back: for a peer that is gone.  The descriptor stays
 * the caller's. */
void pr_conn_free(struct pr_conn *c);
/* As pr_conn_free(), for a process about to exit while its peer goes on:
 * the peer may still read the blocks lent to it, which no release will
 * give back any more, so they stay held, never reused nor emptied (see
 * pr_block_drop()), and their pages last as long as the peer maps them. */
void pr_conn_end(struct pr_conn *c);

/* Queues a frame.  Large data in BLOCK (which may be NULL), an own block
 * starting at DATA, is lent without a copy; other large data is copied
 * into a block, or, with none to be had, written at once, without a copy.
 * Returns 0 or a negative errno. */
int pr_conn_send(struct pr_conn *c, uint32_t type, const struct pr_buf *meta, const void *data,
                 size_t len, struct pr_block *block);

/* Writes every queued frame, and the blocks given back.  Returns 0 or a
 * negative errno. */
int pr_conn_flush(struct pr_conn *c);

/* Reads the next frame into new buffers (the caller frees *META and *DATA;
 * *DATA is NULL for no data), and sets *BLOCK to NULL.  Data that came in
 * a block is not copied: *DATA points into the block, *BLOCK is held for
 * the caller, who reads the data there and lets go of it with
 * pr_block_release() (or gives it to an item).  Returns 1; 2 when only the
 * other end's block releases came, and no frame for the caller (the
 * caller may wait for the socket, then call again); 0 at end of file, or
 * a negative errno. */
int pr_conn_recv(struct pr_conn *c, uint32_t *type, unsigned char **meta, size_t *meta_len,
                 unsigned char **data, size_t *len, struct pr_block **block);

/* The bytes read from the socket and not yet taken as frames. */
size_t pr_conn_buffered(const struct pr_conn *c);

#endif
