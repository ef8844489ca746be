/*
 * ipc.c: frames between piperun and its worker processes.
 */
#include "config.h"

#include <errno.h>
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
#define FLAG_SLOT    0x1u /* the data is in the sender's slot `slot` */
#define FLAG_NEWSLOT 0x2u /* that slot's descriptor comes with this frame */

struct header {
	uint32_t type;
	uint16_t flags;
	uint16_t slot;
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
}

void
pr_conn_free(struct pr_conn *c)
{
	for (unsigned i = 0; i < c->n_out_fds; i++)
		close(c->out_fds[i]);
	for (unsigned i = c->in_fds_head; i < c->in_fds_len; i++)
		close(c->in_fds[i]);
	for (int i = 0; i < PR_CONN_SLOTS; i++) {
		if (c->slots[i].map != NULL)
			munmap(c->slots[i].map, c->slots[i].size);
		if (c->peer[i].map != NULL)
			munmap(c->peer[i].map, c->peer[i].size);
	}
	free(c->out.p);
	free(c->in);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Writes all of the N iovecs at V; the slot descriptors waiting to be
 * sent go with the first bytes, and are closed here once sent (or not):
 * both ends keep only the mapping. */
static int
write_iov(struct pr_conn *c, struct iovec *v, int n)
{
	while (n > 0) {
		union {
			struct cmsghdr h;
			char space[CMSG_SPACE(sizeof(int) * PR_CONN_SLOTS)];
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

int
pr_conn_flush(struct pr_conn *c)
{
	struct iovec v = { c->out.p, c->out.len };
	int rc = c->out.len > 0 ? write_iov(c, &v, 1) : 0;

	c->out.len = 0;
	return rc;
}

/* Makes S a new memory file of SIZE bytes, mapped.  Returns its
 * descriptor, or -1. */
static int
slot_make(struct pr_slot *s, size_t size)
{
#ifdef HAVE_MEMFD_CREATE
	int fd = memfd_create("piperun-slot", MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    (p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		close(fd);
		return -1;
	}
	if (s->map != NULL)
		munmap(s->map, s->size);
	*s = (struct pr_slot){ .map = p, .size = size };
	return fd;
#else
	(void)s;
	(void)size;
	return -1;
#endif
}

/* Finds a free slot for LEN bytes: the smallest that is large enough, else
 * a new one in place of a free one.  Returns its index, or -1; *FD gets
 * the descriptor of a new slot, else -1. */
static int
slot_get(struct pr_conn *c, size_t len, int *fd)
{
	int best = -1, spare = -1;

	*fd = -1;
	for (int i = 0; i < PR_CONN_SLOTS; i++) {
		struct pr_slot *s = &c->slots[i];
		if (s->busy)
			continue;
		if (s->map != NULL && s->size >= len && (best < 0 || s->size < c->slots[best].size))
			best = i;
		/* For a new file: an unused slot, else the smallest free one. */
		if (s->map == NULL ? spare < 0 || c->slots[spare].map != NULL
		                   : spare < 0 || (c->slots[spare].map != NULL &&
		                                   s->size < c->slots[spare].size))
			spare = i;
	}
	if (best >= 0)
		return best;
	if (spare < 0)
		return -1;
	/* Whole MiBs, so that items of about one size share slots. */
	size_t size = (len + (1u << 20) - 1) & ~(size_t)((1u << 20) - 1);
	if ((*fd = slot_make(&c->slots[spare], size)) < 0)
		return -1;
	return spare;
}

int
pr_conn_send(struct pr_conn *c, uint32_t type, const struct pr_buf *meta, const void *data,
             size_t len)
{
	struct header h = { type, 0, 0, meta ? meta->len : 0, len };
	int rc, slot = -1, fd = -1;

	if (len >= PR_CONN_SHARED_MIN)
		slot = slot_get(c, len, &fd);
	if (slot >= 0) {
		struct pr_slot *s = &c->slots[slot];
		memcpy(s->map, data, len);
		s->busy = 1;
		h.flags = FLAG_SLOT;
		h.slot = (uint16_t)slot;
		if (fd >= 0) {
			h.flags |= FLAG_NEWSLOT;
			c->out_fds[c->n_out_fds++] = fd;
		}
		c->shared_bytes += len;
	}
	buf_put(&c->out, &h, sizeof(h));
	if (meta != NULL && meta->len > 0)
		buf_put(&c->out, meta->p, meta->len);
	if (slot >= 0 || len <= CONN_INLINE) {
		if (slot < 0 && len > 0)
			buf_put(&c->out, data, len);
		return c->out.len >= CONN_FLUSH ? pr_conn_flush(c) : 0;
	}
	/* A large item without a slot: what is queued, then its data straight
	 * from its buffer. */
	struct iovec v[2] = { { c->out.p, c->out.len }, { (void *)data, len } };
	rc = write_iov(c, v, 2);
	c->out.len = 0;
	return rc;
}

void
pr_conn_release(struct pr_conn *c, int slot)
{
	struct header h = { PR_FRAME_RELEASE, 0, 0, sizeof(uint64_t), 0 };
	uint64_t v = (uint64_t)slot;

	if (slot < 0)
		return;
	buf_put(&c->out, &h, sizeof(h));
	buf_put(&c->out, &v, sizeof(v));
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
		char space[CMSG_SPACE(sizeof(int) * PR_CONN_SLOTS)];
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
		int fds[PR_CONN_SLOTS];
		memcpy(fds, CMSG_DATA(h), n * sizeof(int));
		for (size_t i = 0; i < n; i++) {
			if (c->in_fds_len < sizeof(c->in_fds) / sizeof(c->in_fds[0]))
				c->in_fds[c->in_fds_len++] = fds[i];
			else {
				close(fds[i]);
				bad = 1;
			}
		}
	}
	if (bad || (m.msg_flags & MSG_CTRUNC))
		return -EPROTO; /* descriptors were lost */
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

/* The data of a frame that names the other end's slot H->slot: maps the
 * slot first when its descriptor came with the frame.  Returns 0 or a
 * negative errno. */
static int
peer_slot(struct pr_conn *c, const struct header *h, unsigned char **data)
{
	struct pr_slot *s;

	if (h->slot >= PR_CONN_SLOTS)
		return -EPROTO;
	s = &c->peer[h->slot];
	if (h->flags & FLAG_NEWSLOT) {
		struct stat st;
		void *p;
		int fd;
		if (c->in_fds_head == c->in_fds_len)
			return -EPROTO;
		fd = c->in_fds[c->in_fds_head++];
		if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
		    (p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
			close(fd);
			return -EPROTO;
		}
		close(fd);
		if (s->map != NULL)
			munmap(s->map, s->size);
		s->map = p;
		s->size = (size_t)st.st_size;
	}
	/* Data past the slot's end would fault on access. */
	if (s->map == NULL || h->data_len > s->size)
		return -EPROTO;
	*data = s->map;
	return 0;
}

int
pr_conn_recv(struct pr_conn *c, uint32_t *type, unsigned char **meta, size_t *meta_len,
             unsigned char **data, size_t *len, int *slot)
{
	struct header h;
	int rc;

	*meta = *data = NULL;
	*meta_len = *len = 0;
	*slot = -1;
	for (;;) {
		rc = conn_fill(c, sizeof(h));
		if (rc <= 0)
			return rc;
		memcpy(&h, c->in + c->in_pos, sizeof(h));
		if (h.meta_len > MAX_META || h.data_len > SIZE_MAX / 2 ||
		    (h.flags & ~(FLAG_SLOT | FLAG_NEWSLOT)) != 0 ||
		    (h.flags == FLAG_NEWSLOT))
			return -EPROTO;
		if (h.type != PR_FRAME_RELEASE)
			break;
		/* The other end is done with one of our slots. */
		uint64_t v;
		if (h.meta_len != sizeof(v) || h.data_len != 0)
			return -EPROTO;
		if ((rc = conn_fill(c, sizeof(h) + sizeof(v))) <= 0)
			return rc < 0 ? rc : -EPIPE;
		memcpy(&v, c->in + c->in_pos + sizeof(h), sizeof(v));
		c->in_pos += sizeof(h) + sizeof(v);
		if (v >= PR_CONN_SLOTS)
			return -EPROTO;
		c->slots[v].busy = 0;
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
	if (h.flags & FLAG_SLOT) {
		if ((rc = peer_slot(c, &h, data)) < 0) {
			free(*meta);
			*meta = NULL;
			*data = NULL;
			return rc;
		}
		*slot = h.slot;
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
