/*
 * ipc.c: frames between piperun and its worker processes.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "runner/ipc.h"
#include "runner/util.h"

#define NULL_STRING UINT64_MAX
#define MAX_META    (1u << 20)

struct header {
	uint32_t type;
	uint32_t pad;
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
	free(c->out.p);
	free(c->in);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Writes all of the N iovecs at V. */
static int
write_iov(int fd, struct iovec *v, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, v, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
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
	int rc = c->out.len > 0 ? write_iov(c->fd, &v, 1) : 0;

	c->out.len = 0;
	return rc;
}

int
pr_conn_send(struct pr_conn *c, uint32_t type, const struct pr_buf *meta, const void *data,
             size_t len)
{
	struct header h = { type, 0, meta ? meta->len : 0, len };
	int rc;

	buf_put(&c->out, &h, sizeof(h));
	if (meta != NULL && meta->len > 0)
		buf_put(&c->out, meta->p, meta->len);
	if (len <= CONN_INLINE) {
		if (len > 0)
			buf_put(&c->out, data, len);
		return c->out.len >= CONN_FLUSH ? pr_conn_flush(c) : 0;
	}
	/* A large item: what is queued, then its data straight from its buffer. */
	struct iovec v[2] = { { c->out.p, c->out.len }, { (void *)data, len } };
	rc = write_iov(c->fd, v, 2);
	c->out.len = 0;
	return rc;
}

size_t
pr_conn_buffered(const struct pr_conn *c)
{
	return c->in_len - c->in_pos;
}

/* Reads exactly LEN bytes; 1, 0 at end of file before any byte, or a
 * negative errno (-EPIPE for a frame cut short). */
static int
read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, p + got, len - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
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
		ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return c->in_len == c->in_pos ? 0 : -EPIPE;
		c->in_len += (size_t)r;
	}
	return 1;
}

int
pr_conn_recv(struct pr_conn *c, uint32_t *type, unsigned char **meta, size_t *meta_len,
             unsigned char **data, size_t *len)
{
	struct header h;
	int rc;

	*meta = *data = NULL;
	*meta_len = *len = 0;
	rc = conn_fill(c, sizeof(h));
	if (rc <= 0)
		return rc;
	memcpy(&h, c->in + c->in_pos, sizeof(h));
	if (h.meta_len > MAX_META || h.data_len > SIZE_MAX / 2)
		return -EPROTO;
	c->in_pos += sizeof(h);
	if (h.meta_len > 0 && (rc = conn_fill(c, h.meta_len)) <= 0)
		return rc < 0 ? rc : -EPIPE;
	*meta = pr_malloc(h.meta_len);
	if (h.meta_len > 0)
		memcpy(*meta, c->in + c->in_pos, h.meta_len);
	c->in_pos += h.meta_len;
	if (h.data_len > 0) {
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
		rc = have < h.data_len ? read_full(c->fd, *data + have, h.data_len - have) : 1;
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
