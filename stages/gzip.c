/*
 * gzip.c: the gzip stage: compresses an item with zlib into the gzip format
 * (gzip -d restores it), or with `decompress: true` restores gzip data,
 * several members one after the other included, as gzip -dc does.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "stages/stages.h"

struct gzip_state {
	int level;
	int decompress;
};

static int
gzip_open(const struct piperun_host *host, struct piperun_opts *opts, void **state)
{
	struct gzip_state *g;
	long long level = 6;
	int decompress = 0;

	if (host->opt_int(opts, "level", 0, 9, &level) < 0 ||
	    host->opt_bool(opts, "decompress", &decompress) < 0)
		return -1;
	g = malloc(sizeof(*g));
	if (g == NULL) {
		host->open_error(opts, "out of memory");
		return -1;
	}
	g->level = (int)level;
	g->decompress = decompress;
	*state = g;
	return 0;
}

static void
gzip_close(void *state)
{
	free(state);
}

/* Makes room for at least one more byte in BUF (of *CAP bytes). */
static unsigned char *
grow(const struct piperun_host *host, unsigned char *buf, size_t *cap)
{
	size_t bigger = *cap < 4096 ? 4096 : *cap * 2;
	unsigned char *p = host->resize(buf, bigger);

	if (p != NULL)
		*cap = bigger;
	return p;
}

/* The output is made in a buffer of this size and moved over the input
 * read so far, when the stage may write over its input. */
#define BOUNCE (64 * 1024)

static int
compress_item(const struct gzip_state *g, const struct piperun_host *host,
              const struct piperun_item *item, struct piperun_out *out)
{
	z_stream z;
	unsigned char *buf = NULL, *input = NULL, *bounce = NULL;
	size_t cap, len = 0;
	int rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, g->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		host->item_error(out, "zlib: cannot start compressing");
		return -1;
	}
	cap = deflateBound(&z, item->len) + 32;
	/* A large item is compressed over itself, where it lies, sparing the
	 * memory (and in a worker process, the pages) of a result as large as
	 * the item: zlib copies what it reads into a window of its own, so the
	 * bytes it has read may be written over.  Should the output catch up
	 * with the input (data that does not compress), the rest goes to
	 * memory of the stage's own. */
	if (item->len >= BOUNCE && (host->abi & 0xffffu) >= 3 && host->reuse_input != NULL &&
	    (bounce = malloc(BOUNCE)) != NULL &&
	    (input = host->reuse_input(out, item->len)) == NULL) {
		free(bounce);
		bounce = NULL;
	}
	buf = input != NULL ? input : host->alloc(cap);
	if (buf == NULL) {
		deflateEnd(&z);
		host->item_error(out, "out of memory");
		return -1;
	}
	/* deflateBound() is enough for one call, but uInt limits each call. */
	z.next_in = (unsigned char *)item->data;
	do {
		size_t in_left = item->len - (size_t)((const unsigned char *)z.next_in - item->data);
		z.avail_in = in_left > 1u << 30 ? 1u << 30 : (uInt)in_left;
		if (bounce != NULL) {
			z.next_out = bounce;
			z.avail_out = BOUNCE;
		} else {
			size_t out_left = cap - len;
			z.next_out = buf + len;
			z.avail_out = out_left > 1u << 30 ? 1u << 30 : (uInt)out_left;
		}
		rc = deflate(&z, in_left > z.avail_in ? Z_NO_FLUSH : Z_FINISH);
		if (bounce == NULL) {
			len = (size_t)(z.next_out - buf);
			continue;
		}
		size_t made = BOUNCE - z.avail_out;
		size_t read = (size_t)((const unsigned char *)z.next_in - item->data);
		if (len + made > read) {
			unsigned char *own = host->alloc(cap);
			if (own == NULL) {
				rc = Z_MEM_ERROR;
				break;
			}
			memcpy(own, buf, len);
			buf = own;
		}
		memcpy(buf + len, bounce, made);
		len += made;
		if (buf != input) {
			free(bounce);
			bounce = NULL;
		}
	} while (rc == Z_OK || rc == Z_BUF_ERROR);
	deflateEnd(&z);
	free(bounce);
	if (input != NULL && input != buf)
		host->release(input);
	if (rc != Z_STREAM_END) {
		host->release(buf);
		host->item_error(out, rc == Z_MEM_ERROR ? "out of memory" : "zlib: compression failed");
		return -1;
	}
	return host->emit_owned(out, NULL, buf, len);
}

static int
decompress_item(const struct piperun_host *host, const struct piperun_item *item,
                struct piperun_out *out)
{
	z_stream z;
	unsigned char *buf = NULL;
	size_t cap = 0, len = 0, used = 0;
	int rc = Z_OK;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK) {
		host->item_error(out, "zlib: cannot start decompressing");
		return -1;
	}
	if (item->len == 0) {
		inflateEnd(&z);
		host->item_error(out, "corrupt gzip data: the item is empty");
		return -1;
	}
	for (;;) {
		size_t in_left = item->len - used;
		if (len == cap && (buf = grow(host, buf, &cap)) == NULL) {
			inflateEnd(&z);
			host->item_error(out, "out of memory");
			return -1;
		}
		z.next_in = (unsigned char *)item->data + used;
		z.avail_in = in_left > 1u << 30 ? 1u << 30 : (uInt)in_left;
		z.next_out = buf + len;
		z.avail_out = cap - len > 1u << 30 ? 1u << 30 : (uInt)(cap - len);
		rc = inflate(&z, Z_NO_FLUSH);
		used = (size_t)(z.next_in - item->data);
		len = (size_t)(z.next_out - buf);
		if (rc == Z_STREAM_END) {
			size_t z_pad = used;
			while (z_pad < item->len && item->data[z_pad] == 0)
				z_pad++;
			/* Zero bytes after the last member are padding, as gzip -dc
			 * takes them. */
			if (used == item->len || z_pad == item->len)
				break;
			/* Another member follows, as gzip -dc reads them all. */
			if ((rc = inflateReset(&z)) != Z_OK)
				break;
			continue;
		}
		if (rc == Z_BUF_ERROR && z.avail_out == 0)
			continue; /* wants more room */
		if (rc == Z_OK && (used < item->len || z.avail_out == 0))
			continue;
		if (rc == Z_OK)
			rc = Z_BUF_ERROR; /* the data ended inside a member */
		break;
	}
	if (rc != Z_STREAM_END) {
		host->item_error(out, "corrupt gzip data: %s",
		                 z.msg != NULL ? z.msg : rc == Z_BUF_ERROR ? "unexpected end" : "invalid");
		inflateEnd(&z);
		host->release(buf);
		return -1;
	}
	inflateEnd(&z);
	return host->emit_owned(out, NULL, buf, len);
}

static int
gzip_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
             struct piperun_out *out)
{
	const struct gzip_state *g = state;

	return g->decompress ? decompress_item(host, item, out) : compress_item(g, host, item, out);
}

const struct piperun_stage pr_stage_gzip = {
	PIPERUN_STAGE_HEADER,
	.name = "gzip",
	.summary = "compress with zlib into gzip format (decompress: restore it)",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_CPU,
	.open = gzip_open,
	.process = gzip_process,
	.close = gzip_close,
};
