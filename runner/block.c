/*
 * block.c: shared blocks, the memory of large items.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_SYS_SENDFILE_H
#include <sys/sendfile.h>
#endif

#include "runner/block.h"
#include "runner/util.h"

/* Free blocks are kept, pages and all, up to this many bytes. */
#define POOL_KEEP (64u << 20)
/* Block sizes are multiples of this, so items of about one size share. */
#define POOL_GRAIN (256u << 10)
/* A free block not used again for this many seconds is let go of: it was
 * made for a moment when more items than usual were in flight. */
#define POOL_IDLE 1.0

struct pr_mailbox {
	pthread_mutex_t lock;
	atomic_uint refs; /* the connection, and each peer block given back here */
	int closed;       /* under lock */
	uint32_t *ids;    /* under lock */
	size_t n, cap;
};

/* The own blocks.  Their reference counts change under the lock, so that
 * a block the pool sees free is not being let go of at the same time. */
static struct {
	pthread_mutex_t lock;
	struct pr_block *blocks[PR_BLOCK_IDS];
	uint32_t gens[PR_BLOCK_IDS]; /* the next file's gen for each id */
	size_t free_bytes;
	uint64_t frees;                  /* blocks let go of so far */
	uint64_t freed[PR_BLOCK_IDS];    /* per id: the count when it was let go of */
	double freed_at[PR_BLOCK_IDS];   /* per id: pr_now() then */
	atomic_uintptr_t lo, hi; /* every own block lies in [lo, hi) */
	atomic_int enabled;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

void
pr_block_enable(void)
{
	atomic_store(&pool.enabled, 1);
}

/* Makes block ID anew with SIZE bytes.  Called with the lock held. */
static struct pr_block *
block_make(unsigned id, size_t size)
{
#ifdef HAVE_MEMFD_CREATE
	int fd = memfd_create("piperun-block", MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return NULL;
	/* Its pages are made now, in one go: an item fills the block, and
	 * faulting them in one at a time costs about twice as much (4 MiB:
	 * 11 ms against 6.5 ms on a VM whose host hands out pages lazily). */
	if (ftruncate(fd, (off_t)size) < 0 ||
	    (p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0)) ==
	            MAP_FAILED) {
		close(fd);
		return NULL;
	}
	struct pr_block *b = pr_calloc(1, sizeof(*b));
	b->map = p;
	b->size = size;
	b->id = id;
	b->gen = pool.gens[id]++;
	b->fd = fd;
	atomic_init(&b->refs, 1);
	pool.blocks[id] = b;
	uintptr_t lo = (uintptr_t)p, hi = lo + size;
	if (atomic_load(&pool.lo) == 0 || lo < atomic_load(&pool.lo))
		atomic_store(&pool.lo, lo);
	if (hi > atomic_load(&pool.hi))
		atomic_store(&pool.hi, hi);
	return b;
#else
	(void)id;
	(void)size;
	return NULL;
#endif
}

/* Unmaps a free block and forgets it.  Called with the lock held. */
static void
block_unmake(struct pr_block *b)
{
	pool.free_bytes -= b->size;
	pool.blocks[b->id] = NULL;
	munmap(b->map, b->size);
	/* The pages go now, though a peer still maps the file: it does not
	 * look at a block given back, and maps the id's next file anew.  (Had
	 * this failed, they would go when the peer does.) */
	(void)!ftruncate(b->fd, 0);
	close(b->fd);
	free(b);
}

/* Whether B, free, suits an item of SIZE bytes (rounded): large enough,
 * and not so much larger that it would hold pages idle. */
static int
suits(const struct pr_block *b, size_t size)
{
	return b->size >= size && b->size <= 2 * size + (1u << 20);
}

/* What the calling thread's peer has mapped: see pr_block_prefer(). */
static _Thread_local const uint32_t *peer_gens;

void
pr_block_prefer(const uint32_t *gens)
{
	peer_gens = gens;
}

int
pr_block_for_peer(const struct pr_block *b)
{
	if (peer_gens == NULL || b == NULL || b->home != NULL)
		return -1;
	if (peer_gens[b->id] == b->gen + 1)
		return 2;
	return atomic_load(&b->peers) == 0;
}

/* Whether free block B is a better choice than BEST for SIZE bytes.  Of
 * the blocks that suit, one the calling thread's peer has mapped, then the
 * one let go of last: its pages are the likeliest to be in a cache still.
 * Failing those, the smallest large enough. */
static int
better(const struct pr_block *b, const struct pr_block *best, size_t size)
{
	if (best == NULL || suits(b, size) != suits(best, size))
		return best == NULL || suits(b, size);
	if (!suits(b, size))
		return b->size < best->size;
	if (pr_block_for_peer(b) != pr_block_for_peer(best))
		return pr_block_for_peer(b) > pr_block_for_peer(best);
	return pool.freed[b->id] > pool.freed[best->id];
}

struct pr_block *
pr_block_alloc(size_t size)
{
	struct pr_block *best = NULL, *b, *idle = NULL;
	double now = pr_now();
	int empty = -1;

	size = (size + POOL_GRAIN - 1) / POOL_GRAIN * POOL_GRAIN;
	if (size == 0)
		size = POOL_GRAIN;
	pthread_mutex_lock(&pool.lock);
	for (unsigned i = 0; i < PR_BLOCK_IDS; i++) {
		b = pool.blocks[i];
		if (b == NULL) {
			if (empty < 0)
				empty = (int)i;
			continue;
		}
		if (atomic_load(&b->refs) != 0)
			continue;
		if (now - pool.freed_at[i] > POOL_IDLE && (idle == NULL || b->size > idle->size))
			idle = b;
		if (b->size >= size && better(b, best, size))
			best = b;
	}
	if (best != NULL && (suits(best, size) || empty < 0)) {
		/* One block idle since a busier moment goes, if another does. */
		if (idle != NULL && idle != best)
			block_unmake(idle);
		pool.free_bytes -= best->size;
		atomic_store(&best->refs, 1);
		pthread_mutex_unlock(&pool.lock);
		return best;
	}
	if (empty < 0) {
		/* Every id is taken: a free block too small gives up its id. */
		for (unsigned i = 0; i < PR_BLOCK_IDS && empty < 0; i++) {
			b = pool.blocks[i];
			if (atomic_load(&b->refs) == 0) {
				block_unmake(b);
				empty = (int)i;
			}
		}
	}
	b = empty >= 0 ? block_make((unsigned)empty, size) : NULL;
	pthread_mutex_unlock(&pool.lock);
	return b;
}

struct pr_block *
pr_block_alloc_data(size_t size)
{
	if (size < PR_BLOCK_MIN || !atomic_load(&pool.enabled))
		return NULL;
	return pr_block_alloc(size);
}

unsigned char *
pr_data_alloc(size_t size, struct pr_block **b)
{
	if ((*b = pr_block_alloc_data(size)) != NULL)
		return (*b)->map;
	return pr_malloc(size);
}

struct pr_block *
pr_block_find(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct pr_block *found = NULL;

	if (p == NULL || a < atomic_load(&pool.lo) || a >= atomic_load(&pool.hi))
		return NULL;
	pthread_mutex_lock(&pool.lock);
	for (unsigned i = 0; i < PR_BLOCK_IDS && found == NULL; i++)
		if (pool.blocks[i] != NULL && pool.blocks[i]->map == p)
			found = pool.blocks[i];
	pthread_mutex_unlock(&pool.lock);
	return found;
}

/* The own block in which the LEN bytes at P lie, or NULL. */
static struct pr_block *
block_holding(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	struct pr_block *found = NULL, *b;

	if (p == NULL || a < atomic_load(&pool.lo) || a >= atomic_load(&pool.hi))
		return NULL;
	pthread_mutex_lock(&pool.lock);
	for (unsigned i = 0; i < PR_BLOCK_IDS && found == NULL; i++)
		if ((b = pool.blocks[i]) != NULL && a >= (uintptr_t)b->map &&
		    a - (uintptr_t)b->map < b->size && len <= b->size - (a - (uintptr_t)b->map))
			found = b;
	pthread_mutex_unlock(&pool.lock);
	return found;
}

ssize_t
pr_data_read(int fd, void *p, size_t len)
{
#ifdef HAVE_SYS_SENDFILE_H
	struct pr_block *b = block_holding(p, len);
	struct stat st;

	/* Only a regular file: sendfile() would not wait as read() does on a
	 * pipe, nor stop at what one write put in it. */
	if (b != NULL && len > 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    lseek(b->fd, (off_t)((unsigned char *)p - b->map), SEEK_SET) >= 0) {
		ssize_t n = sendfile(b->fd, fd, NULL, len);
		if (n >= 0 || (errno != EINVAL && errno != ENOSYS))
			return n;
	}
#endif
	return read(fd, p, len);
}

/* Peers' blocks handed to stages as memory of their own (see
 * pr_block_hand()); few at a time, so a list will do. */
static struct {
	pthread_mutex_t lock;
	struct pr_block **list; /* under lock */
	size_t n, cap;          /* under lock */
	atomic_size_t count;    /* n, for a glance without the lock */
} handed = { .lock = PTHREAD_MUTEX_INITIALIZER };

void
pr_block_hand(struct pr_block *b)
{
	pthread_mutex_lock(&handed.lock);
	if (handed.n == handed.cap) {
		handed.cap = handed.cap ? 2 * handed.cap : 8;
		handed.list = pr_reallocarray(handed.list, handed.cap, sizeof(*handed.list));
	}
	handed.list[handed.n++] = b;
	atomic_store(&handed.count, handed.n);
	pthread_mutex_unlock(&handed.lock);
}

struct pr_block *
pr_block_handed(const void *p, int take)
{
	struct pr_block *found = NULL;

	if (p == NULL || atomic_load(&handed.count) == 0)
		return NULL;
	pthread_mutex_lock(&handed.lock);
	for (size_t i = 0; i < handed.n && found == NULL; i++) {
		if (handed.list[i]->map != p)
			continue;
		found = handed.list[i];
		if (take) {
			handed.list[i] = handed.list[--handed.n];
			atomic_store(&handed.count, handed.n);
		}
	}
	pthread_mutex_unlock(&handed.lock);
	return found;
}

struct pr_block *
pr_block_by_id(unsigned id)
{
	struct pr_block *b;

	if (id >= PR_BLOCK_IDS)
		return NULL;
	pthread_mutex_lock(&pool.lock);
	b = pool.blocks[id];
	pthread_mutex_unlock(&pool.lock);
	return b;
}

void
pr_block_hold(struct pr_block *b)
{
	if (b->home != NULL) {
		atomic_fetch_add(&b->refs, 1);
		return;
	}
	pthread_mutex_lock(&pool.lock);
	atomic_fetch_add(&b->refs, 1);
	pthread_mutex_unlock(&pool.lock);
}

static void
mailbox_unref(struct pr_mailbox *m)
{
	if (atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->ids);
	free(m);
}

void
pr_block_drop(struct pr_block *b)
{
	if (b->home != NULL) {
		if (atomic_fetch_sub(&b->refs, 1) == 1) {
			munmap(b->map, b->size);
			mailbox_unref(b->home);
			free(b);
		}
		return;
	}
	pthread_mutex_lock(&pool.lock);
	if (atomic_fetch_sub(&b->refs, 1) == 1) {
		pool.freed[b->id] = ++pool.frees;
		pool.freed_at[b->id] = pr_now();
		pool.free_bytes += b->size;
		if (pool.free_bytes > POOL_KEEP)
			block_unmake(b);
	}
	pthread_mutex_unlock(&pool.lock);
}

void
pr_block_release(struct pr_block *b)
{
	struct pr_mailbox *m = b->home;

	if (m != NULL) {
		pthread_mutex_lock(&m->lock);
		if (!m->closed) {
			if (m->n == m->cap) {
				m->cap = m->cap ? m->cap * 2 : 16;
				m->ids = pr_reallocarray(m->ids, m->cap, sizeof(*m->ids));
			}
			m->ids[m->n++] = b->id;
		}
		pthread_mutex_unlock(&m->lock);
	}
	pr_block_drop(b);
}

struct pr_block *
pr_block_peer(unsigned char *map, size_t size, unsigned id, struct pr_mailbox *home)
{
	struct pr_block *b = pr_calloc(1, sizeof(*b));

	b->map = map;
	b->size = size;
	b->id = id;
	b->fd = -1;
	b->home = home;
	atomic_init(&b->refs, 1);
	atomic_fetch_add(&home->refs, 1);
	return b;
}

struct pr_mailbox *
pr_mailbox_new(void)
{
	struct pr_mailbox *m = pr_calloc(1, sizeof(*m));

	pthread_mutex_init(&m->lock, NULL);
	atomic_init(&m->refs, 1);
	return m;
}

size_t
pr_mailbox_take(struct pr_mailbox *m, uint32_t *ids, size_t max)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->n < max ? m->n : max;
	if (n == 0) {
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	memcpy(ids, m->ids, n * sizeof(*ids));
	memmove(m->ids, m->ids + n, (m->n - n) * sizeof(*ids));
	m->n -= n;
	pthread_mutex_unlock(&m->lock);
	return n;
}

void
pr_mailbox_close(struct pr_mailbox *m)
{
	pthread_mutex_lock(&m->lock);
	m->closed = 1;
	m->n = 0;
	pthread_mutex_unlock(&m->lock);
	mailbox_unref(m);
}

void
pr_block_stats(unsigned *blocks, unsigned *busy)
{
	*blocks = *busy = 0;
	pthread_mutex_lock(&pool.lock);
	for (unsigned i = 0; i < PR_BLOCK_IDS; i++) {
		if (pool.blocks[i] == NULL)
			continue;
		(*blocks)++;
		if (atomic_load(&pool.blocks[i]->refs) > 0)
			(*busy)++;
	}
	pthread_mutex_unlock(&pool.lock);
}

void
pr_block_trim(void)
{
	pthread_mutex_lock(&pool.lock);
	for (unsigned i = 0; i < PR_BLOCK_IDS; i++)
		if (pool.blocks[i] != NULL && atomic_load(&pool.blocks[i]->refs) == 0)
			block_unmake(pool.blocks[i]);
	pthread_mutex_unlock(&pool.lock);
}
