/*
 * worker.h: piperun re-executed as a worker process of a cpu stage.
 */
#ifndef PR_WORKER_H
#define PR_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "runner/stage.h"

/* The hidden first argument that starts worker mode:
 * piperun --worker FD [STATUS_FD]. */
#define PR_WORKER_FLAG "--worker"

/*
 * A page of shared memory through which a worker says how far it is: it
 * has begun `started` items and finished `done` (results queued), counted
 * from its start.  A worker sends results a batch at a time, not an item
 * at a time, so when it dies this page tells its parent which item it was
 * running, and which finished items' results were lost with it; and
 * `attempt` tells it since when the worker runs that item, to time it.
 */
struct pr_worker_status {
	_Atomic uint64_t started;
	_Atomic uint64_t done;
	struct pr_attempt attempt; /* the attempt on the item started last */
	/* Set by the parent: the input whose failure stopped the run.  Items
	 * after it are answered without being run (their results would be
	 * dropped), with status PR_DONE_NOT_RUN. */
	_Atomic uint64_t cut;
};

/* The status of a DONE frame: the item succeeded, failed, or was not run. */
enum { PR_DONE_OK = 0, PR_DONE_FAILED = 1, PR_DONE_NOT_RUN = 2 };

/*
 * Serves the parent on socket FD: loads the pipeline it sends, opens the
 * stage itself, then runs every item it is sent until the parent closes
 * the socket.  STATUS_FD is a memory file holding a struct
 * pr_worker_status, or -1: then results go out after every item.
 * Returns the exit status for main().
 */
int pr_worker_main(int fd, int status_fd);

#endif
