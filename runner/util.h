/*
 * util.h: allocation and string helpers that abort only on exhausted memory.
 */
#ifndef PR_UTIL_H
#define PR_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Each returns memory the caller frees with free(); out of memory is fatal
 * (piperun cannot report anything useful without memory). */
void *pr_malloc(size_t size);
void *pr_calloc(size_t n, size_t size);
void *pr_reallocarray(void *ptr, size_t n, size_t size);
char *pr_strdup(const char *s);
char *pr_strndup(const char *s, size_t n);
char *pr_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *pr_vasprintf(const char *fmt, va_list ap);

/* Starts a thread with SIGINT, SIGTERM and SIGPIPE blocked, so that only
 * the main thread takes the user's signals, and names it NAME (its first
 * 15 bytes), as ps -L, top -H and debuggers show it: the name of the stage
 * it works for, say.  Returns 0 or an errno. */
int pr_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name);

/* Names the calling thread NAME, as pr_thread_start() does: for threads
 * another library starts, such as an OpenMP team's. */
void pr_thread_name(const char *name);

/* Tunes malloc for a process that allocates and frees item buffers of
 * megabytes at a high rate: they are reused instead of being handed back
 * to the kernel and faulted in again, page by page.  Call before any
 * thread starts; does nothing where malloc has no such settings, or when
 * the user tuned malloc through GLIBC_TUNABLES. */
void pr_memory_tune(void);

/* Seconds on the monotonic clock. */
double pr_now(void);

/* Writes all of LEN bytes to FD, retrying short writes and EINTR.
 * Returns 0 or a negative errno. */
int pr_write_all(int fd, const void *buf, size_t len);

#endif
