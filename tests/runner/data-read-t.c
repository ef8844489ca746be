/*
 * data-read-t.c: tests pr_data_read(), the read() that fills a block
 * through its memory file.  Into an own block, from a regular file, the
 * bytes arrive through the file (its offset moves; the mapping shows
 * them), the input's offset moves as read() moves it, and the end of the
 * input reads as 0.  From a pipe, or into malloc'd memory, it is read()
 * and gets the same bytes.
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/block.h"
#include "tests/tap/basic.h"

#define BIG (4u << 20)
#define AT 4096 /* where in the block the tests read to */

static unsigned char *
pattern(size_t len)
{
	unsigned char *p = malloc(len);

	if (p == NULL)
		bail("out of memory");
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + i / 4099);
	return p;
}

/* Reads FD to its end into P (LEN bytes of room) with pr_data_read(),
 * in pieces of at most STEP; returns the count, or -1. */
static long long
read_all(int fd, unsigned char *p, size_t len, size_t step)
{
	size_t got = 0;

	for (;;) {
		size_t want = len - got < step ? len - got : step;
		ssize_t n = pr_data_read(fd, p + got, want);
		if (n < 0)
			return -1;
		if (n == 0 || want == 0)
			return (long long)got;
		got += (size_t)n;
	}
}

int
main(void)
{
#if defined(HAVE_MEMFD_CREATE) && defined(HAVE_SYS_SENDFILE_H)
	unsigned char *want = pattern(BIG), *heap;
	const char *path = test_write_file("input", want, BIG - AT);
	struct pr_block *b;
	int fd, pipefd[2];

	pr_block_enable();
	if ((b = pr_block_alloc(BIG)) == NULL)
		bail("no block");
	memset(b->map, 0xee, b->size);

	/* A regular file, into an own block, in two pieces. */
	if ((fd = open(path, O_RDONLY)) < 0)
		bail("open %s", path);
	is_int(BIG - AT, read_all(fd, b->map + AT, b->size - AT, BIG / 2),
	       "the whole file is read into the block");
	is_bytes(want, BIG - AT, b->map + AT, BIG - AT, "the block holds the file's bytes");
	ok(b->map[AT - 1] == 0xee, "the bytes before the place read to are left alone");
	is_int(BIG - AT, (long long)lseek(fd, 0, SEEK_CUR), "the input's offset is at its end");
	is_int(BIG, (long long)lseek(b->fd, 0, SEEK_CUR),
	       "the bytes went through the block's memory file");
	is_int(0, (long long)pr_data_read(fd, b->map + AT, 100), "at the end, 0 bytes are read");

	/* From an offset within the file, as read() goes on from it. */
	memset(b->map, 0xee, b->size);
	if (lseek(fd, 1000, SEEK_SET) != 1000)
		bail("lseek");
	is_int(300, (long long)pr_data_read(fd, b->map, 300), "300 bytes from offset 1000");
	is_bytes(want + 1000, 300, b->map, 300, "they are the file's bytes 1000 to 1299");
	is_int(1300, (long long)lseek(fd, 0, SEEK_CUR), "the input's offset moved by 300");

	/* Up to the last byte of the block. */
	if (lseek(fd, 0, SEEK_SET) != 0 || lseek(b->fd, 0, SEEK_SET) != 0)
		bail("lseek");
	ssize_t n = pr_data_read(fd, b->map + b->size - 100, 100);
	is_int(100, (long long)n, "the last 100 bytes of the block are filled");
	is_bytes(want, 100, b->map + b->size - 100, 100, "with the file's first 100 bytes");
	close(fd);

	/* Memory that is no block. */
	heap = malloc(BIG);
	if (heap == NULL || (fd = open(path, O_RDONLY)) < 0)
		bail("setup");
	is_int(BIG - AT, read_all(fd, heap, BIG, BIG), "into malloc'd memory, the whole file");
	is_bytes(want, BIG - AT, heap, BIG - AT, "with its bytes");
	close(fd);

	/* A pipe, into the block: read() waits for what is written. */
	memset(b->map, 0xee, b->size);
	if (pipe(pipefd) < 0)
		bail("pipe");
	if (write(pipefd[1], want, 5000) != 5000)
		bail("write");
	close(pipefd[1]);
	is_int(5000, read_all(pipefd[0], b->map, b->size, 65536), "a pipe's 5000 bytes");
	is_bytes(want, 5000, b->map, 5000, "are read into the block");
	close(pipefd[0]);

	pr_block_release(b);
	free(heap);
	free(want);
#else
	ok(1, "# SKIP no memfd_create or sendfile: blocks are filled with read()");
#endif
	return test_done();
}
