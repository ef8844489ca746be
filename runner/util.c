/*
 * util.c: allocation and string helpers that abort only on exhausted memory.
 */
#include "config.h"

#include <errno.h>
#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runner/util.h"

static void
oom(void)
{
	static const char msg[] = "piperun: out of memory\n";

	(void)!write(2, msg, sizeof(msg) - 1);
	abort();
}

void *
pr_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
pr_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
pr_reallocarray(void *ptr, size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		oom();
	p = realloc(ptr, (n * size) != 0 ? n * size : 1);
	if (p == NULL)
		oom();
	return p;
}

char *
pr_strdup(const char *s)
{
	return pr_strndup(s, strlen(s));
}

char *
pr_strndup(const char *s, size_t n)
{
	char *p = pr_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
pr_vasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	return p;
}

char *
pr_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = pr_vasprintf(fmt, ap);
	va_end(ap);
	return p;
}

/* Names thread T NAME, cut to the 15 bytes the system keeps. */
static void
name_thread(pthread_t t, const char *name)
{
#ifdef HAVE_PTHREAD_SETNAME_NP
	char shown[16];

	snprintf(shown, sizeof(shown), "%s", name);
	(void)pthread_setname_np(t, shown);
#else
	(void)t;
	(void)name;
#endif
}

int
pr_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name)
{
	sigset_t block, old;
	int rc;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		name_thread(*t, name);
	return rc;
}

void
pr_thread_name(const char *name)
{
	name_thread(pthread_self(), name);
}

void
pr_memory_tune(void)
{
#if defined(HAVE_MALLOPT) && defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
	const char *t = getenv("GLIBC_TUNABLES");

	if (t != NULL && strstr(t, "malloc.") != NULL)
		return;
	/* Buffers up to 32 MiB (glibc's largest setting) come from the heap
	 * and are reused; the heap is given back only past 128 MiB free. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
#ifdef M_ARENA_MAX
	/* Items are allocated by one thread and freed by another: with an
	 * arena per thread, each would keep the most it ever held. */
	mallopt(M_ARENA_MAX, 2);
#endif
#endif
}

double
pr_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
pr_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
