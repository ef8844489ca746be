/*
 * ipc.c: frames between piperun and its worker processes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "runner/ipc.h"
#include "runner/util.h"

#define NULL_STRING UINT64_MAX
#define MAX_META    (1u << 20)

/* Header flags. */
#define FLAG_BLOCK    0x1u /* the data is in the sender's block `block` */
#define FLAG_NEWBLOCK 0x2u /* that block's descriptor comes with this frame */
#define FLAG_OWNBLOCK 0x4u /* the data is in the receiver's block `block`, lent */

struct header {
	uint32_t type;
	uint16_t flags;
	uint16_t block;
	uint64_t meta_len;
	uint64_t data_len;
};

static void
buf_put(struct pr_buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n + 64;
		b->p = pr_reallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
pr_buf_u64(struct pr_buf *b, uint64_t v)
{
	buf_put(b, &v, sizeof(v));
}

void
pr_buf_str(struct pr_buf *b, const char *s)
{
	pr_buf_u64(b, s == NULL ? NULL_STRING : strlen(s));
	if (s != NULL)
		buf_put(b, s, strlen(s));
}

int
pr_rd_u64(struct pr_rd *r, uint64_t *v)
{
	if (r->left < sizeof(*v))
		return -1;
	memcpy(v, r->p, sizeof(*v));
	r->p += sizeof(*v);
	r->left -= sizeof(*v);
	return 0;
}

int
pr_rd_str(struct pr_rd *r, char **s)
{
	uint64_t n;

	if (pr_rd_u64(r, &n) < 0)
		return -1;
	if (n == NULL_STRING) {
		*s = NULL;
		return 0;
	}
	if (n > r->left)
		return -1;
	*s = pr_strndup((const char *)r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

#define CONN_READ   (256 * 1024) /* bytes one read may take */
#define CONN_INLINE 4096         /* data up to this size is copied into the buffer */
#define CONN_FLUSH  (64 * 1024)  /* the write buffer is written past this */

void
pr_conn_init(struct pr_conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->mail = pr_mailbox_new();
}

/* Frees C; with PEER_GONE, the lends the peer did not give back are let
 * go of too, else they stay held. */
static void
conn_free(struct pr_conn *c, int peer_gone)
{
	for (unsigned i = 0; i < c->n_out_fds; i++)
		close(c->out_fds[i]);
	for (size_t i = c->in_fds_head; i < c->in_fds_len; i++)
		close(c->in_fds[i]);
	for (unsigned i = 0; i < PR_BLOCK_IDS; i++) {
		if (c->peer[i] != NULL)
			pr_block_drop(c->peer[i]);
		/* Lends a peer that is gone will never give back. */
		struct pr_block *b = peer_gone && c->lent[i] > 0 ? pr_block_by_id(i) : NULL;
		for (; b != NULL && c->lent[i] > 0; c->lent[i]--)
			pr_block_drop(b);
	}
	if (c->mail != NULL)
		pr_mailbox_close(c->mail);
	free(c->out.p);
	free(c->in);
	free(c->in_fds);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void
pr_conn_free(struct pr_conn *c)
{
	conn_free(c, 1);
}

void
pr_conn_end(struct pr_conn *c)
{
	conn_free(c, 0);
}

/* Writes all of the N iovecs at V; the block descriptors waiting to be
 * sent go with the first bytes, and the copies here are closed once sent
 * (or not). */
static int
write_iov(struct pr_conn *c, struct iovec *v, int n)
{
	while (n > 0) {
		union {
			struct cmsghdr h;
			char space[CMSG_SPACE(sizeof(int) * PR_CONN_FDS)];
		} ctl;
		struct msghdr m = { .msg_iov = v, .msg_iovlen = (size_t)n };
		ssize_t w;

		if (c->n_out_fds > 0) {
			memset(&ctl, 0, sizeof(ctl));
			m.msg_control = ctl.space;
			m.msg_controllen = CMSG_SPACE(sizeof(int) * c->n_out_fds);
			struct cmsghdr *h = CMSG_FIRSTHDR(&m);
			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(sizeof(int) * c->n_out_fds);
			memcpy(CMSG_DATA(h), c->out_fds, sizeof(int) * c->n_out_fds);
		}
		w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		for (unsigned i = 0; i < c->n_out_fds; i++)
			close(c->out_fds[i]);
		c->n_out_fds = 0;
		if (w < 0)
			return -errno;
		c->sent_bytes += (uint64_t)w;
		while (n > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Queues a frame that gives back the peer's blocks let go of so far. */
static void
give_back(struct pr_conn *c)
{
	uint32_t ids[64];
	size_t n;

	while ((n = pr_mailbox_take(c->mail, ids, 64)) > 0) {
		struct header h = { PR_FRAME_RELEASE, 0, 0, n * sizeof(uint64_t), 0 };
		buf_put(&c->out, &h, sizeof(h));
		for (size_t i = 0; i < n; i++)
			pr_buf_u64(&c->out, ids[i]);
	}
}

int
pr_conn_flush(struct pr_conn *c)
{
	give_back(c);

	struct iovec v = { c->out.p, c->out.len };
	int rc = c->out.len > 0 ? write_iov(c, &v, 1) : 0;

	c->out.len = 0;
	return rc;
}

/* Lends own block B to the peer for the frame H: the block's descriptor
 * goes along the first time.  Returns 0, or -1 when it cannot go. */
static int
lend(struct pr_conn *c, struct pr_block *b, struct header *h)
{
	h->flags = FLAG_BLOCK;
	h->block = (uint16_t)b->id;
	if (c->sent_gen[b->id] != b->gen + 1) {
		if (c->n_out_fds == PR_CONN_FDS && pr_conn_flush(c) < 0)
			return -1;
		int fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		c->out_fds[c->n_out_fds++] = fd;
		c->sent_gen[b->id] = b->gen + 1;
		h->flags |= FLAG_NEWBLOCK;
		atomic_fetch_add(&b->peers, 1);
	}
	pr_block_hold(b);
	c->lent[b->id]++;
	return 0;
}

int
pr_conn_send(struct pr_conn *c, uint32_t type, const struct pr_buf *meta, const void *data,
             size_t len, struct pr_block *block)
{
	struct header h = { type, 0, 0, meta ? meta->len : 0, len };
	int rc, lent = 0;

	if (len >= PR_BLOCK_MIN) {
		if (block != NULL && block->home == NULL && block->map == data && len <= block->size) {
			lent = lend(c, block, &h) == 0;
		} else if (block != NULL && block->home == c->mail && block->map == data &&
		           len <= block->size) {
			/* The peer's own block, which it lent: the data goes back
			 * where it is (the lend itself is given back as usual). */
			h.flags = FLAG_OWNBLOCK;
			h.block = (uint16_t)block->id;
			lent = 1;
		} else if ((block = pr_block_alloc(len)) != NULL) {
			/* Copied into a block that only the lend holds. */
			memcpy(block->map, data, len);
			lent = lend(c, block, &h) == 0;
			pr_block_drop(block);
			if (lent)
				c->copied_bytes += len;
		}
		if (lent)
			c->shared_bytes += len;
		else
			h.flags = 0;
	}
	buf_put(&c->out, &h, sizeof(h));
	if (meta != NULL && meta->len > 0)
		buf_put(&c->out, meta->p, meta->len);
	if (lent || len <= CONN_INLINE) {
		if (!lent && len > 0)
			buf_put(&c->out, data, len);
		return c->out.len >= CONN_FLUSH ? pr_conn_flush(c) : 0;
	}
	/* A large item without a block: what is queued, then its data straight
	 * from its buffer (nothing may come between its header and its data). */
	struct iovec v[2] = { { c->out.p, c->out.len }, { (void *)data, len } };
	rc = write_iov(c, v, 2);
	c->out.len = 0;
	return rc;
}

size_t
pr_conn_buffered(const struct pr_conn *c)
{
	return c->in_len - c->in_pos;
}

/* Reads up to LEN bytes into BUF, keeping any descriptors that come with
 * them.  Returns the count, 0 at end of file, or a negative errno. */
static ssize_t
read_some(struct pr_conn *c, void *buf, size_t len)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * PR_CONN_FDS)];
	} ctl;
	struct iovec v = { buf, len };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl.space,
		            .msg_controllen = sizeof(ctl.space) };
	ssize_t r;
	int bad = 0;

	do
		r = recvmsg(c->fd, &m, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (c->in_fds_head == c->in_fds_len)
		c->in_fds_head = c->in_fds_len = 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h != NULL; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fds[PR_CONN_FDS];
		if (n > PR_CONN_FDS)
			n = PR_CONN_FDS; /* cannot be: ctl holds no more */
		memcpy(fds, CMSG_DATA(h), n * sizeof(int));
		for (size_t i = 0; i < n; i++) {
			/* A peer sends each block's descriptor once per file. */
			if (c->in_fds_len - c->in_fds_head >= 2 * PR_BLOCK_IDS) {
				close(fds[i]);
				bad = 1;
				continue;
			}
			if (c->in_fds_len == c->in_fds_cap) {
				c->in_fds_cap = c->in_fds_cap ? 2 * c->in_fds_cap : PR_CONN_FDS;
				c->in_fds = pr_reallocarray(c->in_fds, c->in_fds_cap, sizeof(int));
			}
			c->in_fds[c->in_fds_len++] = fds[i];
		}
	}
	if (bad || (m.msg_flags & MSG_CTRUNC))
		return -EPROTO; /* descriptors were lost */ /* descriptors were lost */
	return r;
}

/* Reads exactly LEN bytes; 1, 0 at end of file before any byte, or a
 * negative errno (-EPIPE for a frame cut short). */
static int
read_full(struct pr_conn *c, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t r = read_some(c, p + got, len - got);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return got == 0 ? 0 : -EPIPE;
		got += (size_t)r;
	}
	return 1;
}

/* Makes at least NEED bytes available in the read buffer.  Returns 1, 0 at
 * end of file before any byte, or a negative errno (-EPIPE: cut short). */
static int
conn_fill(struct pr_conn *c, size_t need)
{
	if (c->in_pos > 0 && c->in_len - c->in_pos < need) {
		memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
		c->in_len -= c->in_pos;
		c->in_pos = 0;
	}
	if (c->in_cap < need || c->in_cap < CONN_READ) {
		c->in_cap = need > CONN_READ ? need : CONN_READ;
		c->in = pr_reallocarray(c->in, c->in_cap, 1);
	}
	while (c->in_len - c->in_pos < need) {
		ssize_t r = read_some(c, c->in + c->in_len, c->in_cap - c->in_len);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return c->in_len == c->in_pos ? 0 : -EPIPE;
		c->in_len += (size_t)r;
	}
	return 1;
}

/* The data of a frame that names the other end's block H->block: maps
 * the block first when its descriptor came with the frame.  Returns 0,
 * the block held for the caller in *B, or a negative errno. */
static int
peer_block(struct pr_conn *c, const struct header *h, unsigned char **data, struct pr_block **b)
{
	if (h->block >= PR_BLOCK_IDS)
		return -EPROTO;
	if (h->flags & FLAG_NEWBLOCK) {
		struct stat st;
		void *p;
		int fd;
		if (c->in_fds_head == c->in_fds_len)
			return -EPROTO;
		fd = c->in_fds[c->in_fds_head++];
		/* Writable: a stage may write its result over an input it
		 * takes (piperun-stage.h, reuse_input()). */
		if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
		    (p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		              0)) == MAP_FAILED) {
			close(fd);
			return -EPROTO;
		}
		close(fd);
		/* Items may still hold the file this id had before. */
		if (c->peer[h->block] != NULL)
			pr_block_drop(c->peer[h->block]);
		c->peer[h->block] = pr_block_peer(p, (size_t)st.st_size, h->block, c->mail);
	}
	/* Data past the block's end would fault on access. */
	if (c->peer[h->block] == NULL || h->data_len > c->peer[h->block]->size)
		return -EPROTO;
	*b = c->peer[h->block];
	pr_block_hold(*b);
	*data = (*b)->map;
	return 0;
}

/* The data of a frame that names our own block H->block, lent to the
 * other end, which wrote its result there.  Returns 0, the block held for
 * the caller in *B, or a negative errno. */
static int
own_block(struct pr_conn *c, const struct header *h, unsigned char **data, struct pr_block **b)
{
	if (h->block >= PR_BLOCK_IDS || c->lent[h->block] == 0 ||
	    (*b = pr_block_by_id(h->block)) == NULL || h->data_len > (*b)->size)
		return -EPROTO;
	pr_block_hold(*b);
	*data = (*b)->map;
	return 0;
}

/* Takes back the blocks a RELEASE frame of META_LEN bytes at P names. */
static int
taken_back(struct pr_conn *c, const unsigned char *p, size_t meta_len)
{
	for (size_t off = 0; off + sizeof(uint64_t) <= meta_len; off += sizeof(uint64_t)) {
		uint64_t id;
		struct pr_block *b;
		memcpy(&id, p + off, sizeof(id));
		if (id >= PR_BLOCK_IDS || c->lent[id] == 0 || (b = pr_block_by_id((unsigned)id)) == NULL)
			return -EPROTO;
		c->lent[id]--;
		pr_block_drop(b);
	}
	return 0;
}

int
pr_conn_recv(struct pr_conn *c, uint32_t *type, unsigned char **meta, size_t *meta_len,
             unsigned char **data, size_t *len, struct pr_block **block)
{
	struct header h;
	int rc;

	*meta = *data = NULL;
	*meta_len = *len = 0;
	*block = NULL;
	for (;;) {
		rc = conn_fill(c, sizeof(h));
		if (rc <= 0)
			return rc;
		memcpy(&h, c->in + c->in_pos, sizeof(h));
		if (h.meta_len > MAX_META || h.data_len > SIZE_MAX / 2 ||
		    (h.flags != 0 && h.flags != FLAG_BLOCK && h.flags != (FLAG_BLOCK | FLAG_NEWBLOCK) &&
		     h.flags != FLAG_OWNBLOCK))
			return -EPROTO;
		if (h.type != PR_FRAME_RELEASE)
			break;
		/* The other end is done with some of our blocks. */
		if (h.meta_len % sizeof(uint64_t) != 0 || h.data_len != 0 || h.flags != 0)
			return -EPROTO;
		if ((rc = conn_fill(c, sizeof(h) + h.meta_len)) <= 0)
			return rc < 0 ? rc : -EPIPE;
		if ((rc = taken_back(c, c->in + c->in_pos + sizeof(h), h.meta_len)) < 0)
			return rc;
		c->in_pos += sizeof(h) + h.meta_len;
		if (pr_conn_buffered(c) == 0)
			return 2;
	}
	c->in_pos += sizeof(h);
	if (h.meta_len > 0 && (rc = conn_fill(c, h.meta_len)) <= 0)
		return rc < 0 ? rc : -EPIPE;
	*meta = pr_malloc(h.meta_len);
	if (h.meta_len > 0)
		memcpy(*meta, c->in + c->in_pos, h.meta_len);
	c->in_pos += h.meta_len;
	if (h.flags & (FLAG_BLOCK | FLAG_OWNBLOCK)) {
		rc = h.flags & FLAG_BLOCK ? peer_block(c, &h, data, block) : own_block(c, &h, data, block);
		if (rc < 0) {
			free(*meta);
			*meta = NULL;
			*data = NULL;
			return rc;
		}
	} else if (h.data_len > 0) {
		size_t have = c->in_len - c->in_pos;
		*data = malloc(h.data_len);
		if (*data == NULL) {
			free(*meta);
			*meta = NULL;
			return -ENOMEM;
		}
		/* What the buffer holds, then the rest straight from the socket. */
		if (have > h.data_len)
			have = h.data_len;
		memcpy(*data, c->in + c->in_pos, have);
		c->in_pos += have;
		rc = have < h.data_len ? read_full(c, *data + have, h.data_len - have) : 1;
		if (rc <= 0) {
			free(*meta);
			free(*data);
			*meta = *data = NULL;
			return rc < 0 ? rc : -EPIPE;
		}
	}
	*type = h.type;
	*meta_len = h.meta_len;
	*len = h.data_len;
	return 1;
}
