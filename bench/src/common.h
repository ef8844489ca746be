/*
 * common.h: code shared by the single-threaded C reference (ref.c), the
 * oneTBB peer (tbb_peer.cpp) and the hand-written layouts (layouts.c), so
 * that all run exactly the same kernels and differ only in how the work is
 * scheduled.
 *
 * bench_clean() is the "clean" transform of SPEC section 5, byte-exact:
 * per line, A-Z lowercased, every byte other than [a-z0-9] made a space,
 * runs of spaces squeezed, leading and trailing spaces trimmed, empty lines
 * dropped, each remaining line written with "\n".  It is one loop over the
 * bytes with a 256-entry table and no data-dependent branch (the same
 * method as piperun's clean stage, so that the reference is a floor for the
 * same work), nothing vectorised by hand.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#ifdef __cplusplus
extern "C" {
#endif

static unsigned char bench_clean_table[256];

static inline void
bench_clean_init(void)
{
	for (int c = 0; c < 256; c++) {
		unsigned char m = '\n'; /* not part of a word */
		if (c >= 'A' && c <= 'Z')
			m = (unsigned char)(c + ('a' - 'A'));
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			m = (unsigned char)c;
		bench_clean_table[c] = m;
	}
}

/* Sets up a peer: the clean table, and glibc's malloc told to reuse freed
 * buffers of a few MiB rather than unmap them and fault them in again, as
 * piperun does for itself (runner/util.c), so that the floor and the
 * oneTBB peer do not pay page faults piperun avoids. */
static inline void
bench_init(void)
{
	bench_clean_init();
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

/* Cleans IN[0..LEN) into OUT, which must hold LEN + 1 bytes; returns the
 * length written.  bench_clean_init() must have run. */
static inline size_t
bench_clean(const unsigned char *in, size_t len, unsigned char *out)
{
	unsigned char *w = out;
	unsigned in_line = 0, pending = 0;

	/* Branch-free, as piperun's own stage is: each byte stores a possible
	 * space and its possible output, and the class flags say how far the
	 * write pointer moves.  No store lands past the byte being read. */
	for (size_t i = 0; i < len; i++) {
		unsigned c = in[i], m = bench_clean_table[c];
		unsigned word = m != '\n', sep = !word & (c != '\n');
		*w = ' ';
		w += pending & word;
		*w = (unsigned char)m;
		w += word | (in_line & !sep);
		pending = sep & in_line;
		in_line = word | (in_line & sep);
	}
	if (in_line)
		*w++ = '\n';
	return (size_t)(w - out);
}

static inline void
bench_die(const char *what, const char *path)
{
	fprintf(stderr, "bench: %s %s: %s\n", what, path ? path : "", strerror(errno));
	exit(1);
}

/* Reads a whole file; *LEN gets its size.  Exits on error. */
static inline unsigned char *
bench_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		bench_die("cannot open", path);
	size_t cap = (size_t)st.st_size + 1, n = 0;
	unsigned char *buf = (unsigned char *)malloc(cap);
	if (buf == NULL)
		bench_die("out of memory reading", path);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = (unsigned char *)realloc(buf, cap);
			if (buf == NULL)
				bench_die("out of memory reading", path);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			bench_die("cannot read", path);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

static inline void
bench_write_all(int fd, const void *data, size_t len, const char *what)
{
	const unsigned char *p = (const unsigned char *)data;
	while (len > 0) {
		ssize_t r = write(fd, p, len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			bench_die("cannot write", what);
		}
		p += r;
		len -= (size_t)r;
	}
}

/* Writes DATA to PATH (created or truncated). */
static inline void
bench_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		bench_die("cannot create", path);
	bench_write_all(fd, data, len, path);
	if (close(fd) < 0)
		bench_die("cannot close", path);
}

/* Compresses IN into the gzip format with zlib at LEVEL, default strategy,
 * 32 KiB window, memLevel 8: what piperun's gzip stage and Python's
 * zlib.compressobj(6, DEFLATED, 31) do.  Returns a malloc'ed buffer. */
static inline unsigned char *
bench_gzip(const unsigned char *in, size_t len, int level, size_t *outlen)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		fprintf(stderr, "bench: deflateInit2 failed\n");
		exit(1);
	}
	size_t cap = deflateBound(&z, (uLong)len) + 64;
	unsigned char *out = (unsigned char *)malloc(cap);
	if (out == NULL)
		bench_die("out of memory", "gzip");
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		fprintf(stderr, "bench: deflate failed\n");
		exit(1);
	}
	*outlen = (size_t)z.total_out;
	deflateEnd(&z);
	return out;
}

/* The last path component of PATH. */
static inline const char *
bench_base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Line-aligned block reader for W4: about BLOCK bytes of whole lines per
 * call (a line longer than BLOCK makes a block of its own), the way
 * piperun's `blocks:` source and GNU parallel --pipe --block cut a file. */
struct bench_blocks {
	int fd;
	size_t block;
	unsigned char *buf; /* carried bytes after the last newline */
	size_t len, cap;
	int eof;
};

static inline void
bench_blocks_init(struct bench_blocks *b, int fd, size_t block)
{
	b->fd = fd;
	b->block = block;
	b->cap = 2 * block + 1;
	b->buf = (unsigned char *)malloc(b->cap);
	b->len = 0;
	b->eof = 0;
	if (b->buf == NULL)
		bench_die("out of memory", "blocks");
}

/* Returns a malloc'ed block and its length in *LEN, or NULL at the end. */
static inline unsigned char *
bench_blocks_next(struct bench_blocks *b, size_t *len)
{
	for (;;) {
		/* a newline at or past BLOCK bytes, or the end: cut there */
		if (b->len >= b->block || b->eof) {
			size_t cut = 0;
			if (b->len == 0)
				return NULL;
			if (b->len >= b->block) {
				unsigned char *nl = (unsigned char *)memrchr(b->buf, '\n', b->block);
				if (nl != NULL)
					cut = (size_t)(nl - b->buf) + 1;
				else {
					nl = (unsigned char *)memchr(b->buf + b->block, '\n', b->len - b->block);
					if (nl != NULL)
						cut = (size_t)(nl - b->buf) + 1;
					else if (b->eof)
						cut = b->len;
				}
			} else
				cut = b->len;
			if (cut > 0) {
				unsigned char *out = (unsigned char *)malloc(cut + 1);
				if (out == NULL)
					bench_die("out of memory", "blocks");
				memcpy(out, b->buf, cut);
				memmove(b->buf, b->buf + cut, b->len - cut);
				b->len -= cut;
				*len = cut;
				return out;
			}
		}
		if (b->len == b->cap) {
			b->cap *= 2;
			b->buf = (unsigned char *)realloc(b->buf, b->cap);
			if (b->buf == NULL)
				bench_die("out of memory", "blocks");
		}
		ssize_t r = read(b->fd, b->buf + b->len, b->cap - b->len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			bench_die("cannot read", "input");
		}
		if (r == 0)
			b->eof = 1;
		b->len += (size_t)r;
	}
}

#ifdef __cplusplus
}
#endif

#endif
