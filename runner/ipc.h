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

enum pr_frame_type {
	PR_FRAME_HELLO = 1, /* parent: meta = file name, stage index; data = the pipeline text */
	PR_FRAME_READY,     /* worker: the stage is open */
	PR_FRAME_REFUSED,   /* worker: meta = why the stage could not open */
	PR_FRAME_ITEM,      /* parent: meta = seq, name, path; data = the item */
	PR_FRAME_OUT,       /* worker: meta = name; data = one item emitted */
	PR_FRAME_DONE,      /* worker: meta = status, busy microseconds, message */
	PR_FRAME_RELEASE,   /* either: meta = a slot given back; pr_conn's own */
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
 * A large item's bytes (PR_CONN_SHARED_MIN and more) do not go through the
 * socket: the sender copies them into one of its slots, memory files
 * (memfd) mapped by both ends, and the frame names the slot.  A slot's
 * descriptor travels once, with the first frame that uses it; after that
 * both ends keep it mapped and its pages stay in place, so a large item
 * costs one copy, not two through the kernel's socket buffers.  The
 * receiver reads the bytes where they are and gives the slot back with
 * pr_conn_release().  With every slot busy, data goes through the socket.
 */
#define PR_CONN_SHARED_MIN (64 * 1024)
#define PR_CONN_SLOTS      8 /* per direction */

struct pr_slot {
	unsigned char *map; /* NULL: none */
	size_t size;
	int busy; /* the sender's: in use until the receiver releases it */
};

struct pr_conn {
	int fd;
	struct pr_buf out;                       /* frames not written yet */
	int out_fds[PR_CONN_SLOTS];              /* slot descriptors to go with them */
	unsigned n_out_fds;
	unsigned char *in;                       /* bytes read, from in_pos to in_len */
	size_t in_pos, in_len, in_cap;
	int in_fds[PR_CONN_SLOTS * 2];           /* descriptors received, not taken yet */
	unsigned in_fds_head, in_fds_len;
	struct pr_slot slots[PR_CONN_SLOTS];     /* ours, for what we send */
	struct pr_slot peer[PR_CONN_SLOTS];      /* the other end's, mapped here */
	uint64_t sent_bytes;                     /* written to the socket, for tests */
	uint64_t shared_bytes;                   /* sent through slots, for tests */
};

void pr_conn_init(struct pr_conn *c, int fd);
/* Frees the buffers; the descriptor stays the caller's. */
void pr_conn_free(struct pr_conn *c);

/* Queues a frame; a large item's data is copied into a slot, or, with
 * every slot busy, written at once, without a copy.  Returns 0 or a
 * negative errno. */
int pr_conn_send(struct pr_conn *c, uint32_t type, const struct pr_buf *meta, const void *data,
                 size_t len);

/* Gives back the slot SLOT received data came in (see pr_conn_recv()); the
 * other end learns it with the next flush. */
void pr_conn_release(struct pr_conn *c, int slot);

/* Writes every queued frame.  Returns 0 or a negative errno. */
int pr_conn_flush(struct pr_conn *c);

/* Reads the next frame into new buffers (the caller frees *META and *DATA;
 * *DATA is NULL for no data), and sets *SLOT to -1.  Data that came in a
 * slot is not copied: *DATA points into the slot, *SLOT names it, and the
 * caller reads it there, then calls pr_conn_release().  Returns 1; 2 when
 * only the other end's slot releases came, and no frame for the caller
 * (the caller may wait for the socket, then call again); 0 at end of file,
 * or a negative errno. */
int pr_conn_recv(struct pr_conn *c, uint32_t *type, unsigned char **meta, size_t *meta_len,
                 unsigned char **data, size_t *len, int *slot);

/* The bytes read from the socket and not yet taken as frames. */
size_t pr_conn_buffered(const struct pr_conn *c);

#endif
