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

int
pr_frame_send(int fd, uint32_t type, const struct pr_buf *meta, const void *data, size_t len)
{
	struct header h = { type, 0, meta ? meta->len : 0, len };
	struct iovec iov[3] = {
		{ &h, sizeof(h) },
		{ meta ? meta->p : NULL, meta ? meta->len : 0 },
		{ (void *)data, len },
	};
	struct iovec *v = iov;
	int n = 3;

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

int
pr_frame_recv(int fd, uint32_t *type, unsigned char **meta, size_t *meta_len,
              unsigned char **data, size_t *len)
{
	struct header h;
	int rc;

	*meta = *data = NULL;
	*meta_len = *len = 0;
	rc = read_full(fd, &h, sizeof(h));
	if (rc <= 0)
		return rc;
	if (h.meta_len > MAX_META || h.data_len > SIZE_MAX / 2)
		return -EPROTO;
	*meta = pr_malloc(h.meta_len);
	rc = read_full(fd, *meta, h.meta_len);
	if (rc < 0 || (rc == 0 && h.meta_len > 0))
		goto cut;
	if (h.data_len > 0) {
		*data = malloc(h.data_len);
		if (*data == NULL) {
			free(*meta);
			*meta = NULL;
			return -ENOMEM;
		}
		rc = read_full(fd, *data, h.data_len);
		if (rc <= 0)
			goto cut;
	}
	*type = h.type;
	*meta_len = h.meta_len;
	*len = h.data_len;
	return 1;
cut:
	free(*meta);
	free(*data);
	*meta = *data = NULL;
	return rc < 0 ? rc : -EPIPE;
}
