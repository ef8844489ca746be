/*
 * piperun-stage.h: the interface between piperun and a stage, built-in or
 * plugin.
 *
 * A stage is a shared object (or, for the built-ins, an object inside
 * piperun) that exports one constant descriptor, struct piperun_stage, under
 * the fixed symbol name "piperun_stage".  piperun reads the descriptor's
 * first two fields, the ABI version and the descriptor's size, before it
 * touches anything else, and refuses a stage built for another major
 * version.
 *
 * Everything the host offers reaches the stage through struct piperun_host,
 * a table of functions handed to every callback, so a stage links against
 * nothing of piperun's.  The table only ever grows at its end, into room
 * it keeps zeroed; before it uses a function added after version 1.0, a
 * stage checks that the minor version in host->abi is at least the one
 * that added it and that the pointer is not NULL.
 *
 * Lifecycle: open() once per state (see below), then process() once per
 * item, then close() once per state.  Under the sequential executor there is
 * one state.  Under the thread pool there is one state per worker thread, or
 * a single state shared by all of them when the stage sets
 * PIPERUN_STAGE_THREAD_SAFE.  Under worker processes each process loads the
 * stage and opens its own state.  Under OpenMP, one state is shared by all
 * threads, so only thread-safe stages may run there.  piperun also opens and
 * closes every stage while it checks the pipeline file, before any item is
 * read, and each worker process checks the file again when it starts;
 * host->opt_checking() tells a stage that it is only being checked, so it
 * should validate its options and create nothing.
 *
 * Return values: callbacks and host functions return 0 on success and -1 on
 * failure unless said otherwise.  A callback that fails first describes the
 * failure with host->open_error() or host->item_error().
 *
 * Ownership: every pointer the host hands to a stage stays owned by the host
 * and is valid only for the duration of the call it came with, except
 * option values, which stay valid until close().  Data handed to the host by
 * emit() is copied; data handed by emit_owned() becomes the host's and must
 * come from host->alloc(), host->resize() or host->reuse_input().
 */
#ifndef PIPERUN_STAGE_H
#define PIPERUN_STAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The interface version: major in the high 16 bits, minor in the low ones.
 * A change of major breaks compatibility; a new minor only appends. */
#define PIPERUN_STAGE_ABI_MAJOR 1
#define PIPERUN_STAGE_ABI_MINOR 4
#define PIPERUN_STAGE_ABI \
	((uint32_t)PIPERUN_STAGE_ABI_MAJOR << 16 | PIPERUN_STAGE_ABI_MINOR)

/* The name under which a plugin exports its descriptor. */
#define PIPERUN_STAGE_SYMBOL "piperun_stage"

/* Flags of struct piperun_stage. */
#define PIPERUN_STAGE_THREAD_SAFE 0x1u /* process() may run concurrently on one state */

/* The usual tag of a stage, used when a pipeline file gives no `kind`. */
enum piperun_kind {
	PIPERUN_KIND_NONE = 0, /* no usual tag: the pipeline file must say */
	PIPERUN_KIND_IO = 1,
	PIPERUN_KIND_CPU = 2,
	PIPERUN_KIND_SYNC = 3
};

/* One item, as a stage sees it.  All of it is owned by the host. */
struct piperun_item {
	const char *name;          /* never NULL, e.g. "logs/a.txt" or "big.txt#3" */
	const char *path;          /* the file the item stands for, or NULL */
	const unsigned char *data; /* the item's bytes; NULL when len is 0 */
	size_t len;
};

struct piperun_opts; /* the stage's `with:` options; opaque */
struct piperun_out;  /* where process() hands out items; opaque */

/* The services the host offers.  Append-only: new functions go at the end,
 * before the reserved room. */
struct piperun_host {
	uint32_t abi;  /* PIPERUN_STAGE_ABI of the host */
	uint32_t size; /* sizeof(struct piperun_host) of the host */

	/*
	 * Options, usable during open() only.  Each looks up KEY in the stage's
	 * `with:` map and returns 0 when it is present and of the right type
	 * (storing it in *value), 1 when it is absent (leaving *value alone,
	 * so it can hold the default), and -1 when it is present but wrong, in
	 * which case the host has already reported the error with the
	 * option's line and column.  Strings stay valid until close().  A key
	 * that the stage never asks for is reported as unknown after open().
	 */
	int (*opt_string)(struct piperun_opts *opts, const char *key, const char **value);
	/* A path, resolved against the pipeline file's directory. */
	int (*opt_path)(struct piperun_opts *opts, const char *key, const char **value);
	/* An integer in [min, max]. */
	int (*opt_int)(struct piperun_opts *opts, const char *key, long long min,
	               long long max, long long *value);
	/* true or false. */
	int (*opt_bool)(struct piperun_opts *opts, const char *key, int *value);
	/* A size in bytes: 512, 64k, 1MiB, 2GB ... */
	int (*opt_size)(struct piperun_opts *opts, const char *key, uint64_t *value);
	/* A duration in seconds: 1.5, 250ms, 2m ... */
	int (*opt_duration)(struct piperun_opts *opts, const char *key, double *value);
	/* A list of strings; a single string counts as a list of one.
	 * *items is a NULL-terminated array of *count strings. */
	int (*opt_list)(struct piperun_opts *opts, const char *key,
	                const char *const **items, size_t *count);
	/* 1 when the stage is opened only to check the pipeline file. */
	int (*opt_checking)(struct piperun_opts *opts);
	/* Reports why open() refuses its options; shown with the stage's
	 * file:line:col.  Printf-style; one line, no trailing newline. */
	void (*open_error)(struct piperun_opts *opts, const char *fmt, ...)
#if defined(__GNUC__)
		__attribute__((format(printf, 2, 3)))
#endif
		;

	/*
	 * Output, usable during process() only.  NAME may be NULL for the
	 * input item's own name.  Items come out of the stage in the order
	 * they are emitted.
	 */
	/* Emits a copy of LEN bytes at DATA. */
	int (*emit)(struct piperun_out *out, const char *name, const void *data, size_t len);
	/* Emits DATA without copying; DATA must come from alloc()/resize() and
	 * belongs to the host from this call on, even when it fails. */
	int (*emit_owned)(struct piperun_out *out, const char *name, void *data, size_t len);
	/* Emits the input item unchanged, without copying. */
	int (*emit_input)(struct piperun_out *out);
	/* Reports why process() failed on this item.  Printf-style, one line. */
	void (*item_error)(struct piperun_out *out, const char *fmt, ...)
#if defined(__GNUC__)
		__attribute__((format(printf, 2, 3)))
#endif
		;

	/* Memory for emit_owned().  alloc() and resize() return NULL when out
	 * of memory; release() accepts NULL. */
	void *(*alloc)(size_t size);
	void *(*resize)(void *ptr, size_t size);
	void (*release)(void *ptr);

	/* Since 1.1: what KEY holds, during open(): one of PIPERUN_OPT_*. */
	int (*opt_type)(struct piperun_opts *opts, const char *key);

	/* Since 1.2, during process(): whether the stage should give up the
	 * item: 0 go on, PIPERUN_STOP_TIMEOUT when the stage's `timeout` for
	 * the item has passed, PIPERUN_STOP_INTERRUPT when the run is being
	 * interrupted.  A stage that waits (on a child process, a socket)
	 * checks it now and then, and then fails the item. */
	int (*stopping)(struct piperun_out *out);

	/* Since 1.3, during process(): the input item's memory, for a stage
	 * whose result is no longer than its input to write the result over
	 * it, where it lies (in memory shared with piperun, from a worker
	 * process), instead of in memory of its own.  Returns the memory,
	 * which holds at least SIZE bytes and becomes the stage's as if it
	 * came from alloc(), to hand on with emit_owned() or back with
	 * release(); or NULL, when the input's memory is too small or may not
	 * be taken (with `on_error: retry`, a retry needs the input as it
	 * was): the stage then allocates as usual.  item->data still points
	 * at the memory, so the stage reads each byte there before it writes
	 * over it.  Once the input is taken, emit_input() fails. */
	void *(*reuse_input)(struct piperun_out *out, size_t size);

	/* Since 1.4: read(2) into BUF, memory from alloc(), resize() or
	 * reuse_input().  Where that memory is shared with worker processes,
	 * the bytes of a regular file go into it without this process
	 * touching its pages, which costs several times less on some
	 * machines; else this is read(2).  One thread at a time reads into
	 * one buffer. */
	ssize_t (*read_data)(int fd, void *buf, size_t len);

	void *reserved[12];
};

/* What host->stopping() returns. */
#define PIPERUN_STOP_TIMEOUT   1
#define PIPERUN_STOP_INTERRUPT 2

/* What host->opt_type() returns. */
#define PIPERUN_OPT_ABSENT 0
#define PIPERUN_OPT_STRING 1 /* a single value */
#define PIPERUN_OPT_LIST   2
#define PIPERUN_OPT_MAP    3

/* The descriptor a stage exports. */
struct piperun_stage {
	uint32_t abi;        /* PIPERUN_STAGE_ABI when the stage was built */
	uint32_t size;       /* sizeof(struct piperun_stage) when the stage was built */
	const char *name;    /* e.g. "upper"; [A-Za-z0-9_-]+ */
	const char *summary; /* one line, shown by --list-stages */
	uint32_t flags;      /* PIPERUN_STAGE_* */
	uint32_t kind;       /* enum piperun_kind: the usual tag */

	/*
	 * Reads the options and sets *state to whatever process() and close()
	 * need (it may stay NULL).  Returns 0, or -1 after open_error().
	 * May be NULL for a stage without options or state.
	 */
	int (*open)(const struct piperun_host *host, struct piperun_opts *opts, void **state);
	/*
	 * Turns one item into zero or more items handed to the host through
	 * OUT.  Returns 0, or -1 after item_error(); the items emitted by a
	 * failing call are discarded.  Must not keep pointers into ITEM.
	 */
	int (*process)(void *state, const struct piperun_host *host,
	               const struct piperun_item *item, struct piperun_out *out);
	/* Frees STATE.  May be NULL. */
	void (*close)(void *state);

	void *reserved[8];
};

/* For a plugin: defines the exported descriptor.  Use it once, at file
 * scope:  PIPERUN_STAGE_EXPORT = { PIPERUN_STAGE_HEADER, .name = ... };  */
#define PIPERUN_STAGE_HEADER .abi = PIPERUN_STAGE_ABI, .size = sizeof(struct piperun_stage)
#if defined(__GNUC__)
#define PIPERUN_STAGE_EXPORT \
	extern __attribute__((visibility("default"))) const struct piperun_stage piperun_stage; \
	__attribute__((visibility("default"))) const struct piperun_stage piperun_stage
#else
#define PIPERUN_STAGE_EXPORT \
	extern const struct piperun_stage piperun_stage; \
	const struct piperun_stage piperun_stage
#endif

#ifdef __cplusplus
}
#endif

#endif /* PIPERUN_STAGE_H */
