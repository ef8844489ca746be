/*
 * write.c: the write stage, which stores each item as DIR/NAME[SUFFIX]
 * atomically: a temporary file in the target folder, then rename(2).
 *
 * Every open is relative to the output folder and follows no symbolic link
 * below it, so an item name cannot lead outside DIR.  Two items of one run
 * that would write the same file are a failure of the second, never a
 * silent overwrite.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stages/stages.h"

struct write_state {
	const char *dir;
	const char *suffix;
	pthread_mutex_t lock; /* the names written so far, for threads sharing the state */
	char **names;         /* a hash set of normalised names */
	size_t nnames, cap;
};

static size_t
name_hash(const char *s)
{
	size_t h = 5381;

	for (; *s != '\0'; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/* The slot of NAME in the names written so far, or the empty slot where
 * it would go.  Called with the lock, the table not empty. */
static size_t
name_slot(const struct write_state *st, const char *name)
{
	size_t mask = st->cap - 1, j = name_hash(name) & mask;

	while (st->names[j] != NULL && strcmp(st->names[j], name) != 0)
		j = (j + 1) & mask;
	return j;
}

/* Adds NAME to the names written in this run; returns 0, or -1 when it was
 * there already (or memory ran out).  The claim comes before the write, so
 * that two items writing at once cannot both have the name. */
static int
claim_name(struct write_state *st, const char *name)
{
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	if (2 * (st->nnames + 1) > st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 64;
		char **bigger = calloc(cap, sizeof(*bigger));
		if (bigger == NULL) {
			pthread_mutex_unlock(&st->lock);
			return -1;
		}
		for (size_t i = 0; i < st->cap; i++) {
			if (st->names[i] == NULL)
				continue;
			size_t j = name_hash(st->names[i]) & (cap - 1);
			while (bigger[j] != NULL)
				j = (j + 1) & (cap - 1);
			bigger[j] = st->names[i];
		}
		free(st->names);
		st->names = bigger;
		st->cap = cap;
	}
	size_t j = name_slot(st, name);
	if (st->names[j] != NULL) {
		rc = -1;
	} else if ((st->names[j] = strdup(name)) == NULL) {
		rc = -1;
	} else {
		st->nnames++;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Takes NAME back out of the names written in this run: its write failed
 * and left no file, so a retry of its item may claim it again. */
static void
release_name(struct write_state *st, const char *name)
{
	size_t mask, j;

	pthread_mutex_lock(&st->lock);
	mask = st->cap - 1;
	j = name_slot(st, name);
	if (st->names[j] != NULL) {
		free(st->names[j]);
		st->names[j] = NULL;
		st->nnames--;
		/* The names probed past the hole move back into it when it lies
		 * between their slot and where they belong, or lookups would
		 * stop at the hole and miss them. */
		for (size_t k = (j + 1) & mask; st->names[k] != NULL; k = (k + 1) & mask) {
			size_t home = name_hash(st->names[k]) & mask;
			if (((k - home) & mask) >= ((k - j) & mask)) {
				st->names[j] = st->names[k];
				st->names[k] = NULL;
				j = k;
			}
		}
	}
	pthread_mutex_unlock(&st->lock);
}

static int
write_open(const struct piperun_host *host, struct piperun_opts *opts, void **state)
{
	struct write_state *st;
	const char *dir = NULL, *suffix = "";
	int rc;

	if ((rc = host->opt_path(opts, "dir", &dir)) < 0)
		return -1;
	if (rc > 0) {
		host->open_error(opts, "option 'dir' is required");
		return -1;
	}
	if (host->opt_string(opts, "suffix", &suffix) < 0)
		return -1;
	if (strchr(suffix, '/') != NULL) {
		host->open_error(opts, "option 'suffix' may not hold '/'");
		return -1;
	}
	st = malloc(sizeof(*st));
	if (st == NULL) {
		host->open_error(opts, "out of memory");
		return -1;
	}
	st->dir = dir;
	st->suffix = suffix;
	pthread_mutex_init(&st->lock, NULL);
	st->names = NULL;
	st->nnames = st->cap = 0;
	*state = st;
	return 0;
}

static void
write_close(void *state)
{
	struct write_state *st = state;

	for (size_t i = 0; i < st->cap; i++)
		free(st->names[i]);
	free(st->names);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* Creates DIR and its parents, like mkdir -p. */
static int
mkdir_parents(char *dir)
{
	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Writes NAME to OUT (of NAME's length + 1) without its "." and empty
 * components.  Returns 0, or -1 when NAME is absolute, has a ".."
 * component, or names no file. */
static int
name_normalize(const char *name, char *out)
{
	const char *p = name;
	char *w = out;

	if (name[0] == '/')
		return -1;
	while (*p != '\0') {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (w != out)
				*w++ = '/';
			memcpy(w, p, n);
			w += n;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	*w = '\0';
	/* "dir/" or "." name a folder, not a file. */
	if (w == out || name[strlen(name) - 1] == '/' ||
	    (strlen(name) >= 2 && strcmp(name + strlen(name) - 2, "/.") == 0) || strcmp(name, ".") == 0)
		return -1;
	return 0;
}

/* Opens (creating) each folder of NAME's directory part below DIRFD and
 * returns the innermost one; *BASE points at NAME's last component. */
static int
open_parent(int dirfd, const char *name, const char **base)
{
	const char *p = name, *slash;
	int fd = dup(dirfd);

	while (fd >= 0 && (slash = strchr(p, '/')) != NULL) {
		char comp[256];
		size_t n = (size_t)(slash - p);
		int next;

		if (n >= sizeof(comp)) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (mkdirat(fd, comp, 0777) < 0 && errno != EEXIST) {
			close(fd);
			return -1;
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
		p = slash + 1;
	}
	*base = p;
	return fd;
}

static int
write_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
              struct piperun_out *out)
{
	static atomic_uint counter;
	struct write_state *st = state;
	char tmp[64], *final = NULL, *name = NULL;
	const char *base;
	int dirfd = -1, parent = -1, fd = -1, claimed = 0;
	const unsigned char *p = item->data;
	size_t left = item->len;

	name = host->alloc(strlen(item->name) + 1);
	if (name == NULL) {
		host->item_error(out, "out of memory");
		return -1;
	}
	if (name_normalize(item->name, name) < 0) {
		if (item->name[0] == '/' || strstr(item->name, "..") != NULL)
			host->item_error(out, "refusing to write '%s': the name leads outside '%s'",
			                 item->name, st->dir);
		else
			host->item_error(out, "refusing to write '%s': the name is not a file name",
			                 item->name);
		goto fail;
	}
	/* Two items of one run never share an output file. */
	if (claim_name(st, name) < 0) {
		host->item_error(out, "refusing to write '%s%s': an earlier item of this run was "
		                      "written there", name, st->suffix);
		goto fail;
	}
	claimed = 1;
	dirfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 && errno == ENOENT) {
		char *copy = strdup(st->dir);
		if (copy != NULL && mkdir_parents(copy) == 0)
			dirfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(copy);
	}
	if (dirfd < 0) {
		host->item_error(out, "%s: %s", st->dir, strerror(errno));
		goto fail;
	}
	parent = open_parent(dirfd, name, &base);
	if (parent < 0) {
		host->item_error(out, "%s/%s: %s", st->dir, item->name, strerror(errno));
		goto fail;
	}
	for (int tries = 0; fd < 0 && tries < 100; tries++) {
		snprintf(tmp, sizeof(tmp), ".piperun-%ld-%u.tmp", (long)getpid(),
		         atomic_fetch_add(&counter, 1));
		fd = openat(parent, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		host->item_error(out, "%s/%s: %s", st->dir, item->name, strerror(errno));
		goto fail;
	}
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			host->item_error(out, "%s/%s: %s", st->dir, item->name, strerror(errno));
			goto fail_tmp;
		}
		p += n;
		left -= (size_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		host->item_error(out, "%s/%s: %s", st->dir, item->name, strerror(errno));
		goto fail_tmp;
	}
	fd = -1;
	final = host->alloc(strlen(base) + strlen(st->suffix) + 1);
	if (final == NULL) {
		host->item_error(out, "out of memory");
		goto fail_tmp;
	}
	strcpy(final, base);
	strcat(final, st->suffix);
	if (renameat(parent, tmp, parent, final) < 0) {
		host->item_error(out, "%s/%s%s: %s", st->dir, item->name, st->suffix, strerror(errno));
		goto fail_tmp;
	}
	host->release(final);
	host->release(name);
	close(parent);
	close(dirfd);
	return 0;

fail_tmp:
	if (fd >= 0)
		close(fd);
	unlinkat(parent, tmp, 0);
fail:
	/* Nothing was written: under on_error: retry, the next attempt on
	 * this item may have the name. */
	if (claimed)
		release_name(st, name);
	host->release(final);
	host->release(name);
	if (parent >= 0)
		close(parent);
	if (dirfd >= 0)
		close(dirfd);
	return -1;
}

const struct piperun_stage pr_stage_write = {
	PIPERUN_STAGE_HEADER,
	.name = "write",
	.summary = "write the data to DIR/NAME[SUFFIX] atomically; emits nothing",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_IO,
	.open = write_open,
	.process = write_process,
	.close = write_close,
};
