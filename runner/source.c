/*
 * source.c: the items a pipeline starts from: glob, files, lines, blocks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/block.h"
#include "runner/source.h"
#include "runner/util.h"

struct pr_source {
	const struct pr_input *in;
	/* glob and files: the names and paths to hand out */
	char **names;
	char **paths;
	size_t count;
	size_t next;         /* the next file to hand out, or to open */
	/* lines and blocks: the file being read */
	int fd;
	int stdin_fd;        /* what "-" reads, -1 when standard input is closed */
	const char *label;   /* the name items are numbered after */
	unsigned long long n;
	char *name;          /* "LABEL#N", rewritten for each item */
	size_t name_cap;
	unsigned char *buf;
	size_t start, end, cap;
	int eof;
	int waits;           /* a pipe, terminal or socket: reads may wait */
	int stopped;
	const atomic_int *stop;
	int stop_fd;         /* readable once *stop is set; -1: none */
};

static void
add(struct pr_source *s, const char *name, const char *path)
{
	s->names = pr_reallocarray(s->names, s->count + 1, sizeof(char *));
	s->paths = pr_reallocarray(s->paths, s->count + 1, sizeof(char *));
	s->names[s->count] = pr_strdup(name);
	s->paths[s->count] = pr_strdup(path);
	s->count++;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The length of PATTERN's leading folders that hold no wildcard. */
static size_t
fixed_prefix(const char *pattern)
{
	size_t keep = 0;

	for (size_t i = 0; pattern[i] != '\0'; i++) {
		if (strchr("*?[\\", pattern[i]) != NULL)
			break;
		if (pattern[i] == '/')
			keep = i + 1;
	}
	return keep;
}

struct slot {
	dev_t dev;
	ino_t ino;
	size_t index;
};

static int
cmp_slot(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Keeps the first of every file that more than one pattern matched, however
 * each spelled its path. */
static void
dedupe(struct pr_source *s)
{
	struct slot *slots;
	char *drop;
	size_t kept = 0;

	if (s->count < 2)
		return;
	slots = pr_calloc(s->count, sizeof(*slots));
	drop = pr_calloc(s->count, 1);
	for (size_t i = 0; i < s->count; i++) {
		struct stat st;
		/* A file that cannot be stat'ed stands for itself. */
		if (stat(s->paths[i], &st) < 0) {
			st.st_dev = (dev_t)-1;
			st.st_ino = (ino_t)i;
		}
		slots[i] = (struct slot){ st.st_dev, st.st_ino, i };
	}
	qsort(slots, s->count, sizeof(*slots), cmp_slot);
	for (size_t i = 1; i < s->count; i++)
		if (slots[i].dev == slots[i - 1].dev && slots[i].ino == slots[i - 1].ino)
			drop[slots[i].index] = 1;
	for (size_t i = 0; i < s->count; i++) {
		if (drop[i]) {
			free(s->names[i]);
			free(s->paths[i]);
			continue;
		}
		s->names[kept] = s->names[i];
		s->paths[kept] = s->paths[i];
		kept++;
	}
	s->count = kept;
	free(slots);
	free(drop);
}

static void
expand_globs(struct pr_source *s, pr_warn_fn *warn, void *ud)
{
	const struct pr_input *in = s->in;

	for (size_t i = 0; i < in->count; i++) {
		const char *pattern = in->paths[i];
		/* Names start below the pattern's fixed folders, as written; the
		 * pipeline's folder in front of them is literal. */
		size_t prefix = fixed_prefix(in->written[i]);
		if (in->written[i][0] != '/' && strcmp(pattern, in->written[i]) != 0)
			prefix += strlen(in->base) + 1;
		glob_t g;
		size_t found = 0;
		int rc;

		memset(&g, 0, sizeof(g));
		rc = glob(pattern, GLOB_MARK | GLOB_NOSORT, NULL, &g);
		if (rc == 0) {
			qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_str);
			for (size_t j = 0; j < g.gl_pathc; j++) {
				const char *m = g.gl_pathv[j];
				if (m[strlen(m) - 1] == '/')
					continue; /* a folder */
				add(s, m + prefix, m);
				found++;
			}
		}
		if (found == 0 && warn != NULL) {
			char *msg = pr_asprintf("piperun: warning: glob '%s' matches no file", in->written[i]);
			warn(ud, msg);
			free(msg);
		}
		globfree(&g);
	}
	dedupe(s);
}

struct pr_source *
pr_source_open(const struct pr_input *in, pr_warn_fn *warn, void *ud)
{
	struct pr_source *s = pr_calloc(1, sizeof(*s));

	s->in = in;
	s->fd = -1;
	s->stop_fd = -1;
	s->stdin_fd = STDIN_FILENO;
	switch (in->type) {
	case PR_INPUT_GLOB:
		expand_globs(s, warn, ud);
		break;
	case PR_INPUT_FILES:
		for (size_t i = 0; i < in->count; i++)
			add(s, in->written[i], in->paths[i]);
		break;
	default:
		break;
	}
	return s;
}

/* Opens the next file for lines or blocks; 0 when there is none left. */
static int
open_next(struct pr_source *s, char **err)
{
	const struct pr_input *in = s->in;

	while (s->fd < 0) {
		if (s->next >= in->count)
			return 0;
		const char *path = in->paths[s->next];
		s->label = strcmp(in->written[s->next], "-") == 0 ? "stdin" : in->written[s->next];
		s->next++;
		s->n = 0;
		s->start = s->end = 0;
		s->eof = 0;
		if (strcmp(path, "-") == 0) {
			if (s->stdin_fd < 0) {
				*err = pr_strdup("standard input is closed: an input of '-' cannot be read");
				return -1;
			}
			s->fd = dup(s->stdin_fd);
		} else {
			s->fd = open(path, O_RDONLY | O_CLOEXEC);
		}
		if (s->fd < 0) {
			*err = pr_asprintf("%s: %s", path, strerror(errno));
			return -1;
		}
		struct stat st;
		s->waits = fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode);
	}
	return 1;
}

/* Waits until the file has input (or its end) to read: 1; or until the
 * run stops: 0.  A signal's handler runs in this thread, but may run just
 * before the read starts, and a failure elsewhere sends none: a pipe that
 * stays open and quiet must not hold the run. */
static int
readable(struct pr_source *s)
{
	struct pollfd p[2] = { { s->fd, POLLIN, 0 }, { s->stop_fd, POLLIN, 0 } };

	if (!s->waits || s->stop_fd < 0)
		return 1;
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return 1; /* the read says what is wrong */
		if (p[1].revents != 0 || (s->stop != NULL && atomic_load(s->stop)))
			return 0;
		if (p[0].revents != 0)
			return 1;
	}
}

/* Reads up to LEN bytes of the current file into BUF as read() does, but
 * returns -2 once the run stops while it waits for them. */
static ssize_t
read_input(struct pr_source *s, void *buf, size_t len)
{
	for (;;) {
		if (!readable(s))
			return -2;
		ssize_t n = pr_data_read(s->fd, buf, len);
		if (n >= 0 || errno != EINTR)
			return n;
		/* A signal's handler ran in this thread. */
		if (s->stop != NULL && atomic_load(s->stop))
			return -2;
	}
}

/* The run stopped while the source waited for input: what was read of a
 * line or block is dropped. */
static void
stopped(struct pr_source *s)
{
	s->start = s->end;
	s->eof = s->stopped = 1;
}

/* Reads more of the current file into the buffer; 0 at its end. */
static int
fill(struct pr_source *s, char **err)
{
	ssize_t n;

	if (s->start > 0 && s->start == s->end)
		s->start = s->end = 0;
	if (s->end == s->cap) {
		if (s->start > 0) {
			memmove(s->buf, s->buf + s->start, s->end - s->start);
			s->end -= s->start;
			s->start = 0;
		} else {
			s->cap = s->cap ? s->cap * 2 : 65536;
			s->buf = pr_reallocarray(s->buf, s->cap, 1);
		}
	}
	n = read_input(s, s->buf + s->end, s->cap - s->end);
	if (n == -2) {
		stopped(s);
		return 0;
	}
	if (n < 0) {
		*err = pr_asprintf("%s: %s", s->label, strerror(errno));
		return -1;
	}
	if (n == 0) {
		s->eof = 1;
		return 0;
	}
	s->end += (size_t)n;
	return 1;
}

/* The next item's name, "LABEL#N", in s->name (no printf per line). */
static const char *
next_name(struct pr_source *s)
{
	size_t llen = strlen(s->label);
	char digits[24], *d = digits + sizeof(digits);
	unsigned long long n = ++s->n;

	do
		*--d = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	size_t dlen = (size_t)(digits + sizeof(digits) - d);
	if (llen + dlen + 2 > s->name_cap) {
		s->name_cap = llen + sizeof(digits) + 2;
		s->name = pr_reallocarray(s->name, s->name_cap, 1);
	}
	memcpy(s->name, s->label, llen);
	s->name[llen] = '#';
	memcpy(s->name + llen + 1, d, dlen);
	s->name[llen + 1 + dlen] = '\0';
	return s->name;
}

/* Cuts the next LEN bytes of the buffer into an item. */
static struct pr_item *
cut(struct pr_source *s, size_t len)
{
	unsigned char *data = NULL;
	struct pr_block *block = NULL;

	if (len > 0) {
		data = pr_data_alloc(len, &block);
		memcpy(data, s->buf + s->start, len);
	}
	s->start += len;
	return pr_item_new(next_name(s), NULL, data, len, block);
}

static void
end_file(struct pr_source *s)
{
	close(s->fd);
	s->fd = -1;
}

/* The next line, newline included. */
static int
next_line(struct pr_source *s, struct pr_item **item, char **err)
{
	size_t scanned = 0;

	for (;;) {
		unsigned char *nl = NULL;
		if (s->end > s->start + scanned)
			nl = memchr(s->buf + s->start + scanned, '\n', s->end - s->start - scanned);
		if (nl != NULL) {
			*item = cut(s, (size_t)(nl - (s->buf + s->start)) + 1);
			return 1;
		}
		scanned = s->end - s->start;
		if (s->eof) {
			if (scanned == 0)
				return 0;
			*item = cut(s, scanned);
			return 1;
		}
		int rc = fill(s, err);
		if (rc < 0)
			return -1;
	}
}

/* Makes the buffer hold just the LEN bytes at P. */
static void
keep_only(struct pr_source *s, const unsigned char *p, size_t len)
{
	if (s->cap < len) {
		s->cap = len > 65536 ? len : 65536;
		free(s->buf);
		s->buf = pr_malloc(s->cap);
	}
	memcpy(s->buf, p, len);
	s->start = 0;
	s->end = len;
}

/* Blocks this large are read straight into the item's memory (a shared
 * block when the run has worker processes); only the part line after a
 * block's last newline is copied, to start the next one. */
#define DIRECT_BLOCK (64 * 1024)
/* Larger blocks are read into a buffer that grows as input comes: a size
 * meant as "whole files" must not reserve its memory up front. */
#define DIRECT_MAX (64u << 20)

/* The next block, read straight into its item, as next_block() cuts it. */
static int
next_block_direct(struct pr_source *s, struct pr_item **item, char **err)
{
	size_t size = s->in->block_size, have = s->end - s->start, len;
	struct pr_block *block;
	unsigned char *data;

	if (have == 0 && s->eof)
		return 0;
	data = pr_data_alloc(size, &block);
	if (have > 0)
		memcpy(data, s->buf + s->start, have);
	s->start = s->end = 0;
	while (have < size && !s->eof) {
		ssize_t n = read_input(s, data + have, size - have);
		if (n == -2) {
			/* Stopped: a block cut short is dropped. */
			have = 0;
			s->eof = s->stopped = 1;
		} else if (n < 0) {
			*err = pr_asprintf("%s: %s", s->label, strerror(errno));
			have = 0;
			s->eof = 1;
		} else if (n == 0) {
			s->eof = 1;
		} else {
			have += (size_t)n;
		}
	}
	len = have;
	if (have == size) {
		/* The last newline within the block; what follows starts the next. */
		while (len > 0 && data[len - 1] != '\n')
			len--;
		keep_only(s, data + len, have - len);
	}
	if (len == 0) {
		/* Nothing, or a line longer than a block: that is read as one. */
		if (have > 0)
			keep_only(s, data, have);
		if (block != NULL)
			pr_block_release(block);
		else
			free(data);
		if (*err != NULL)
			return -1;
		return have > 0 ? next_line(s, item, err) : 0;
	}
	*item = pr_item_new(next_name(s), NULL, data, len, block);
	return 1;
}

/* The next block: at most SIZE bytes ending at a newline, or one whole
 * line when a line is longer than SIZE. */
static int
next_block(struct pr_source *s, struct pr_item **item, char **err)
{
	size_t size = s->in->block_size;

	if (size >= DIRECT_BLOCK && size <= DIRECT_MAX)
		return next_block_direct(s, item, err);

	while (!s->eof && s->end - s->start < size) {
		if (fill(s, err) < 0)
			return -1;
	}
	size_t avail = s->end - s->start;
	if (avail == 0)
		return 0;
	if (avail <= size && s->eof) {
		*item = cut(s, avail);
		return 1;
	}
	/* The last newline within the first SIZE bytes. */
	for (size_t i = size; i > 0; i--) {
		if (s->buf[s->start + i - 1] == '\n') {
			*item = cut(s, i);
			return 1;
		}
	}
	/* A line longer than a block: it becomes one block. */
	return next_line(s, item, err);
}

int
pr_source_next(struct pr_source *s, struct pr_item **item, char **err)
{
	int rc;

	*err = NULL;
	if (s->stopped)
		return 0;
	switch (s->in->type) {
	case PR_INPUT_GLOB:
	case PR_INPUT_FILES:
		if (s->next >= s->count)
			return 0;
		*item = pr_item_new(s->names[s->next], s->paths[s->next], NULL, 0, NULL);
		s->next++;
		return 1;
	case PR_INPUT_LINES:
	case PR_INPUT_BLOCKS:
		for (;;) {
			rc = open_next(s, err);
			if (rc <= 0)
				return rc;
			rc = s->in->type == PR_INPUT_LINES ? next_line(s, item, err)
			                                   : next_block(s, item, err);
			if (rc != 0 || s->stopped)
				return rc;
			end_file(s);
		}
	default:
		return 0;
	}
}

int
pr_source_ready(const struct pr_source *s)
{
	size_t avail;

	switch (s->in->type) {
	case PR_INPUT_LINES:
		avail = s->end - s->start;
		return s->fd >= 0 &&
		       (s->eof || (avail > 0 && memchr(s->buf + s->start, '\n', avail) != NULL));
	case PR_INPUT_BLOCKS:
		return s->fd >= 0 && (s->eof || s->end - s->start >= s->in->block_size);
	default:
		return 1;
	}
}

uint64_t
pr_source_total(const struct pr_source *s)
{
	return s->in->type == PR_INPUT_GLOB || s->in->type == PR_INPUT_FILES ? s->count : 0;
}

void
pr_source_stdin(struct pr_source *s, int fd)
{
	s->stdin_fd = fd;
}

void
pr_source_stop_on(struct pr_source *s, const atomic_int *stop, int stop_fd)
{
	s->stop = stop;
	s->stop_fd = stop_fd;
}

void
pr_source_close(struct pr_source *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->count; i++) {
		free(s->names[i]);
		free(s->paths[i]);
	}
	free(s->names);
	free(s->paths);
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s->name);
	free(s);
}
